#!/usr/bin/env python3
"""ipvs_drill: director-side helpers of the fault drills, reading the table
through the collection's own netlink adapter (what lvs.cluster.ipvs_info
reads), polled every 0.1 s in one process: an Ansible task in a UML director
costs seconds, too coarse to time a detection.

  wait     until a real server reaches a weight (--weight) or any weight other
           than 0 (--up), or --timeout; prints when, and the seconds since --since.
           With --ready FILE it creates FILE once it has read the table and
           seen the real server away from that weight, so that a drill can
           start it before the fault and cause the fault only when it is
           watching a server in service (its start costs seconds in a UML
           director). Also counts the other real servers' falls to weight 0
           meanwhile (others_out): healthy servers a check took out
  reloads  for each step of --plan: install that variant of the daemon's
           configuration, reload the daemon, and poll until the service's real
           servers and weights equal the variant's, or --timeout; real servers
           in both the variant before and after must never leave their weight
           meanwhile. Prints one JSON summary.
  round    run the checker's check command (the arguments after --, {} for a real
           server's address) once for each real server, one after another as
           ldirectord does, --rounds times, and print the seconds each took and
           the slowest round: what a round of checks costs, to add to a
           detection window (0 when the command is not installed: the
           checker's built-in checks cost little)

Run with the director's pyroute2 virtualenv and PYTHONPATH holding
ansible_collections/lvs/cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import IPVSNetlink

POLL = 0.1


def weights(ipvs: IPVSNetlink, address: str, port: int) -> dict | None:
    """{"address:port": weight} of one service, None when it does not exist."""
    for service in ipvs.dump():
        if service.get("address") == address and service.get("port") == port:
            return {"%s:%d" % (r["address"], r["port"]): r["weight"] for r in service["real_servers"]}
    return None


def cmd_wait(args, ipvs: IPVSNetlink) -> dict:
    start = time.time()
    key = "%s:%d" % (args.real_server, args.port)
    seen = None
    # With --ready the watcher arms first: it creates the file only once it has
    # seen the real server away from the weight it waits for, so that a drill
    # never starts its fault on a server the checker has already taken out
    # (a flapping check would read as a detection before the fault).
    armed = not args.ready
    armed_at = start
    # The other real servers' falls to weight 0 while watching: a check that
    # takes healthy servers out (too short a timeout under load).
    others_out: dict = {}
    last: dict = {}
    while True:
        table = weights(ipvs, args.address, args.port) or {}
        seen = table.get(key)
        now = time.time()
        for other, weight in table.items():
            if other != key and weight == 0 and last.get(other, 0) > 0:
                others_out[other] = others_out.get(other, 0) + 1
        last = table
        target = (seen is not None and seen > 0) if args.up else seen == args.weight
        if not armed and seen is not None and not target:
            armed, armed_at = True, now
            with open(args.ready, "w", encoding="utf-8") as ready:
                ready.write("%s %s\n" % (now, seen))
        done = armed and target
        if done or now - start >= args.timeout:
            return {"reached": done, "weight": seen, "at": round(now, 3),
                    "since": round(now - args.since, 3) if args.since else None,
                    "polled": round(now - start, 3), "armed_after": round(armed_at - start, 3),
                    "others_out": others_out}
        time.sleep(POLL)


def cmd_reloads(args, ipvs: IPVSNetlink) -> dict:
    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    variants, steps = plan["variants"], plan["steps"]
    backup = args.config + ".drill-backup"
    shutil.copy2(args.config, backup)
    results = []
    previous = None
    try:
        for n, name in enumerate(steps, 1):
            variant = variants[name]
            want = variant["real_servers"]
            kept = {k: v for k, v in want.items() if previous and previous.get(k) == v}
            tmp = args.config + ".drill-tmp"
            shutil.copyfile(variant["file"], tmp)
            os.replace(tmp, args.config)
            t0 = time.time()
            reload = subprocess.run(args.reload, shell=True, capture_output=True, text=True)
            dips = []
            live = None
            equal_since = None
            # The reload returns once ldirectord has its signal: the table must
            # reach the variant and stay there for --settle seconds.
            while True:
                live = weights(ipvs, args.address, args.port) or {}
                now = time.time()
                for k, v in kept.items():
                    if live.get(k) != v:
                        dips.append({"real_server": k, "weight": live.get(k), "after": round(now - t0, 2)})
                equal_since = (equal_since or now) if live == want else None
                if equal_since and now - equal_since >= args.settle or now - t0 >= args.timeout:
                    break
                time.sleep(POLL)
            results.append({"step": n, "variant": name, "reload_rc": reload.returncode,
                            "reload_stderr": reload.stderr.strip()[-300:],
                            "equal": live == want, "took": round(time.time() - t0, 2),
                            "table": live, "want": want, "untouched_dips": dips[:20]})
            previous = want
    finally:
        shutil.copyfile(backup, args.config)
        os.unlink(backup)
    return {"reloads": len(results), "all_equal": all(r["equal"] for r in results),
            "untouched_dips": sum(len(r["untouched_dips"]) for r in results),
            "slowest": max((r["took"] for r in results), default=0), "steps": results}


def cmd_round(args) -> dict:
    if shutil.which(args.check[0]) is None:  # no such check configured: the checker's own are cheap
        return {"rounds": [], "slowest": 0, "missing": args.check[0]}
    rounds = []
    for _ in range(args.rounds):
        seconds = {}
        for real_server in args.real_servers:
            argv = [part.replace("{}", real_server) for part in args.check]
            t0 = time.monotonic()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=args.timeout, check=False)
            seconds[real_server] = round(time.monotonic() - t0, 3)
        rounds.append(seconds)
    # The slowest round: the one a fault may have to wait for.
    return {"rounds": rounds, "slowest": max(round(sum(r.values()), 3) for r in rounds)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--address", required=True, help="virtual address of the service")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--timeout", type=float, default=30.0)
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("wait")
    w.add_argument("--real-server", required=True)
    w.add_argument("--weight", type=int, default=0)
    w.add_argument("--up", action="store_true", help="wait for any weight above 0")
    w.add_argument("--since", type=float, default=0.0, help="epoch seconds to measure from (the fault)")
    w.add_argument("--ready", help="a file to create once the server is seen away from the weight (must not exist yet)")
    r = sub.add_parser("reloads")
    r.add_argument("--plan", required=True, help="JSON: {variants: {NAME: {file, real_servers}}, steps: [NAME...]}")
    r.add_argument("--config", required=True, help="the daemon's configuration file")
    r.add_argument("--reload", required=True, help="the reload command")
    r.add_argument("--settle", type=float, default=1.5, help="seconds the table must stay equal after a reload")
    c = sub.add_parser("round")
    c.add_argument("--real-servers", type=lambda text: text.split(","), required=True, help="addresses, comma-separated")
    c.add_argument("--rounds", type=int, default=3, help="how many rounds to time; the slowest counts")
    c.add_argument("check", nargs="+", help="the check command and its arguments, {} for the real server")
    args = p.parse_args(argv)
    if args.command == "round":
        print(json.dumps(cmd_round(args), sort_keys=True))
        return 0
    with IPVSNetlink() as ipvs:
        result = cmd_wait(args, ipvs) if args.command == "wait" else cmd_reloads(args, ipvs)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
