# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address adapter's wire format and reply handling, over a fake socket: no kernel, no root."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import vip_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import vip_utils
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.vip_utils import entry

pytestmark = pytest.mark.skipif(not nl.HAS_PYROUTE2, reason="pyroute2 is not installed")

HEADER = struct.Struct("=IHHII")


@pytest.mark.parametrize("release, expected", [("6.1.0-18-amd64", (6, 1)), ("5.18.0", (5, 18)), ("7.2.7", (7, 2)),
                                               ("6.4-rc1", (6, 4)), ("6", (6, 0)), ("6.12.113+deb13", (6, 12))])
def test_kernel_release(release, expected):
    assert nl.kernel_release(release) == expected


def decoded(msg):
    again = nl.addrmsg(bytes(msg.data))
    again.decode()
    return again


def test_add_carries_the_mark_label_and_nodad_on_the_wire():
    op = {"action": "add", "entry": dict(entry("192.0.2.13", label="eth0:1", proto=76), flags=0)}
    msg = nl.message_for(op, 2, sequence=7)
    length, msg_type, flags, sequence, dummy = HEADER.unpack_from(bytes(msg.data), 0)
    assert (length, msg_type, flags, sequence) == (len(msg.data), nl.RTM_NEWADDR, 0x01 | 0x04 | 0x400 | 0x200, 7)
    assert struct.pack("=HHB", 5, 11, 76) in bytes(msg.data)  # IFA_PROTO (11), one byte: 76
    back = decoded(msg)
    assert (back["family"], back["prefixlen"], back["index"], back["scope"]) == (socket.AF_INET, 32, 2, 0)
    assert [(name, back.get_attr(name)) for name in ("IFA_LOCAL", "IFA_ADDRESS", "IFA_LABEL", "IFA_FLAGS", "IFA_PROTO")] == [
        ("IFA_LOCAL", "192.0.2.13"), ("IFA_ADDRESS", "192.0.2.13"), ("IFA_LABEL", "eth0:1"), ("IFA_FLAGS", 0),
        ("IFA_PROTO", 76)]
    v6 = decoded(nl.message_for({"action": "add", "entry": entry("2001:db8::13", proto=76)}, 1))
    assert v6.get_attr("IFA_FLAGS") == 0x02 and v6["flags"] == 0x02  # nodad; the dumped PERMANENT bit is not sent
    assert v6.get_attr("IFA_LABEL") is None
    # Preferred or deprecated, valid forever: the lifetimes always travel for IPv6.
    assert v6.get_attr("IFA_CACHEINFO")["ifa_preferred"] == 0xFFFFFFFF
    deprecated = decoded(nl.message_for({"action": "deprecate", "entry": dict(entry("2001:db8::13", proto=76), flags=0xA2)}, 1))
    assert deprecated.get_attr("IFA_CACHEINFO")["ifa_preferred"] == 0
    assert deprecated.get_attr("IFA_CACHEINFO")["ifa_valid"] == 0xFFFFFFFF
    assert deprecated.get_attr("IFA_FLAGS") == 0x02  # DEPRECATED is the kernel's to set, from the lifetime


def test_remove_and_adopt_requests():
    removal = nl.message_for({"action": "remove", "entry": entry("192.0.2.13", label="eth0:1", proto=76)}, 2)
    assert HEADER.unpack_from(bytes(removal.data), 0)[1:3] == (nl.RTM_DELADDR, 0x01 | 0x04)
    assert [attr[0] for attr in decoded(removal)["attrs"]] == ["IFA_LOCAL", "IFA_ADDRESS", "IFA_LABEL"]
    adopted = dict(entry("2001:db8::13", proto=76), metric=9)
    adoption = nl.message_for({"action": "adopt", "entry": adopted, "previous": dict(adopted, proto=0)}, 2)
    assert HEADER.unpack_from(bytes(adoption.data), 0)[1:3] == (nl.RTM_NEWADDR, 0x01 | 0x04 | 0x400 | 0x100)
    assert decoded(adoption).get_attr("IFA_RT_PRIORITY") == 9
    undo = nl.message_for({"action": "adopt", "entry": dict(adopted, proto=0)}, 2)
    assert decoded(undo).get_attr("IFA_PROTO") == 0 and struct.pack("=HHB", 5, 11, 0) in bytes(undo.data)


def error_message(code: int, sequence: int, text: str | None = None, capped: bool = True) -> bytes:
    request = HEADER.pack(24, nl.RTM_NEWADDR, 0x405, sequence, 0) + b"\0" * 8
    body = struct.pack("=i", -code) + (request[:16] if capped else request)
    flags = nl.NLM_F_CAPPED if capped else 0
    if text is not None:
        value = text.encode() + b"\0"
        tlv = struct.pack("=HH", 4 + len(value), nl.NLMSGERR_ATTR_MSG) + value
        body += tlv + b"\0" * (-len(tlv) % 4)
        flags |= nl.NLM_F_ACK_TLVS
    return HEADER.pack(16 + len(body), nl.NLMSG_ERROR, flags, sequence, 0) + body


@pytest.mark.parametrize("capped", [True, False])
def test_parse_error_reads_the_extended_ack(capped):
    data = error_message(errno.EEXIST, 3, "ipv4: Address already assigned", capped)
    assert nl.parse_error(data, 0, len(data)) == (errno.EEXIST, "ipv4: Address already assigned")
    plain = error_message(0, 3)
    assert nl.parse_error(plain, 0, len(plain)) == (0, None)


def dumped(address: str, prefixlen: int, index: int, sequence: int, label=None, proto=None, flags=0x80, intr=False) -> bytes:
    msg = nl.addrmsg()
    msg["family"] = socket.AF_INET6 if ":" in address else socket.AF_INET
    msg["prefixlen"] = prefixlen
    msg["flags"] = flags
    msg["index"] = index
    attrs = [("IFA_ADDRESS", address), ("IFA_LOCAL", address)] if ":" not in address else [("IFA_ADDRESS", address)]
    if label:
        attrs.append(("IFA_LABEL", label))
    attrs.append(("IFA_FLAGS", flags))
    if proto is not None:
        attrs.append(("IFA_PROTO", proto))
    msg["attrs"] = attrs
    msg["header"]["type"] = nl.RTM_NEWADDR
    msg["header"]["flags"] = 0x02 | (nl.NLM_F_DUMP_INTR if intr else 0)
    msg["header"]["sequence_number"] = sequence
    msg.encode()
    return bytes(msg.data)


def done(sequence: int) -> bytes:
    return HEADER.pack(20, nl.NLMSG_DONE, 0x02, sequence, 0) + struct.pack("=i", 0)


class FakeSocket:
    """Answers each request with the datagrams ``script(sequence, request)`` returns."""

    def __init__(self, script):
        self.script = script
        self.sent: list = []
        self.queue: list = []

    def send(self, data):
        self.sent.append(data)
        self.queue.extend(self.script(HEADER.unpack_from(data, 0)[3], data))
        return len(data)

    def recv(self, size):
        if not self.queue:
            raise socket.timeout()
        return self.queue.pop(0)


def adapter(script):
    obj = nl.AddressNetlink.__new__(nl.AddressNetlink)
    obj._sock = FakeSocket(script)
    obj._sequence = 0
    return obj


def test_dump_keeps_the_interface_and_reads_the_mark_across_datagrams():
    def script(seq, dummy):
        stray = dumped("192.0.2.200", 32, 2, seq + 40)  # another request's reply: ignored
        return [stray + dumped("192.0.2.3", 24, 2, seq, label="eth0") + dumped("127.0.0.1", 8, 1, seq, label="lo"),
                dumped("2001:DB8::13", 128, 2, seq, proto=76, flags=0x82) + dumped("192.0.2.13", 32, 2, seq, "eth0:1", 76),
                done(seq)]
    assert adapter(script).dump(2) == [
        {"address": "192.0.2.3", "family": "ipv4", "prefixlen": 24, "label": "eth0", "proto": 0, "flags": 0x80, "metric": 0},
        {"address": "2001:db8::13", "family": "ipv6", "prefixlen": 128, "label": None, "proto": 76, "flags": 0x82,
         "metric": 0},
        {"address": "192.0.2.13", "family": "ipv4", "prefixlen": 32, "label": "eth0:1", "proto": 76, "flags": 0x80,
         "metric": 0},
    ]


def test_an_interrupted_dump_is_read_again():
    calls = []

    def script(seq, dummy):
        calls.append(seq)
        return [dumped("192.0.2.3", 24, 2, seq, label="eth0", intr=len(calls) == 1), done(seq)]
    assert [e["address"] for e in adapter(script).dump(2)] == ["192.0.2.3"] and calls == [1, 2]

    def always(seq, dummy):
        return [dumped("192.0.2.3", 24, 2, seq, label="eth0", intr=True), done(seq)]
    with pytest.raises(state.VipKernelError, match="kept changing"):
        adapter(always).dump(2)


def test_apply_raises_the_kernels_reason():
    obj = adapter(lambda seq, _: [error_message(errno.EEXIST, seq, "ipv4: Address already assigned")])
    with pytest.raises(state.VipKernelError) as caught:
        obj.apply(2, {"action": "add", "entry": entry("192.0.2.13", label="eth0:1", proto=76)})
    assert (str(caught.value), caught.value.code) == ("File exists (ipv4: Address already assigned)", errno.EEXIST)
    ok = adapter(lambda seq, _: [error_message(0, seq)])
    ok.apply(2, {"action": "remove", "entry": entry("192.0.2.13", label="eth0:1", proto=76)})
    assert HEADER.unpack_from(ok._sock.sent[0], 0)[1] == nl.RTM_DELADDR


def test_silence_is_a_timeout():
    with pytest.raises(state.VipKernelError, match="did not answer") as caught:
        adapter(lambda seq, _: []).apply(2, {"action": "add", "entry": entry("192.0.2.13", proto=76)})
    assert caught.value.code == errno.ETIMEDOUT


def test_boot_helper_runs_the_same_converge(monkeypatch, capsys):
    fake = vip_utils.install(monkeypatch, [entry("192.0.2.99", label="eth0:9")])
    assert nl.main(["--interface", "eth0", "present", "192.0.2.13", "2001:DB8::13"]) == 0
    assert capsys.readouterr().out.splitlines() == ["add 192.0.2.13/32 (eth0:1) to eth0 (protocol 76)",
                                                    "add 2001:db8::13/128 to eth0 (protocol 76)"]
    assert nl.main(["--interface", "eth0", "--protocol", "2", "present"]) == 1
    assert capsys.readouterr().err.startswith("vip_netlink: protocol: 2 belongs to the kernel")
    assert nl.main(["--interface", "eth0", "absent"]) == 0
    assert fake.addresses[2] == [entry("192.0.2.99", label="eth0:9")]
