# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import errno
import types

import pytest

from ansible_collections.lvs.cluster.plugins.modules import ipvs_real_server
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import (
    exits,
    fails,
    live_table,
)

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_real_server.main

SERVICE = {"address": "192.0.2.13", "port": 80}
LIVE = [dict(SERVICE, real_servers=[{"address": "192.0.2.4", "weight": 5, "forwarding": "tunnel"},
                                    {"address": "10.0.0.5", "port": 8080, "forwarding": "nat", "weight": 3}]),
        {"fwmark": 1, "family": "ipv6", "real_servers": [{"address": "2001:db8::4"}]}]


def rs_args(**kwargs):
    return dict({"service": SERVICE, "address": "192.0.2.4"}, **kwargs)


class Clock:
    """Stands in for the module's ``time``: sleeping advances a fake monotonic clock."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(ipvs_real_server, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def live_real_server(fake, address, service_index=0):
    return next(r for r in fake.table()[service_index]["real_servers"] if r["address"] == address)


def test_add_with_kernel_defaults_then_no_change(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    result = exits(main, rs_args(address="192.0.2.6"), diff=True)
    assert result["changed"] is True
    assert result["operations"] == ["add real server 192.0.2.6:80 in tcp/192.0.2.13:80 (dr, weight 1)"]
    assert result["real_server"] == {"address": "192.0.2.6", "port": 80, "weight": 1, "forwarding": "dr",
                                     "upper_threshold": 0, "lower_threshold": 0}
    assert result["diff"] == {"before": {}, "after": result["real_server"]}
    assert live_real_server(fake, "192.0.2.6") == result["real_server"]
    again = exits(main, rs_args(address="192.0.2.6"))
    assert again["changed"] is False
    assert len(fake.applied) == 1


def test_check_mode_writes_nothing(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    checked = exits(main, rs_args(address="192.0.2.6", weight=4), check_mode=True)
    assert checked["changed"] is True and fake.applied == []
    assert fake.table() == live_table(LIVE)
    assert exits(main, rs_args(address="192.0.2.6", weight=4))["operations"] == checked["operations"]


def test_unset_options_keep_live_values(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    assert exits(main, rs_args())["changed"] is False
    result = exits(main, rs_args(weight=7), diff=True)
    assert result["operations"] == ["edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (tunnel, weight 7)"]
    assert result["diff"]["before"]["weight"] == 5 and result["diff"]["after"]["weight"] == 7
    assert live_real_server(fake, "192.0.2.4")["forwarding"] == "tunnel"


def test_fwmark_service_real_server(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    args = {"service": {"fwmark": 1, "family": "ipv6"}, "address": "2001:DB8::6"}
    result = exits(main, args)
    assert result["real_server"]["address"] == "2001:db8::6" and result["real_server"]["port"] == 0
    assert result["operations"] == ["add real server [2001:db8::6]:0 in fwmark/1/ipv6 (dr, weight 1)"]
    assert exits(main, args)["changed"] is False
    assert len(fake.applied) == 1


def test_absent_removes_then_is_a_no_op(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    result = exits(main, rs_args(state="absent"), diff=True)
    assert result["operations"] == ["delete real server 192.0.2.4:80 from tcp/192.0.2.13:80"]
    assert result["real_server"] == {} and result["diff"]["after"] == {}
    assert result["diff"]["before"]["weight"] == 5
    assert [r["address"] for r in fake.table()[0]["real_servers"]] == ["10.0.0.5"]
    assert exits(main, rs_args(state="absent"))["changed"] is False
    assert len(fake.applied) == 1


def test_missing_service_fails_without_writing(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    result = fails(main, rs_args(service={"address": "192.0.2.14", "port": 80}))
    assert result["msg"].startswith("service: tcp/192.0.2.14:80 does not exist")
    assert fake.applied == []


BAD = [
    ("weight", rs_args(weight=-1), "weight"),
    ("address", rs_args(address="192.0.2.256"), "address"),
    ("family", rs_args(address="2001:db8::4"), "address"),
    ("dr-port", rs_args(port=8080, forwarding="dr"), "port"),
    ("thresholds", rs_args(upper_threshold=1, lower_threshold=2), "lower_threshold"),
    ("service-port", rs_args(service={"address": "192.0.2.13", "port": 0}), "service.port"),
    ("service-address", rs_args(service={"address": "vip", "port": 80}), "service.address"),
    ("service-fwmark-and-address", rs_args(service={"fwmark": 1, "address": "192.0.2.13"}), "fwmark"),
    ("drain-timeout", rs_args(state="drained", drain_timeout=-1), "drain_timeout"),
]


@pytest.mark.parametrize("args, param", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_naming_the_parameter(fake_ipvs, args, param):
    fake = fake_ipvs(live_table(LIVE))
    result = fails(main, args)
    assert param in result["msg"]
    assert fake.applied == [] and fake.polls == []


def test_kernel_refusal_leaves_the_real_server_as_it_was(fake_ipvs):
    original = live_table(LIVE)
    fake = fake_ipvs(copy.deepcopy(original), refuse=lambda op: errno.EINVAL)
    result = fails(main, rs_args(weight=9))
    assert result["msg"].startswith("edit real server 192.0.2.4:80 of service tcp/192.0.2.13:80: Invalid argument")
    assert fake.table() == original


# -------------------------------------------------------------------- drain


def test_drain_waits_until_active_connections_reach_zero(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE), connections=[4, 2, 0])
    result = exits(main, rs_args(state="drained", drain_timeout=60))
    assert result["operations"] == ["edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (tunnel, weight 0)"]
    assert live_real_server(fake, "192.0.2.4")["weight"] == 0
    assert (result["drained"], result["active_connections"]) == (True, 0)
    assert fake.polls == [("tcp/192.0.2.13:80", "192.0.2.4", 80)] * 3
    assert result["waited"] == pytest.approx(2 * ipvs_real_server.POLL_INTERVAL)
    assert result["real_server"]["weight"] == 0


def test_drain_gives_up_at_the_timeout(fake_ipvs, clock):
    fake_ipvs(live_table(LIVE), connections=[3])
    result = exits(main, rs_args(state="drained", drain_timeout=2))
    assert (result["drained"], result["active_connections"]) == (False, 3)
    assert result["waited"] == pytest.approx(2.0)
    assert sum(clock.slept) == pytest.approx(2.0)
    assert result["changed"] is True


def test_drain_timeout_zero_quiesces_without_waiting(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE), connections=[3])
    result = exits(main, rs_args(state="drained", drain_timeout=0))
    assert (result["drained"], result["active_connections"], result["waited"]) == (False, 3, 0)
    assert clock.slept == [] and len(fake.polls) == 1
    assert live_real_server(fake, "192.0.2.4")["weight"] == 0


def test_drain_adds_a_missing_real_server_quiesced(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE))
    result = exits(main, rs_args(address="192.0.2.8", state="drained"))
    assert result["operations"] == ["add real server 192.0.2.8:80 in tcp/192.0.2.13:80 (dr, weight 0)"]
    assert result["drained"] is True
    assert live_real_server(fake, "192.0.2.8")["weight"] == 0


def test_drain_of_a_quiesced_server_still_waits_but_changes_nothing(fake_ipvs, clock):
    table = live_table([dict(SERVICE, real_servers=[{"address": "192.0.2.4", "weight": 0}])])
    fake = fake_ipvs(table, connections=[1, 0])
    result = exits(main, rs_args(state="drained", weight=5))
    assert result["changed"] is False and fake.applied == []
    assert result["drained"] is True and len(fake.polls) == 2


def test_drain_in_check_mode_neither_writes_nor_waits(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE), connections=[4])
    result = exits(main, rs_args(state="drained"), check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["weight"] == 0
    assert "drained" not in result and "waited" not in result
    assert fake.applied == [] and fake.polls == [] and clock.slept == []


def test_drain_live_nat_real_server_on_a_mapped_port(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE), connections=[0])
    result = exits(main, rs_args(address="10.0.0.5", port=8080, state="drained"))
    assert result["operations"] == ["edit real server 10.0.0.5:8080 in tcp/192.0.2.13:80 (nat, weight 0)"]
    assert live_real_server(fake, "10.0.0.5")["weight"] == 0


def test_remove_live_nat_real_server_on_a_mapped_port(fake_ipvs):
    fake = fake_ipvs(live_table(LIVE))
    result = exits(main, rs_args(address="10.0.0.5", port=8080, state="absent"))
    assert result["operations"] == ["delete real server 10.0.0.5:8080 from tcp/192.0.2.13:80"]
    assert [r["address"] for r in fake.table()[0]["real_servers"]] == ["192.0.2.4"]


def test_nat_real_server_named_with_its_forwarding_works(fake_ipvs, clock):
    fake = fake_ipvs(live_table(LIVE))
    result = exits(main, rs_args(address="10.0.0.5", port=8080, forwarding="masq", weight=4))
    assert result["operations"] == ["edit real server 10.0.0.5:8080 in tcp/192.0.2.13:80 (nat, weight 4)"]
    assert live_real_server(fake, "10.0.0.5")["weight"] == 4
