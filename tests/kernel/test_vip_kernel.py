# -*- coding: utf-8 -*-
"""vip_address's adapter and run against a real kernel's addresses (inside lab/uml-run).

Each test gets a dummy interface with documentation addresses; nothing leaves the
throwaway kernel.  Two witnesses the adapter never uses: ``ip -json address`` for
addresses, prefix lengths, labels and flags, and pyroute2's own IPRoute dump for
the protocol and creation time (when the pyroute2 under test decodes IFA_PROTO;
0.7.2 does not, and then only the adapter's own dump shows the mark).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import vip_netlink as netlink
from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state

IFACE = "vipk0"
MARK = 76
RELEASE = netlink.kernel_release()
ADOPTS_IPV4 = RELEASE >= state.KERNEL_IPV4_REPROTO
HELPER = Path(netlink.__file__)

pytestmark = pytest.mark.skipif(RELEASE < state.KERNEL_PROTO, reason="the kernel has no IFA_PROTO")


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(list(args), check=check, capture_output=True, text=True).stdout


@pytest.fixture
def iface():
    sh("ip", "link", "add", IFACE, "type", "dummy")
    sh("ip", "link", "set", IFACE, "up")
    sh("ip", "address", "add", "192.0.2.3/24", "dev", IFACE)
    sh("ip", "address", "add", "2001:db8::3/64", "dev", IFACE, "nodad")
    with netlink.AddressNetlink() as adapter:
        yield adapter
    sh("ip", "link", "del", IFACE)


def witness() -> list:
    """(address/prefix, label, flags) of every global address on the interface, from iproute2."""
    out = []
    for info in json.loads(sh("ip", "-json", "address", "show", "dev", IFACE))[0]["addr_info"]:
        if info.get("scope") != "global":
            continue
        flags = sorted(k for k in ("nodad", "tentative", "dadfailed") if info.get(k))
        out.append(("%s/%d" % (info["local"], info["prefixlen"]), info.get("label"), ",".join(flags)))
    return sorted(out)


def protocols() -> dict | None:
    """{address/prefix: (protocol, creation stamp)} from pyroute2's IPRoute, or None if it cannot decode IFA_PROTO."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

    if "IFA_PROTO" not in [name for name, _ in ifaddrmsg.nla_map]:
        return None
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=IFACE)[0]
        return {"%s/%d" % (m.get_attr("IFA_ADDRESS"), m["prefixlen"]):
                (m.get_attr("IFA_PROTO") or 0, m.get_attr("IFA_CACHEINFO")["cstamp"])
                for m in ipr.get_addr(index=index)}


def marks() -> dict:
    """{address/prefix: protocol} of the interface, from the independent witness when there is one."""
    seen = protocols()
    if seen is not None:
        return {key: value[0] for key, value in seen.items()}
    with netlink.AddressNetlink() as adapter:
        return {"%s/%d" % (e["address"], e["prefixlen"]): e["proto"]
                for e in adapter.dump(adapter.index(IFACE))}


def run(adapter, addresses: list, state_: str = "present", check_mode: bool = False, protocol: int = MARK) -> dict:
    desired = state.desired_from_params(IFACE, addresses, state_)
    result = state.converge(adapter, IFACE, desired, protocol, state_, check_mode)
    result["described"] = [state.describe(op, IFACE) for op in result["ops"]]
    return result


def test_adds_with_mark_label_and_nodad_then_nothing(iface):
    result = run(iface, ["192.0.2.13", "2001:db8::13", "192.0.2.14"])
    assert result["described"] == ["add 192.0.2.13/32 (vipk0:1) to vipk0 (protocol 76)",
                                   "add 2001:db8::13/128 to vipk0 (protocol 76)",
                                   "add 192.0.2.14/32 (vipk0:3) to vipk0 (protocol 76)"]
    assert witness() == sorted([("192.0.2.3/24", "vipk0", ""), ("2001:db8::3/64", None, "nodad"),
                                ("192.0.2.13/32", "vipk0:1", ""), ("192.0.2.14/32", "vipk0:3", ""),
                                ("2001:db8::13/128", None, "nodad")])
    seen = marks()
    assert (seen["192.0.2.13/32"], seen["192.0.2.14/32"], seen["2001:db8::13/128"]) == (MARK, MARK, MARK)
    assert seen["192.0.2.3/24"] == 0
    assert state.summary(result["before"], result["after"], result["ops"], MARK)["added"] == \
        ["192.0.2.13", "2001:db8::13", "192.0.2.14"]
    again = run(iface, ["192.0.2.13", "2001:db8::13", "192.0.2.14"])
    assert again["ops"] == []


def source_for(destination: str) -> str:
    return json.loads(sh("ip", "-json", "-6", "route", "get", destination))[0]["prefsrc"]


def deprecated() -> list:
    return sorted("%s/%d" % (info["local"], info["prefixlen"])
                  for info in json.loads(sh("ip", "-json", "address", "show", "dev", IFACE))[0]["addr_info"]
                  if info.get("deprecated"))


def test_an_ipv6_vip_is_never_the_source_of_the_hosts_own_traffic(iface):
    """A preferred /128 VIP beats the host's /64 address in source address selection
    (the match is capped at each address's prefix length): checks from a director
    would leave from the VIP, and the real server would answer its own lo."""
    sh("ip", "address", "add", "2001:db8::13/128", "dev", IFACE, "nodad")
    assert source_for("2001:db8::4") == "2001:db8::13"  # what a plain VIP does
    sh("ip", "address", "del", "2001:db8::13/128", "dev", IFACE)
    run(iface, ["2001:db8::13"])
    assert deprecated() == ["2001:db8::13/128"]
    assert source_for("2001:db8::4") == "2001:db8::3"
    # The VIP still takes traffic: a connection to it is local.
    assert json.loads(sh("ip", "-json", "-6", "route", "get", "2001:db8::13"))[0]["type"] == "local"


def test_a_marked_ipv6_vip_still_preferred_is_deprecated_in_place(iface):
    """As an earlier version of the module left it: marked, preferred."""
    iface.apply(iface.index(IFACE), {"action": "add", "entry": {
        "address": "2001:db8::13", "family": "ipv6", "prefixlen": 128, "label": None, "proto": MARK,
        "flags": state.IFA_F_NODAD, "metric": 0}})
    created = protocols()
    assert deprecated() == []
    result = run(iface, ["2001:db8::13"])
    assert result["described"] == ["deprecate 2001:db8::13/128 on vipk0 (preferred lifetime 0: never a source address)"]
    assert deprecated() == ["2001:db8::13/128"]
    if created is not None:  # replaced in place, not removed and added again
        assert protocols() == created
    assert run(iface, ["2001:db8::13"])["ops"] == []


def test_canonical_spelling_is_not_added_again(iface):
    assert run(iface, ["2001:DB8:0::13", "192.0.2.13"])["described"] == [
        "add 2001:db8::13/128 to vipk0 (protocol 76)", "add 192.0.2.13/32 (vipk0:2) to vipk0 (protocol 76)"]
    assert run(iface, ["2001:db8::13", "192.0.2.13"])["ops"] == []
    assert run(iface, ["2001:0db8:0000::0013", "192.0.2.13"])["ops"] == []


def test_check_mode_changes_nothing_and_predicts_the_run(iface):
    run(iface, ["192.0.2.13", "192.0.2.15"])
    before = witness()
    checked = run(iface, ["192.0.2.14", "2001:db8::14"], check_mode=True)
    assert checked["ops"] and witness() == before
    real = run(iface, ["192.0.2.14", "2001:db8::14"])
    assert real["described"] == checked["described"] == [
        "remove 192.0.2.13/32 (vipk0:1) from vipk0 (protocol 76)",
        "remove 192.0.2.15/32 (vipk0:2) from vipk0 (protocol 76)",
        "add 192.0.2.14/32 (vipk0:1) to vipk0 (protocol 76)",
        "add 2001:db8::14/128 to vipk0 (protocol 76)"]
    assert state.listing(real["after"], MARK) == state.listing(checked["after"], MARK)
    assert run(iface, ["192.0.2.14", "2001:db8::14"], check_mode=True)["ops"] == []


def test_foreign_addresses_are_left_alone(iface):
    run(iface, ["192.0.2.13", "2001:db8::13"])
    # What a human or another tool added: a global /128, an alias label, another owner's mark.
    sh("ip", "address", "add", "2001:db8::99/128", "dev", IFACE, "nodad")
    sh("ip", "address", "add", "192.0.2.99/32", "dev", IFACE, "label", "vipk0:9")
    assert run(iface, ["192.0.2.77"], protocol=77)["ops"]
    foreign = {"2001:db8::99/128", "192.0.2.99/32", "192.0.2.77/32"}
    result = run(iface, ["192.0.2.14"])
    assert result["described"] == ["remove 192.0.2.13/32 (vipk0:1) from vipk0 (protocol 76)",
                                   "remove 2001:db8::13/128 from vipk0 (protocol 76)",
                                   "add 192.0.2.14/32 (vipk0:1) to vipk0 (protocol 76)"]
    assert ("192.0.2.99/32", "vipk0:9", "") in witness() and foreign <= {entry[0] for entry in witness()}
    gone = run(iface, [], state_="absent")
    assert gone["described"] == ["remove 192.0.2.14/32 (vipk0:1) from vipk0 (protocol 76)"]
    assert sorted(entry[0] for entry in witness()) == sorted(foreign | {"192.0.2.3/24", "2001:db8::3/64"})
    assert marks()["192.0.2.77/32"] == 77 and marks()["192.0.2.99/32"] == 0
    assert run(iface, [], state_="absent")["ops"] == []


@pytest.mark.parametrize("copy, vip, param", [("192.0.2.13/24", "192.0.2.13", "addresses[1]"),
                                              ("2001:db8::13/64", "2001:db8::13", "addresses[1]")])
def test_unmarked_copy_with_another_prefix_fails_and_changes_nothing(iface, copy, vip, param):
    run(iface, ["192.0.2.20"])
    sh("ip", "address", "add", copy, "dev", IFACE, *(["nodad"] if ":" in copy else []))
    before, before_marks = witness(), marks()
    with pytest.raises(state.VipConflictError, match=r"^%s: %s is on vipk0 as /%s without the mark \(protocol 0, not 76\)"
                       % (param.replace("[", r"\[").replace("]", r"\]"), vip, copy.split("/")[1])):
        run(iface, ["192.0.2.21", vip])
    assert (witness(), marks()) == (before, before_marks)


def test_marked_address_with_wrong_label_is_replaced(iface):
    run(iface, ["192.0.2.13", "192.0.2.14"])
    result = run(iface, ["192.0.2.14", "192.0.2.13"])
    assert result["described"] == ["remove 192.0.2.14/32 (vipk0:2) from vipk0 (protocol 76)",
                                   "remove 192.0.2.13/32 (vipk0:1) from vipk0 (protocol 76)",
                                   "add 192.0.2.14/32 (vipk0:1) to vipk0 (protocol 76)",
                                   "add 192.0.2.13/32 (vipk0:2) to vipk0 (protocol 76)"]
    assert ("192.0.2.13/32", "vipk0:2", "") in witness() and ("192.0.2.14/32", "vipk0:1", "") in witness()
    assert run(iface, ["192.0.2.14", "192.0.2.13"])["ops"] == []


def test_unmarked_ipv6_vip_is_adopted_in_place(iface):
    sh("ip", "address", "add", "2001:db8::13/128", "dev", IFACE)  # no nodad: DAD runs
    time.sleep(0.05)
    stamp = (protocols() or {}).get("2001:db8::13/128")
    result = run(iface, ["2001:db8::13"])
    assert result["described"] == ["adopt 2001:db8::13/128 on vipk0: protocol 0 -> 76"]
    assert state.summary(result["before"], result["after"], result["ops"], MARK)["adopted"] == ["2001:db8::13"]
    assert marks()["2001:db8::13/128"] == MARK
    if stamp is not None:  # the same address, not a new one: its creation time is unchanged
        assert protocols()["2001:db8::13/128"][1] == stamp[1]
    assert run(iface, ["2001:db8::13"])["ops"] == []


def test_unmarked_ipv4_vip_is_adopted_in_place_or_named(iface):
    sh("ip", "address", "add", "192.0.2.13/32", "dev", IFACE, "label", "vipk0:1")  # as the roles did before the mark
    time.sleep(0.05)
    before, stamp = witness(), (protocols() or {}).get("192.0.2.13/32")
    if not ADOPTS_IPV4:
        with pytest.raises(state.VipConflictError, match=r"^addresses\[0\]: 192.0.2.13/32 \(vipk0:1\) is on vipk0 "
                                                         r"without the mark \(protocol 0\), and this kernel cannot"):
            run(iface, ["192.0.2.13"])
        assert witness() == before
        return
    assert run(iface, ["192.0.2.13"])["described"] == ["adopt 192.0.2.13/32 (vipk0:1) on vipk0: protocol 0 -> 76"]
    assert marks()["192.0.2.13/32"] == MARK and witness() == before
    if stamp is not None:
        assert protocols()["192.0.2.13/32"][1] == stamp[1]
    assert run(iface, ["192.0.2.13"])["ops"] == []


def test_unmarked_ipv4_vip_with_another_label_is_named(iface):
    sh("ip", "address", "add", "192.0.2.13/32", "dev", IFACE)
    before = witness()
    with pytest.raises(state.VipConflictError, match=r"^addresses\[0\]: 192.0.2.13/32 \(vipk0\) is on vipk0 without "
                                                     r"the mark \(protocol 0\) and labelled vipk0, not vipk0:1"):
        run(iface, ["192.0.2.13"])
    assert witness() == before


def test_kernel_refusal_part_way_undoes_the_changes(iface):
    run(iface, ["192.0.2.13"])
    with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % IFACE, "w") as knob:
        knob.write("1")  # the IPv6 addition is refused; the IPv4 steps before it must be undone
    try:
        before, before_marks = witness(), marks()
        with pytest.raises(state.VipKernelError, match=r"^add 2001:db8::14/128 to vipk0 \(protocol 76\): .*; "
                                                       r"nothing was changed$"):
            run(iface, ["192.0.2.14", "2001:db8::14"])
        assert (witness(), marks()) == (before, before_marks)
    finally:
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % IFACE, "w") as knob:
            knob.write("0")


def test_no_such_interface_names_the_parameter():
    with netlink.AddressNetlink() as adapter, pytest.raises(state.VipValidationError, match=r"^interface: .*'nope0'"):
        state.converge(adapter, "nope0", [], MARK)


def test_boot_helper_gives_what_the_module_gives(iface):
    env = dict(os.environ, PYTHONPATH="")
    out = subprocess.run([sys.executable, str(HELPER), "--interface", IFACE, "--protocol", str(MARK), "present",
                          "192.0.2.13", "2001:DB8::13"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["add 192.0.2.13/32 (vipk0:1) to vipk0 (protocol 76)",
                                       "add 2001:db8::13/128 to vipk0 (protocol 76)"]
    assert run(iface, ["192.0.2.13", "2001:db8::13"])["ops"] == []
    bad = subprocess.run([sys.executable, str(HELPER), "--interface", IFACE, "--protocol", "3", "present", "192.0.2.13"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("vip_netlink: protocol: 3 belongs to the kernel")
    sh("ip", "address", "add", "192.0.2.99/32", "dev", IFACE, "label", "vipk0:9")
    out = subprocess.run([sys.executable, str(HELPER), "--interface", IFACE, "absent"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert sorted(entry[0] for entry in witness()) == ["192.0.2.3/24", "192.0.2.99/32", "2001:db8::3/64"]
