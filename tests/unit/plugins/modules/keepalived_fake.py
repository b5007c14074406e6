# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for keepalived's process tree, for the UNIT tests of keepalived_release only
(the ha scenario runs the module against keepalived itself).

Run as ``python keepalived_fake.py PID_FILE CHECKER_PID_FILE LOG PROPAGATE``. Like keepalived 2.2:
the main process reads its configuration at a SIGHUP (here: counts a generation) and passes the
SIGHUP on to its health-check child when PROPAGATE is 1; it starts a new child when one dies, from
the generation it read last. A child writes its pid file, and logs when it starts and when it
runs a reload (what would delete keepalived's services from the IPVS table).
"""

from __future__ import annotations

import os
import signal
import sys
import time

PID_FILE = sys.argv[1]
CHECKER_PID_FILE = sys.argv[2]
LOG = sys.argv[3]
PROPAGATE = sys.argv[4] == "1"
generation = 1
child = 0


def log(line: str) -> None:
    with open(LOG, "a", encoding="ascii") as handle:
        handle.write(line + "\n")


def run_child(started_with: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, lambda *_: log(f"child {os.getpid()} ran the reload"))
    with open(CHECKER_PID_FILE, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    log(f"child {os.getpid()} started with generation {started_with}")
    while True:
        time.sleep(0.05)


def start_child() -> None:
    global child
    pid = os.fork()
    if pid == 0:
        run_child(generation)
    child = pid


def reload(*_) -> None:
    global generation
    generation += 1
    log(f"main read generation {generation}")
    if PROPAGATE:
        os.kill(child, signal.SIGHUP)


def reap(*_) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == child:
            start_child()


def stop(*_) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    sys.exit(0)


signal.signal(signal.SIGHUP, reload)
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, stop)
with open(PID_FILE, "w", encoding="ascii") as handle:
    handle.write(f"{os.getpid()}\n")
start_child()
while True:
    time.sleep(0.05)
