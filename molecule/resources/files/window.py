#!/usr/bin/python3
"""window: what a loadgen run saw between two moments.

Reads the JSON lines loadgen.py wrote (--out) and prints, as JSON, for the
requests that started from --since to --until (client clock, epoch seconds):
  sent, failed      requests and failed requests in the window
  failures          [{t, error, server}] of the failed ones (at most 20)
  gap               the longest time without a request completing successfully,
                    measured from the last success before --since to the first
                    one after it, and between successes inside the window
  gap_from, gap_to  when that gap started and ended
  servers           answers per server in the window
  connections       (keep-alive records) per connection that answered before
                    --since: ok_after (it answered a request started after the
                    window's longest gap ended: it lived through the outage),
                    failed (failures on it in the window)

Standard library only: it runs on the lab client.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def analyse(records: list[dict], since: float, until: float) -> dict:
    records = sorted(records, key=lambda r: r["t"])
    inside = [r for r in records if since <= r["t"] <= until]
    failures = [r for r in inside if not r["ok"]]
    done = sorted(r["t"] + r["dt"] for r in records if r["ok"])
    before = [t for t in done if t < since]
    within = [t for t in done if since <= t <= until]
    after = [t for t in done if t > until]
    marks = before[-1:] + within + after[:1]
    gap, gap_from, gap_to = 0.0, None, None
    for a, b in zip(marks, marks[1:]):
        if b - a > gap:
            gap, gap_from, gap_to = b - a, a, b
    if not within and not after:          # nothing succeeded after the window opened
        gap, gap_from, gap_to = None, marks[0] if marks else None, None
    resumed = gap_to if gap_to is not None else float("inf")
    conns = {}
    for r in records:
        if r.get("conn") is None:
            continue
        c = conns.setdefault(r["conn"], {"ok_before": False, "ok_after": False, "failed": 0})
        if r["ok"] and r["t"] < since:
            c["ok_before"] = True
        if r["ok"] and r["t"] + r["dt"] >= resumed:
            c["ok_after"] = True
        if not r["ok"] and since <= r["t"] <= until:
            c["failed"] += 1
    return {
        "since": since, "until": until,
        "sent": len(inside), "failed": len(failures),
        "failures": [{"t": r["t"], "error": r.get("error"), "server": r.get("server")} for r in failures[:20]],
        "gap": None if gap is None else round(gap, 3),
        "gap_from": None if gap_from is None else round(gap_from, 4),
        "gap_to": None if gap_to is None else round(gap_to, 4),
        "servers": dict(Counter(r.get("server") for r in inside if r["ok"])),
        "connections": {k: v for k, v in conns.items() if v["ok_before"]},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", required=True, help="loadgen --out file (JSON lines)")
    p.add_argument("--since", type=float, required=True)
    p.add_argument("--until", type=float, required=True)
    args = p.parse_args(argv)
    json.dump(analyse(load(args.records), args.since, args.until), sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
