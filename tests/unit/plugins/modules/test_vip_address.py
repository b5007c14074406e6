# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import vip_netlink as netlink
from ansible_collections.lvs.cluster.plugins.modules import vip_address
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import vip_utils
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.vip_utils import entry

pytestmark = pytest.mark.usefixtures("harness")

main = vip_address.main
HOST = [entry("192.0.2.3", 24), entry("2001:db8::3", 64), entry("fe80::1", 64, proto=3)]


@pytest.fixture
def fake(monkeypatch):
    def install(addresses=None, **kwargs):
        return vip_utils.install(monkeypatch, [dict(e) for e in HOST] + (addresses or []), **kwargs)
    return install


def test_adds_the_vips_marked_then_changes_nothing(fake):
    kernel = fake()
    args = {"interface": "eth0", "addresses": ["192.0.2.13", "2001:DB8:0::13", "192.0.2.14"]}
    result = exits(main, args, diff=True)
    assert result["changed"] is True
    assert result["operations"] == ["add 192.0.2.13/32 (eth0:1) to eth0 (protocol 76)",
                                    "add 2001:db8::13/128 to eth0 (protocol 76)",
                                    "add 192.0.2.14/32 (eth0:3) to eth0 (protocol 76)"]
    assert result["added"] == ["192.0.2.13", "2001:db8::13", "192.0.2.14"]
    assert result["addresses"] == ["192.0.2.13", "192.0.2.14", "2001:db8::13"]
    assert result["removed"] == result["adopted"] == []
    assert result["diff"] == {"before": "", "after": "192.0.2.13/32 (eth0:1)\n192.0.2.14/32 (eth0:3)\n2001:db8::13/128\n"}
    assert [w["entry"]["flags"] for w in kernel.writes] == [0, 0x22, 0]  # IPv6 with nodad, deprecated
    again = exits(main, args)
    assert again["changed"] is False and again["operations"] == [] and again["added"] == []
    assert len(kernel.writes) == 3


def test_check_mode_predicts_the_run_and_writes_nothing(fake):
    kernel = fake([entry("192.0.2.13", label="eth0:1", proto=76), entry("2001:db8::14", proto=76)])
    args = {"interface": "eth0", "addresses": ["2001:db8::15", "192.0.2.15", "192.0.2.13"]}
    checked = exits(main, args, check_mode=True, diff=True)
    assert checked["changed"] is True and kernel.writes == []
    real = exits(main, args, diff=True)
    for key in ("operations", "addresses", "added", "removed", "diff"):
        assert checked[key] == real[key], key
    assert real["operations"] == ["remove 2001:db8::14/128 from eth0 (protocol 76)",
                                  "remove 192.0.2.13/32 (eth0:1) from eth0 (protocol 76)",
                                  "add 2001:db8::15/128 to eth0 (protocol 76)",
                                  "add 192.0.2.15/32 (eth0:2) to eth0 (protocol 76)",
                                  "add 192.0.2.13/32 (eth0:3) to eth0 (protocol 76)"]
    assert real["removed"] == ["2001:db8::14"] and real["added"] == ["2001:db8::15", "192.0.2.15"]
    assert real["addresses"] == ["192.0.2.13", "192.0.2.15", "2001:db8::15"]
    assert exits(main, args, check_mode=True)["changed"] is False


def test_absent_removes_only_marked_addresses(fake):
    foreign = [entry("2001:db8::99"), entry("192.0.2.99", label="eth0:9"), entry("192.0.2.77", proto=77)]
    kernel = fake(foreign + [entry("192.0.2.13", label="eth0:1", proto=76), entry("2001:db8::13", proto=76)])
    result = exits(main, {"interface": "eth0", "state": "absent"})
    assert result["operations"] == ["remove 192.0.2.13/32 (eth0:1) from eth0 (protocol 76)",
                                    "remove 2001:db8::13/128 from eth0 (protocol 76)"]
    assert result["addresses"] == [] and result["removed"] == ["192.0.2.13", "2001:db8::13"]
    assert kernel.addresses[2] == HOST + foreign
    assert exits(main, {"interface": "eth0", "state": "absent"})["changed"] is False


def test_present_leaves_foreign_addresses(fake):
    foreign = [entry("2001:db8::99"), entry("192.0.2.99", label="eth0:9"), entry("192.0.2.77", proto=77)]
    kernel = fake(foreign + [entry("192.0.2.13", label="eth0:1", proto=76)])
    result = exits(main, {"interface": "eth0", "addresses": ["2001:db8::13"]})
    assert result["operations"] == ["remove 192.0.2.13/32 (eth0:1) from eth0 (protocol 76)",
                                    "add 2001:db8::13/128 to eth0 (protocol 76)"]
    assert all(e in kernel.addresses[2] for e in foreign)


def test_another_protocol_is_another_owner(fake):
    kernel = fake([entry("192.0.2.13", label="eth0:1", proto=76)])
    result = exits(main, {"interface": "eth0", "addresses": ["192.0.2.20"], "protocol": 200})
    assert result["operations"] == ["add 192.0.2.20/32 (eth0:1) to eth0 (protocol 200)"]
    assert result["addresses"] == ["192.0.2.20"]
    assert entry("192.0.2.13", label="eth0:1", proto=76) in kernel.addresses[2]


@pytest.mark.parametrize("release, adopted", [((6, 4), True), ((6, 1), False)])
def test_unmarked_ipv4_vip_is_adopted_from_linux_6_4_else_named(fake, release, adopted):
    kernel = fake([entry("192.0.2.13", label="eth0:1")], release=release)
    args = {"interface": "eth0", "addresses": ["192.0.2.13"]}
    if adopted:
        result = exits(main, args)
        assert result["operations"] == ["adopt 192.0.2.13/32 (eth0:1) on eth0: protocol 0 -> 76"]
        assert result["adopted"] == result["addresses"] == ["192.0.2.13"] and result["added"] == []
        assert exits(main, args)["changed"] is False
    else:
        msg = fails(main, args)["msg"]
        assert msg.startswith("addresses[0]: 192.0.2.13/32 (eth0:1) is on eth0 without the mark (protocol 0), "
                              "and this kernel cannot mark an IPv4 address in place (Linux >= 6.4 can)")
        assert kernel.writes == []


def test_unmarked_ipv6_vip_is_adopted_with_nodad(fake):
    kernel = fake([entry("2001:db8::13", flags=0x80)], release=(6, 1))
    result = exits(main, {"interface": "eth0", "addresses": ["2001:db8::13"]}, diff=True)
    assert result["operations"] == ["adopt 2001:db8::13/128 on eth0: protocol 0 -> 76"]
    assert kernel.writes[0]["entry"]["flags"] & 0x02
    assert result["diff"] == {"before": "", "after": "2001:db8::13/128\n"}


@pytest.mark.parametrize("live, start", [
    (entry("192.0.2.13", 24), "addresses[1]: 192.0.2.13 is on eth0 as /24 without the mark (protocol 0, not 76)"),
    (entry("2001:db8::13", 64), "addresses[1]: 2001:db8::13 is on eth0 as /64 without the mark (protocol 0, not 76)"),
    (entry("192.0.2.13", label="eth0"), "addresses[1]: 192.0.2.13/32 (eth0) is on eth0 without the mark (protocol 0) "
                                        "and labelled eth0, not eth0:2"),
])
def test_unmarked_copy_in_the_way_fails_before_any_change(fake, live, start):
    kernel = fake([live, entry("192.0.2.50", label="eth0:1", proto=76)])
    vip = "192.0.2.13" if "." in live["address"] else "2001:db8::13"
    result = fails(main, {"interface": "eth0", "addresses": ["192.0.2.14", vip]})
    assert result["msg"].startswith(start)
    assert kernel.writes == []


def test_marked_copy_with_another_prefix_is_replaced(fake):
    fake([entry("192.0.2.13", 24, label="eth0:1", proto=76), entry("2001:db8::13", 64, proto=76)])
    result = exits(main, {"interface": "eth0", "addresses": ["192.0.2.13", "2001:db8::13"]})
    assert result["operations"] == ["remove 192.0.2.13/24 (eth0:1) from eth0 (protocol 76)",
                                    "remove 2001:db8::13/64 from eth0 (protocol 76)",
                                    "add 192.0.2.13/32 (eth0:1) to eth0 (protocol 76)",
                                    "add 2001:db8::13/128 to eth0 (protocol 76)"]
    assert result["added"] == result["removed"] == []


def test_kernel_refusal_undoes_what_was_done(fake):
    kernel = fake([entry("192.0.2.13", label="eth0:1", proto=76)],
                  refuse=lambda op: 13 if op["action"] == "add" and op["entry"]["family"] == "ipv6" else 0)
    before = [dict(e) for e in kernel.addresses[2]]
    result = fails(main, {"interface": "eth0", "addresses": ["192.0.2.14", "2001:db8::14"]})
    assert result["msg"] == ("add 2001:db8::14/128 to eth0 (protocol 76): Permission denied; nothing was changed")
    assert [(w["action"], w["entry"]["address"]) for w in kernel.writes] == [
        ("remove", "192.0.2.13"), ("add", "192.0.2.14"), ("add", "2001:db8::14"),
        ("remove", "192.0.2.14"), ("add", "192.0.2.13")]
    assert sorted(map(str, kernel.addresses[2])) == sorted(map(str, before))


def test_failed_undo_is_reported(fake):
    def refuse(op):
        if op["action"] == "add" and op["entry"]["address"] in ("2001:db8::14", "192.0.2.13"):
            return 12
        return 0
    fake([entry("192.0.2.13", label="eth0:1", proto=76)], refuse=refuse)
    msg = fails(main, {"interface": "eth0", "addresses": ["2001:db8::14"]})["msg"]
    assert msg.startswith("add 2001:db8::14/128 to eth0 (protocol 76): Cannot allocate memory; undoing the changes "
                          "already made failed too (Cannot allocate memory)")


def test_a_kernel_that_drops_the_mark_is_caught_and_undone(fake):
    kernel = fake(ignore_proto=True)
    msg = fails(main, {"interface": "eth0", "addresses": ["192.0.2.13"]})["msg"]
    assert msg.startswith("the kernel acknowledged every change, yet addresses[0]: 192.0.2.13 is there without the mark 76")
    assert msg.endswith("; nothing was changed")
    assert kernel.addresses[2] == HOST


def test_old_kernel_needs_linux_5_18(fake):
    kernel = fake(release=(5, 15))
    msg = fails(main, {"interface": "eth0", "addresses": ["192.0.2.13"]})["msg"]
    assert msg == ("Linux >= 5.18 is needed: older kernels have no address protocol (IFA_PROTO) to mark the VIPs with; "
                   "this one is 5.15")
    assert kernel.writes == []


@pytest.mark.parametrize("args, start", [
    ({"interface": "eth0", "addresses": ["192.0.2.13", ""]}, "addresses[1]: an empty string is not an address"),
    ({"interface": "eth0", "addresses": ["fe80::1%eth0"]}, "addresses[0]: 'fe80::1%eth0' has a zone ID"),
    ({"interface": "eth0", "addresses": ["192.0.2.0/24"]}, "addresses[0]: '192.0.2.0/24' is a network"),
    ({"interface": "eth0", "addresses": ["web01.example"]}, "addresses[0]: 'web01.example' is not an IPv4 or IPv6 address"),
    ({"interface": "eth0", "addresses": ["2001:db8::13", "2001:DB8::13"]},
     "addresses[1]: 2001:db8::13 is listed twice (also addresses[0])"),
    ({"interface": "eth0", "addresses": ["192.0.2.13\n"]}, "addresses[0]: '192.0.2.13\\n' is not an IPv4 or IPv6"),
    ({"interface": "eth0", "addresses": ["224.0.0.18"]}, "addresses[0]: 224.0.0.18 is a multicast address"),
    ({"interface": "eth0", "protocol": 3}, "protocol: 3 belongs to the kernel"),
    ({"interface": "eth0", "protocol": 256}, "protocol: 256 is out of range (4..255)"),
    ({"interface": "eth0:1"}, "interface: 'eth0:1' is not an interface name"),
    ({"interface": "a-very-long-name0"}, "interface: 'a-very-long-name0' is not an interface name"),
    ({"interface": "eth0", "state": "absent", "addresses": ["192.0.2.13"]}, "addresses: must be empty with state=absent"),
    ({"interface": "enp0s20f0u1u2", "addresses": ["192.0.2.%d" % n for n in range(1, 12)]},
     "addresses[9]: the label enp0s20f0u1u2:10 of 192.0.2.10 would be longer than 15 characters"),
])
def test_bad_input_names_the_parameter_before_anything(fake, args, start):
    kernel = fake()
    assert fails(main, args)["msg"].startswith(start)
    assert kernel.opened == 0 and kernel.writes == []


def test_unknown_interface_fails_naming_it(fake):
    kernel = fake()
    assert fails(main, {"interface": "eth9", "addresses": ["192.0.2.13"]})["msg"] == \
        "interface: this host has no interface 'eth9'"
    assert kernel.writes == [] and kernel.closed == 1


def test_missing_pyroute2_is_reported_once(monkeypatch):
    monkeypatch.setattr(netlink, "HAS_PYROUTE2", False)
    monkeypatch.setattr(netlink, "PYROUTE2_IMPORT_ERROR", "Traceback: no module named pyroute2")
    result = fails(main, {"interface": "lo", "addresses": ["192.0.2.13"]})
    assert "pyroute2>=0.7.2" in result["msg"] and result["exception"] == "Traceback: no module named pyroute2"


def test_lo_labels(fake):
    fake()
    result = exits(main, {"interface": "lo", "addresses": ["2001:db8::d", "192.0.2.13"]})
    assert result["operations"] == ["add 2001:db8::d/128 to lo (protocol 76)", "add 192.0.2.13/32 (lo:2) to lo (protocol 76)"]
