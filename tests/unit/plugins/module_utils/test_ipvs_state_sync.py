# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure model of sync daemons and timeouts: validation, maxlen ranges, diff, wording."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

MASTER = {"role": "master", "state": "started", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81",
          "mcast_port": 8848, "mcast_ttl": 1, "maxlen": None}


def daemon(mtu=1500, **overrides):
    return state.sync_daemon_from_params(dict(MASTER, **overrides), mtu)


def test_a_valid_master():
    assert daemon() == {"role": "master", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81",
                        "mcast_port": 8848, "mcast_ttl": 1, "maxlen": None}


def test_a_name_of_15_bytes_is_fine():
    assert daemon(interface="e" * 15)["interface"] == "e" * 15
    assert daemon(interface="eth\u00e9")["interface"] == "eth\u00e9"  # 5 bytes


def test_defaults_are_the_kernels():
    d = state.sync_daemon_from_params({"role": "backup", "interface": "eth0"}, 1500)
    assert (d["syncid"], d["mcast_group"], d["mcast_port"], d["mcast_ttl"], d["maxlen"]) == (0, "224.0.0.81", 8848, 1, None)


def test_ipv6_group_is_canonical():
    assert daemon(mcast_group="FF0E:0::DB8:0:81")["mcast_group"] == "ff0e::db8:0:81"


@pytest.mark.parametrize("overrides, param, words", [
    ({"mcast_group": "233.252.0.300"}, "mcast_group", "is not an IPv4 or IPv6 address"),
    ({"mcast_group": "192.0.2.81"}, "mcast_group", "is not a multicast address"),
    ({"mcast_group": "2001:db8::81"}, "mcast_group", "is not a multicast address"),
    ({"mcast_ttl": 0}, "mcast_ttl", "0 is out of range (1..255)"),
    ({"mcast_ttl": 256}, "mcast_ttl", "out of range"),
    ({"syncid": 256}, "syncid", "256 is out of range (0..255)"),
    ({"syncid": -1}, "syncid", "out of range"),
    ({"mcast_port": 0}, "mcast_port", "out of range (1..65535)"),
    ({"mcast_port": 65536}, "mcast_port", "out of range"),
    ({"interface": "a-name-longer-than-15"}, "interface", "is not a network interface name"),
    ({"interface": "../etc"}, "interface", "is not a network interface name"),
    # dev_valid_name() counts bytes: 13 characters, 24 bytes in UTF-8
    ({"interface": "eth\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}, "interface",
     "is not a network interface name (1..15 bytes"),
    # a NUL would end the name the kernel reads: "e\0th" would be taken for "e"
    ({"interface": "e\x00th"}, "interface", "is not a network interface name"),
    ({"interface": "eth\r0"}, "interface", "is not a network interface name"),
    ({"interface": "eth\x0b0"}, "interface", "is not a network interface name"),
    ({"interface": "eth\u00a00"}, "interface", "is not a network interface name"),
    ({"interface": "\ud800"}, "interface", "is not a network interface name"),
    ({"interface": ""}, "interface", "is not a network interface name"),
    ({"interface": None}, "interface", "required to start a master sync daemon"),
    ({"role": "primary"}, "role", "is not one of master, backup"),
    ({"maxlen": 1473}, "maxlen", "1473 is out of range for a master sync daemon on eth0 (MTU 1500) with an IPv4 group (1..1472)"),
    ({"maxlen": 1453, "mcast_group": "ff0e::db8:0:81"}, "maxlen", "(1..1452)"),
    ({"maxlen": 1000, "role": "backup"}, "maxlen", "(1024..1472)"),
    ({"maxlen": 0}, "maxlen", "out of range"),
])
def test_bad_input_names_the_parameter(overrides, param, words):
    with pytest.raises(IPVSValidationError) as caught:
        daemon(**overrides)
    assert str(caught.value).startswith(param + ": ")
    assert words in str(caught.value)


def test_unknown_interface():
    with pytest.raises(IPVSValidationError, match=r"^interface: there is no network interface 'eth9' on this host"):
        daemon(mtu=None, interface="eth9")


def test_stopping_needs_no_interface_but_still_checks_the_rest():
    assert state.sync_daemon_from_params({"role": "backup", "state": "stopped"}) is None
    with pytest.raises(IPVSValidationError, match="^syncid: "):
        state.sync_daemon_from_params({"role": "backup", "state": "stopped", "syncid": 300})


@pytest.mark.parametrize("role, group, mtu, expected", [
    ("master", "233.252.0.81", 1500, (1, 1472)),
    ("master", "233.252.0.81", 65536, (1, 1472)),  # a master never sends more than 1500
    ("master", "ff0e::db8:0:81", 9000, (1, 1452)),
    ("backup", "233.252.0.81", 1500, (1024, 1472)),
    ("backup", "233.252.0.81", 1280, (1024, 1472)),  # MTU below 1500 counts as 1500
    ("backup", "233.252.0.81", 9000, (1024, 8972)),
    ("backup", "ff0e::db8:0:81", 65536, (1024, 65487)),  # measured in a UML kernel on lo
])
def test_maxlen_range_follows_start_sync_thread(role, group, mtu, expected):
    assert state.sync_maxlen_range(role, group, mtu) == expected


def test_predicted_maxlen_is_the_kernels_pick():
    assert state.predict_sync_daemon(daemon(), 1500)["maxlen"] == 1472
    assert state.predict_sync_daemon(daemon(maxlen=1000), 1500)["maxlen"] == 1000


def running(**overrides):
    return state.predict_sync_daemon(daemon(**overrides), 1500)


def test_diff_start_stop_and_nothing():
    assert state.diff_sync_daemon(daemon(), None, "master") == [{"action": "start_sync_daemon", "daemon": daemon()}]
    assert state.diff_sync_daemon(daemon(), running(), "master") == []
    assert state.diff_sync_daemon(None, running(), "master") == [{"action": "stop_sync_daemon", "daemon": running()}]
    assert state.diff_sync_daemon(None, None, "master") == []


def test_unset_maxlen_is_not_compared_but_a_given_one_is():
    assert state.diff_sync_daemon(daemon(), running(maxlen=600), "master") == []
    ops = state.diff_sync_daemon(daemon(maxlen=1000), running(), "master")
    assert [op["action"] for op in ops] == ["stop_sync_daemon", "start_sync_daemon"]


@pytest.mark.parametrize("change", [{"syncid": 8}, {"interface": "eth1"}, {"mcast_group": "233.252.0.82"},
                                    {"mcast_port": 8849}, {"mcast_ttl": 2}])
def test_any_other_setting_means_a_restart(change):
    ops = state.diff_sync_daemon(daemon(**change), running(), "master")
    assert ops == [{"action": "stop_sync_daemon", "daemon": running()},
                   {"action": "start_sync_daemon", "daemon": daemon(**change)}]


def test_describe():
    assert state.describe_sync_daemon({"action": "start_sync_daemon", "daemon": daemon()}) == \
        "start master sync daemon on eth0 (syncid 7, group 233.252.0.81 port 8848, ttl 1)"
    assert state.describe_sync_daemon({"action": "stop_sync_daemon", "daemon": running()}).endswith(", maxlen 1472)")


# ------------------------------------------------------------------ timeouts


def test_timeouts_given_only():
    assert state.timeouts_from_params({"tcp": 3600, "tcp_fin": None, "udp": 60}) == {"tcp": 3600, "udp": 60}
    assert state.timeouts_from_params({}) == {}


@pytest.mark.parametrize("name, value, words", [
    ("tcp", 0, "0 is out of range (1..2147483); the kernel reads 0 as 'leave as is'"),
    ("udp", -5, "-5 is out of range"),
    ("tcp_fin", 2147484, "2147484 is out of range"),
])
def test_bad_timeouts_name_the_parameter(name, value, words):
    with pytest.raises(IPVSValidationError) as caught:
        state.timeouts_from_params({name: value})
    assert str(caught.value).startswith(name + ": ") and words in str(caught.value)


def test_timeout_diff_and_wording():
    current = {"tcp": 900, "tcp_fin": 120, "udp": 300}
    changes = state.diff_timeouts({"tcp": 900, "udp": 60}, current)
    assert changes == {"udp": 60}
    assert state.describe_timeouts({"tcp_fin": 30, "udp": 60}, current) == [
        "set tcp fin timeout 120 -> 30 s", "set udp timeout 300 -> 60 s"]
