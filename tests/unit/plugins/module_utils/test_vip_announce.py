# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scale-out announcer's decisions: which VIPs to announce, and the route changes."""

from __future__ import annotations

import json

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import vip_announce as announce

VIPS = [{"address": "192.0.2.13", "services": ["tcp/192.0.2.13:80"]},
        {"address": "2001:db8::13", "services": ["tcp/[2001:db8::13]:80", "fwmark/7/ipv6"]}]


def service(address="192.0.2.13", weights=(5, 5), port=80, fwmark=None, family="ipv4"):
    svc = {"family": family, "protocol": "tcp", "address": address, "port": port, "fwmark": None}
    if fwmark:
        svc.update(fwmark=fwmark, protocol=None, address=None, port=None)
    svc["real_servers"] = [{"address": "192.0.2.%d" % (4 + n), "port": 80, "weight": w} for n, w in enumerate(weights)]
    return svc


def test_a_vip_is_announced_while_a_real_server_of_its_services_has_weight():
    table = [service(), service("2001:db8::13", family="ipv6")]
    assert announce.servable(table, VIPS) == ["192.0.2.13", "2001:db8::13"]
    table[0]["real_servers"][0]["weight"] = 0
    assert announce.servable(table, VIPS) == ["192.0.2.13", "2001:db8::13"]


@pytest.mark.parametrize("table", [
    None,                                   # the table could not be read (no IPVS)
    [],                                     # no service
    [service(weights=(0, 0))],              # every real server quiesced or drained
    [service(weights=())],                  # the checker removed them all
    [service(port=443)],                    # another service of the VIP
])
def test_a_vip_is_withdrawn_when_it_cannot_be_served(table):
    assert "192.0.2.13" not in announce.servable(table, VIPS)


def test_firewall_mark_services_count_for_the_vips_that_list_them():
    assert announce.servable([service(fwmark=7, family="ipv6")], VIPS) == ["2001:db8::13"]


def test_plan_adds_local_routes_for_all_and_announces_the_servable():
    ops = announce.plan([], VIPS, ["192.0.2.13"])
    assert ops == [("add", "announce", "192.0.2.13"), ("add", "local", "192.0.2.13"), ("add", "local", "2001:db8::13")]


def test_plan_is_idempotent_and_removes_only_what_is_not_wanted():
    current = [("local", "192.0.2.13"), ("local", "2001:db8::13"), ("announce", "192.0.2.13"),
               ("local", "192.0.2.99"), ("announce", "192.0.2.99")]   # a VIP no longer configured
    assert announce.plan(current[:3], VIPS, ["192.0.2.13"]) == []
    assert announce.plan(current, VIPS, ["192.0.2.13"]) == [("remove", "announce", "192.0.2.99"),
                                                            ("remove", "local", "192.0.2.99")]


def test_withdraw_keeps_the_local_routes_and_clear_removes_all():
    current = [("local", "192.0.2.13"), ("announce", "192.0.2.13")]
    assert announce.plan(current, VIPS[:1], []) == [("remove", "announce", "192.0.2.13")]
    assert announce.plan(current, VIPS[:1], [], clear=True) == [("remove", "announce", "192.0.2.13"),
                                                                ("remove", "local", "192.0.2.13")]


class FakeRoutes:
    def __init__(self, current):
        self.routes = set(current)
        self.applied = []

    def current(self):
        return sorted(self.routes)

    def apply(self, op):
        self.applied.append(op)
        action, kind, address = op
        (self.routes.add if action == "add" else self.routes.discard)((kind, address))


def test_step_applies_the_plan():
    routes = FakeRoutes([("local", "192.0.2.13")])
    config = {"vips": VIPS[:1]}
    assert announce.step(routes, config, [service()]) == [("add", "announce", "192.0.2.13")]
    assert announce.step(routes, config, [service()]) == []
    assert announce.step(routes, config, [service()], "withdraw") == [("remove", "announce", "192.0.2.13")]
    assert routes.routes == {("local", "192.0.2.13")}


def write(tmp_path, config):
    path = tmp_path / "announce.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_config_is_read_and_checked(tmp_path):
    config = announce.load_config(write(tmp_path, {"protocol": 76, "interval": 1, "vips": [
        {"address": "2001:DB8::13", "services": ["x"]}]}))
    assert config == {"protocol": 76, "interval": 1.0, "vips": [{"address": "2001:db8::13", "services": ["x"]}]}


@pytest.mark.parametrize("config, expected", [
    ({"protocol": 2, "vips": []}, "protocol 2 is the kernel's own"),
    ({"protocol": 76, "interval": 0, "vips": []}, "interval 0"),
    ({"protocol": 76, "vips": [{"address": "lb.example"}]}, "unreadable configuration"),
    ({"vips": []}, "unreadable configuration"),
])
def test_bad_config_is_refused(tmp_path, config, expected):
    with pytest.raises(announce.AnnounceError, match=expected):
        announce.load_config(write(tmp_path, config))


def counted(*packets):
    """Tables read one after another, the VIP's service having received these packets."""
    tables = iter([[dict(service(), stats={"in_packets": n})] for n in packets])
    return lambda: next(tables)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_idle_returns_once_the_counters_stand_still():
    clock = Clock()
    result = announce.wait_idle(counted(10, 15, 18, 18, 18, 18, 18, 18, 18, 18, 18), VIPS, quiet=2, timeout=30,
                                clock=clock, sleep=clock.sleep)
    assert result == {"idle": True, "last_packet": 1.0, "waited": 3.0, "packets": 8,
                      "message": "the last packet for the VIPs came 1.0 s into the watch (8 packets)"}
    clock = Clock()
    result = announce.wait_idle(counted(*[5] * 20), VIPS, quiet=2, timeout=30, clock=clock, sleep=clock.sleep)
    assert result["message"] == "no packet for the VIPs arrived in the 2.0 s watched"


def test_wait_idle_reports_traffic_that_goes_on():
    clock = Clock()
    result = announce.wait_idle(counted(*range(0, 1000, 3)), VIPS, quiet=2, timeout=5, clock=clock, sleep=clock.sleep)
    assert result["idle"] is False
    assert result["waited"] == 5.0
    assert result["message"].startswith("packets for the VIPs still arrive after 5.0 s")


def test_in_packets_counts_the_vips_services_only():
    table = [dict(service(), stats={"in_packets": 7}), dict(service(port=443), stats={"in_packets": 100})]
    assert announce.in_packets(table, VIPS) == 7
    assert announce.in_packets(None, VIPS) == 0
