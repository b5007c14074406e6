#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fast does lvs.cluster converge a large IPVS table, against ipvsadm?

Run it inside one IPVS-capable kernel, as root, so every figure shares a kernel:

    lab/uml-run --mem 1G /work/main/.venv/bin/python benchmarks/ipvs_converge.py
    benchmarks/run                      # the same, through the shell entry

The table is 1,000 TCP services x 8 direct-routing real servers (9,000 objects)
on documentation addresses (VIPs in 192.0.2.0/24 and 198.51.100.0/24, real
servers in 203.0.113.0/24).  It is only table state: the kernel this runs in has
no network device, and nothing is sent anywhere.

Each scenario starts from a stated table (flushed with ``ipvsadm -C``, or loaded
with ``ipvsadm -R``), is timed, and is then checked: the live table is dumped
and compared with the desired one, through the collection's dump and through
``ipvsadm -Sn``.  A wrong table is reported loudly and makes the exit status 1.
Times never do: this prints figures and ratios, and the targets beside them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
ANSIBLE_PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")


def _ensure_collection_link() -> None:
    link = os.path.join(COLLECTIONS, "ansible_collections", "lvs", "cluster")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


_ensure_collection_link()

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as netlink  # noqa: E402
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state  # noqa: E402

VIP_NETS = ("192.0.2.", "198.51.100.")
RIP_NET = "203.0.113."
FAILURES: list[str] = []


# ------------------------------------------------------------------ the table


def generate(n_services: int, n_real: int, seed: int) -> list:
    """The desired table as ipvs_table's ``services`` option: a list of plain dicts."""
    rng = random.Random(seed)
    vips_per_net = 20
    vips = ["%s%d" % (net, host) for net in VIP_NETS for host in range(10, 10 + vips_per_net)]
    ports_per_vip = -(-n_services // len(vips))
    ports = [80, 443] + list(range(8000, 8000 + ports_per_vip - 2))
    services = []
    for index in range(n_services):
        vip = vips[index % len(vips)]
        port = ports[index // len(vips)]
        base = index * 7
        real_servers = [{"address": "%s%d" % (RIP_NET, (base + k * 31) % 254 + 1),
                         "weight": rng.randint(1, 100), "forwarding": "dr"}
                        for k in range(n_real)]
        services.append({"protocol": "tcp", "address": vip, "port": port, "scheduler": "wlc",
                         "real_servers": real_servers})
    return services


def change_weights(services: list, fraction: float, seed: int) -> tuple[list, int]:
    """A copy of ``services`` with ``fraction`` of all real servers given another weight."""
    rng = random.Random(seed)
    result = json.loads(json.dumps(services))
    slots = [(s, r) for s in range(len(result)) for r in range(len(result[s]["real_servers"]))]
    chosen = rng.sample(slots, round(len(slots) * fraction))
    for s, r in chosen:
        rs = result[s]["real_servers"][r]
        rs["weight"] = rs["weight"] % 100 + 1
    return result, len(chosen)


def restore_lines(services: list) -> list:
    """The table as ``ipvsadm -R`` reads it and ``ipvsadm -Sn`` writes it."""
    lines = []
    for svc in services:
        vs = "%s:%d" % (svc["address"], svc["port"])
        lines.append("-A -t %s -s %s" % (vs, svc["scheduler"]))
        for rs in svc["real_servers"]:
            lines.append("-a -t %s -r %s:%d -g -w %d" % (vs, rs["address"], svc["port"], rs["weight"]))
    return lines


def edit_lines(before: list, after: list) -> list:
    """``ipvsadm -R`` lines that turn ``before`` into ``after`` (real-server weights only)."""
    lines = []
    for old, new in zip(before, after):
        vs = "%s:%d" % (new["address"], new["port"])
        for rs_old, rs_new in zip(old["real_servers"], new["real_servers"]):
            if rs_old["weight"] != rs_new["weight"]:
                lines.append("-e -t %s -r %s:%d -g -w %d" % (vs, rs_new["address"], new["port"], rs_new["weight"]))
    return lines


# ------------------------------------------------------------------ the kernel


def ipvsadm(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(("ipvsadm",) + args, input=stdin, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit("ipvsadm %s failed (%d): %s" % (" ".join(args), done.returncode, done.stderr.strip()))
    return done.stdout


def flush() -> None:
    ipvsadm("-C")


def load(services: list) -> None:
    flush()
    ipvsadm("-R", stdin="\n".join(restore_lines(services)) + "\n")


def verify(label: str, params: list) -> bool:
    """Compare the live table with ``params``: by the collection's dump and by ``ipvsadm -Sn``."""
    desired = state.sort_table(state.services_from_params(json.loads(json.dumps(params))))
    problems = []
    with netlink.IPVSNetlink() as ipvs:
        live = ipvs.dump()
    if live != desired:
        want = {state.service_id(s): s for s in desired}
        have = {state.service_id(s): s for s in live}
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        differ = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        problems.append("dump: %d services missing, %d unexpected, %d different (of %d)"
                        % (len(missing), len(extra), len(differ), len(want)))
        for key in (missing + extra + differ)[:3]:
            problems.append("  %s\n    want %s\n    have %s" % (key, want.get(key), have.get(key)))
    saved = set(ipvsadm("-Sn").splitlines())
    wanted = set(restore_lines(params))
    if saved != wanted:
        problems.append("ipvsadm -Sn: %d lines missing, %d unexpected (of %d)"
                        % (len(wanted - saved), len(saved - wanted), len(wanted)))
        for line in sorted(wanted - saved)[:3]:
            problems.append("  missing: %s" % line)
        for line in sorted(saved - wanted)[:3]:
            problems.append("  unexpected: %s" % line)
    if problems:
        print("!!! MISMATCH after %s: the table is not the desired one" % label, flush=True)
        for line in problems:
            print("!!!   " + line, flush=True)
        FAILURES.append(label)
        return False
    return True


# ------------------------------------------------------------------ scenarios


def converge_direct(params: list, profile: cProfile.Profile | None = None) -> dict:
    """What ipvs_table does, without Ansible: validate, dump, diff, apply.  Seconds per step."""
    times = {}
    t0 = time.perf_counter()
    if profile:
        profile.enable()
    desired = state.services_from_params(json.loads(json.dumps(params)))
    t1 = time.perf_counter()
    with netlink.IPVSNetlink() as ipvs:
        current = ipvs.dump()
        t2 = time.perf_counter()
        ops = state.diff_table(desired, current)
        t3 = time.perf_counter()
        ipvs.apply(ops)
        t4 = time.perf_counter()
    if profile:
        profile.disable()
    times.update(validate=t1 - t0, dump=t2 - t1, diff=t3 - t2, apply=t4 - t3, total=t4 - t0, ops=len(ops))
    return times


def run_direct(label: str, params: list, start, expect_ops: int | None, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        start()
        t = converge_direct(params)
        verify(label, params)
        if expect_ops is not None and t["ops"] != expect_ops:
            print("!!! %s: %d operations, expected %d" % (label, t["ops"], expect_ops), flush=True)
            FAILURES.append(label)
        runs.append(t)
    best = dict(runs[0])
    for key in ("validate", "dump", "diff", "apply", "total"):
        best[key] = statistics.median(r[key] for r in runs)
    best["runs"] = [r["total"] for r in runs]
    return best


def run_restore(label: str, text: str, start, params: list, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        start()
        t0 = time.perf_counter()
        ipvsadm("-R", stdin=text)
        runs.append(time.perf_counter() - t0)
        verify(label, params)
    return {"total": statistics.median(runs), "runs": runs}


def run_per_entry(params: list) -> dict:
    """One ipvsadm process per service and per real server, as shell-based tools do."""
    flush()
    commands = []
    for line in restore_lines(params):
        commands.append(["ipvsadm"] + line.split())
    t0 = time.perf_counter()
    for argv in commands:
        done = subprocess.run(argv, capture_output=True)
        if done.returncode:
            raise SystemExit("%s failed: %s" % (" ".join(argv), done.stderr.decode().strip()))
    elapsed = time.perf_counter() - t0
    verify("per-entry ipvsadm", params)
    return {"total": elapsed, "processes": len(commands)}


PLAYBOOK = """\
- name: Converge the benchmark IPVS table
  hosts: all
  gather_facts: false
  vars_files:
    - "{{ bench_vars_file }}"
  tasks:
    - name: Converge the whole IPVS table
      lvs.cluster.ipvs_table:
        services: "{{ bench_services }}"
"""

# What any playbook costs here before ipvs_table does anything: one ping task, without and
# with the same vars file loaded.
FLOOR_PLAYBOOK = """\
- name: The cost of ansible-playbook itself
  hosts: all
  gather_facts: false
  vars_files: %s
  tasks:
    - name: Ping the host
      ansible.builtin.ping:
"""

# The module's interpreter: the venv's Python, with the wall time of the module process logged.
TIMED_PYTHON = """\
#!/bin/sh
start=$(date +%%s.%%N)
%(python)s "$@"
rc=$?
echo "$start $(date +%%s.%%N)" >> %(log)s
exit $rc
"""


class Playbook:
    def __init__(self, workdir: str):
        self.dir = workdir
        self.playbook = os.path.join(workdir, "converge.yml")
        self.log = os.path.join(workdir, "module-times")
        self.python = os.path.join(workdir, "timed-python")
        with open(self.playbook, "w") as fh:
            fh.write(PLAYBOOK)
        self.floors = {}
        for name, vars_files in (("ping", "[]"), ("ping-vars", '["{{ bench_vars_file }}"]')):
            self.floors[name] = os.path.join(workdir, name + ".yml")
            with open(self.floors[name], "w") as fh:
                fh.write(FLOOR_PLAYBOOK % vars_files)
        with open(self.python, "w") as fh:
            fh.write(TIMED_PYTHON % {"python": PYTHON, "log": self.log})
        os.chmod(self.python, 0o755)
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING="True",
                        ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
                        ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_HOME=os.path.join(workdir, "ansible-home"),
                        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "ansible-local"))

    def run(self, label: str, params: list, expect_changed: bool, playbook: str | None = None) -> dict:
        """One ansible-playbook run of ``playbook`` (the converge by default) with ``params`` as the vars file."""
        vars_file = os.path.join(self.dir, "services.json")
        with open(vars_file, "w") as fh:
            json.dump({"bench_services": params}, fh)
        if os.path.exists(self.log):
            os.unlink(self.log)
        argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", playbook or self.playbook,
                "-e", "ansible_python_interpreter=%s" % self.python, "-e", "bench_vars_file=%s" % vars_file]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=self.dir, timeout=1800)
        except subprocess.TimeoutExpired:
            done = subprocess.CompletedProcess(argv, 124, "", "timed out after 1800 s")
        elapsed = time.perf_counter() - t0
        if done.returncode:
            print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", flush=True)
            print("!!! %s: ansible-playbook exited %d" % (label, done.returncode), flush=True)
            FAILURES.append(label)
        recap = [line for line in done.stdout.splitlines() if line.startswith("localhost")]
        changed = bool(recap) and "changed=1" in recap[-1]
        if changed != expect_changed:
            print("!!! %s: the task reported changed=%s, expected %s" % (label, changed, expect_changed), flush=True)
            FAILURES.append(label)
        module = None
        if os.path.exists(self.log):
            with open(self.log) as fh:
                module = sum(float(b) - float(a) for a, b in (line.split() for line in fh if line.strip()))
        if playbook is None:
            verify(label, params)
        return {"total": elapsed, "module": module}


# ------------------------------------------------------------------ report


def fmt_ratio(value: float, reference: float) -> str:
    return "%.2fx" % (value / reference) if reference else "-"


def print_table(rows: list) -> None:
    """One table: scenario, seconds, the anchor it is measured against, the ratio, the target."""
    head = ("scenario", "seconds", "anchor", "anchor s", "ratio", "target")
    lines = [(name, "%.2f" % seconds, anchor, "%.2f" % ref, fmt_ratio(seconds, ref), target)
             for name, seconds, anchor, ref, target, _note in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *lines)]
    print()
    print("| " + " | ".join(cell.ljust(w) for cell, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(cell.ljust(w) if i in (0, 2, 5) else cell.rjust(w)
                                for i, (cell, w) in enumerate(zip(line, widths))) + " |")
    print()
    for name, _seconds, _anchor, _ref, _target, note in rows:
        if note:
            print("  %s: %s" % (name, note))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--real-servers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each scenario, ansible-playbook ones included (the median is shown)")
    parser.add_argument("--per-entry-sample", type=int, default=100,
                        help="services run as one ipvsadm process per entry; the time is extrapolated")
    parser.add_argument("--per-entry-full", action="store_true",
                        help="run one ipvsadm process per entry for the whole table (minutes)")
    parser.add_argument("--skip-ansible", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="also profile a converge from empty with cProfile and print where the time goes")
    parser.add_argument("--batch-sizes", default="",
                        help="comma-separated ipvs_netlink.BATCH_SIZE values to try (converge from empty)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    if os.geteuid() != 0 or not os.path.exists("/proc/net/ip_vs"):
        print("needs root and a kernel with IPVS: run it through lab/uml-run (see the docstring)", file=sys.stderr)
        return 2

    params = generate(args.services, args.real_servers, args.seed)
    changed, n_changed = change_weights(params, 0.10, args.seed + 1)
    objects = len(params) * (1 + args.real_servers)
    restore_text = "\n".join(restore_lines(params)) + "\n"
    edit_text = "\n".join(edit_lines(params, changed)) + "\n"
    with open("/proc/sys/kernel/osrelease") as fh:
        kernel = fh.read().strip()
    print("IPVS converge benchmark: %d services x %d real servers = %d objects; kernel %s; "
          "python %s; pyroute2 %s; netlink batch %d; median of %d run(s) unless noted"
          % (len(params), args.real_servers, objects, kernel, sys.version.split()[0],
             __import__("pyroute2").__version__, netlink.BATCH_SIZE, args.repeat), flush=True)

    rows = []
    restore_anchor = "ipvsadm -R from empty"

    def note(step: str) -> None:
        print("... %s" % step, flush=True)

    def runs(values: list) -> str:
        return "runs " + " ".join("%.2f" % v for v in values)

    # One untimed load and flush first, so that the anchor's first run is not the fresh kernel's
    # first table (the rest are not either).
    note("warm-up: the table loaded with ipvsadm -R and flushed, untimed")
    load(params)
    flush()

    note("ipvsadm -R from empty")
    restore = run_restore("ipvsadm -R", restore_text, flush, params, args.repeat)
    ref = restore["total"]
    rows.append(("ipvsadm -R, from empty", ref, restore_anchor, ref, "", "%d lines; %s" % (objects, runs(restore["runs"]))))

    load(params)
    reads = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ipvsadm("-Sn")
        reads.append(time.perf_counter() - t0)
    rows.append(("ipvsadm -Sn, read the loaded table", statistics.median(reads), restore_anchor, ref, "",
                 "what reading the table costs ipvsadm"))

    note("ipvsadm -R: the same weight edits")
    restore_edit = run_restore("ipvsadm -R weight edits", edit_text, lambda: load(params), changed, args.repeat)
    rows.append(("ipvsadm -R, %d -e lines, table loaded" % n_changed, restore_edit["total"], restore_anchor, ref, "",
                 runs(restore_edit["runs"])))

    note("module_utils: converge from empty")
    conv = run_direct("module_utils converge from empty", params, flush, objects, args.repeat)
    rows.append(("module_utils converge, from empty", conv["total"], restore_anchor, ref, "<= 1x",
                 "%d ops; validate %.2f dump %.2f diff %.2f apply %.2f; %s"
                 % (conv["ops"], conv["validate"], conv["dump"], conv["diff"], conv["apply"], runs(conv["runs"]))))

    note("module_utils: no-op")
    noop = run_direct("module_utils no-op", params, lambda: load(params), 0, args.repeat)
    rows.append(("module_utils no-op, table loaded", noop["total"], restore_anchor, ref, "<= 1x",
                 "0 ops; validate %.2f dump %.2f diff %.2f; %s"
                 % (noop["validate"], noop["dump"], noop["diff"], runs(noop["runs"]))))

    note("module_utils: 10% of the weights")
    edit = run_direct("module_utils weight change", changed, lambda: load(params), n_changed, args.repeat)
    rows.append(("module_utils 10% weights, table loaded", edit["total"], "ipvsadm -R, the same -e lines",
                 restore_edit["total"], "",
                 "%d ops; validate %.2f dump %.2f diff %.2f apply %.2f; %s"
                 % (edit["ops"], edit["validate"], edit["dump"], edit["diff"], edit["apply"], runs(edit["runs"]))))

    if not args.skip_ansible:
        workdir = tempfile.mkdtemp(prefix="ipvs-bench-")
        try:
            book = Playbook(workdir)
            floors = (("ping", "one ping task: what any playbook costs here"),
                      ("ping-vars", "one ping task, the table's vars file loaded"))
            for name, label in floors:
                note("ansible-playbook: %s" % label)
                results = [book.run(name, params, False, book.floors[name]) for _ in range(args.repeat)]
                rows.append(("ansible-playbook, %s" % label, statistics.median(r["total"] for r in results),
                             restore_anchor, ref, "", "%s; of which the module process %.2f s (median)" % (
                                 runs([r["total"] for r in results]),
                                 statistics.median(r["module"] for r in results))))
            cases = (("converge, from empty", params, flush, True, "<= 2x"),
                     ("no-op, table loaded", params, lambda: load(params), False, "<= 1x"),
                     ("10% weights, table loaded", changed, lambda: load(params), True, ""))
            for label, wanted, start, expect_changed, target in cases:
                note("ansible-playbook: %s" % label)
                results = []
                for _ in range(args.repeat):
                    start()
                    results.append(book.run("ansible-playbook " + label, wanted, expect_changed))
                total = statistics.median(r["total"] for r in results)
                modules = [r["module"] for r in results if r["module"] is not None]
                rows.append(("ansible-playbook %s" % label, total, restore_anchor, ref, target,
                             "%s; of which the module process %s" % (
                                 runs([r["total"] for r in results]),
                                 "%.2f s (median)" % statistics.median(modules) if modules else "unknown")))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    sample = params if args.per_entry_full else params[:args.per_entry_sample]
    note("one ipvsadm process per entry: %d services" % len(sample))
    per_entry = run_per_entry(sample)
    if len(sample) == len(params):
        rows.append(("one ipvsadm process per entry", per_entry["total"], restore_anchor, ref, "",
                     "%d processes, measured in full, 1 run" % per_entry["processes"]))
    else:
        rows.append(("one ipvsadm process per entry (scaled)", per_entry["total"] * objects / per_entry["processes"],
                     restore_anchor, ref, "",
                     "1 run: %.2f s for %d processes (%d services), scaled x%.1f to %d"
                     % (per_entry["total"], per_entry["processes"], len(sample),
                        objects / per_entry["processes"], objects)))

    print_table(rows)

    if args.batch_sizes:
        print()
        print("netlink batch size, converge from empty (median of %d):" % args.repeat)
        original = netlink.BATCH_SIZE

        def hung(signum, frame):
            raise TimeoutError()

        signal.signal(signal.SIGALRM, hung)
        for size in [int(s) for s in args.batch_sizes.split(",") if s]:
            netlink.BATCH_SIZE = size
            signal.alarm(120)
            try:
                t = run_direct("batch size %d" % size, params, flush, objects, args.repeat)
            except TimeoutError:
                print("  %5d: HUNG for 120 s in apply(): acknowledgements lost to a full socket receive buffer"
                      % size, flush=True)
                continue
            finally:
                signal.alarm(0)
            print("  %5d: total %.3f s, apply %.3f s (%s ipvsadm -R)" % (size, t["total"], t["apply"],
                                                                       fmt_ratio(t["total"], ref)))
        netlink.BATCH_SIZE = original

    if args.profile:
        print()
        print("cProfile of one module_utils converge from empty (profiler overhead in UML is large:"
              " read the proportions, not the seconds):")
        flush()
        profile = cProfile.Profile()
        converge_direct(params, profile)
        verify("profiled converge", params)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(22)
            text = out.getvalue()
            print("--- by %s" % order)
            print(text[text.find("   ncalls"):].rstrip())

    flush()
    if FAILURES:
        print()
        print("!!! %d check(s) FAILED: %s" % (len(FAILURES), "; ".join(FAILURES)))
        return 1
    print()
    print("every converge left the desired table (checked by dump and by ipvsadm -Sn)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
