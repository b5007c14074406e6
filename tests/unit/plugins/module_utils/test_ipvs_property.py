# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property: from any valid table to any valid table, one run converges and the next has nothing to do.

The model (ipvs_state) computes the operations, the real netlink adapter encodes
them, and netlink_fake's kernel decodes and carries them out; the table is read
back through the adapter's dump parser.  tests/kernel/test_ipvs_kernel_property.py
runs the same property against a real kernel.
"""

from __future__ import annotations

import copy

import pytest

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("pyroute2")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state  # noqa: E402
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table  # noqa: E402
from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils.ipvs_tables import (  # noqa: E402
    canonical,
    table_pairs,
    tables,
)
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import netlink_fake  # noqa: E402
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits  # noqa: E402

FAST = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def converge(ipvs, desired: list) -> list:
    ops = state.diff_table(desired, ipvs.dump(), purge=True)
    ipvs.apply(ops)
    return ops


@FAST
@given(pair=table_pairs())
def test_one_run_converges_and_the_next_has_nothing_to_do(pair):
    start, desired = pair
    ipvs = netlink_fake.FakeKernel().adapter()
    converge(ipvs, canonical(start))
    before = ipvs.dump()
    assert before == canonical(start)

    wanted = canonical(desired)
    ops = state.diff_table(wanted, before, purge=True)
    predicted = state.apply_ops(before, ops)  # what check mode reports
    ipvs.apply(ops)
    after = ipvs.dump()
    assert after == wanted
    assert after == predicted
    assert bool(ops) == (before != wanted)
    assert state.diff_table(wanted, after, purge=True) == []


@settings(FAST, max_examples=30)
@given(pair=table_pairs(max_services=3))
@pytest.mark.usefixtures("harness")
def test_the_module_converges_and_check_mode_predicts_it(pair):
    start, desired = pair
    with pytest.MonkeyPatch.context() as monkeypatch:
        kernel = netlink_fake.install_kernel(monkeypatch, canonical(start))
        args = {"services": copy.deepcopy(desired), "purge": True}
        checked = exits(ipvs_table.main, args, check_mode=True, diff=True)
        assert kernel.carried_out == []
        real = exits(ipvs_table.main, args, diff=True)
        assert (checked["changed"], checked["operations"], checked["services"], checked["diff"]) == \
            (real["changed"], real["operations"], real["services"], real["diff"])
        assert kernel.table() == canonical(desired)
        again = exits(ipvs_table.main, args)
        assert again["changed"] is False and again["operations"] == []


@settings(FAST, max_examples=30)
@given(table=tables(max_services=4))
@pytest.mark.usefixtures("harness")
def test_gathered_is_services_input_that_rebuilds_the_table(table):
    """gathered from one kernel, applied with state overridden to an empty one: the same table;
    applied to the first: no change.  rendered then parsed gives gathered back (weights ipvsadm takes)."""
    wanted = canonical(table)
    for service in wanted:
        for real_server in service["real_servers"]:
            real_server["weight"] = min(real_server["weight"], 65535)
    with pytest.MonkeyPatch.context() as monkeypatch:
        netlink_fake.install_kernel(monkeypatch, copy.deepcopy(wanted))
        gathered = exits(ipvs_table.main, {"state": "gathered"})["gathered"]
        assert exits(ipvs_table.main, {"state": "overridden", "services": copy.deepcopy(gathered)})["changed"] is False
        rendered = exits(ipvs_table.main, {"state": "rendered", "services": copy.deepcopy(gathered)})["rendered"]
        parsed = exits(ipvs_table.main, {"state": "parsed", "running_config": "\n".join(rendered)})["parsed"]
        assert sorted(parsed, key=repr) == sorted(gathered, key=repr)
    with pytest.MonkeyPatch.context() as monkeypatch:
        other = netlink_fake.install_kernel(monkeypatch, [])
        exits(ipvs_table.main, {"state": "overridden", "services": gathered})
        assert other.table() == wanted
