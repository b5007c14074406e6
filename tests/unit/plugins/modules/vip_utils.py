# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory stand-in for vip_netlink.AddressNetlink, for UNIT tests only.

``FakeAddresses`` keeps the addresses of a few interfaces and answers like the
kernel does (EEXIST, EADDRNOTAVAIL; an IPv6 replace keeps the old prefix length;
before Linux 6.4 an IPv4 replace acknowledges and ignores the protocol).  It can
refuse chosen operations, and records every one it was handed.  The kernel tests
(tests/kernel/test_vip_kernel.py) hold the real adapter to the same behaviour.
"""

from __future__ import annotations

import copy
import errno

from ansible_collections.lvs.cluster.plugins.module_utils import vip_netlink as netlink
from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state


def entry(address: str, prefixlen: int | None = None, label: str | None = None, proto: int = 0, flags: int | None = None,
          iface: str = "eth0") -> dict:
    """A dumped address as the adapter returns it."""
    family = state.family_of(address)
    if prefixlen is None:
        prefixlen = state.FULL_PREFIX[family]
    if family == "ipv4" and label is None:
        label = iface
    return {"address": address, "family": family, "prefixlen": prefixlen, "label": label if family == "ipv4" else None,
            "proto": proto, "flags": (0x80 | (0x02 if family == "ipv6" else 0)) if flags is None else flags, "metric": 0}


class FakeAddresses:
    """The adapter's interface: kernel_release, index, dump, apply, close; plus ``writes`` and ``opened``."""

    def __init__(self, addresses=None, release=(6, 12), interfaces=None, refuse=None, ignore_proto=False):
        self.interfaces = {"lo": 1, "eth0": 2} if interfaces is None else dict(interfaces)
        self.addresses = {index: [] for index in self.interfaces.values()}
        for item in addresses or []:
            self.addresses[self.interfaces.get(item.pop("iface", "eth0"), 2)].append(item)
        self.release = tuple(release)
        self.refuse = refuse or (lambda op: 0)
        self.ignore_proto = ignore_proto  # a kernel that acknowledges IFA_PROTO and drops it
        self.writes: list = []
        self.dumps = 0
        self.opened = 0
        self.closed = 0

    def __call__(self):  # stands in for the AddressNetlink class
        self.opened += 1
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.closed += 1

    def kernel_release(self):
        return self.release

    def index(self, name):
        return self.interfaces.get(name)

    def dump(self, index):
        """IPv4 addresses first, as the kernel dumps them (AF_INET, then AF_INET6)."""
        self.dumps += 1
        live = self.addresses[index]
        return copy.deepcopy([e for e in live if e["family"] == "ipv4"] + [e for e in live if e["family"] != "ipv4"])

    def apply(self, index, op):
        self.writes.append(copy.deepcopy(op))
        code = self.refuse(op) or self._carry_out(self.addresses[index], op)
        if code:
            raise state.VipKernelError(netlink._reason(code, None), code)

    def _carry_out(self, live: list, op: dict) -> int:
        new = dict(op["entry"], flags=op["entry"].get("flags", 0) | 0x80)
        if self.ignore_proto:
            new["proto"] = 0
        v6 = new["family"] == "ipv6"

        def same(e):
            return e["address"] == new["address"] and (v6 or e["prefixlen"] == new["prefixlen"])

        found = [e for e in live if same(e)]
        if op["action"] == "add":
            if found:
                return errno.EEXIST
            live.append(new)
        elif op["action"] == "remove":
            found = [e for e in found if e["prefixlen"] == new["prefixlen"] and (v6 or e["label"] == new["label"])]
            if not found:
                return errno.EADDRNOTAVAIL
            live.remove(found[0])
        elif not found:
            live.append(new)
        elif v6 or self.release >= state.KERNEL_IPV4_REPROTO:
            found[0]["proto"] = new["proto"]
        return 0


def install(monkeypatch, *args, **kwargs) -> FakeAddresses:
    """Make vip_address use a FakeAddresses (the ``fake_addresses`` fixture)."""
    fake = FakeAddresses(*args, **kwargs)
    monkeypatch.setattr(netlink, "HAS_PYROUTE2", True)
    monkeypatch.setattr(netlink, "AddressNetlink", fake)
    return fake
