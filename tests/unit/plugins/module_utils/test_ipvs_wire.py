# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-made IPVS messages against pyroute2's encoder and decoder, byte for byte.

Every table request the adapter writes (ipvs_netlink.encode_request) must be the
bytes pyroute2's ``ipvsmsg`` makes of the same attributes; every dump answer
pyroute2 encodes must parse (ipvs_wire.parse_service/parse_dest) to what
pyroute2's own decoder reads.  No socket is opened.
"""

from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wire as wire

pytestmark = pytest.mark.skipif(not nl.HAS_PYROUTE2, reason="pyroute2 is not installed")

if nl.HAS_PYROUTE2:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST
    from pyroute2.netlink.generic import ctrlmsg
    from pyroute2.netlink.generic import ipvs as genl_ipvs

    ipvsmsg = nl.pyroute2_api().ipvsmsg  # the adapter's, built when pyroute2 is first imported

FAMILY_ID = 0x1D

SERVICES = {
    "ipv4 wlc": {"address": "192.0.2.13", "port": 80,
                 "real_servers": [{"address": "192.0.2.4", "weight": 5}, {"address": "192.0.2.5", "weight": 0}]},
    "ipv6 persistent /64 nat": {"address": "2001:db8::13", "port": 443, "persistence_timeout": 300,
                                "persistence_netmask": "64",
                                "real_servers": [{"address": "2001:db8::4", "port": 8443, "forwarding": "nat",
                                                  "upper_threshold": 100, "lower_threshold": 50}]},
    "fwmark ipv6 sh flags": {"fwmark": 7, "family": "ipv6", "scheduler": "sh",
                             "scheduler_flags": ["sh-port", "sh-fallback"],
                             "real_servers": [{"address": "2001:db8::5", "forwarding": "tunnel", "weight": 2147483647}]},
    "udp one-packet /24": {"address": "192.0.2.53", "port": 53, "protocol": "udp", "one_packet": True,
                           "persistence_timeout": 30, "persistence_netmask": "255.255.255.0", "scheduler": "rr",
                           "real_servers": [{"address": "192.0.2.6", "forwarding": "ipip"}]},
    "sctp fwmark ipv4 max": {"fwmark": 4294967295, "scheduler": "mh", "scheduler_flags": ["mh-port", "flag-3"],
                             "persistence_timeout": 2147483, "persistence_netmask": 0,
                             "real_servers": [{"address": "203.0.113.254", "port": 65535, "forwarding": "nat"}]},
}
ACTIONS = ("add_service", "edit_service", "delete_service", "add_real_server", "edit_real_server",
           "delete_real_server")


def adapter():
    ipvs = object.__new__(nl.IPVSNetlink)
    ipvs._sock = None
    ipvs._table = nl.TableSocket(None)
    return ipvs


def pyroute2_bytes(op: dict, seq: int = 0) -> bytes:
    """The request pyroute2 encodes for ``op``, with the header the adapter writes."""
    msg, flags = adapter()._request(op)
    msg["header"].update(type=FAMILY_ID, flags=flags, sequence_number=seq, pid=0)
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("name", list(SERVICES))
def test_table_requests_are_pyroute2s_bytes(name, action):
    service = state.services_from_params([SERVICES[name]])[0]
    op = {"action": action, "service": service}
    if "real_server" in action:
        op["real_server"] = service["real_servers"][0]
    encoded, flags = nl.encode_request(op, FAMILY_ID)
    ack = bytearray(encoded)
    wire.set_header(ack, 0, flags | NLM_F_ACK, 0)  # pyroute2's request asks for an acknowledgement
    assert bytes(ack) == pyroute2_bytes(op)
    assert flags & NLM_F_ACK == 0 and flags & NLM_F_REQUEST
    assert len(encoded) == struct.unpack_from("=I", encoded)[0]


def test_a_batch_sets_sequence_numbers_and_asks_only_the_last_for_an_acknowledgement():
    service = state.services_from_params([SERVICES["ipv4 wlc"]])[0]
    ops = [{"action": "add_service", "service": service}] + [
        {"action": "add_real_server", "service": service, "real_server": rs} for rs in service["real_servers"]]

    class Recorder:
        def __init__(self):
            self.sent = b""

        def send(self, data):
            self.sent = data

        def recv(self, size):
            last = len(ops)
            return struct.pack("=IHHIIi", 36, wire.NLMSG_ERROR, 0, last, 0, 0) + b"\0" * 16

    table = nl.TableSocket(Recorder())
    table.family = FAMILY_ID
    assert table.batch([nl.encode_request(op, FAMILY_ID) for op in ops]) == [0, 0, 0]
    found = list(wire.messages(table.sock.sent))
    assert [seq for _kind, _flags, seq, _o, _e in found] == [1, 2, 3]
    for index, (op, (_kind, flags, seq, offset, end)) in enumerate(zip(ops, found)):
        expected = bytearray(pyroute2_bytes(op, seq))
        if index < len(ops) - 1:
            wire.set_header(expected, 0, flags, seq)  # without NLM_F_ACK
        else:
            assert flags & NLM_F_ACK
        assert table.sock.sent[offset - 16:end] == bytes(expected)


def test_the_batch_reads_each_refusal_by_its_sequence_number():
    answers = [struct.pack("=IHHIIi", 36, wire.NLMSG_ERROR, 0, seq, 0, -code) + b"\0" * 16
               for seq, code in ((2, 17), (3, 2))]

    class Kernel:
        def send(self, data):
            pass

        def recv(self, size):
            return answers.pop(0)

    table = nl.TableSocket(Kernel())
    request = nl.encode_request({"action": "delete_service",
                                 "service": state.services_from_params([SERVICES["ipv4 wlc"]])[0]}, FAMILY_ID)
    assert table.batch([request] * 3) == [0, 17, 2]
    assert answers == []


def test_the_getfamily_request_is_pyroute2s():
    msg = ctrlmsg()
    msg["cmd"] = wire.CTRL_CMD_GETFAMILY
    msg["version"] = 1
    msg["attrs"] = [("CTRL_ATTR_FAMILY_NAME", "IPVS")]
    msg["header"].update(type=wire.GENL_ID_CTRL, flags=NLM_F_REQUEST | NLM_F_ACK, sequence_number=9, pid=0)
    msg.encode()
    assert wire.getfamily_request(9) == bytes(msg.data)


def test_the_family_id_is_read_from_the_answer():
    msg = ctrlmsg()
    msg["cmd"] = 1  # CTRL_CMD_NEWFAMILY
    msg["version"] = 2
    msg["attrs"] = [("CTRL_ATTR_FAMILY_NAME", "IPVS"), ("CTRL_ATTR_FAMILY_ID", 0x2A), ("CTRL_ATTR_VERSION", 1)]
    msg["header"]["type"] = wire.GENL_ID_CTRL
    msg.encode()
    data = bytes(msg.data)
    assert wire.family_id(data, 16, len(data)) == 0x2A


def test_a_dump_request_is_pyroute2s():
    service = state.services_from_params([SERVICES["ipv6 persistent /64 nat"]])[0]
    msg = genl_ipvs.ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_GET_DEST
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", nl._service_attrs(service, full=False))]
    msg["header"].update(type=FAMILY_ID, flags=NLM_F_REQUEST | NLM_F_DUMP, sequence_number=4, pid=0)
    msg.encode()
    attrs = wire.nla(wire.CMD_ATTR_SERVICE, wire.service_attrs(service, full=False))
    assert wire.message(FAMILY_ID, wire.CMD_GET_DEST, attrs, NLM_F_REQUEST | NLM_F_DUMP, 4) == bytes(msg.data)


@pytest.mark.parametrize("value", ["fe80::1%eth0", "192.0.2.300", "2001:db8::g"])
def test_an_address_inet_pton_refuses_raises_as_in_pyroute2(value):
    service = dict(state.services_from_params([SERVICES["ipv6 persistent /64 nat"]])[0], address=value)
    with pytest.raises(OSError):
        nl.encode_request({"action": "add_service", "service": service}, FAMILY_ID)
    with pytest.raises(nl.IPVSEncodeError, match="cannot encode the request"):
        adapter()._encoded({"action": "add_service", "service": service})


def test_an_integer_out_of_its_field_raises():
    service = state.services_from_params([SERVICES["ipv4 wlc"]])[0]
    real_server = dict(service["real_servers"][0], weight=1 << 32)
    with pytest.raises(struct.error):
        nl.encode_request({"action": "edit_real_server", "service": service, "real_server": real_server}, FAMILY_ID)


# ------------------------------------------------------------------ answers


def _answer(attr: str, attrs: list) -> bytes:
    """An answer to a dump as the kernel sends it, encoded by pyroute2 (as in netlink_fake)."""
    msg = ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_NEW_SERVICE
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = [(attr, {"attrs": attrs})]
    msg["header"]["type"] = FAMILY_ID
    msg.encode()
    return bytes(msg.data)


STATS = [("IPVS_STATS_ATTR_CONNS", 7), ("IPVS_STATS_ATTR_INPKTS", 1 << 40), ("IPVS_STATS_ATTR_OUTBYTES", 3),
         ("IPVS_STATS_ATTR_CPS", 2), ("IPVS_STATS_ATTR_OUTBPS", 9)]


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_dumped_service_parses_as_pyroute2_reads_it(name):
    service = state.services_from_params([SERVICES[name]])[0]
    attrs = nl._service_attrs(service, full=True)["attrs"]
    flags = dict(attrs)["IPVS_SVC_ATTR_FLAGS"]
    attrs = [(key, dict(flags, flags=flags["flags"] | state.FLAG_HASHED) if key == "IPVS_SVC_ATTR_FLAGS" else value)
             for key, value in attrs] + [("IPVS_SVC_ATTR_STATS64", {"attrs": STATS})]
    data = _answer("IPVS_CMD_ATTR_SERVICE", attrs)
    raw = wire.parse_service(data, 16, len(data), stats=True)
    parsed = nl._service_from_raw(raw)
    decoded = ipvsmsg(data)
    decoded.decode()
    assert parsed == nl.IPVSNetlink._service_from_nla(None, decoded.get_attr("IPVS_CMD_ATTR_SERVICE"))
    assert parsed == {k: v for k, v in service.items() if k != "real_servers"}
    stats, rates = nl._split_counters(raw)
    assert stats == {"connections": 7, "in_packets": 1 << 40, "out_packets": 0, "in_bytes": 0, "out_bytes": 3}
    assert rates == {"connections_per_second": 2, "in_packets_per_second": 0, "out_packets_per_second": 0,
                     "in_bytes_per_second": 0, "out_bytes_per_second": 9}


def test_a_kernel_address_attribute_of_sixteen_bytes_parses():
    """The kernel sends IPVS_SVC_ATTR_ADDR as a 16-byte union nf_inet_addr, IPv4 in front."""
    payload = b"".join([wire.nla(wire.SVC_AF, struct.pack("=H", socket.AF_INET)),
                        wire.nla(wire.SVC_PROTOCOL, struct.pack("=H", socket.IPPROTO_TCP)),
                        wire.nla(wire.SVC_ADDR, socket.inet_aton("192.0.2.13") + b"\0" * 12),
                        wire.nla(wire.SVC_PORT, struct.pack(">H", 80)),
                        wire.nla(wire.SVC_SCHED_NAME, b"wlc\0"),
                        wire.nla(wire.SVC_FLAGS, struct.pack("=II", 2, 0xFFFFFFFF)),
                        wire.nla(wire.SVC_TIMEOUT, struct.pack("=I", 0)),
                        wire.nla(wire.SVC_NETMASK, socket.inet_aton("255.255.255.255"))])
    data = wire.message(FAMILY_ID, 1, wire.nla(wire.CMD_ATTR_SERVICE | 0x8000, payload), 2)  # NLA_F_NESTED
    raw = wire.parse_service(data, 16, len(data))
    assert (raw["address"], raw["port"], raw["scheduler"], raw["counters"]) == ("192.0.2.13", 80, "wlc", None)


@pytest.mark.parametrize("address, family", [("192.0.2.4", socket.AF_INET), ("2001:db8:0:0::4", socket.AF_INET6)])
def test_a_dumped_real_server_parses_as_pyroute2_reads_it(address, family):
    attrs = [("IPVS_DEST_ATTR_ADDR_FAMILY", family), ("IPVS_DEST_ATTR_ADDR", address),
             ("IPVS_DEST_ATTR_PORT", 8443), ("IPVS_DEST_ATTR_FWD_METHOD", 3 | 0x100),
             ("IPVS_DEST_ATTR_WEIGHT", 2147483647), ("IPVS_DEST_ATTR_U_THRESH", 100),
             ("IPVS_DEST_ATTR_L_THRESH", 50), ("IPVS_DEST_ATTR_ACTIVE_CONNS", 4),
             ("IPVS_DEST_ATTR_INACT_CONNS", 5), ("IPVS_DEST_ATTR_PERSIST_CONNS", 6),
             ("IPVS_DEST_ATTR_STATS64", {"attrs": STATS})]
    data = _answer("IPVS_CMD_ATTR_DEST", attrs)
    raw = wire.parse_dest(data, 16, len(data), socket.AF_INET, stats=True)
    decoded = ipvsmsg(data)
    decoded.decode()
    dest = decoded.get_attr("IPVS_CMD_ATTR_DEST")
    assert raw["address"] == str(state.ipaddress.ip_address(dest.get_attr("IPVS_DEST_ATTR_ADDR")))
    for key, attr in (("port", "PORT"), ("forwarding", "FWD_METHOD"), ("weight", "WEIGHT"),
                      ("upper_threshold", "U_THRESH"), ("lower_threshold", "L_THRESH"),
                      ("active_connections", "ACTIVE_CONNS"), ("inactive_connections", "INACT_CONNS"),
                      ("persistent_connections", "PERSIST_CONNS")):
        assert raw[key] == dest.get_attr("IPVS_DEST_ATTR_" + attr), key
    assert raw["counters"]["in_packets"] == 1 << 40


def test_messages_refuses_a_truncated_one():
    data = wire.message(FAMILY_ID, 1, b"", 0)
    with pytest.raises(ValueError, match="truncated"):
        list(wire.messages(struct.pack("=I", 40) + data[4:]))
