# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipvs_wait through the real netlink adapter over the fake kernel (netlink_fake), with a
fake clock: the "owner" changes weights and connections at set times while the module
sleeps, and no test really sleeps."""

from __future__ import annotations

import types

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wait as waiting
from ansible_collections.lvs.cluster.plugins.modules import ipvs_wait
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails, live_table, run_module

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_wait.main

TABLE = [
    {"address": "192.0.2.13", "port": 80,
     "real_servers": [{"address": "192.0.2.6", "weight": 5}, {"address": "192.0.2.7", "weight": 5}]},
    {"address": "192.0.2.13", "port": 443, "real_servers": [{"address": "192.0.2.6", "weight": 3}]},
    {"address": "2001:db8::13", "port": 80, "real_servers": [{"address": "2001:db8::6", "weight": 1}]},
]


class Clock:
    """The module_utils' ``time``: sleeping advances the clock and runs what is due by then."""

    def __init__(self):
        self.now = 500.0
        self.start = self.now
        self.slept: list = []
        self.events: list = []  # (seconds after start, function), run once when due

    def at(self, seconds, function):
        self.events.append((seconds, function))
        self.events.sort(key=lambda e: e[0])

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds
        while self.events and self.events[0][0] <= self.now - self.start + 1e-9:
            self.events.pop(0)[1]()


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(waiting, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def set_weight(kernel, address, weight, port=None):
    """What the owner (keepalived, ldirectord) does: the weight of an address's entries."""
    def change():
        for service in kernel.services.values():
            for rs in service["real_servers"]:
                if rs["address"] == address and (port is None or service["port"] == port):
                    rs["weight"] = weight
    return change


def set_active(kernel, endpoint, count):
    def change():
        kernel.connections[endpoint] = count
    return change


def remove(kernel, address):
    def change():
        for service in kernel.services.values():
            service["real_servers"] = [rs for rs in service["real_servers"] if rs["address"] != address]
    return change


def add_back(kernel, address, weight):
    def change():
        for service in kernel.services.values():
            if service["port"] == 80 and service["family"] == "ipv4":
                service["real_servers"].append({"address": address, "port": 80, "weight": weight, "forwarding": "dr",
                                                "upper_threshold": 0, "lower_threshold": 0})
    return change


def no_writes(kernel):
    return [r for r in kernel.requests if r[0] not in ("IPVS_CMD_GET_SERVICE", "IPVS_CMD_GET_DEST")] == [] \
        and kernel.carried_out == []


# ------------------------------------------------------------------ drained


def test_drained_follows_the_weights_then_the_connections(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections.update({"192.0.2.6:80": 7, "192.0.2.6:443": 0})
    clock.at(2.0, set_weight(kernel, "192.0.2.6", 0, port=80))
    clock.at(3.0, set_weight(kernel, "192.0.2.6", 0, port=443))
    clock.at(5.0, set_active(kernel, "192.0.2.6:80", 3))
    clock.at(8.0, set_active(kernel, "192.0.2.6:80", 0))
    result = exits(main, {"real_servers": ["192.0.2.6"], "timeout": 60})
    assert result["reached"] is True and result["changed"] is False
    assert result["steps"] == [{"t": 0.0, "weight0": "0/2", "active": 7}, {"t": 2.0, "weight0": "1/2", "active": 7},
                               {"t": 3.0, "weight0": "2/2", "active": 7}, {"t": 5.0, "weight0": "2/2", "active": 3},
                               {"t": 8.0, "weight0": "2/2", "active": 0}]
    assert result["waited"] == pytest.approx(8.0)
    assert result["msg"] == "192.0.2.6: weight 0 on 2 services after 3 s, no active connection after 8 s"
    assert result["weights"] == ["192.0.2.6:80:0", "192.0.2.6:443:0"]
    assert [(e["service"], e["port"], e["weight"], e["active_connections"], e["inactive_connections"])
            for e in result["entries"]] == [("tcp/192.0.2.13:80", 80, 0, 0, 1), ("tcp/192.0.2.13:443", 443, 0, 0, 1)]
    assert max(clock.slept) <= 0.5 and len(clock.slept) == 16
    assert no_writes(kernel)


def test_drain_timeout_reports_the_connections_left_without_failing(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections.update({"192.0.2.6:80": 2, "192.0.2.6:443": 1})
    clock.at(2.1, set_weight(kernel, "192.0.2.6", 0))
    result = exits(main, {"real_servers": ["192.0.2.6"], "timeout": 10, "interval": 0.7})
    assert result["reached"] is False
    assert result["active_connections"] == 3
    assert result["waited"] == pytest.approx(10.0)
    assert result["msg"] == "192.0.2.6: weight 0 on 2 services after 2.1 s, 3 active connections left after 10 s"
    assert result["steps"] == [{"t": 0.0, "weight0": "0/2", "active": 3}, {"t": 2.1, "weight0": "2/2", "active": 3}]
    assert sum(clock.slept) == pytest.approx(10.0) and max(clock.slept) <= 0.7 + 1e-9


def test_drain_timeout_fails_when_asked_to(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["192.0.2.7:80"] = 1
    set_weight(kernel, "192.0.2.7", 0)()
    result = fails(main, {"real_servers": ["192.0.2.7"], "timeout": 3, "fail_on_timeout": True, "label": "lb01 (none)"})
    assert result["msg"] == ("lb01 (none): 192.0.2.7: weight 0 on 1 service after 0 s, "
                             "1 active connection left after 3 s")
    assert result["reached"] is False and result["weights"] == ["192.0.2.7:80:0"]


def test_drain_fails_when_the_owner_never_quiesces(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    clock.at(1.0, set_weight(kernel, "192.0.2.6", 0, port=443))
    result = fails(main, {"real_servers": ["192.0.2.6"], "timeout": 4, "label": "lb01 (ldirectord)",
                          "hint": "is the maintenance directory in the daemon configuration?"})
    assert result["msg"] == ("lb01 (ldirectord): 192.0.2.6 still has a weight above 0 after 4 s (is the maintenance "
                             "directory in the daemon configuration?): 192.0.2.6:80:5, 192.0.2.6:443:0")
    assert result["steps"] == [{"t": 0.0, "weight0": "0/2", "active": 0}, {"t": 1.0, "weight0": "1/2", "active": 0}]


def test_weights_left_above_0_are_reported_when_not_fatal(fake_kernel, clock):
    fake_kernel(live_table(TABLE))
    for what in ("drained", "weight_zero"):
        result = exits(main, {"real_servers": ["192.0.2.7"], "state": what, "timeout": 1, "fail_on_timeout": False})
        assert result["reached"] is False
        assert result["msg"] == "192.0.2.7 still has a weight above 0 after 1 s: 192.0.2.7:80:5"


def test_a_weight_that_comes_back_is_not_a_drain(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["192.0.2.7:80"] = 4
    clock.at(1.0, set_weight(kernel, "192.0.2.7", 0))
    clock.at(2.0, set_weight(kernel, "192.0.2.7", 5))
    result = fails(main, {"real_servers": ["192.0.2.7"], "timeout": 5})
    assert result["msg"].startswith("192.0.2.7 still has a weight above 0 after 5 s: 192.0.2.7:80:5")
    assert [s["weight0"] for s in result["steps"]] == ["0/1", "1/1", "0/1"]


def test_both_families_of_a_real_server_count(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["[2001:db8::6]:80"] = 2
    clock.at(0.5, set_weight(kernel, "192.0.2.6", 0))
    clock.at(1.0, set_weight(kernel, "2001:db8::6", 0))
    clock.at(1.5, set_active(kernel, "[2001:db8::6]:80", 0))
    result = exits(main, {"real_servers": ["192.0.2.6", "2001:DB8:0::6"], "timeout": 30})
    assert result["reached"] is True
    assert result["weights"] == ["192.0.2.6:80:0", "192.0.2.6:443:0", "2001:db8::6:80:0"]
    assert result["msg"] == ("192.0.2.6, 2001:db8::6: weight 0 on 3 services after 1 s, "
                             "no active connection after 1.5 s")


# ------------------------------------------------------------ weight_zero


def test_weight_zero_does_not_wait_for_the_connections(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["192.0.2.7:80"] = 9
    clock.at(1.5, set_weight(kernel, "192.0.2.7", 0))
    result = exits(main, {"real_servers": ["192.0.2.7"], "state": "weight_zero", "timeout": 30})
    assert result["reached"] is True and result["active_connections"] == 9
    assert result["waited"] == pytest.approx(1.5)
    assert result["msg"] == "192.0.2.7: weight 0 on 1 service after 1.5 s"


def test_weight_zero_fails_at_the_timeout(fake_kernel, clock):
    fake_kernel(live_table(TABLE))
    result = fails(main, {"real_servers": ["192.0.2.7"], "state": "weight_zero", "timeout": 2})
    assert result["msg"] == "192.0.2.7 still has a weight above 0 after 2 s: 192.0.2.7:80:5"


# ----------------------------------------------------------------- active


def test_active_waits_for_every_entry_back(fake_kernel, clock):
    table = live_table(TABLE)
    kernel = fake_kernel(table)
    set_weight(kernel, "192.0.2.6", 0)()
    clock.at(1.0, set_weight(kernel, "192.0.2.6", 5, port=80))
    clock.at(4.0, set_weight(kernel, "192.0.2.6", 3, port=443))
    result = exits(main, {"real_servers": ["192.0.2.6"], "state": "active", "timeout": 60})
    assert result["reached"] is True
    assert result["msg"] == "192.0.2.6: weight above 0 on 2 services after 4 s"
    assert [s["weight0"] for s in result["steps"]] == ["2/2", "1/2", "0/2"]
    assert result["weights"] == ["192.0.2.6:80:5", "192.0.2.6:443:3"]


def test_a_restore_that_never_comes_fails_with_the_hint(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    set_weight(kernel, "192.0.2.7", 0)()
    result = fails(main, {"real_servers": ["192.0.2.7"], "state": "active", "timeout": 60,
                          "label": "lb01 (keepalived)", "hint": "its health checks fail"})
    assert result["msg"] == ("lb01 (keepalived): 192.0.2.7 is still at weight 0 in 1 service of 1 service "
                             "after 60 s (its health checks fail): 192.0.2.7:80:0")
    assert result["reached"] is False and result["waited"] == pytest.approx(60.0)
    assert len(result["steps"]) == 1 and len(clock.slept) == 120


def test_a_restore_that_never_comes_is_reported_when_not_fatal(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    set_weight(kernel, "192.0.2.7", 0)()
    result = exits(main, {"real_servers": ["192.0.2.7"], "state": "active", "timeout": 1, "fail_on_timeout": False})
    assert result["reached"] is False
    assert result["msg"].startswith("192.0.2.7 is still at weight 0 in 1 service of 1 service after 1 s")


def test_a_real_server_the_owner_adds_back_counts_when_it_appears(fake_kernel, clock):
    """ldirectord without quiescent removes a failed real server and adds it back."""
    kernel = fake_kernel(live_table(TABLE))
    remove(kernel, "192.0.2.7")()
    clock.at(3.0, add_back(kernel, "192.0.2.7", 2))
    result = exits(main, {"real_servers": ["192.0.2.7"], "state": "active", "timeout": 10})
    assert result["reached"] is True
    assert result["steps"] == [{"t": 0.0, "weight0": "0/0", "active": 0}, {"t": 3.0, "weight0": "0/1", "active": 0}]


# ------------------------------------------------------------- not there


@pytest.mark.parametrize("what", ["drained", "weight_zero", "active"])
def test_an_address_in_no_service_fails_at_the_timeout(fake_kernel, clock, what):
    fake_kernel(live_table(TABLE))
    result = fails(main, {"real_servers": ["192.0.2.99"], "state": what, "timeout": 2, "fail_on_timeout": False,
                          "label": "lb01 (ldirectord)"})
    assert result["msg"] == "lb01 (ldirectord): 192.0.2.99 is in no service of the IPVS table (after 2 s)"
    assert result["entries"] == [] and result["reached"] is False


def test_timeout_zero_reads_once(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["192.0.2.7:80"] = 1
    set_weight(kernel, "192.0.2.7", 0)()
    result = exits(main, {"real_servers": ["192.0.2.7"], "timeout": 0})
    assert clock.slept == [] and result["waited"] == 0
    assert result["msg"] == "192.0.2.7: weight 0 on 1 service after 0 s, 1 active connection left after 0 s"


def test_check_mode_reads_and_waits_the_same(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    clock.at(1.0, set_weight(kernel, "192.0.2.7", 0))
    result = exits(main, {"real_servers": ["192.0.2.7"], "timeout": 5}, check_mode=True)
    assert result["reached"] is True and result["changed"] is False and "diff" not in result
    assert no_writes(kernel)


# ------------------------------------------------- services, and absent


def remove_from(kernel, address, port):
    """What ldirectord does with quiescent = no: the real server leaves that service."""
    def change():
        for service in kernel.services.values():
            if service["port"] == port:
                service["real_servers"] = [rs for rs in service["real_servers"] if rs["address"] != address]
    return change


def add_to(kernel, address, port, weight):
    def change():
        for service in kernel.services.values():
            if service["port"] == port and service["family"] == "ipv4":
                service["real_servers"].append({"address": address, "port": port, "weight": weight,
                                                "forwarding": "dr", "upper_threshold": 0, "lower_threshold": 0})
    return change


def test_absent_waits_until_the_owner_removed_the_entry_from_the_services(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    clock.at(3.0, remove_from(kernel, "192.0.2.6", 443))
    result = exits(main, {"real_servers": ["192.0.2.6"], "state": "absent", "services": ["tcp/192.0.2.13:443"],
                          "timeout": 10, "label": "lb01 (ldirectord)"})
    assert result["reached"] is True and result["waited"] == pytest.approx(3.0)
    assert result["msg"] == "lb01 (ldirectord): 192.0.2.6: out of 1 service after 3 s"
    assert result["entries"] == [] and no_writes(kernel)


def test_absent_fails_while_an_entry_stays(fake_kernel, clock):
    fake_kernel(live_table(TABLE))
    result = fails(main, {"real_servers": ["192.0.2.6"], "state": "absent", "timeout": 2,
                          "hint": "is the service quiescent?"})
    assert result["msg"] == ("192.0.2.6 is still in 2 services after 2 s (is the service quiescent?): "
                             "192.0.2.6:80:5, 192.0.2.6:443:3")
    assert result["reached"] is False


def test_an_address_in_no_service_is_absent_at_once(fake_kernel, clock):
    fake_kernel(live_table(TABLE))
    result = exits(main, {"real_servers": ["192.0.2.99"], "state": "absent", "timeout": 5})
    assert result["reached"] is True and clock.slept == []
    assert result["msg"] == "192.0.2.99: out of every service after 0 s"


def test_drained_in_some_services_leaves_the_others_alone(fake_kernel, clock):
    """The drain quiesces the entries of the services that are not quiescent first."""
    kernel = fake_kernel(live_table(TABLE))
    kernel.connections["192.0.2.6:443"] = 2
    clock.at(1.0, set_weight(kernel, "192.0.2.6", 0, port=443))
    clock.at(4.0, set_active(kernel, "192.0.2.6:443", 0))
    result = exits(main, {"real_servers": ["192.0.2.6"], "services": ["tcp/192.0.2.13:443"], "timeout": 10})
    assert result["reached"] is True and result["waited"] == pytest.approx(4.0)
    assert result["weights"] == ["192.0.2.6:443:0"]
    assert result["msg"] == "192.0.2.6: weight 0 on 1 service after 1 s, no active connection after 4 s"


def test_active_waits_until_every_service_holds_the_real_server_again(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    remove_from(kernel, "192.0.2.6", 443)()
    clock.at(3.0, add_to(kernel, "192.0.2.6", 443, 3))
    result = exits(main, {"real_servers": ["192.0.2.6"], "state": "active",
                          "services": ["tcp/192.0.2.13:80", "tcp/192.0.2.13:443"], "timeout": 10})
    assert result["reached"] is True and result["waited"] == pytest.approx(3.0)
    assert result["steps"] == [{"t": 0.0, "weight0": "0/1", "active": 0}, {"t": 3.0, "weight0": "0/2", "active": 0}]


def test_a_service_never_given_the_real_server_back_fails(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    remove_from(kernel, "192.0.2.6", 443)()
    result = fails(main, {"real_servers": ["192.0.2.6"], "state": "active", "fail_on_timeout": False,
                          "services": ["tcp/192.0.2.13:80", "tcp/192.0.2.13:443"], "timeout": 2,
                          "hint": "its checks fail"})
    assert result["msg"] == ("192.0.2.6 is not in tcp/192.0.2.13:443 after 2 s (its checks fail): "
                             "192.0.2.6:80:5")


def test_services_are_named_as_the_entries_name_them(fake_kernel, clock):
    kernel = fake_kernel(live_table(TABLE))
    clock.at(1.0, set_weight(kernel, "2001:db8::6", 0))
    result = exits(main, {"real_servers": ["2001:DB8::6"], "services": ["tcp/[2001:DB8:0::13]:80"], "timeout": 5})
    assert result["reached"] is True and result["weights"] == ["2001:db8::6:80:0"]
    assert waiting.service_ref("fwmark/21/ipv6", "s") == "fwmark/21/ipv6"


# -------------------------------------------------------------- bad input

BAD = [
    ("no address", {"real_servers": []}, "real_servers"),
    ("not an address", {"real_servers": ["192.0.2.6", "web01"]}, "real_servers[1]"),
    ("a zone id", {"real_servers": ["fe80::1%eth0"]}, "real_servers[0]"),
    ("negative timeout", {"real_servers": ["192.0.2.6"], "timeout": -1}, "timeout"),
    ("nan timeout", {"real_servers": ["192.0.2.6"], "timeout": "nan"}, "timeout"),
    ("infinite timeout", {"real_servers": ["192.0.2.6"], "timeout": "inf"}, "timeout"),
    ("zero interval", {"real_servers": ["192.0.2.6"], "interval": 0}, "interval"),
    ("text interval", {"real_servers": ["192.0.2.6"], "interval": "soon"}, "interval"),
    ("unknown state", {"real_servers": ["192.0.2.6"], "state": "gone"}, "state"),
    ("no real_servers", {}, "real_servers"),
    ("a host name for a service", {"real_servers": ["192.0.2.6"], "services": ["www:80"]}, "services[0]"),
    ("a service port out of range", {"real_servers": ["192.0.2.6"], "services": ["tcp/192.0.2.13:70000"]},
     "services[0]"),
    ("an unknown protocol", {"real_servers": ["192.0.2.6"], "services": ["tcp/192.0.2.13:80", "icmp/192.0.2.13:80"]},
     "services[1]"),
    ("an IPv6 service unbracketed", {"real_servers": ["192.0.2.6"], "services": ["tcp/2001:db8::13:80"]},
     "services[0]"),
    ("an IPv4 service bracketed", {"real_servers": ["192.0.2.6"], "services": ["tcp/[192.0.2.13]:80"]},
     "services[0]"),
    ("firewall mark 0", {"real_servers": ["192.0.2.6"], "services": ["fwmark/0/ipv4"]}, "services[0]"),
]


@pytest.mark.parametrize("args, param", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_naming_the_parameter_before_reading(fake_kernel, clock, args, param):
    kernel = fake_kernel(live_table(TABLE))
    outcome, result = run_module(main, args)
    assert outcome == "fail"
    assert param in result["msg"]
    assert kernel.requests == [] and kernel.sockets == [] and clock.slept == []
