# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VIPs of a scale-out director (lb_scaleout): delivered by local routes, announced while it can serve.

Two routes per VIP, both marked with the role's protocol number (``rtm_protocol``,
lb_vip_protocol), so that only the role's own are ever removed:

- ``local VIP dev lo table local``: the kernel delivers the VIP's packets to IPVS
  with no address on any interface, so nothing answers ARP for it.  These stay
  while the director is in scale-out, announced or not: connections that reach
  the director go on being served.
- ``blackhole VIP`` in the main table: FRR's zebra sees it as a kernel route, and
  bgpd (``redistribute kernel``, the VIPs' prefix list) announces the VIP while it
  is there.  Deleting it withdraws the VIP.  The blackhole is never used to
  forward: the local table is looked up first.

A VIP is announced while one of its services (``services`` of the model's
``bgp.announcer.vips``: its own, or the firewall-mark services of its family) has a
real server at a weight above 0 in the live table: no table, no service, every
real server failed its checks or drained, and the VIP is withdrawn, so the
routers send its flows to the other directors.

    python -c '...vip_announce.main()' --config FILE            run: every interval, look and announce
    python -c '...vip_announce.main()' --config FILE --once     the same, once
    python -c '...vip_announce.main()' --config FILE --withdraw withdraw every VIP, keep the local routes
    python -c '...vip_announce.main()' --config FILE --clear    remove every marked route (leaving scale-out)
    ... --withdraw --wait-idle QUIET [--timeout SECONDS]
        withdraw, then wait until no packet for the VIPs' services has reached the
        director for QUIET seconds (the routers moved their flows to the other
        directors), and print what it waited as JSON

The configuration (JSON, written by the lb role): ``{"protocol": 76, "interval": 1,
"vips": [{"address": ..., "family": "ipv4", "services": ["tcp/192.0.2.13:80"]}]}``.
Stopped by SIGTERM, the announcer withdraws every VIP before it exits.  Needs root
(CAP_NET_ADMIN) and pyroute2.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import socket
import sys
import time

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as netlink
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state

PROGRAM = "lvs-cluster-announce"

TABLE_MAIN = 254
TABLE_LOCAL = 255
# Route types (rtm_type), as the kernel numbers them.
LOCAL = 2
BLACKHOLE = 6
KINDS = {"local": (TABLE_LOCAL, LOCAL), "announce": (TABLE_MAIN, BLACKHOLE)}


class AnnounceError(Exception):
    """A failure to report as one line."""


# ------------------------------------------------------------------ decisions


def servable(table: list | None, vips: list) -> list:
    """The VIPs (addresses, in config order) with a service that has a real server at a weight above 0."""
    if not table:
        return []
    live = {state.service_id(svc) for svc in table
            if any(int(rs.get("weight") or 0) > 0 for rs in svc.get("real_servers") or [])}
    return [vip["address"] for vip in vips if live.intersection(vip.get("services") or [])]


def plan(current: list, vips: list, announced: list, clear: bool = False) -> list:
    """The route operations that turn ``current`` (marked routes: kind, address) into the wanted ones.

    Wanted: a local route for every VIP (none with ``clear``) and an announced route
    for each VIP of ``announced``.  Returns ``[("add"|"remove", kind, address)]``,
    removals first.
    """
    wanted = set() if clear else {("local", vip["address"]) for vip in vips}
    wanted |= {("announce", address) for address in announced}
    have = set(current)
    return ([("remove", kind, address) for kind, address in sorted(have - wanted)]
            + [("add", kind, address) for kind, address in sorted(wanted - have)])


def in_packets(table: list | None, vips: list) -> int:
    """The packets the VIPs' services have received (their counters, summed)."""
    wanted = {sid for vip in vips for sid in vip.get("services") or []}
    return sum(int((svc.get("stats") or {}).get("in_packets") or 0)
               for svc in table or [] if state.service_id(svc) in wanted)


def wait_idle(read, vips: list, quiet: float, timeout: float, clock=time.monotonic, sleep=time.sleep,
              interval: float = 0.5) -> dict:
    """Read the table until the VIPs' services' packet counters stand still for ``quiet`` seconds.

    The kernel sums the counters about every 2 s, so ``quiet`` should span two of
    those.  Returns ``idle`` (reached within ``timeout``), ``last_packet`` (seconds
    from the start to the last movement seen) and ``packets`` (received meanwhile).
    """
    start = clock()
    first = last = in_packets(read(), vips)
    moved = start
    while True:
        now = clock()
        if now - moved >= quiet or now - start >= timeout:
            result = {"idle": now - moved >= quiet, "last_packet": round(moved - start, 1),
                      "waited": round(now - start, 1), "packets": last - first}
            return dict(result, message=idle_message(result))
        sleep(interval)
        count = in_packets(read(), vips)
        if count != last:
            last, moved = count, clock()


def idle_message(result: dict) -> str:
    """``wait_idle``'s result as one line for the operator."""
    if not result["idle"]:
        return ("packets for the VIPs still arrive after %s s (%d meanwhile): the routers still send flows here"
                % (result["waited"], result["packets"]))
    if not result["packets"]:
        return "no packet for the VIPs arrived in the %s s watched" % result["waited"]
    return "the last packet for the VIPs came %s s into the watch (%d packets)" % (
        result["last_packet"], result["packets"])


def load_config(path: str) -> dict:
    try:
        with open(path) as handle:
            config = json.load(handle)
        protocol = int(config["protocol"])
        interval = float(config.get("interval", 1))
        vips = [{"address": str(ipaddress.ip_address(v["address"])), "services": list(v.get("services") or [])}
                for v in config["vips"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnnounceError("%s: unreadable configuration: %s" % (path, exc)) from exc
    if not 1 <= protocol <= 255 or protocol in (1, 2, 3, 4):
        raise AnnounceError("%s: protocol %d is the kernel's own or out of range (5-255)" % (path, protocol))
    if not 0.1 <= interval <= 60:
        raise AnnounceError("%s: interval %s is not from 0.1 to 60 seconds" % (path, interval))
    return {"protocol": protocol, "interval": interval, "vips": vips}


# ------------------------------------------------------------------ the kernel


class Routes:
    """The marked routes through rtnetlink (pyroute2's IPRoute)."""

    def __init__(self, protocol: int):
        try:
            from pyroute2 import IPRoute
        except ImportError as exc:
            raise AnnounceError("pyroute2 is missing: %s" % exc) from exc
        self.protocol = protocol
        self.ipr = IPRoute()
        found = self.ipr.link_lookup(ifname="lo")
        if not found:
            raise AnnounceError("no interface lo")
        self.lo = found[0]

    def close(self) -> None:
        self.ipr.close()

    def current(self) -> list:
        """The marked routes as (kind, address): host routes of the VIP kinds only."""
        found = []
        for family in (socket.AF_INET, socket.AF_INET6):
            full = 32 if family == socket.AF_INET else 128
            for kind, (table, rtype) in KINDS.items():
                for msg in self.ipr.get_routes(family=family, table=table):
                    if (msg["proto"] == self.protocol and msg["type"] == rtype and msg["dst_len"] == full
                            and msg.get_attr("RTA_DST")):
                        found.append((kind, str(ipaddress.ip_address(msg.get_attr("RTA_DST")))))
        return found

    def apply(self, op: tuple) -> None:
        action, kind, address = op
        table, rtype = KINDS[kind]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        spec = {"dst": address, "dst_len": 128 if family == socket.AF_INET6 else 32, "family": family,
                "table": table, "type": rtype, "proto": self.protocol}
        if kind == "local":
            spec.update(oif=self.lo, scope=254)   # scope host, as the kernel's own local routes
        self.ipr.route("replace" if action == "add" else "del", **spec)


def step(routes: Routes, config: dict, table: list | None, mode: str = "run") -> list:
    """Look once and apply; returns the operations carried out."""
    announced = [] if mode in ("withdraw", "clear") else servable(table, config["vips"])
    ops = plan(routes.current(), config["vips"], announced, clear=mode == "clear")
    for op in ops:
        routes.apply(op)
    return ops


def report(ops: list) -> None:
    for action, kind, address in ops:
        what = {"announce": "announced" if action == "add" else "withdrawn",
                "local": "delivered here" if action == "add" else "no longer delivered here"}[kind]
        sys.stdout.write("%s: %s\n" % (address, what))
    sys.stdout.flush()


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM,
                                     description="Announce the VIPs of a scale-out director while it can serve them.")
    parser.add_argument("--config", required=True, help="the role's JSON configuration")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--once", action="store_true", help="look and announce once, then exit")
    group.add_argument("--withdraw", action="store_true", help="withdraw every VIP (keep the local routes)")
    group.add_argument("--clear", action="store_true", help="remove every marked route")
    parser.add_argument("--wait-idle", type=float, metavar="QUIET",
                        help="with --withdraw: then wait until no packet for the VIPs arrives for QUIET seconds")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds --wait-idle waits at most")
    args = parser.parse_args(argv)
    if args.wait_idle is not None and not (args.withdraw and 0 < args.wait_idle <= args.timeout):
        parser.error("--wait-idle needs --withdraw, and QUIET above 0 and at most --timeout")
    mode = "withdraw" if args.withdraw else "clear" if args.clear else "run"
    try:
        config = load_config(args.config)
        routes = Routes(config["protocol"])
    except AnnounceError as exc:
        sys.stderr.write("%s: %s\n" % (PROGRAM, exc))
        return 2
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while True:
            table = netlink.read_table(PROGRAM) if mode == "run" else None
            report(step(routes, config, table, "withdraw" if stopping else mode))
            if args.wait_idle is not None:
                idle = wait_idle(lambda: netlink.read_table(PROGRAM, stats=True), config["vips"], args.wait_idle, args.timeout)
                sys.stdout.write(json.dumps(idle) + "\n")
                sys.stdout.flush()
            if stopping or args.once or mode != "run":
                return 0
            time.sleep(config["interval"])
    except KeyboardInterrupt:
        report(step(routes, config, None, "withdraw"))
        return 0
    finally:
        routes.close()
