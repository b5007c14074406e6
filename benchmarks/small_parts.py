#!/usr/bin/env python3
"""Run on a director by benchmarks/small.yml: what a module pays there before its work.

Prints one JSON object, each figure the median of ROUNDS processes (seconds): the interpreter's
start; ``ipvsadm -Ln`` as a process; ``import pyroute2``; and pyroute2's IPVS socket with one
dump of the services, which the lvs.cluster modules skip for a raw socket and hand-made messages.
"""

import json
import statistics
import subprocess
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
PY = sys.executable


def timed(argv: list) -> float:
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


print(json.dumps({
    "python": timed([PY, "-c", "pass"]),
    "ipvsadm": timed(["ipvsadm", "-Ln"]),
    "pyroute2_import": timed([PY, "-c", "import pyroute2"]),
    "pyroute2_dump": timed([PY, "-c", "from pyroute2 import IPVS\nwith IPVS() as ipvs:\n    list(ipvs.service('dump'))"]),
}))
