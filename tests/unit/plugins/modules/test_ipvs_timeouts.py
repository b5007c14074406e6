# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.modules import ipvs_timeouts
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_timeouts.main
DEFAULTS = {"tcp": 900, "tcp_fin": 120, "udp": 300}


def test_sets_only_what_differs(fake_ipvs):
    fake = fake_ipvs()
    result = exits(main, {"tcp": 3600, "tcp_fin": 120}, diff=True)
    assert result["changed"] is True
    assert fake.timeout_writes == [{"tcp": 3600}]
    assert result["operations"] == ["set tcp timeout 900 -> 3600 s"]
    assert result["timeouts"] == {"tcp": 3600, "tcp_fin": 120, "udp": 300}
    assert result["diff"] == {"before": DEFAULTS, "after": result["timeouts"]}


def test_check_mode_then_idempotent(fake_ipvs):
    fake = fake_ipvs()
    checked = exits(main, {"udp": 60}, check_mode=True, diff=True)
    assert checked["changed"] is True and fake.timeout_writes == []
    real = exits(main, {"udp": 60}, diff=True)
    assert (checked["operations"], checked["timeouts"], checked["diff"]) == \
        (real["operations"], real["timeouts"], real["diff"])
    again = exits(main, {"udp": 60})
    assert again["changed"] is False and again["operations"] == []
    assert len(fake.timeout_writes) == 1


def test_nothing_given_reads_only(fake_ipvs):
    fake = fake_ipvs()
    assert exits(main, {})["timeouts"] == DEFAULTS
    assert fake.timeout_writes == []


@pytest.mark.parametrize("args, start", [({"tcp": 0}, "tcp: 0 is out of range"), ({"udp": -1}, "udp: -1"),
                                         ({"tcp": 60, "tcp_fin": 9999999}, "tcp_fin: 9999999 is out of range")])
def test_bad_input_names_the_parameter(fake_ipvs, args, start):
    fake = fake_ipvs()
    assert fails(main, args)["msg"].startswith(start)
    assert fake.timeout_writes == [] and fake.opened == 0
