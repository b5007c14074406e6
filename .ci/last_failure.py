#!/usr/bin/env python3
"""last_failure: what made a `make test` fail, from its log, for the end of the CI output.

    .ci/last_failure.py LOG

A CI summary that keeps only part of a long log may miss the failure
(thousands of lines up, before Molecule's tear-down). Make prints a suite's
output whole when the suite ends (--output-sync), then its error line; this
prints, from LOG, for the first error line of make: the last lines the failed
suite printed before it, and the last Ansible `fatal:` block above it with its
PLAY and TASK headers (a failure a play rescued comes earlier, so in an
Ansible suite the last one is the one that ended it; a suite that runs no
Ansible shows an earlier suite's, marked as such by its place). Then pytest's
failed tests and make's error lines.
"""

from __future__ import annotations

import re
import sys

MAKE_ERROR = re.compile(r"^make(\[\d+\])?: \*\*\* ")
FATAL = re.compile(r"^fatal: \[")
HEADER = re.compile(r"^(PLAY|TASK) \[")
# pytest's per-test and closing lines, Molecule's errors, make's.
SUMMARY = re.compile(r"^(FAILED|ERROR) \S+::|^=+ .*\b(failed|errors?)\b.* =+$|^ERROR +|^make(\[\d+\])?: \*\*\*")
TAIL = 25


def fatal_block(lines: list) -> list:
    """The last ``fatal:`` line with the PLAY and TASK headers above it and its message below."""
    last = max((i for i, line in enumerate(lines) if FATAL.match(line)), default=None)
    if last is None:
        return []
    task = next((i for i in range(last, -1, -1) if lines[i].startswith("TASK [")), last)
    play = next((i for i in range(task, -1, -1) if lines[i].startswith("PLAY [")), None)
    end = next((i for i in range(last + 1, len(lines)) if HEADER.match(lines[i]) or not lines[i].strip()),
               len(lines))
    head = [lines[play], "..."] if play is not None and play != task else []
    return head + lines[task:task + 1] + ["..."] * (task + 1 < last) + lines[last:end]


def report(lines: list) -> list:
    """What to print again: the failed suite's last lines, the last fatal block above them, the summary."""
    first_error = next((i for i, line in enumerate(lines) if MAKE_ERROR.match(line)), len(lines))
    before = lines[:first_error]
    tail = [line for line in before if line.strip()][-TAIL:]
    out = ["--- the last %d lines before make's first error:" % len(tail)] + tail
    block = fatal_block(before)
    if block:
        out += ["--- the last Ansible failure above it:"] + block
    return out + ["--- summary:"] + [line for line in lines if SUMMARY.search(line)]


def main(argv: list) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as log:
        lines = [line.rstrip("\n") for line in log]
    print("\n===== make test failed; the failure, again (whole log: %s) =====" % argv[1])
    print("\n".join(report(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
