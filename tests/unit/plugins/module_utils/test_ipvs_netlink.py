# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of the netlink adapter: no socket is opened, no kernel is needed."""

from __future__ import annotations

import errno
import os
import socket
import struct

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wire as wire

pytestmark = pytest.mark.skipif(not nl.HAS_PYROUTE2, reason="pyroute2 is not installed")

if nl.HAS_PYROUTE2:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
    from pyroute2.netlink.generic import ipvs as genl_ipvs

    ipvsmsg = nl.pyroute2_api().ipvsmsg  # the adapter's, built when pyroute2 is first imported


def svc(params):
    return state.service_from_params(params)


HTTP = {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5}]}
HTTPS6 = {"address": "2001:db8::13", "port": 443, "protocol": "tcp", "persistence_timeout": 300,
          "persistence_netmask": "64", "real_servers": [{"address": "2001:db8::4", "port": 8443, "forwarding": "nat"}]}
MARK = {"fwmark": 7, "family": "ipv6", "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"]}
DNS = {"address": "192.0.2.53", "port": 53, "protocol": "udp", "one_packet": True, "persistence_timeout": 30,
       "persistence_netmask": "255.255.255.0", "scheduler": "rr"}


def attrs_of(message: dict) -> dict:
    return dict(message["attrs"])


# ------------------------------------------------------------------ netmask


@pytest.mark.parametrize("prefix, dotted", [(0, "0.0.0.0"), (8, "255.0.0.0"), (24, "255.255.255.0"),
                                            (25, "255.255.255.128"), (32, "255.255.255.255")])
def test_ipv4_netmask_is_a_dotted_mask(prefix, dotted):
    assert nl._netmask_attr("ipv4", prefix) == dotted
    assert nl._prefix_from_attr("ipv4", dotted) == prefix


@pytest.mark.parametrize("prefix", range(33))
def test_ipv4_netmask_round_trip(prefix):
    assert nl._prefix_from_attr("ipv4", nl._netmask_attr("ipv4", prefix)) == prefix


@pytest.mark.parametrize("prefix", [1, 48, 64, 96, 127, 128])
def test_ipv6_netmask_is_the_prefix_length_in_host_byte_order(prefix):
    """The kernel reads the attribute's four bytes as a plain u32 prefix length."""
    dotted = nl._netmask_attr("ipv6", prefix)
    assert socket.inet_aton(dotted) == struct.pack("=I", prefix)
    assert nl._prefix_from_attr("ipv6", dotted) == prefix


@pytest.mark.parametrize("prefix", range(1, 129))
def test_ipv6_netmask_round_trip(prefix):
    assert nl._prefix_from_attr("ipv6", nl._netmask_attr("ipv6", prefix)) == prefix


# --------------------------------------------------------- message attributes


def test_flag_bits():
    assert nl._scheduler_flag_bits(svc(HTTP)) == 0
    assert nl._scheduler_flag_bits(svc(DNS)) == state.FLAG_PERSISTENT | state.FLAG_ONEPACKET
    assert nl._scheduler_flag_bits(svc(MARK)) == 0x0008 | 0x0010
    assert not nl._scheduler_flag_bits(svc(MARK)) & state.FLAG_HASHED


def test_service_key_attrs_of_an_address_service():
    assert nl._service_attrs(svc(HTTP), full=False) == {"attrs": [
        ("IPVS_SVC_ATTR_AF", socket.AF_INET),
        ("IPVS_SVC_ATTR_PROTOCOL", socket.IPPROTO_TCP),
        ("IPVS_SVC_ATTR_ADDR", "192.0.2.13"),
        ("IPVS_SVC_ATTR_PORT", 80),
    ]}
    assert attrs_of(nl._service_attrs(svc(DNS), full=False))["IPVS_SVC_ATTR_PROTOCOL"] == socket.IPPROTO_UDP
    sctp = svc({"address": "192.0.2.1", "port": 9, "protocol": "sctp"})
    assert attrs_of(nl._service_attrs(sctp, full=False))["IPVS_SVC_ATTR_PROTOCOL"] == 132


def test_service_key_attrs_of_a_fwmark_service():
    assert nl._service_attrs(svc(MARK), full=False) == {"attrs": [
        ("IPVS_SVC_ATTR_AF", socket.AF_INET6),
        ("IPVS_SVC_ATTR_FWMARK", 7),
    ]}


def test_full_service_attrs_carry_every_setting():
    attrs = attrs_of(nl._service_attrs(svc(HTTPS6), full=True))
    assert attrs["IPVS_SVC_ATTR_AF"] == socket.AF_INET6
    assert attrs["IPVS_SVC_ATTR_ADDR"] == "2001:db8::13"
    assert attrs["IPVS_SVC_ATTR_SCHED_NAME"] == "wlc"
    assert attrs["IPVS_SVC_ATTR_FLAGS"] == {"flags": state.FLAG_PERSISTENT, "mask": 0xFFFFFFFF}
    assert attrs["IPVS_SVC_ATTR_TIMEOUT"] == 300
    assert nl._prefix_from_attr("ipv6", attrs["IPVS_SVC_ATTR_NETMASK"]) == 64
    # the kernel insists on all four for NEW/SET, even for a fwmark service without persistence
    mark = attrs_of(nl._service_attrs(svc(MARK), full=True))
    assert mark["IPVS_SVC_ATTR_TIMEOUT"] == 0
    assert nl._prefix_from_attr("ipv6", mark["IPVS_SVC_ATTR_NETMASK"]) == 128
    assert mark["IPVS_SVC_ATTR_FLAGS"]["flags"] == 0x18


@pytest.mark.parametrize("forwarding, method", [("dr", 3), ("nat", 0), ("tunnel", 2)])
def test_dest_attrs(forwarding, method):
    real_server = {"address": "192.0.2.4", "port": 80, "weight": 5, "forwarding": forwarding,
                   "upper_threshold": 100, "lower_threshold": 50}
    assert nl._dest_attrs(real_server, "ipv4", full=False) == {"attrs": [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", socket.AF_INET),
        ("IPVS_DEST_ATTR_ADDR", "192.0.2.4"),
        ("IPVS_DEST_ATTR_PORT", 80),
    ]}
    full = attrs_of(nl._dest_attrs(real_server, "ipv4", full=True))
    assert full["IPVS_DEST_ATTR_FWD_METHOD"] == method
    assert (full["IPVS_DEST_ATTR_WEIGHT"], full["IPVS_DEST_ATTR_U_THRESH"], full["IPVS_DEST_ATTR_L_THRESH"]) == \
        (5, 100, 50)


def test_dest_attrs_family_follows_the_service():
    real_server = svc(HTTPS6)["real_servers"][0]
    assert attrs_of(nl._dest_attrs(real_server, "ipv6", full=False))["IPVS_DEST_ATTR_ADDR_FAMILY"] == socket.AF_INET6


class _FakeNla:
    """Just enough of a decoded pyroute2 nla for _service_from_nla."""

    def __init__(self, attrs):
        self._attrs = dict(attrs)

    def get_attr(self, name):
        return self._attrs.get(name)


def _encode_decode(service):
    msg = genl_ipvs.ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_NEW_SERVICE
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", nl._service_attrs(service, full=True))]
    msg.encode()
    decoded = genl_ipvs.ipvsmsg(msg.data)
    decoded.decode()
    return decoded.get_attr("IPVS_CMD_ATTR_SERVICE")


@pytest.mark.parametrize("params", [HTTP, HTTPS6, MARK, DNS], ids=["http", "https6", "fwmark6", "dns"])
def test_service_survives_pyroute2_encoding_and_the_dump_parser(params):
    """What apply() sends, read back the way dump() reads it, is the same canonical service."""
    service = svc(params)
    parsed = nl.IPVSNetlink._service_from_nla(None, _encode_decode(service))
    assert parsed == {k: v for k, v in service.items() if k != "real_servers"}


def test_dumped_hashed_flag_and_stale_netmask_are_ignored():
    """A live service carries IP_VS_SVC_F_HASHED, and a netmask even when not persistent."""
    attrs = [("IPVS_SVC_ATTR_AF", socket.AF_INET), ("IPVS_SVC_ATTR_PROTOCOL", socket.IPPROTO_TCP),
             ("IPVS_SVC_ATTR_ADDR", "192.0.2.13"), ("IPVS_SVC_ATTR_PORT", 80),
             ("IPVS_SVC_ATTR_SCHED_NAME", "wlc"),
             ("IPVS_SVC_ATTR_FLAGS", {"flags": state.FLAG_HASHED, "mask": 0xFFFFFFFF}),
             ("IPVS_SVC_ATTR_TIMEOUT", 0), ("IPVS_SVC_ATTR_NETMASK", "255.255.255.255")]
    parsed = nl.IPVSNetlink._service_from_nla(None, _FakeNla(attrs))
    desired = svc({"address": "192.0.2.13", "port": 80})
    assert state.diff_service(desired, dict(parsed, real_servers=[]), purge_real_servers=True) == []
    assert parsed["scheduler_flags"] == []


def test_dumped_ipv6_address_is_canonical():
    attrs = [("IPVS_SVC_ATTR_AF", socket.AF_INET6), ("IPVS_SVC_ATTR_PROTOCOL", socket.IPPROTO_UDP),
             ("IPVS_SVC_ATTR_ADDR", "2001:0DB8:0::13"), ("IPVS_SVC_ATTR_PORT", 53),
             ("IPVS_SVC_ATTR_SCHED_NAME", "rr"), ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x2, "mask": 0xFFFFFFFF}),
             ("IPVS_SVC_ATTR_TIMEOUT", 0), ("IPVS_SVC_ATTR_NETMASK", nl._netmask_attr("ipv6", 128))]
    parsed = nl.IPVSNetlink._service_from_nla(None, _FakeNla(attrs))
    assert (parsed["address"], parsed["protocol"], parsed["persistence_netmask"]) == ("2001:db8::13", "udp", 128)


# ----------------------------------------------------------------- wording


def op_for(action, params=None, real_server=True):
    service = svc(HTTP if params is None else params)
    op = {"action": action, "service": service}
    if real_server:
        op["real_server"] = service["real_servers"][0]
    return op


@pytest.mark.parametrize("action", ["add_service", "edit_service"])
def test_missing_scheduler_is_named(action):
    message = nl.message_for(op_for(action, dict(HTTP, scheduler="twos"), real_server=False), errno.ENOENT)
    assert message.startswith("scheduler:")
    assert "'twos'" in message and "ip_vs_twos" in message and "tcp/192.0.2.13:80" in message
    assert message.endswith(os.strerror(errno.ENOENT))


@pytest.mark.parametrize("action, code, expected", [
    ("add_service", errno.EEXIST, "add service tcp/192.0.2.13:80: " + os.strerror(errno.EEXIST)),
    ("delete_service", errno.ESRCH, "delete service tcp/192.0.2.13:80: " + os.strerror(errno.ESRCH)),
    ("edit_service", errno.ESRCH, "edit service tcp/192.0.2.13:80: " + os.strerror(errno.ESRCH)),
])
def test_service_refusal_wording(action, code, expected):
    assert nl.message_for(op_for(action, real_server=False), code) == expected


@pytest.mark.parametrize("action, verb", [("add_real_server", "add real server"),
                                          ("edit_real_server", "edit real server"),
                                          ("delete_real_server", "delete real server")])
def test_real_server_refusal_names_both_objects(action, verb):
    message = nl.message_for(op_for(action, HTTPS6), errno.EINVAL)
    assert message == "%s [2001:db8::4]:8443 of service tcp/[2001:db8::13]:443: %s" % (
        verb, os.strerror(errno.EINVAL))


def test_real_server_enoent_is_not_blamed_on_the_scheduler():
    assert not nl.message_for(op_for("delete_real_server"), errno.ENOENT).startswith("scheduler")


def test_kernel_error_keeps_op_and_code():
    op = op_for("add_service", real_server=False)
    exc = nl.IPVSKernelError("boom", op=op, code=errno.EEXIST)
    assert (str(exc), exc.op, exc.code) == ("boom", op, errno.EEXIST)


def test_reason_prefers_the_errno_text():
    from pyroute2.netlink.exceptions import NetlinkError

    assert nl.error_text(NetlinkError(errno.EPERM)) == os.strerror(errno.EPERM)
    assert nl.error_text(NetlinkError(-errno.EPERM)) == os.strerror(errno.EPERM)
    assert nl.error_text(OSError(errno.ENOBUFS, "x")) == os.strerror(errno.ENOBUFS)
    assert nl.error_text(OSError("illegal IP address string passed to inet_pton")) == \
        "illegal IP address string passed to inet_pton"
    assert nl.error_text(RuntimeError("plain")) == "RuntimeError: plain"
    assert nl.error_text(KeyError()) == "KeyError"


# ----------------------------------------------------------------- requests


def adapter():
    """An IPVSNetlink that never opened a socket (enough for _request and apply)."""
    ipvs = object.__new__(nl.IPVSNetlink)
    ipvs._sock = None
    ipvs._table = nl.TableSocket(None)
    return ipvs


@pytest.mark.parametrize("action, command, extra_flags, full_service, dest", [
    ("add_service", "IPVS_CMD_NEW_SERVICE", "create", True, None),
    ("edit_service", "IPVS_CMD_SET_SERVICE", None, True, None),
    ("delete_service", "IPVS_CMD_DEL_SERVICE", None, False, None),
    ("add_real_server", "IPVS_CMD_NEW_DEST", "create", False, "full"),
    ("edit_real_server", "IPVS_CMD_SET_DEST", None, False, "full"),
    ("delete_real_server", "IPVS_CMD_DEL_DEST", None, False, "key"),
])
def test_request(action, command, extra_flags, full_service, dest):
    op = op_for(action, real_server=dest is not None)
    msg, flags = adapter()._request(op)
    base = NLM_F_REQUEST | NLM_F_ACK
    assert flags == (base | NLM_F_CREATE | NLM_F_EXCL if extra_flags else base)
    assert msg["cmd"] == getattr(genl_ipvs, command)
    assert msg["version"] == genl_ipvs.GENL_VERSION
    attrs = dict(msg["attrs"])
    assert attrs["IPVS_CMD_ATTR_SERVICE"] == nl._service_attrs(op["service"], full=full_service)
    if dest is None:
        assert "IPVS_CMD_ATTR_DEST" not in attrs
    else:
        assert attrs["IPVS_CMD_ATTR_DEST"] == nl._dest_attrs(op["real_server"], "ipv4", full=dest == "full")


def test_apply_reports_the_first_refusal_and_stops_after_its_batch(monkeypatch):
    service = svc(HTTP)
    ops = [{"action": "add_real_server", "service": service,
            "real_server": dict(service["real_servers"][0], address="192.0.2.%d" % i)} for i in range(1, 6)]
    monkeypatch.setattr(nl, "BATCH_SIZE", 2)
    sent = []

    def send_batch(batch):
        ops = [pair[0] for pair in batch]
        sent.append([op["real_server"]["address"] for op in ops])
        return [(op, errno.EEXIST) for op in ops if op["real_server"]["address"] in ("192.0.2.4", "192.0.2.3")]

    ipvs = adapter()
    monkeypatch.setattr(ipvs, "_send_batch", send_batch, raising=False)
    with pytest.raises(nl.IPVSKernelError) as caught:
        ipvs.apply(ops)
    assert sent == [["192.0.2.1", "192.0.2.2"], ["192.0.2.3", "192.0.2.4"]]
    assert caught.value.op is ops[2]
    assert caught.value.code == errno.EEXIST
    assert str(caught.value) == nl.message_for(ops[2], errno.EEXIST)


def test_apply_sends_everything_when_accepted(monkeypatch):
    service = svc(HTTP)
    ops = [{"action": "add_service", "service": service}] * 450
    sizes = []
    ipvs = adapter()
    monkeypatch.setattr(ipvs, "_send_batch", lambda batch: sizes.append(len(batch)) or [], raising=False)
    ipvs.apply(ops)
    assert sizes == [nl.BATCH_SIZE, nl.BATCH_SIZE, 450 - 2 * nl.BATCH_SIZE]


# ------------------------------------------------------ sync daemons, timeouts

DAEMON4 = {"role": "master", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81",
           "mcast_port": 8849, "mcast_ttl": 2, "maxlen": None}
DAEMON6 = dict(DAEMON4, role="backup", mcast_group="ff0e::db8:0:81", maxlen=1400)


def _round_trip(msg):
    msg.encode()
    decoded = ipvsmsg(msg.data)
    decoded.decode()
    return decoded


def _daemon_msg(daemon, full=True):
    msg = ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_NEW_DAEMON
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [("IPVS_CMD_ATTR_DAEMON", nl._daemon_attrs(daemon, full=full))]
    return msg


def _nla_payload(data: bytes, nla_type: int) -> bytes:
    """The payload of the first attribute of ``nla_type`` in a run of netlink attributes."""
    offset = 0
    while offset < len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if kind & 0x3FFF == nla_type:
            return data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    raise AssertionError("attribute %d not found" % nla_type)


@pytest.mark.parametrize("daemon", [DAEMON4, DAEMON6], ids=["ipv4", "ipv6"])
def test_daemon_survives_encoding_and_the_dump_parser(daemon):
    """pyroute2 encodes (as the kernel's answer would carry it), ipvs_wire parses."""
    msg = _daemon_msg(daemon)
    msg.encode()
    data = bytes(msg.data)
    assert nl._daemon_from_raw(wire.parse_daemon(data, 16, len(data))) == daemon


def test_an_old_kernel_daemon_has_the_default_group_and_no_settings():
    """Kernels before 4.3 send the state, the interface and the sync id only."""
    msg = _daemon_msg(DAEMON4, full=False)
    msg["attrs"][0][1]["attrs"] += [("IPVS_DAEMON_ATTR_MCAST_IFN", "eth1"), ("IPVS_DAEMON_ATTR_SYNC_ID", 3)]
    msg.encode()
    data = bytes(msg.data)
    assert nl._daemon_from_raw(wire.parse_daemon(data, 16, len(data))) == {
        "role": "master", "interface": "eth1", "syncid": 3, "mcast_group": state.SYNC_DEFAULT_GROUP,
        "mcast_port": None, "mcast_ttl": None, "maxlen": None}


def test_timeouts_are_parsed_from_what_pyroute2_encodes():
    msg = ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_GET_CONFIG
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [("IPVS_CMD_ATTR_TIMEOUT_TCP", 900), ("IPVS_CMD_ATTR_TIMEOUT_UDP", 300)]
    msg.encode()
    data = bytes(msg.data)
    assert wire.parse_config(data, 16, len(data)) == {"tcp": 900, "tcp_fin": None, "udp": 300}


def test_daemon_attrs_leave_maxlen_to_the_kernel_when_unset():
    names = [name for name, _value in nl._daemon_attrs(DAEMON4, full=True)["attrs"]]
    assert "IPVS_DAEMON_ATTR_SYNC_MAXLEN" not in names
    assert "IPVS_DAEMON_ATTR_MCAST_GROUP" in names and "IPVS_DAEMON_ATTR_MCAST_GROUP6" not in names
    assert ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", 1400) in nl._daemon_attrs(DAEMON6, full=True)["attrs"]
    assert nl._daemon_attrs(DAEMON6, full=False) == {"attrs": [("IPVS_DAEMON_ATTR_STATE", 2)]}


def test_daemon_wire_format():
    """Group in network byte order; port in host byte order (the kernel htons() it when sending)."""
    msg = _daemon_msg(DAEMON4)
    msg.encode()
    nested = _nla_payload(bytes(msg.data[20:]), 3)  # after nlmsghdr (16) + genlmsghdr (4): IPVS_CMD_ATTR_DAEMON
    assert _nla_payload(nested, 1) == struct.pack("=I", 1)  # STATE master
    assert _nla_payload(nested, 2) == b"eth0\0"  # MCAST_IFN, NUL-terminated
    assert _nla_payload(nested, 5) == socket.inet_aton("233.252.0.81")  # MCAST_GROUP
    assert _nla_payload(nested, 7) == struct.pack("=H", 8849)  # MCAST_PORT
    assert _nla_payload(nested, 8) == b"\x02"  # MCAST_TTL


@pytest.mark.parametrize("code, expected", [
    (errno.ENODEV, "interface: the kernel finds no interface 'eth0'"),
    (errno.EADDRNOTAVAIL, "interface: eth0 has no IPv4 address for the master sync daemon"),
    (errno.EEXIST, "role: a master sync daemon is already running"),
    (errno.EINVAL, "start master sync daemon on eth0 (syncid 7, group 233.252.0.81 port 8849, ttl 2): "),
])
def test_sync_refusal_wording(code, expected):
    message = nl.sync_message_for({"action": "start_sync_daemon", "daemon": DAEMON4}, code)
    assert message.startswith(expected) and message.endswith(os.strerror(code))


def test_timeouts_are_u32_attributes():
    msg = ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_SET_CONFIG
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [("IPVS_CMD_ATTR_TIMEOUT_TCP", 3600), ("IPVS_CMD_ATTR_TIMEOUT_UDP", 60)]
    decoded = _round_trip(msg)
    assert decoded.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP") == 3600
    assert decoded.get_attr("IPVS_CMD_ATTR_TIMEOUT_UDP") == 60
    assert _nla_payload(bytes(msg.data[20:]), 4) == struct.pack("=I", 3600)


def test_a_stop_without_acknowledgement_is_checked_by_reading_the_daemons(monkeypatch):
    ipvs = adapter()
    monkeypatch.setattr(ipvs, "_ack", lambda msg, timeout=None: False, raising=False)
    monkeypatch.setattr(ipvs, "sync_daemons", lambda: [], raising=False)
    ipvs.apply_sync_daemon([{"action": "stop_sync_daemon", "daemon": DAEMON4}])  # gone: fine
    monkeypatch.setattr(ipvs, "sync_daemons", lambda: [dict(DAEMON4, maxlen=1472)], raising=False)
    with pytest.raises(nl.IPVSKernelError, match="did not answer and the daemon still runs"):
        ipvs.apply_sync_daemon([{"action": "stop_sync_daemon", "daemon": DAEMON4}])
