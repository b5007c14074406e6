# -*- coding: utf-8 -*-
"""Property, in a real kernel: from any valid table to any valid table, one run
converges and the next has nothing to do (run inside lab/uml-run by `make kernel`).

The same strategies as the unit suite's (tests/unit/.../ipvs_tables.py), a bounded
number of examples.  Each example starts from an empty table, builds the start
table, converges to the desired one and reads it back through the adapter;
`ipvsadm -S -n` is the independent witness of what the kernel holds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils.ipvs_tables import canonical, table_pairs

EXAMPLES = 100
# The schedulers this kernel has as modules (Debian's UML 6.1 has no ip_vs_twos).
MODULES = Path("/usr/lib/modules", os.uname().release, "kernel", "net", "netfilter", "ipvs")
SCHEDULERS = tuple(s for s in state.SCHEDULERS if any(MODULES.glob("ip_vs_%s.ko*" % s)))


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    """Batches of three requests: most converges take several writes, acknowledged after each."""
    monkeypatch.setattr(nl, "BATCH_SIZE", 3)


def converge(ipvs, desired: list) -> list:
    ops = state.diff_table(desired, ipvs.dump(), purge=True)
    ipvs.apply(ops)
    return ops


def witness() -> list:
    """`ipvsadm -S -n`: one line per service and per real server."""
    out = subprocess.run(["ipvsadm", "-S", "-n"], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pair=table_pairs(schedulers=SCHEDULERS))
def test_one_run_converges_and_the_next_has_nothing_to_do(ipvs, pair):
    start, desired = pair
    assert len(SCHEDULERS) >= 10, SCHEDULERS
    subprocess.run(["ipvsadm", "-C"], check=True)
    converge(ipvs, canonical(start))
    before = ipvs.dump()
    assert before == canonical(start)

    wanted = canonical(desired)
    ops = state.diff_table(wanted, before, purge=True)
    predicted = state.apply_ops(before, ops)
    ipvs.apply(ops)
    after = ipvs.dump()
    assert after == wanted
    assert after == predicted
    assert state.diff_table(wanted, after, purge=True) == []
    assert len(witness()) == len(wanted) + sum(len(s["real_servers"]) for s in wanted)
