# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import errno

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.modules import ipvs_service
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import (
    exits,
    fails,
    live_table,
)

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_service.main

HTTP = {"address": "192.0.2.13", "port": 80, "scheduler": "wlc",
        "real_servers": [{"address": "192.0.2.4", "weight": 5}, {"address": "192.0.2.5", "weight": 5}]}
OTHER = {"address": "192.0.2.99", "port": 25, "real_servers": [{"address": "192.0.2.7"}]}


def test_create_applies_service_then_real_servers(fake_ipvs):
    fake = fake_ipvs(live_table([OTHER]))
    result = exits(main, HTTP, diff=True)
    assert result["changed"] is True
    assert result["operations"] == [
        "add service tcp/192.0.2.13:80 (scheduler wlc)",
        "add real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 5)",
        "add real server 192.0.2.5:80 in tcp/192.0.2.13:80 (dr, weight 5)",
    ]
    assert len(fake.applied) == 1
    assert fake.table() == live_table([OTHER, HTTP])
    assert result["service"] == state.public(live_table([HTTP])[0])
    assert result["diff"] == {"before": {}, "after": result["service"]}
    assert fake.closed == 1


def test_check_mode_computes_the_same_operations_and_writes_nothing(fake_ipvs):
    fake = fake_ipvs(live_table([OTHER]))
    checked = exits(main, HTTP, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert fake.applied == []
    assert fake.table() == live_table([OTHER])
    real = exits(main, HTTP, diff=True)
    assert checked["operations"] == real["operations"]
    assert checked["service"] == real["service"]
    assert checked["diff"] == real["diff"]


def test_second_run_changes_nothing(fake_ipvs):
    fake = fake_ipvs()
    assert exits(main, HTTP)["changed"] is True
    again = exits(main, HTTP, diff=True)
    assert again["changed"] is False
    assert again["operations"] == []
    assert len(fake.applied) == 1
    assert again["diff"]["before"] == again["diff"]["after"] == again["service"]
    assert exits(main, HTTP, check_mode=True)["changed"] is False


def test_same_service_in_other_spellings_is_not_a_change(fake_ipvs):
    fake = fake_ipvs(live_table([{"address": "2001:db8::13", "port": 443, "persistence_timeout": 60,
                                  "persistence_netmask": "64", "real_servers": [{"address": "2001:db8::4"}]}]))
    result = exits(main, {"address": "2001:DB8:0::13", "port": 443, "protocol": "tcp", "persistence_timeout": 60,
                          "persistence_netmask": 64, "real_servers": [{"address": "2001:0db8::4", "forwarding": "gate"}]})
    assert result["changed"] is False
    assert fake.applied == []


def test_edit_diff_before_and_after(fake_ipvs):
    fake = fake_ipvs(live_table([HTTP]))
    wanted = dict(HTTP, scheduler="rr", real_servers=[{"address": "192.0.2.4", "weight": 2}])
    result = exits(main, dict(wanted, purge_real_servers=True), diff=True)
    assert result["operations"] == [
        "edit service tcp/192.0.2.13:80 (scheduler rr)",
        "edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 2)",
        "delete real server 192.0.2.5:80 from tcp/192.0.2.13:80",
    ]
    assert result["diff"]["before"] == state.public(live_table([HTTP])[0])
    assert result["diff"]["after"] == state.public(live_table([wanted])[0])
    assert fake.table() == live_table([wanted])


def test_without_purge_unlisted_real_servers_stay(fake_ipvs):
    fake = fake_ipvs(live_table([HTTP]))
    result = exits(main, dict(HTTP, real_servers=[{"address": "192.0.2.6"}]))
    assert [op["action"] for op in fake.writes] == ["add_real_server"]
    assert [r["address"] for r in result["service"]["real_servers"]] == ["192.0.2.4", "192.0.2.5", "192.0.2.6"]


def test_real_servers_omitted_are_left_alone(fake_ipvs):
    fake = fake_ipvs(live_table([HTTP]))
    params = {k: v for k, v in HTTP.items() if k != "real_servers"}
    result = exits(main, dict(params, scheduler="sed", purge_real_servers=True))
    assert [op["action"] for op in fake.writes] == ["edit_service"]
    assert len(result["service"]["real_servers"]) == 2


def test_absent_removes_and_then_is_a_no_op(fake_ipvs):
    fake = fake_ipvs(live_table([HTTP, OTHER]))
    checked = exits(main, {"address": "192.0.2.13", "port": 80, "state": "absent"}, check_mode=True, diff=True)
    assert checked["changed"] is True and fake.applied == []
    assert checked["service"] == {} and checked["diff"]["after"] == {}
    result = exits(main, {"address": "192.0.2.13", "port": 80, "state": "absent"})
    assert result["operations"] == ["delete service tcp/192.0.2.13:80"]
    assert fake.table() == live_table([OTHER])
    assert exits(main, {"address": "192.0.2.13", "port": 80, "state": "absent"})["changed"] is False
    assert len(fake.applied) == 1


def test_fwmark_service(fake_ipvs):
    fake = fake_ipvs()
    params = {"fwmark": 1, "family": "ipv6", "scheduler": "sh", "scheduler_flags": ["sh-port"],
              "real_servers": [{"address": "2001:db8::4"}]}
    result = exits(main, params)
    assert result["service"]["fwmark"] == 1 and "address" not in result["service"]
    assert result["service"]["real_servers"][0]["port"] == 0
    assert result["service"]["scheduler_flags"] == ["flag-2"]
    assert exits(main, params)["changed"] is False
    assert len(fake.applied) == 1


BAD = [
    ("port-0", dict(HTTP, port=0), "port"),
    ("port-65536", dict(HTTP, port=65536), "port"),
    ("address", dict(HTTP, address="192.0.2.300"), "address"),
    ("scheduler", dict(HTTP, scheduler="fastest"), "scheduler"),
    ("scheduler-flag", dict(HTTP, scheduler_flags=["sh-port"]), "scheduler_flags"),
    ("fwmark-with-address", {"fwmark": 1, "address": "192.0.2.13"}, "fwmark"),
    ("fwmark-with-protocol", {"fwmark": 1, "protocol": "udp"}, "fwmark"),
    ("fwmark-0", {"fwmark": 0}, "fwmark"),
    ("address-without-port", {"address": "192.0.2.13"}, "port"),
    ("mixed-family", dict(HTTP, real_servers=[{"address": "2001:db8::4"}]), "real_servers[0].address"),
    ("duplicate", dict(HTTP, real_servers=[{"address": "192.0.2.4"}, {"address": "192.0.2.4", "port": 80}]),
     "real_servers[1]"),
    ("weight", dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": -1}]), "real_servers[0].weight"),
    ("thresholds", dict(HTTP, real_servers=[{"address": "192.0.2.4", "upper_threshold": 5, "lower_threshold": 6}]),
     "real_servers[0].lower_threshold"),
    ("netmask-without-timeout", dict(HTTP, persistence_netmask="24"), "persistence_netmask"),
    ("netmask-v6-dotted", {"address": "2001:db8::13", "port": 80, "persistence_timeout": 60,
                           "persistence_netmask": "255.255.255.0"}, "persistence_netmask"),
    ("one-packet-tcp", dict(HTTP, one_packet=True), "one_packet"),
    ("dr-port", dict(HTTP, real_servers=[{"address": "192.0.2.4", "port": 8080}]), "real_servers[0].port"),
]


@pytest.mark.parametrize("params, param", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_naming_the_parameter_before_any_write(fake_ipvs, params, param):
    fake = fake_ipvs(live_table([HTTP]))
    result = fails(main, params)
    assert param in result["msg"]
    assert fake.applied == []
    assert fake.table() == live_table([HTTP])


def test_kernel_refusal_midway_restores_the_service(fake_ipvs):
    """The kernel carries out the edit and the delete of the batch but refuses the add."""
    original = live_table([HTTP, OTHER])
    fake = fake_ipvs(copy.deepcopy(original),
                     refuse=lambda op: errno.EINVAL if op.get("real_server", {}).get("address") == "192.0.2.6" else 0)
    params = dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": 9}, {"address": "192.0.2.6"}],
                  purge_real_servers=True)
    result = fails(main, params)
    assert result["msg"].startswith("add real server 192.0.2.6:80 of service tcp/192.0.2.13:80: Invalid argument")
    assert result["msg"].endswith("; nothing was changed: the 2 changes made before the failure were undone")
    assert result["operations"] == [
        "edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 9)",
        "add real server 192.0.2.6:80 in tcp/192.0.2.13:80 (dr, weight 1)",
        "delete real server 192.0.2.5:80 from tcp/192.0.2.13:80",
    ]
    assert len(fake.applied) == 2, "one apply, then one restore"
    assert fake.table() == original


def test_kernel_refusal_of_a_new_service_deletes_what_was_created(fake_ipvs):
    original = live_table([OTHER])
    fake = fake_ipvs(copy.deepcopy(original),
                     refuse=lambda op: errno.ENOMEM if op.get("real_server", {}).get("address") == "192.0.2.5" else 0)
    result = fails(main, HTTP)
    assert "192.0.2.5:80" in result["msg"]
    assert fake.table() == original
    assert [op["action"] for op in fake.applied[1]] == ["delete_service"]


def test_missing_scheduler_module_is_named(fake_ipvs):
    fake = fake_ipvs(refuse=lambda op: errno.ENOENT if op["action"] == "add_service" else 0)
    result = fails(main, dict(HTTP, scheduler="twos"))
    assert result["msg"].startswith("scheduler: the kernel has no IPVS scheduler 'twos'")
    assert fake.table() == []


def test_kernel_refusal_in_check_mode_cannot_happen(fake_ipvs):
    fake = fake_ipvs(refuse=lambda op: errno.EPERM)
    assert exits(main, HTTP, check_mode=True)["changed"] is True
    assert fake.applied == []
