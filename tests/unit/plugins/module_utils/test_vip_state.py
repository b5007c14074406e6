# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure model of vip_address: validation, plan, prediction, undo."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.vip_utils import FakeAddresses, entry

MARK = 76


def wanted(*addresses, interface="eth0"):
    return state.desired_from_params(interface, list(addresses))


def plan(desired, current, adoptable=frozenset({"ipv4", "ipv6"})):
    return [state.describe(op, "eth0") for op in state.plan(desired, current, "eth0", MARK, "present", adoptable)]


def test_desired_is_canonical_labelled_in_list_order():
    assert wanted("192.0.2.13", "2001:DB8:0:0::D", "192.0.2.14") == [
        {"address": "192.0.2.13", "family": "ipv4", "prefixlen": 32, "label": "eth0:1", "param": "addresses[0]"},
        {"address": "2001:db8::d", "family": "ipv6", "prefixlen": 128, "label": None, "param": "addresses[1]"},
        {"address": "192.0.2.14", "family": "ipv4", "prefixlen": 32, "label": "eth0:3", "param": "addresses[2]"},
    ]


@pytest.mark.parametrize("value, message", [
    (None, "addresses[0]: None is not a string"),
    ("::", "addresses[0]: :: is the unspecified address"),
    ("0.0.0.0", "addresses[0]: 0.0.0.0 is the unspecified address"),
    ("ff02::1", "addresses[0]: ff02::1 is a multicast address"),
    ("192.0.2.13%1", "addresses[0]: '192.0.2.13%1' has a zone ID"),
    ("2001:db8::/64", "addresses[0]: '2001:db8::/64' is a network"),
    (" 192.0.2.13", "addresses[0]: ' 192.0.2.13' is not an IPv4 or IPv6 address"),
    ("192.0.2.300", "addresses[0]: '192.0.2.300' is not an IPv4 or IPv6 address"),
])
def test_bad_addresses(value, message):
    with pytest.raises(state.VipValidationError) as caught:
        wanted(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("value, message", [(True, "protocol: True is not an integer"), ("76", "protocol: '76' is not"),
                                            (0, "protocol: 0 belongs to the kernel"), (4, None), (255, None)])
def test_protocol_range(value, message):
    if message is None:
        assert state.check_protocol(value) == value
    else:
        with pytest.raises(state.VipValidationError, match="^" + message):
            state.check_protocol(value)


def test_plan_orders_removals_adoptions_additions():
    current = [entry("192.0.2.3", 24), entry("192.0.2.50", label="eth0:4", proto=MARK),
               entry("2001:db8::13"), entry("192.0.2.14", label="eth0:9", proto=MARK)]
    assert plan(wanted("192.0.2.13", "2001:db8::13", "192.0.2.14"), current) == [
        "remove 192.0.2.50/32 (eth0:4) from eth0 (protocol 76)",
        "remove 192.0.2.14/32 (eth0:9) from eth0 (protocol 76)",
        "adopt 2001:db8::13/128 on eth0: protocol 0 -> 76",
        "add 192.0.2.13/32 (eth0:1) to eth0 (protocol 76)",
        "add 192.0.2.14/32 (eth0:3) to eth0 (protocol 76)",
    ]


def test_plan_never_touches_unmarked_addresses():
    current = [entry("192.0.2.3", 24), entry("192.0.2.99", label="eth0:9"), entry("2001:db8::99"),
               entry("192.0.2.77", proto=77), entry("fe80::1", 64, proto=3)]
    assert plan(wanted("192.0.2.13"), current) == ["add 192.0.2.13/32 (eth0:1) to eth0 (protocol 76)"]
    assert state.plan_absent(current, MARK) == []


def test_ipv4_adoption_depends_on_the_kernel():
    assert state.adoptable_families((6, 1)) == {"ipv6"}
    assert state.adoptable_families((6, 4)) == {"ipv4", "ipv6"}
    current = [entry("192.0.2.13", label="eth0:1")]
    with pytest.raises(state.VipConflictError, match=r"Linux >= 6.4 can"):
        plan(wanted("192.0.2.13"), current, adoptable={"ipv6"})


def test_adoption_keeps_metric_and_adds_nodad_and_deprecation():
    current = [dict(entry("2001:db8::13", flags=0x80), metric=5)]
    (op,) = state.plan(wanted("2001:db8::13"), current, "eth0", MARK)
    assert op["entry"] == dict(current[0], proto=MARK, flags=0xA2)
    assert op["previous"] == current[0]
    assert state.inverse(op) == {"action": "adopt", "entry": current[0], "previous": op["entry"]}


def test_a_marked_ipv6_vip_still_preferred_is_deprecated_in_place():
    """A /128 VIP beats the host's /64 address in source address selection unless deprecated."""
    current = [entry("2001:db8::13", proto=MARK, flags=0x82)]
    (op,) = state.plan(wanted("2001:db8::13"), current, "eth0", MARK)
    assert op == {"action": "deprecate", "entry": dict(current[0], flags=0xA2), "previous": current[0]}
    assert state.describe(op, "eth0") == "deprecate 2001:db8::13/128 on eth0 (preferred lifetime 0: never a source address)"
    assert state.inverse(op) == {"action": "deprecate", "entry": current[0], "previous": op["entry"]}
    assert state.plan(wanted("2001:db8::13"), state.apply_ops(current, [op]), "eth0", MARK) == []


def test_apply_ops_predicts_and_inverse_undoes():
    current = [entry("192.0.2.3", 24), entry("192.0.2.13", label="eth0:2", proto=MARK), entry("2001:db8::13")]
    ops = state.plan(wanted("192.0.2.13", "2001:db8::13", "192.0.2.14"), current, "eth0", MARK)
    after = state.apply_ops(current, ops)
    assert state.listing(after, MARK) == "192.0.2.13/32 (eth0:1)\n192.0.2.14/32 (eth0:3)\n2001:db8::13/128\n"
    assert state.plan(wanted("192.0.2.13", "2001:db8::13", "192.0.2.14"), after, "eth0", MARK) == []
    undone = state.apply_ops(after, [state.inverse(op) for op in reversed(ops)])
    assert sorted(map(str, undone)) == sorted(map(str, current))


def test_summary_separates_new_from_replaced():
    current = [entry("192.0.2.13", label="eth0:2", proto=MARK), entry("192.0.2.15", proto=MARK), entry("2001:db8::13")]
    ops = state.plan(wanted("192.0.2.13", "2001:db8::13", "192.0.2.14"), current, "eth0", MARK)
    result = state.summary(current, state.apply_ops(current, ops), ops, MARK)
    assert result == {"addresses": ["192.0.2.13", "192.0.2.14", "2001:db8::13"], "added": ["192.0.2.14"],
                      "removed": ["192.0.2.15"], "adopted": ["2001:db8::13"]}


def test_check_after_names_what_the_kernel_dropped():
    desired = wanted("192.0.2.13", "2001:db8::13")
    after = [entry("192.0.2.13", label="eth0:1"), entry("192.0.2.20", proto=MARK)]
    assert state.check_after(after, desired, MARK, "present") == [
        "addresses[0]: 192.0.2.13 is there without the mark 76 (protocol 0)",
        "addresses[1]: 2001:db8::13 is missing",
        "192.0.2.20/32 (eth0) is still there",
    ]
    assert state.check_after([entry("192.0.2.13", label="eth0:7", proto=MARK)], desired[:1], MARK, "present") == \
        ["addresses[0]: 192.0.2.13 has the label eth0:7"]


def test_converge_over_an_adapter_in_check_mode_reads_only():
    fake = FakeAddresses([entry("192.0.2.13", label="eth0:1", proto=MARK)])
    result = state.converge(fake, "eth0", wanted("192.0.2.14"), MARK, check_mode=True)
    assert [op["action"] for op in result["ops"]] == ["remove", "add"] and fake.writes == []
    assert state.listing(result["after"], MARK) == "192.0.2.14/32 (eth0:1)\n"


def test_converge_absent():
    fake = FakeAddresses([entry("192.0.2.13", label="eth0:1", proto=MARK), entry("192.0.2.99")])
    result = state.converge(fake, "eth0", [], MARK, "absent")
    assert [state.describe(op, "eth0") for op in result["ops"]] == ["remove 192.0.2.13/32 (eth0:1) from eth0 (protocol 76)"]
    assert fake.addresses[2] == [entry("192.0.2.99")]
