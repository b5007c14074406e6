#!/usr/bin/env python3
"""last_failure: what made a `make test` fail, from its log, for the end of the CI output.

    .ci/last_failure.py LOG

A CI summary that keeps only part of a long log may miss the task that failed
(thousands of lines up, before Molecule's tear-down). This prints, from LOG:
the last Ansible `fatal:` block with the TASK and PLAY it belongs to (a failure
a play rescued comes earlier, so the last one is the one that ended the run),
pytest's summary lines, and make's error lines.
"""

from __future__ import annotations

import re
import sys

FATAL = re.compile(r"^fatal: \[")
HEADER = re.compile(r"^(PLAY|TASK) \[")
# pytest's per-test and closing lines, Molecule's errors, make's.
SUMMARY = re.compile(r"^(FAILED|ERROR) \S+::|^=+ .*\b(failed|errors?)\b.* =+$|^ERROR +|^make(\[\d+\])?: \*\*\*")


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


def main(argv: list) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as log:
        lines = [line.rstrip("\n") for line in log]
    print("\n===== make test failed; the failure, again (whole log: %s) =====" % argv[1])
    for line in fatal_block(lines) + [line for line in lines if SUMMARY.search(line)]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
