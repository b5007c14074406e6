# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPVS generic netlink messages of the table, encoded and parsed by hand with struct.

The table's hot path (dump services and real servers, add/edit/delete them), and the
reads of the sync daemons and the timeouts, go through these functions instead of pyroute2's generic encoder, which costs ~30 us
per message natively and several times that in a slow kernel: 9,000 objects are
seconds of it.  The attributes are the kernel's stable ABI
(include/uapi/linux/ip_vs.h); the bytes are the ones pyroute2's ``ipvsmsg`` makes
for the same values (tests/unit/plugins/module_utils/test_ipvs_wire.py compares
them), so the kernel reads the same requests.  Nothing here opens a socket.

A value the encoder cannot carry (an address ``inet_pton`` refuses, an integer out
of its field's range) raises OSError, ValueError or struct.error, as pyroute2 does.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

# Netlink (include/uapi/linux/netlink.h) and generic netlink (genetlink.h).
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

# IPVS (include/uapi/linux/ip_vs.h).
GENL_NAME = "IPVS"
GENL_VERSION = 1
CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_GET_DAEMON, CMD_GET_CONFIG = 11, 13
CMD_ATTR_SERVICE, CMD_ATTR_DEST, CMD_ATTR_DAEMON = 1, 2, 3
CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP = 4, 5, 6
DAEMON_STATE, DAEMON_MCAST_IFN, DAEMON_SYNC_ID, DAEMON_SYNC_MAXLEN = 1, 2, 3, 4
DAEMON_MCAST_GROUP, DAEMON_MCAST_GROUP6, DAEMON_MCAST_PORT, DAEMON_MCAST_TTL = 5, 6, 7, 8
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED_NAME = 1, 2, 3, 4, 5, 6
SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK, SVC_STATS, SVC_PE_NAME, SVC_STATS64 = 7, 8, 9, 10, 11, 12
DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH = 1, 2, 3, 4, 5, 6
DEST_ACTIVE_CONNS, DEST_INACT_CONNS, DEST_PERSIST_CONNS, DEST_STATS, DEST_ADDR_FAMILY, DEST_STATS64 = \
    7, 8, 9, 10, 11, 12
# IPVS_STATS_ATTR_*: conns, inpkts, outpkts, inbytes, outbytes, cps, inpps, outpps, inbps, outbps.
STATS_NAMES = ("connections", "in_packets", "out_packets", "in_bytes", "out_bytes",
               "connections_per_second", "in_packets_per_second", "out_packets_per_second",
               "in_bytes_per_second", "out_bytes_per_second")

ACTIONS = {
    # action: (command, the service's settings go along, the real server's settings go along, flags)
    "add_service": (CMD_NEW_SERVICE, True, None, NLM_F_CREATE | NLM_F_EXCL),
    "edit_service": (CMD_SET_SERVICE, True, None, 0),
    "delete_service": (CMD_DEL_SERVICE, False, None, 0),
    "add_real_server": (CMD_NEW_DEST, False, True, NLM_F_CREATE | NLM_F_EXCL),
    "edit_real_server": (CMD_SET_DEST, False, True, 0),
    "delete_real_server": (CMD_DEL_DEST, False, False, 0),
}

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence number, port id
_GENL = struct.Struct("=BBH")  # genlmsghdr: cmd, version, reserved
_NLA = struct.Struct("=HH")  # nlattr: length, type
_U16 = struct.Struct("=H")
_BE16 = struct.Struct(">H")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_ERRNO = struct.Struct("=i")
_FLAGS = struct.Struct("=II")
_AF = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
_PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


def nla(kind: int, payload: bytes) -> bytes:
    """One attribute: header, payload, zero padding to four bytes."""
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + _PAD[length & 3]


def pad(length: int) -> bytes:
    """The zero bytes that align a message or attribute of ``length`` bytes to four."""
    return _PAD[length & 3]


def message(family_id: int, command: int, attrs: bytes, flags: int, seq: int = 0, version: int = GENL_VERSION) -> bytes:
    """A generic netlink message: nlmsghdr, genlmsghdr, then ``attrs`` (already encoded)."""
    return _HEADER.pack(20 + len(attrs), family_id, flags, seq, 0) + _GENL.pack(command, version, 0) + attrs


def set_header(data: bytearray, offset: int, flags: int, seq: int) -> None:
    """Write flags and sequence number into the message at ``offset`` of ``data``."""
    struct.pack_into("=HI", data, offset + 6, flags, seq)


def netmask_bytes(family: str, prefix: int) -> bytes:
    """IPVS_SVC_ATTR_NETMASK: a mask in network byte order (IPv4), a prefix length in host order (IPv6)."""
    if family == "ipv4":
        return struct.pack("!I", (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
    return _U32.pack(prefix)


def service_attrs(service: dict, full: bool, flag_bits: int = 0) -> bytes:
    """The attributes nested in IPVS_CMD_ATTR_SERVICE: the key, and with ``full`` the settings."""
    family = service["family"]
    af = _AF[family]
    parts = [nla(SVC_AF, _U16.pack(af))]
    if service["fwmark"]:
        parts.append(nla(SVC_FWMARK, _U32.pack(service["fwmark"])))
    else:
        parts += [nla(SVC_PROTOCOL, _U16.pack(_PROTO[service["protocol"]])),
                  nla(SVC_ADDR, socket.inet_pton(af, service["address"])),
                  nla(SVC_PORT, _BE16.pack(service["port"]))]
    if full:
        parts += [nla(SVC_SCHED_NAME, service["scheduler"].encode("utf-8") + b"\0"),
                  nla(SVC_FLAGS, _FLAGS.pack(flag_bits, 0xFFFFFFFF)),
                  nla(SVC_TIMEOUT, _U32.pack(service["persistence_timeout"])),
                  nla(SVC_NETMASK, netmask_bytes(family, service["persistence_netmask"]))]
    return b"".join(parts)


def dest_attrs(real_server: dict, family: str, full: bool, forwarding: int = 0) -> bytes:
    """The attributes nested in IPVS_CMD_ATTR_DEST; ``forwarding`` is the kernel's number."""
    af = _AF[family]
    parts = [nla(DEST_ADDR_FAMILY, _U16.pack(af)),
             nla(DEST_ADDR, socket.inet_pton(af, real_server["address"])),
             nla(DEST_PORT, _BE16.pack(real_server["port"]))]
    if full:
        parts += [nla(DEST_FWD_METHOD, _U32.pack(forwarding)),
                  nla(DEST_WEIGHT, _U32.pack(real_server["weight"])),
                  nla(DEST_U_THRESH, _U32.pack(real_server["upper_threshold"])),
                  nla(DEST_L_THRESH, _U32.pack(real_server["lower_threshold"]))]
    return b"".join(parts)


def getfamily_request(seq: int = 0) -> bytes:
    """CTRL_CMD_GETFAMILY for "IPVS": the answer carries the family's message type."""
    return message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, GENL_NAME.encode() + b"\0"),
                   NLM_F_REQUEST | NLM_F_ACK, seq, version=1)


# ------------------------------------------------------------------ parsing


def messages(data, end: int | None = None):
    """(type, flags, seq, payload offset, message end) of each message in ``data``."""
    offset = 0
    end = len(data) if end is None else end
    while offset + 16 <= end:
        length, kind, flags, seq, _pid = _HEADER.unpack_from(data, offset)
        if length < 16 or offset + length > end:
            raise ValueError("a truncated netlink message (length %d at offset %d of %d)" % (length, offset, end))
        yield kind, flags, seq, offset + 16, offset + length
        offset += (length + 3) & ~3


def error_code(data, offset: int) -> int:
    """The errno of an NLMSG_ERROR (0 for an acknowledgement), or of an NLMSG_DONE's payload."""
    return -_ERRNO.unpack_from(data, offset)[0]


def attrs(data, offset: int, end: int) -> dict:
    """{type: (start, end)} of the attributes between ``offset`` and ``end``."""
    found = {}
    unpack = _NLA.unpack_from
    while offset + 4 <= end:
        length, kind = unpack(data, offset)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = (offset + 4, offset + length)
        offset += (length + 3) & ~3
    return found


def _u16(data, span) -> int:
    return _U16.unpack_from(data, span[0])[0]


def _u32(data, span) -> int:
    return _U32.unpack_from(data, span[0])[0]


def address_text(af: int, raw: bytes) -> str:
    """An address attribute (the kernel sends 16 bytes, IPv4 in the first 4) in canonical form."""
    if af == socket.AF_INET:
        return socket.inet_ntoa(raw[:4])
    return str(ipaddress.IPv6Address(raw[:16]))


def _counters(data, span) -> dict:
    """IPVS_*_ATTR_STATS64: every counter by name (0 when absent)."""
    found = attrs(data, span[0], span[1]) if span else {}
    result = {}
    for index, name in enumerate(STATS_NAMES, 1):
        where = found.get(index)
        result[name] = _U64.unpack_from(data, where[0])[0] if where and where[1] - where[0] >= 8 else 0
    return result


def family_id(data, offset: int, end: int) -> int | None:
    """The family id in a CTRL_CMD_NEWFAMILY answer (after its genlmsghdr at ``offset``)."""
    found = attrs(data, offset + 4, end)
    return _u16(data, found[CTRL_ATTR_FAMILY_ID]) if CTRL_ATTR_FAMILY_ID in found else None


def parse_service(data, offset: int, end: int, stats: bool = False) -> dict | None:
    """The raw fields of the IPVS_CMD_ATTR_SERVICE in a GET_SERVICE answer (after its genlmsghdr).

    {"af", "protocol", "address" (text or None), "port", "fwmark", "scheduler", "flags",
    "timeout", "netmask" (4 raw bytes or None), "counters" (with ``stats``: STATS64 by name)}
    """
    top = attrs(data, offset + 4, end)
    if CMD_ATTR_SERVICE not in top:
        return None
    start, stop = top[CMD_ATTR_SERVICE]
    found = attrs(data, start, stop)
    af = _u16(data, found[SVC_AF])
    get = found.get
    sched = get(SVC_SCHED_NAME)
    flags = get(SVC_FLAGS)
    netmask = get(SVC_NETMASK)
    return {
        "af": af,
        "protocol": _u16(data, found[SVC_PROTOCOL]) if SVC_PROTOCOL in found else None,
        "address": address_text(af, bytes(data[found[SVC_ADDR][0]:found[SVC_ADDR][1]])) if SVC_ADDR in found else None,
        "port": _BE16.unpack_from(data, found[SVC_PORT][0])[0] if SVC_PORT in found else None,
        "fwmark": _u32(data, found[SVC_FWMARK]) if SVC_FWMARK in found else 0,
        "scheduler": bytes(data[sched[0]:sched[1]]).split(b"\0", 1)[0].decode("utf-8") if sched else None,
        "flags": _u32(data, flags) if flags else 0,
        "timeout": _u32(data, found[SVC_TIMEOUT]) if SVC_TIMEOUT in found else 0,
        "netmask": bytes(data[netmask[0]:netmask[0] + 4]) if netmask else None,
        "counters": _counters(data, get(SVC_STATS64)) if stats else None,
    }


def parse_dest(data, offset: int, end: int, default_af: int, stats: bool = False) -> dict | None:
    """The raw fields of the IPVS_CMD_ATTR_DEST in a GET_DEST answer (after its genlmsghdr)."""
    top = attrs(data, offset + 4, end)
    if CMD_ATTR_DEST not in top:
        return None
    start, stop = top[CMD_ATTR_DEST]
    found = attrs(data, start, stop)
    af = _u16(data, found[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in found else default_af
    addr = found[DEST_ADDR]
    get = found.get
    return {
        "address": address_text(af, bytes(data[addr[0]:addr[1]])),
        "port": _BE16.unpack_from(data, found[DEST_PORT][0])[0],
        "forwarding": _u32(data, found[DEST_FWD_METHOD]),
        "weight": _u32(data, found[DEST_WEIGHT]),
        "upper_threshold": _u32(data, found[DEST_U_THRESH]),
        "lower_threshold": _u32(data, found[DEST_L_THRESH]),
        "active_connections": _u32(data, found[DEST_ACTIVE_CONNS]) if DEST_ACTIVE_CONNS in found else 0,
        "inactive_connections": _u32(data, found[DEST_INACT_CONNS]) if DEST_INACT_CONNS in found else 0,
        "persistent_connections": _u32(data, found[DEST_PERSIST_CONNS]) if DEST_PERSIST_CONNS in found else 0,
        "counters": _counters(data, get(DEST_STATS64)) if stats else None,
    }


def parse_daemon(data, offset: int, end: int) -> dict | None:
    """The raw fields of the IPVS_CMD_ATTR_DAEMON in a GET_DAEMON answer (after its genlmsghdr).

    {"state", "interface", "syncid", "maxlen", "group" (text of MCAST_GROUP6, else MCAST_GROUP),
    "port" (host byte order, as ipvsadm sends it), "ttl"}; None for an attribute the kernel left out
    (kernels before 4.3 send the state, the interface and the sync id only).
    """
    top = attrs(data, offset + 4, end)
    if CMD_ATTR_DAEMON not in top:
        return None
    start, stop = top[CMD_ATTR_DAEMON]
    found = attrs(data, start, stop)
    get = found.get
    ifn = get(DAEMON_MCAST_IFN)
    group = None
    if DAEMON_MCAST_GROUP6 in found:
        group = address_text(socket.AF_INET6, bytes(data[found[DAEMON_MCAST_GROUP6][0]:found[DAEMON_MCAST_GROUP6][1]]))
    elif DAEMON_MCAST_GROUP in found:
        group = address_text(socket.AF_INET, bytes(data[found[DAEMON_MCAST_GROUP][0]:found[DAEMON_MCAST_GROUP][1]]))
    return {
        "state": _u32(data, found[DAEMON_STATE]) if DAEMON_STATE in found else None,
        "interface": bytes(data[ifn[0]:ifn[1]]).split(b"\0", 1)[0].decode("utf-8", "replace") if ifn else None,
        "syncid": _u32(data, found[DAEMON_SYNC_ID]) if DAEMON_SYNC_ID in found else None,
        "maxlen": _u16(data, found[DAEMON_SYNC_MAXLEN]) if DAEMON_SYNC_MAXLEN in found else None,
        "group": group,
        "port": _u16(data, found[DAEMON_MCAST_PORT]) if DAEMON_MCAST_PORT in found else None,
        "ttl": data[found[DAEMON_MCAST_TTL][0]] if DAEMON_MCAST_TTL in found else None,
    }


def parse_config(data, offset: int, end: int) -> dict:
    """The timeouts of a GET_CONFIG answer (after its genlmsghdr): {"tcp", "tcp_fin", "udp"}, None if left out."""
    found = attrs(data, offset + 4, end)
    return {name: _u32(data, found[kind]) if kind in found else None
            for name, kind in (("tcp", CMD_ATTR_TIMEOUT_TCP), ("tcp_fin", CMD_ATTR_TIMEOUT_TCP_FIN),
                               ("udp", CMD_ATTR_TIMEOUT_UDP))}
