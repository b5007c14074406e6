#!/usr/bin/env python3
"""The tables of benchmarks/scaleout, from the JSON lines its playbooks wrote.

Throughput rows ({"directors": N, "ab": ab's report, "counters": {director:
{connections, in_packets}}}) become one line per number of directors, with
ratios to one director; fault rows ({"kind": "drain" | "hard kill", gap,
failed, ...}) one line per kind, as benchmarks/failover prints VRRP's.
"""

from __future__ import annotations

import json
import re
import statistics
import sys

AB_FIELDS = {
    "complete": r"^Complete requests:\s+(\d+)",
    "failed": r"^Failed requests:\s+(\d+)",
    "rps": r"^Requests per second:\s+([\d.]+)",
    "seconds": r"^Time taken for tests:\s+([\d.]+)",
    "p50": r"^\s+50%\s+(\d+)",
    "p99": r"^\s+99%\s+(\d+)",
}


def parse_ab(text: str) -> dict[str, float]:
    """The figures of ab's report that the table shows (missing ones: absent)."""
    found = {}
    for name, pattern in AB_FIELDS.items():
        m = re.search(pattern, text, re.MULTILINE)
        if m:
            found[name] = float(m.group(1))
    return found


def throughput(rows: list[dict]) -> list[str]:
    rows = sorted(rows, key=lambda r: r["directors"])
    lines = []
    base_rps = base_pps = None
    for r in rows:
        ab = parse_ab(r["ab"])
        seconds = ab.get("seconds") or r["seconds"]
        counters = r["counters"]
        packets = sum(int(c["in_packets"]) for c in counters.values())
        pps = packets / seconds
        rps = ab.get("rps", 0.0)
        if base_rps is None:
            base_rps, base_pps = rps or None, pps or None
        spread = " ".join("%s %s" % (d, c["connections"]) for d, c in sorted(counters.items()))
        lines.append("%-9d %8.0f %6s %8.0f %6s %7d %6s %6s %8s  %s" % (
            r["directors"], rps, "%.2f" % (rps / base_rps) if base_rps else "-",
            pps, "%.2f" % (pps / base_pps) if base_pps else "-",
            int(ab.get("failed", -1)), "%d" % ab["p50"] if "p50" in ab else "-",
            "%d" % ab["p99"] if "p99" in ab else "-", r.get("bfd_down", "-"), spread))
    return lines


def faults(rows: list[dict]) -> list[str]:
    lines = []
    for kind in ("drain", "hard kill"):
        trials = [r for r in rows if r.get("kind") == kind]
        if not trials:
            continue
        gaps = sorted(r["gap"] for r in trials if r["gap"] is not None)
        idle = [r["idle_after"] for r in trials if r.get("idle_after") is not None]
        lines.append("%-10s %6d %14s %14s %10s %8s" % (
            kind, len(trials), "%.2f" % statistics.median(gaps) if gaps else "-",
            "%.2f-%.2f" % (gaps[0], gaps[-1]) if gaps else "-",
            "/".join(str(r["failed"]) for r in trials),
            "%.1f" % statistics.median(idle) if idle else "-"))
    return lines


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    tier = [r for r in rows if "ab" in r]
    if tier:
        r0 = tier[0]
        print("\nThroughput of the tier: ab from one client behind the router, %d connections at a time, a new"
              % r0["concurrency"])
        print("connection per request, %d s, for 3, 2 and 1 announcing directors (the others withdrawn)." % r0["seconds"])
        print("packets/s: what the announcing directors' IPVS services received (direct routing: replies")
        print("bypass them); ratios to one director. BFD down: sessions the router saw go down meanwhile.")
        print("New IPVS connections count fewer than requests: a client port used again while its entry")
        print("lives is the same connection to IPVS. The lab runs every kernel, Apache and ab on the")
        print("machine's cores: the ratios say what the tier gains here, not on separate hardware.\n")
        head = "%-9s %8s %6s %8s %6s %7s %6s %6s %8s  %s" % (
            "directors", "req/s", "ratio", "pkts/s", "ratio", "failed", "p50 ms", "p99 ms", "BFD down",
            "new IPVS connections")
        print(head)
        print("-" * len(head))
        for line in throughput(tier):
            print(line)
    events = [r for r in rows if "kind" in r]
    if events:
        print("\nFaults under load (20 new connections/s, 3 s timeout, as make bench-failover puts on VRRP).")
        print("gap: the longest time the client went without a successful answer; idle s: how long a drain")
        print("(tasks_from: withdraw) took until no packet for the VIPs reached the director for 4 s.\n")
        head = "%-10s %6s %14s %14s %10s %8s" % ("event", "trials", "gap s (median)", "gap s (range)", "failed", "idle s")
        print(head)
        print("-" * len(head))
        for line in faults(events):
            print(line)
    print("\nraw rows (JSON lines, ab's report cut):")
    for r in rows:
        r = dict(r, ab=parse_ab(r["ab"])) if "ab" in r else r
        print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
