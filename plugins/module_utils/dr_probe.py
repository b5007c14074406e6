# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks that follow the direct-routing (DR) path from a director to one real server.

ldirectord and keepalived check a real server at its own address.  In direct
routing the clients' traffic reaches it addressed to the VIP, so a frontend that
lost the VIP on its lo passes every check while the requests sent to it are lost,
and one whose arp_ignore went back to 0 answers ARP for the VIP and steals traffic.

``tcp_probe`` sends what IPVS would send: an Ethernet frame to the real server's
MAC whose IP destination is the VIP.  On the director the VIP is a local address,
so a kernel socket connect to VIP:port would be delivered locally (or taken by
IPVS); and a network namespace would need an address of its own on the segment
for the replies to come back to.  So the probe speaks TCP itself over a packet
socket (AF_PACKET) on the director's interface, from the director's own address:

- the path (``find_path``): route lookup to the real server (interface, preferred
  source address), the interface's MAC, the real server's MAC from the neighbour
  table (resolution provoked by a non-blocking connect to the real server's own
  address, closed at once, when there is no usable entry); plain rtnetlink, no
  library needed;
- the handshake: SYN (MSS, window 65535, random ISN and source port 32768-60999)
  retransmitted with a doubling interval from 0.3 s; on the SYN-ACK an ACK; mode
  ``connect`` stops there, mode ``http`` sends one HTTP/1.0 request, acknowledges
  the in-order payload (out-of-order segments are ignored: the sender retransmits)
  until the FIN or until the answer is decided; the conversation always ends with
  an RST, so the real server keeps no half-open connection;
- the receive side: a classic BPF filter on the packet socket passes only TCP from
  the probed port to the probe's own port (IPv4 and IPv6), and the frames are
  checked again here (source = VIP, destination = the director's address).

The director's kernel does not interfere: an IPv4 SYN-ACK from the VIP is a
martian to it (the source is its own address) and is dropped; for IPv6 it answers
with an RST to the VIP, which is local and never leaves the host.

``arp_probe`` sends RFC 5227 ARP probes (sender IP 0.0.0.0: nobody's ARP cache
changes) for a VIP and returns every host that answers: a correctly set-up DR
real server (VIP on lo, arp_ignore >= 1) does not, one with arp_ignore=0 does.
IPv4 only: Linux does not answer neighbour solicitations for addresses on lo
received on another interface.

Everything here needs root (CAP_NET_RAW) and nothing but the standard library.
Run as a script it is the health checkers' command (see ``main``):
``dr_probe.py check --config FILE VIRTUAL VPORT REAL RPORT``, exit 0 when the real
server answers through the DR path, 1 when it does not (one line on stdout
saying why), 2 on a usage or configuration error (one line on stderr).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import ipaddress
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from typing import Callable, NamedTuple

MODES = ("http", "connect")
DEFAULT_TIMEOUT = 3.0
USER_AGENT = "lvs-cluster-dr-probe"
SYN_RETRANSMIT = 0.3  # first retransmission interval (s), doubled each time
RETRANSMIT_CAP = 1.2
MAX_RESPONSE = 1 << 20  # bytes of an HTTP response kept to decide
WINDOW = 65535
NEIGHBOUR_WAIT = 1.0  # seconds to wait for a provoked neighbour resolution
ARP_WAIT = 1.0  # seconds the module collects ARP replies for one address, at most

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
SIOCGIFMTU = 0x8921
SIOCGIFHWADDR = 0x8927
ARPHRD_ETHER = 1
IPPROTO_TCP = 6
BROADCAST = b"\xff" * 6

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

# include/uapi/linux/netlink.h, rtnetlink.h, neighbour.h: a stable ABI.
NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x01
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PREFSRC = 7
RTN_UNICAST = 1
RTN_LOCAL = 2
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_FLAGS = 8
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
NDA_DST = 1
NDA_LLADDR = 2
NUD_INCOMPLETE = 0x01
NUD_FAILED = 0x20
NUD_NONE = 0x00
NETLINK_TIMEOUT = 5.0

_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}


class ProbeError(Exception):
    """The probe cannot be made (no path, no neighbour, no permission); the message says why."""


class ProbeValidationError(ProbeError):
    """Bad input; the message names the parameter."""


class ProbeSetupError(ProbeError):
    """This host cannot probe at all (no packet socket: not root); not the real server's fault."""


class Path(NamedTuple):
    """How frames reach one real server: the interface and both ends' addresses."""

    ifindex: int
    ifname: str
    family: int  # 4 or 6
    source: str  # the director's own address on the segment
    source_mac: bytes
    real_server: str
    real_mac: bytes
    mtu: int = 1500


class ProbeResult(NamedTuple):
    ok: bool
    reason: str
    status: int | None
    elapsed: float


class Responder(NamedTuple):
    mac: str
    address: str


class Segment(NamedTuple):
    """One received TCP segment, as parse_frame reads it."""

    family: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes
    mss: int | None = None


# ------------------------------------------------------------------ input


def parse_address(value, where: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address without zone ID or prefix; ProbeValidationError naming ``where``."""
    text = value if isinstance(value, str) else str(value)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        raise ProbeValidationError("%s: %r has a zone ID; give the address without %%..." % (where, value))
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ProbeValidationError("%s: %r is not an IP address" % (where, value)) from None


def parse_port(value, where: str, low: int = 1) -> int:
    if isinstance(value, bool):
        raise ProbeValidationError("%s: %r is not a port" % (where, value))
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ProbeValidationError("%s: %r is not a port" % (where, value)) from None
    if not low <= port <= 65535:
        raise ProbeValidationError("%s: %d is not a port (%d to 65535)" % (where, port, low))
    return port


def _one_line(value, where: str, name: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise ProbeValidationError("%s.%s: is required" % (where, name))
        return None
    text = str(value)
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        raise ProbeValidationError("%s.%s: %r has a space, a newline or another control character" % (where, name, text))
    return text


def check_probe(entry: dict, where: str) -> dict:
    """One probe's parameters, checked and canonical (addresses compressed); errors name ``where``.

    Keys: address, port, real_server, mode, request, host, status, receive (and timeout, when given).
    """
    if not isinstance(entry, dict):
        raise ProbeValidationError("%s: must be a dictionary" % where)
    address = parse_address(entry.get("address"), where + ".address")
    port = parse_port(entry.get("port"), where + ".port")
    real = parse_address(entry.get("real_server"), where + ".real_server")
    if real.version != address.version:
        raise ProbeValidationError("%s.real_server: %s is not of the address's family (%s)" % (where, real, address))
    if real == address:
        raise ProbeValidationError("%s.real_server: is the VIP itself; give the real server's own address" % where)
    mode = entry.get("mode") or "http"
    if mode not in MODES:
        raise ProbeValidationError("%s.mode: %r is not one of %s" % (where, mode, ", ".join(MODES)))
    request = _one_line(entry.get("request"), where, "request") or "/"
    if not request.startswith("/"):
        raise ProbeValidationError("%s.request: %r must start with /" % (where, request))
    host = _one_line(entry.get("host"), where, "host")
    status = entry.get("status")
    status = 200 if status is None else status
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ProbeValidationError("%s.status: %r is not an HTTP status code (100 to 599)" % (where, status))
    receive = entry.get("receive")
    if receive is not None and receive != "":
        if any(char in str(receive) for char in "\r\n\0"):
            raise ProbeValidationError("%s.receive: has a newline or a NUL character" % where)
        try:
            re.compile(str(receive))
        except re.error as exc:
            raise ProbeValidationError("%s.receive: %r is not a regular expression: %s" % (where, receive, exc)) from None
        receive = str(receive)
    else:
        receive = None
    checked = {"address": address.compressed, "port": port, "real_server": real.compressed, "mode": mode,
               "request": request, "host": host, "status": status, "receive": receive}
    if entry.get("timeout") is not None:
        checked["timeout"] = check_timeout(entry["timeout"], where + ".timeout")
    return checked


def check_timeout(value, where: str) -> float:
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        raise ProbeValidationError("%s: %r is not a number of seconds" % (where, value)) from None
    if isinstance(value, bool) or not 0.1 <= timeout <= 300:
        raise ProbeValidationError("%s: %r is not between 0.1 and 300 seconds" % (where, value))
    return timeout


def check_arp(addresses, where: str = "arp") -> list:
    out = []
    for position, value in enumerate(addresses or []):
        address = parse_address(value, "%s[%d]" % (where, position))
        if address.version != 4:
            raise ProbeValidationError("%s[%d]: %s is not an IPv4 address (ARP is IPv4 only)" % (where, position, address))
        out.append(address.compressed)
    return out


# --------------------------------------------------------------- frames


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                window: int = WINDOW, options: bytes = b"", payload: bytes = b"") -> bytes:
    """A TCP header (with options) and payload, checksummed over the pseudo-header of src and dst."""
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    offset = (5 + len(options) // 4) << 12
    header = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset | flags, window, 0, 0)
    segment = header + options + payload
    source, destination = _packed(src), _packed(dst)
    if len(source) == 4:
        pseudo = source + destination + struct.pack("!BBH", 0, IPPROTO_TCP, len(segment))
    else:
        pseudo = source + destination + struct.pack("!I3xB", len(segment), IPPROTO_TCP)
    value = checksum(pseudo + segment)
    return segment[:16] + struct.pack("!H", value) + segment[18:]


def ip_packet(src: str, dst: str, payload: bytes, protocol: int = IPPROTO_TCP, ident: int = 0) -> bytes:
    """An IPv4 (DF, TTL 64) or IPv6 (hop limit 64) header followed by ``payload``."""
    source, destination = _packed(src), _packed(dst)
    if len(source) == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, protocol, 0,
                             source, destination)
        return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), protocol, 64, source, destination) + payload


def ethernet(dst_mac: bytes, src_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def tcp_frame(path: Path, address: str, sport: int, dport: int, seq: int, ack: int, flags: int,
              options: bytes = b"", payload: bytes = b"", ident: int = 0) -> bytes:
    """A frame to the real server's MAC, from the director's address to the VIP."""
    segment = tcp_segment(path.source, address, sport, dport, seq, ack, flags, options=options, payload=payload)
    ethertype = ETH_P_IP if path.family == 4 else ETH_P_IPV6
    return ethernet(path.real_mac, path.source_mac, ethertype, ip_packet(path.source, address, segment, ident=ident))


def _mss_option(data: bytes) -> int | None:
    position = 0
    while position < len(data):
        kind = data[position]
        if kind == 0:
            break
        if kind == 1:
            position += 1
            continue
        if position + 1 >= len(data) or data[position + 1] < 2:
            break
        length = data[position + 1]
        if kind == 2 and length == 4 and position + 4 <= len(data):
            return struct.unpack_from("!H", data, position + 2)[0]
        position += length
    return None


def parse_frame(frame: bytes) -> Segment | None:
    """The TCP segment of an Ethernet frame (IPv4 or IPv6 without extension headers), else None.

    Lengths come from the IP header (Ethernet pads short frames).  Checksums are not
    verified: frames from a veth or with receive offload may carry partial ones.
    """
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    data = frame[14:]
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    if ethertype == ETH_P_IP:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        header_length = (data[0] & 0x0F) * 4
        total, fragment, protocol = struct.unpack_from("!H2xH1xB", data, 2)
        if protocol != IPPROTO_TCP or fragment & 0x3FFF or header_length < 20 or total > len(data):
            return None
        family, src, dst = 4, ipaddress.IPv4Address(data[12:16]), ipaddress.IPv4Address(data[16:20])
        tcp = data[header_length:total]
    elif ethertype == ETH_P_IPV6:
        if len(data) < 40 or data[0] >> 4 != 6:
            return None
        payload_length, next_header = struct.unpack_from("!HB", data, 4)
        if next_header != IPPROTO_TCP or 40 + payload_length > len(data):
            return None
        family, src, dst = 6, ipaddress.IPv6Address(data[8:24]), ipaddress.IPv6Address(data[24:40])
        tcp = data[40:40 + payload_length]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offset_flags, window = struct.unpack_from("!HHIIHH", tcp)
    offset = (offset_flags >> 12) * 4
    if offset < 20 or offset > len(tcp):
        return None
    return Segment(family, src.compressed, dst.compressed, sport, dport, seq, ack, offset_flags & 0x3F, window,
                   bytes(tcp[offset:]), _mss_option(bytes(tcp[20:offset])))


def arp_request(source_mac: bytes, target: str) -> bytes:
    """An RFC 5227 ARP probe for ``target``: broadcast, sender IP 0.0.0.0, target MAC zero."""
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, source_mac, b"\0" * 4, b"\0" * 6, _packed(target))
    return ethernet(BROADCAST, source_mac, ETH_P_ARP, arp)


def parse_arp_reply(frame: bytes) -> Responder | None:
    """(sender MAC, sender IP) of an Ethernet/IPv4 ARP reply, else None."""
    if len(frame) < 42 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op, sha, spa = struct.unpack_from("!HHBBH6s4s", frame, 14)
    if (htype, ptype, hlen, plen, op) != (1, ETH_P_IP, 6, 4, 2):
        return None
    return Responder(format_mac(sha), str(ipaddress.IPv4Address(spa)))


def format_mac(mac: bytes) -> str:
    return ":".join("%02x" % byte for byte in mac)


# ------------------------------------------------------------------ BPF

BPF_LD_W_ABS = 0x20
BPF_LD_H_ABS = 0x28
BPF_LD_B_ABS = 0x30
BPF_LD_H_IND = 0x48
BPF_LDX_B_MSH = 0xB1
BPF_JEQ_K = 0x15
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
ACCEPT = 0x40000


def _assemble(program: list) -> list:
    """(code, jt, jf, k) instructions from a list whose jumps name labels ("accept", "drop" or a str)."""
    labels = {}
    position = 0
    for item in program:
        if isinstance(item, str):
            labels[item] = position
        else:
            position += 1
    out: list = []
    for item in program:
        if isinstance(item, str):
            continue
        code, jt, jf, k = item
        here = len(out)
        out.append((code, labels[jt] - here - 1 if isinstance(jt, str) else jt,
                    labels[jf] - here - 1 if isinstance(jf, str) else jf, k))
    return out


def tcp_filter(peer_port: int, own_port: int) -> list:
    """cBPF: accept TCP (IPv4 unfragmented, or IPv6 without extension headers) from ``peer_port`` to ``own_port``."""
    return _assemble([
        (BPF_LD_H_ABS, 0, 0, 12),
        (BPF_JEQ_K, 0, "not4", ETH_P_IP),
        (BPF_LD_B_ABS, 0, 0, 23),
        (BPF_JEQ_K, 0, "drop", IPPROTO_TCP),
        (BPF_LD_H_ABS, 0, 0, 20),
        (BPF_JSET_K, "drop", 0, 0x3FFF),
        (BPF_LDX_B_MSH, 0, 0, 14),
        (BPF_LD_H_IND, 0, 0, 14),
        (BPF_JEQ_K, 0, "drop", peer_port),
        (BPF_LD_H_IND, 0, 0, 16),
        (BPF_JEQ_K, "accept", "drop", own_port),
        "not4",
        (BPF_JEQ_K, 0, "drop", ETH_P_IPV6),
        (BPF_LD_B_ABS, 0, 0, 20),
        (BPF_JEQ_K, 0, "drop", IPPROTO_TCP),
        (BPF_LD_H_ABS, 0, 0, 54),
        (BPF_JEQ_K, 0, "drop", peer_port),
        (BPF_LD_H_ABS, 0, 0, 56),
        (BPF_JEQ_K, "accept", "drop", own_port),
        "accept",
        (BPF_RET_K, 0, 0, ACCEPT),
        "drop",
        (BPF_RET_K, 0, 0, 0),
    ])


def arp_filter(target: str) -> list:
    """cBPF: accept Ethernet/IPv4 ARP replies whose sender IP is ``target``."""
    return _assemble([
        (BPF_LD_H_ABS, 0, 0, 12),
        (BPF_JEQ_K, 0, "drop", ETH_P_ARP),
        (BPF_LD_H_ABS, 0, 0, 20),
        (BPF_JEQ_K, 0, "drop", 2),
        (BPF_LD_W_ABS, 0, 0, 28),
        (BPF_JEQ_K, "accept", "drop", int(ipaddress.IPv4Address(target))),
        "accept",
        (BPF_RET_K, 0, 0, ACCEPT),
        "drop",
        (BPF_RET_K, 0, 0, 0),
    ])


# ----------------------------------------------------------- the socket


class _Socket:
    """A wrapper of one socket (``self._sock``), closed by ``close`` or at the end of a ``with``."""

    _sock: socket.socket

    def close(self) -> None:
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class PacketLink(_Socket):
    """An AF_PACKET socket on one interface with a BPF filter: send whole frames, receive incoming ones."""

    def __init__(self, ifname: str, bpf: list, protocol: int = ETH_P_ALL):
        try:
            # Protocol 0 receives nothing until bound: the filter is in place before the first frame.
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        except PermissionError as exc:
            raise ProbeSetupError("opening a packet socket needs root (CAP_NET_RAW): %s" % exc.strerror) from exc
        except OSError as exc:
            raise ProbeSetupError("cannot open a packet socket: %s" % exc.strerror) from exc
        try:
            program = b"".join(struct.pack("HBBI", *instruction) for instruction in bpf)
            buffer = ctypes.create_string_buffer(program)
            fprog = struct.pack("HL", len(bpf), ctypes.addressof(buffer))
            self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            self._sock.bind((ifname, protocol))
        except OSError as exc:
            self._sock.close()
            raise ProbeError("cannot set up a packet socket on %s: %s" % (ifname, exc.strerror or exc)) from exc

    @staticmethod
    def probe_permission() -> None:
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0).close()
        except PermissionError as exc:
            raise ProbeSetupError("opening a packet socket needs root (CAP_NET_RAW): %s" % exc.strerror) from exc
        except OSError as exc:
            raise ProbeSetupError("cannot open a packet socket: %s" % exc.strerror) from exc

    def send(self, frame: bytes) -> None:
        try:
            self._sock.send(frame)
        except OSError as exc:
            raise ProbeError("sending a frame failed: %s" % (exc.strerror or exc)) from exc

    def recv(self, timeout: float) -> bytes | None:
        """The next incoming frame the filter passed, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            left = deadline - time.monotonic()
            ready, unused, unused2 = select.select([self._sock], [], [], max(left, 0.0))
            if not ready:
                return None
            frame, address = self._sock.recvfrom(65536)
            if address[2] != PACKET_OUTGOING:
                return frame


# ------------------------------------------------------------- the path


def _attributes(data: bytes, offset: int, end: int) -> dict:
    out = {}
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            break
        out[kind & 0x3FFF] = bytes(data[offset + _RTATTR.size:offset + length])
        offset += (length + 3) & ~3
    return out


def _attribute(kind: int, value: bytes) -> bytes:
    data = _RTATTR.pack(_RTATTR.size + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


class RouteNetlink(_Socket):
    """Just enough rtnetlink: one route lookup and the neighbour table."""

    def __init__(self):
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
            self._sock.bind((0, 0))
            self._sock.settimeout(NETLINK_TIMEOUT)
        except OSError as exc:
            raise ProbeError("cannot open a netlink socket: %s" % exc.strerror) from exc
        self._sequence = 0

    def _request(self, msg_type: int, flags: int, body: bytes) -> list:
        """Send one request; the (type, payload) of every reply until the error/ack or NLMSG_DONE."""
        self._sequence += 1
        sequence = self._sequence
        self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, sequence, 0) + body)
        replies: list = []
        while True:
            try:
                data = self._sock.recv(1 << 20)
            except OSError as exc:
                raise ProbeError("reading from the kernel failed: %s" % (exc.strerror or exc)) from exc
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, unused, seq, unused2 = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                payload = bytes(data[offset + _NLMSGHDR.size:offset + length])
                offset += (length + 3) & ~3
                if seq != sequence:
                    continue
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return replies
                if kind == NLMSG_DONE:
                    return replies
                replies.append((kind, payload))
                if not flags & NLM_F_DUMP:
                    return replies

    def route(self, address: str) -> dict:
        """{type, oif, prefsrc, gateway} of the kernel's route to ``address`` (RTM_GETROUTE)."""
        ip = ipaddress.ip_address(address)
        family = _FAMILY[ip.version]
        body = _RTMSG.pack(family, ip.max_prefixlen, 0, 0, 0, 0, 0, 0, 0) + _attribute(RTA_DST, ip.packed)
        for kind, payload in self._request(RTM_GETROUTE, NLM_F_REQUEST, body):
            if kind != RTM_NEWROUTE:
                continue
            route_type = _RTMSG.unpack_from(payload)[7]
            attrs = _attributes(payload, _RTMSG.size, len(payload))
            return {
                "type": route_type,
                "oif": struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else None,
                "prefsrc": ipaddress.ip_address(attrs[RTA_PREFSRC]).compressed if RTA_PREFSRC in attrs else None,
                "gateway": ipaddress.ip_address(attrs[RTA_GATEWAY]).compressed if RTA_GATEWAY in attrs else None,
            }
        raise ProbeError("the kernel returned no route to %s" % address)

    def addresses(self, family: int, ifindex: int) -> list:
        """[(address, prefixlen)] of interface ``ifindex`` in ``family`` (4 or 6), usable ones only."""
        body = _IFADDRMSG.pack(_FAMILY[family], 0, 0, 0, 0)
        out = []
        for kind, payload in self._request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, body):
            if kind != RTM_NEWADDR or len(payload) < _IFADDRMSG.size:
                continue
            unused, prefixlen, flags, unused2, index = _IFADDRMSG.unpack_from(payload)
            attrs = _attributes(payload, _IFADDRMSG.size, len(payload))
            if IFA_FLAGS in attrs:
                (flags,) = struct.unpack("=I", attrs[IFA_FLAGS])
            address = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if index == ifindex and address and not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                out.append((ipaddress.ip_address(address).compressed, prefixlen))
        return out

    def neighbours(self, family: int) -> list:
        """[{ifindex, address, state, mac}] of the neighbour table of ``family`` (4 or 6)."""
        body = _NDMSG.pack(_FAMILY[family], 0, 0, 0, 0)
        out = []
        for kind, payload in self._request(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, body):
            if kind != RTM_NEWNEIGH or len(payload) < _NDMSG.size:
                continue
            unused, ifindex, state, unused2, unused3 = _NDMSG.unpack_from(payload)
            attrs = _attributes(payload, _NDMSG.size, len(payload))
            if NDA_DST not in attrs:
                continue
            out.append({"ifindex": ifindex, "address": ipaddress.ip_address(attrs[NDA_DST]).compressed,
                        "state": state, "mac": attrs.get(NDA_LLADDR)})
        return out


def _ifreq(ifname: str, request: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return fcntl.ioctl(sock.fileno(), request, struct.pack("16s24x", ifname.encode()))


def interface_mac(ifname: str) -> bytes:
    """The Ethernet address of ``ifname``; ProbeError if it has none (lo, tun, ...)."""
    try:
        data = _ifreq(ifname, SIOCGIFHWADDR)
    except OSError as exc:
        raise ProbeError("interface %s: %s" % (ifname, exc.strerror or exc)) from exc
    hatype, mac = struct.unpack_from("H6s", data, 16)
    if hatype != ARPHRD_ETHER:
        raise ProbeError("interface %s is not an Ethernet interface (hardware type %d)" % (ifname, hatype))
    return mac


def interface_name(index: int) -> str:
    return socket.if_indextoname(index)


def interface_mtu(ifname: str) -> int:
    try:
        return struct.unpack_from("i", _ifreq(ifname, SIOCGIFMTU), 16)[0]
    except OSError:
        return 1500


def usable(neighbour: dict | None) -> bool:
    return bool(neighbour and neighbour["mac"] and len(neighbour["mac"]) == 6 and neighbour["mac"] != b"\0" * 6
                and neighbour["state"] not in (NUD_NONE, NUD_INCOMPLETE, NUD_FAILED))


def provoke_resolution(address: str, port: int) -> None:
    """Make the kernel resolve ``address``: a non-blocking connect to address:port, closed at once."""
    ip = ipaddress.ip_address(address)
    with socket.socket(_FAMILY[ip.version], socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect((address, port))
        except OSError:
            pass  # EINPROGRESS: the SYN (and the ARP/ND before it) is under way


def choose_source(real: str, preferred: str | None, addresses: list) -> str | None:
    """The director's own address towards ``real``: one of ``addresses`` (address, prefixlen) whose subnet holds it.

    The kernel's preferred source is taken when it qualifies; it may be a VIP (an IPv6 VIP
    that is not deprecated can win the source address selection), which never does:
    a VIP is a /32 or /128.
    """
    target = ipaddress.ip_address(real)
    candidates = [address for address, prefixlen in addresses
                  if target in ipaddress.ip_network("%s/%d" % (address, prefixlen), strict=False) and address != real]
    if preferred in candidates:
        return preferred
    return candidates[0] if candidates else None


def find_path(real_server: str, port: int, timeout: float = NEIGHBOUR_WAIT, netlink: Callable = RouteNetlink,
              clock: Callable = time.monotonic, sleep: Callable = time.sleep,
              provoke: Callable = provoke_resolution) -> Path:
    """The interface, addresses and MACs between this host and ``real_server`` (ProbeError: why there are none)."""
    ip = ipaddress.ip_address(real_server)
    real = ip.compressed
    with netlink() as rtnl:
        try:
            route = rtnl.route(real)
        except OSError as exc:
            raise ProbeError("no route to %s: %s" % (real, exc.strerror or exc)) from exc
        if route["type"] == RTN_LOCAL:
            raise ProbeError("%s is an address of this host, not a real server" % real)
        if route["type"] != RTN_UNICAST or route["oif"] is None:
            raise ProbeError("no unicast route to %s (route type %d)" % (real, route["type"]))
        if route["gateway"]:
            raise ProbeError("%s is reached through the gateway %s: direct routing needs the real server on a link "
                             "of this host" % (real, route["gateway"]))
        oif = int(route["oif"])
        try:
            ifname = interface_name(oif)
        except OSError as exc:
            raise ProbeError("the route to %s goes through interface %d, which is gone" % (real, oif)) from exc
        source = choose_source(real, route["prefsrc"], rtnl.addresses(ip.version, route["oif"]))
        if source is None:
            raise ProbeError("no address of %s is on the subnet of %s (the VIPs do not count)" % (ifname, real))
        source_mac = interface_mac(ifname)

        def lookup():
            for entry in rtnl.neighbours(ip.version):
                if entry["ifindex"] == route["oif"] and entry["address"] == real:
                    return entry
            return None

        neighbour = lookup()
        if not usable(neighbour):
            provoke(real, port)
            deadline = clock() + timeout
            while not usable(neighbour) and clock() < deadline:
                sleep(0.05)
                neighbour = lookup()
        if neighbour is None or not usable(neighbour):
            state = "no entry" if neighbour is None else "state 0x%02x" % neighbour["state"]
            raise ProbeError("%s does not answer %s on %s (neighbour table: %s)"
                             % (real, "ARP" if ip.version == 4 else "neighbour solicitations", ifname, state))
    return Path(route["oif"], ifname, ip.version, source, source_mac, real, neighbour["mac"],
                interface_mtu(ifname))


# ------------------------------------------------------------ TCP probe


def _seconds(value: float) -> str:
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _endpoint(address: str, port: int) -> str:
    return "[%s]:%d" % (address, port) if ":" in address else "%s:%d" % (address, port)


def http_request(request: str, host: str) -> bytes:
    return ("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n"
            % (request, host, USER_AGENT)).encode("utf-8")


def judge_http(response: bytes, complete: bool, request: str, status: int, receive: str | None) -> tuple | None:
    """(ok, reason, status) once ``response`` decides the check, else None (more data needed).

    ``complete``: the server closed (FIN) or no more data will be read; then a decision is always returned.
    """
    head, separator, body = response.partition(b"\r\n\r\n")
    line_end = response.find(b"\r\n")
    if line_end < 0:
        if complete:
            return False, "no HTTP status line in the response to %s (%d bytes)" % (request, len(response)), None
        return None
    match = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})(?: |$)", response[:line_end])
    if not match:
        line = response[:min(line_end, 60)].decode("latin-1")
        return False, "not an HTTP response to %s: %r" % (request, line), None
    code = int(match.group(1))
    if code != status:
        return False, "HTTP %d for %s (expected %d)" % (code, request, status), code
    if receive is None:
        return True, "HTTP %d for %s" % (code, request), code
    if separator:
        text = body.decode("utf-8", "replace")
        if re.search(receive, text):
            return True, "HTTP %d for %s, receive /%s/ found" % (code, request, receive), code
    if complete:
        return False, "receive /%s/ not found in the response to %s" % (receive, request), code
    return None


class _Conversation:
    """One TCP conversation with a real server through ``link``; run() returns a ProbeResult."""

    def __init__(self, link, path: Path, address: str, port: int, mode: str, request: str, host: str | None,
                 status: int, receive: str | None, timeout: float, clock: Callable, rng: random.Random,
                 sport: int | None = None):
        self.link, self.path, self.address, self.port = link, path, address, port
        self.mode, self.request, self.status, self.receive = mode, request, status, receive
        self.host = host or (("[%s]" % address) if ":" in address else address)
        self.timeout, self.clock = timeout, clock
        self.sport = sport if sport is not None else rng.randint(32768, 60999)
        self.isn = rng.getrandbits(32)
        self.ident = rng.getrandbits(16)
        self.snd_nxt = (self.isn + 1) & 0xFFFFFFFF
        self.rcv_nxt = 0
        self.connected = False
        self.start = clock()

    # frames -------------------------------------------------------------

    def _send(self, flags: int, seq: int, ack: int = 0, options: bytes = b"", payload: bytes = b"") -> None:
        self.ident = (self.ident + 1) & 0xFFFF
        self.link.send(tcp_frame(self.path, self.address, self.sport, self.port, seq, ack, flags,
                                 options=options, payload=payload, ident=self.ident))

    def _ours(self, segment: Segment | None) -> bool:
        return bool(segment and segment.family == self.path.family and segment.src == self.address
                    and segment.dst == self.path.source and segment.sport == self.port and segment.dport == self.sport)

    def _next(self, until: float) -> Segment | None:
        """The next segment of this conversation before ``until`` (None at that time)."""
        while True:
            left = until - self.clock()
            if left <= 0:
                return None
            frame = self.link.recv(left)
            if frame is None:
                continue
            segment = parse_frame(frame)
            if self._ours(segment):
                return segment

    def _result(self, ok: bool, reason: str, status: int | None = None) -> ProbeResult:
        return ProbeResult(ok, reason, status, round(self.clock() - self.start, 3))

    def _reset(self) -> None:
        """Leave the real server nothing half-open."""
        self._send(TCP_RST | TCP_ACK, self.snd_nxt, self.rcv_nxt)

    # phases -------------------------------------------------------------

    def run(self) -> ProbeResult:
        deadline = self.start + self.timeout
        synack = self._handshake(deadline)
        if isinstance(synack, ProbeResult):
            return synack
        self.connected = True
        self.rcv_nxt = (synack.seq + 1) & 0xFFFFFFFF
        self._send(TCP_ACK, self.snd_nxt, self.rcv_nxt)
        if self.mode == "connect":
            self._reset()
            return self._result(True, "connected to %s through %s" % (_endpoint(self.address, self.port),
                                                                      self.path.real_server))
        try:
            return self._http(deadline, synack.mss or 536)
        finally:
            self._reset()

    def _handshake(self, deadline: float):
        mss = max(536, min(self.path.mtu, 65535) - (40 if self.path.family == 4 else 60))
        options = struct.pack("!BBH", 2, 4, mss)
        interval = SYN_RETRANSMIT
        while True:
            self._send(TCP_SYN, self.isn, options=options)
            resend = min(self.clock() + interval, deadline)
            interval = min(interval * 2, RETRANSMIT_CAP)
            while True:
                segment = self._next(resend)
                if segment is None:
                    break
                if segment.flags & TCP_ACK and segment.ack != self.snd_nxt:
                    continue
                if segment.flags & TCP_RST:
                    if segment.flags & TCP_ACK:
                        return self._result(False, "%s refused %s (RST): nothing listens there"
                                            % (self.path.real_server, _endpoint(self.address, self.port)))
                    continue
                if segment.flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK:
                    return segment
            if self.clock() >= deadline:
                return self._result(False, "no SYN-ACK from %s for %s within %s s (is the VIP on its lo?)"
                                    % (self.path.real_server, _endpoint(self.address, self.port),
                                       _seconds(self.timeout)))

    def _http(self, deadline: float, peer_mss: int) -> ProbeResult:
        data = http_request(self.request, self.host)
        snd_una = self.snd_nxt
        base = self.snd_nxt
        response = b""
        interval = SYN_RETRANSMIT

        def transmit():
            offset = (snd_una - base) & 0xFFFFFFFF
            while offset < len(data):
                chunk = data[offset:offset + peer_mss]
                self._send(TCP_ACK | TCP_PSH, (base + offset) & 0xFFFFFFFF, self.rcv_nxt, payload=chunk)
                offset += len(chunk)

        transmit()
        self.snd_nxt = (base + len(data)) & 0xFFFFFFFF
        resend = self.clock() + interval
        while True:
            now = self.clock()
            if now >= deadline:
                verdict = judge_http(response, True, self.request, self.status, self.receive) if response else None
                if verdict and verdict[0]:
                    return self._result(*verdict)
                return self._result(False, "no complete HTTP response from %s for %s within %s s (%d bytes received)"
                                    % (self.path.real_server, _endpoint(self.address, self.port),
                                       _seconds(self.timeout), len(response)),
                                    verdict[2] if verdict else None)
            unacked = (self.snd_nxt - snd_una) & 0xFFFFFFFF
            if unacked and now >= resend:
                transmit()
                interval = min(interval * 2, RETRANSMIT_CAP)
                resend = now + interval
            segment = self._next(min(deadline, resend) if unacked else deadline)
            if segment is None:
                continue
            if segment.flags & TCP_RST:
                if (segment.seq - self.rcv_nxt) & 0xFFFFFFFF < WINDOW:
                    verdict = judge_http(response, True, self.request, self.status, self.receive) or (False, "", None)
                    if verdict[0]:
                        return self._result(*verdict)
                    return self._result(False, "%s reset the connection to %s after %d bytes of the response to %s"
                                        % (self.path.real_server, _endpoint(self.address, self.port), len(response),
                                           self.request), verdict[2])
                continue
            if segment.flags & TCP_SYN:  # our ACK was lost: the SYN-ACK again
                self._send(TCP_ACK, snd_una, self.rcv_nxt)
                continue
            if segment.flags & TCP_ACK and 0 < (segment.ack - snd_una) & 0xFFFFFFFF <= unacked:
                snd_una = segment.ack
            offset = (self.rcv_nxt - segment.seq) & 0xFFFFFFFF
            fin = bool(segment.flags & TCP_FIN)
            if segment.seq == self.rcv_nxt or (0 < offset < len(segment.payload)):
                payload = segment.payload if segment.seq == self.rcv_nxt else segment.payload[offset:]
                room = MAX_RESPONSE - len(response)
                response += payload[:room]
                self.rcv_nxt = (self.rcv_nxt + len(payload)) & 0xFFFFFFFF
                if fin:
                    self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
                if payload or fin:
                    self._send(TCP_ACK, self.snd_nxt, self.rcv_nxt)
                verdict = judge_http(response, fin or len(response) >= MAX_RESPONSE, self.request, self.status,
                                     self.receive)
                if verdict is not None:
                    return self._result(*verdict)
            elif segment.payload or fin:
                self._send(TCP_ACK, self.snd_nxt, self.rcv_nxt)  # out of order: say what we still expect


def tcp_probe(path: Path, address: str, port: int, mode: str = "http", request: str = "/", host: str | None = None,
              status: int = 200, receive: str | None = None, timeout: float = DEFAULT_TIMEOUT, link=None,
              clock: Callable = time.monotonic, rng: random.Random | None = None) -> ProbeResult:
    """Connect to ``address``:``port`` (the VIP) through the real server of ``path``; see the module docstring.

    ``link``: an object with send(frame) and recv(timeout) (a PacketLink on path.ifname by default).
    """
    vip = ipaddress.ip_address(address)
    if vip.version != path.family:
        raise ProbeValidationError("address: %s is not of the real server's family (%s)" % (address, path.real_server))
    if mode not in MODES:
        raise ProbeValidationError("mode: %r is not one of %s" % (mode, ", ".join(MODES)))
    rng = rng or random.SystemRandom()
    sport = rng.randint(32768, 60999)
    own = link is None
    if own:
        link = PacketLink(path.ifname, tcp_filter(port, sport), ETH_P_IP if path.family == 4 else ETH_P_IPV6)
    try:
        conversation = _Conversation(link, path, vip.compressed, port, mode, request, host, status, receive,
                                     timeout, clock, rng, sport)
        return conversation.run()
    finally:
        if own:
            link.close()


def run_probes(probes: list, timeout: float, path_finder: Callable | None = None, prober: Callable | None = None) -> list:
    """Each of ``probes`` (check_probe's dicts) with ok, reason, http_status, elapsed and real_mac added.

    A probe that cannot be made (no path, no neighbour) is a failed result; ProbeSetupError
    (this host cannot probe at all) is raised.
    """
    results = []
    for entry in probes:
        start = time.monotonic()
        limit = entry.get("timeout", timeout)
        path = None
        try:
            path = (path_finder or find_path)(entry["real_server"], entry["port"], min(NEIGHBOUR_WAIT, limit / 2))
            result = (prober or tcp_probe)(path, entry["address"], entry["port"], mode=entry["mode"],
                                           request=entry["request"], host=entry["host"], status=entry["status"],
                                           receive=entry["receive"],
                                           timeout=max(limit - (time.monotonic() - start), 0.1))
        except ProbeSetupError:
            raise
        except ProbeError as exc:
            result = ProbeResult(False, str(exc), None, round(time.monotonic() - start, 3))
        results.append(dict(entry, ok=result.ok, reason=result.reason, http_status=result.status,
                            elapsed=result.elapsed, real_mac=format_mac(path.real_mac) if path else None))
    return results


def check_privilege() -> None:
    """ProbeSetupError unless this process may open a packet socket (root, CAP_NET_RAW)."""
    PacketLink.probe_permission()


# ------------------------------------------------------------ ARP probe


def arp_probe(ifname: str, target: str, timeout: float = 1.0, count: int = 2, link=None,
              clock: Callable = time.monotonic) -> list:
    """[Responder] of every host answering an ARP probe for ``target`` on ``ifname`` within ``timeout``."""
    ip = ipaddress.ip_address(target)
    if ip.version != 4:
        raise ProbeValidationError("%s is not an IPv4 address (ARP is IPv4 only)" % target)
    source_mac = interface_mac(ifname)
    own = link is None
    if own:
        link = PacketLink(ifname, arp_filter(ip.compressed), ETH_P_ARP)
    try:
        frame = arp_request(source_mac, ip.compressed)
        start = clock()
        deadline = start + max(timeout, (count - 1) * 0.2 + 0.1)
        sends = [start + 0.2 * position for position in range(max(count, 1))]
        responders: list = []
        while True:
            now = clock()
            while sends and sends[0] <= now:
                sends.pop(0)
                link.send(frame)
            if now >= deadline:
                return responders
            received = link.recv(min([deadline] + sends[:1]) - now)
            responder = parse_arp_reply(received) if received else None
            if responder and responder.address == ip.compressed and responder not in responders:
                responders.append(responder)
    finally:
        if own:
            link.close()


# ------------------------------------------------------------------ CLI


def find_service(services: list, virtual: str, vport: str) -> dict:
    """The entry of ``services`` ldirectord's VIRTUAL VPORT name (an address, [IPv6], or a fwmark with port 0)."""
    text = virtual.strip()
    if text.isdigit():
        mark = int(text)
        for entry in services:
            if str(entry.get("virtual")).strip() == str(mark) and str(entry.get("port", 0)) in ("0", "None"):
                return entry
        raise ProbeValidationError("no service for firewall mark %d in the configuration" % mark)
    address = parse_address(text, "VIRTUAL")
    port = parse_port(vport, "VPORT")
    for position, entry in enumerate(services):
        try:
            if str(entry.get("virtual")).isdigit():
                continue
            same = parse_address(entry.get("virtual"), "services[%d].virtual" % position) == address
        except ProbeValidationError:
            continue
        if same and str(entry.get("port")) == str(port):
            return entry
    raise ProbeValidationError("no service for %s in the configuration" % _endpoint(address.compressed, port))


def load_config(path: str) -> list:
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as exc:
        raise ProbeValidationError("--config: cannot read %s: %s" % (path, exc.strerror)) from exc
    except ValueError as exc:
        raise ProbeValidationError("--config: %s is not JSON: %s" % (path, exc)) from exc
    services = config.get("services") if isinstance(config, dict) else None
    if not isinstance(services, list):
        raise ProbeValidationError("--config: %s has no list 'services'" % path)
    return services


def service_probe(entry: dict, real: str, where: str, real_name: str = "REAL") -> dict:
    """The probe of one configured service (``entry``) through the real server ``real``, checked."""
    real_address = parse_address(real, real_name)
    service_address = parse_address(entry.get("address"), where + ".address")
    if real_address.version != service_address.version:
        raise ProbeValidationError("%s: %s is not of the family of the service's address %s"
                                   % (real_name, real_address, service_address))
    return check_probe({"address": entry.get("address"), "port": entry.get("probe_port"),
                        "real_server": real_address.compressed, "mode": entry.get("mode"),
                        "request": entry.get("request"), "host": entry.get("host"), "status": entry.get("status"),
                        "receive": entry.get("receive"), "timeout": entry.get("timeout")}, where)


def verdict(checked: dict, prober: Callable | None = None, path_finder: Callable | None = None) -> tuple:
    """(exit code, line) of one probe: 0 and "up: ...", or 1 and "down: ..."."""
    result = run_probes([checked], checked.get("timeout", DEFAULT_TIMEOUT), path_finder, prober)[0]
    target = "%s via %s" % (_endpoint(checked["address"], checked["port"]), checked["real_server"])
    return (0 if result["ok"] else 1), "%s: %s: %s" % ("up" if result["ok"] else "down", target, result["reason"])


def check(config: str, virtual: str, vport: str, real: str, rport: str,
          prober: Callable | None = None, path_finder: Callable | None = None) -> tuple:
    """(exit code, line) of one health check: 0 up, 1 down; ProbeValidationError for usage/config errors."""
    services = load_config(config)
    entry = find_service(services, virtual, vport)
    parse_port(rport, "RPORT", low=0)
    return verdict(service_probe(entry, real, "services[%d]" % services.index(entry)), prober, path_finder)


# ------------------------------------------------------------ the prober daemon
#
# A check started by ldirectord or keepalived costs an interpreter's start
# (0.3-1 s on a loaded director), and ldirectord checks a service's real servers
# one after another: on a loaded director a round of checks took seconds, and a
# failed real server waited for it.  ``serve`` probes every real server of every
# configured service in a thread of its own, every ``interval`` seconds, and
# writes each verdict to a file of its own in the state directory
# (``state_name``); the checkers' wrapper (roles/lb dr-check) answers from a
# verdict younger than the wrapper's limit and runs ``check`` itself otherwise.


# A verdict's file name (state_name), or write_state's temporary file for one.
_VERDICT = re.compile(r"\.?[0-9a-f.:]+_[0-9]+_[0-9a-f.:]+(\.[A-Za-z0-9_]+)?\Z")


def state_name(virtual, port, real: str) -> str:
    """The file name of one check's verdict: ``VIRTUAL_PORT_REAL``, addresses without brackets,
    port 0 for a firewall mark (the checkers' wrapper builds it from their arguments the same way)."""
    virtual = str(virtual).strip("[]")
    return "%s_%s_%s" % (virtual, 0 if virtual.isdigit() else port, real.strip("[]"))


def write_state(directory: str, name: str, line: str) -> None:
    """Replace ``directory``/``name`` with ``line`` at once (a new file renamed over it)."""
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(line + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        os.unlink(tmp)
        raise


def watch(checked: dict, name: str, directory: str, interval: float, stop: threading.Event,
          prober: Callable | None = None, path_finder: Callable | None = None) -> None:
    """Probe ``checked`` every ``interval`` seconds (start to start) until ``stop``, writing each verdict.

    When this host cannot probe (ProbeSetupError) the verdict is removed, so the wrapper
    runs the check itself and reports why."""
    path = os.path.join(directory, name)
    while not stop.is_set():
        start = time.monotonic()
        try:
            write_state(directory, name, verdict(checked, prober, path_finder)[1])
        except ProbeSetupError as exc:
            sys.stderr.write("dr_probe: %s: %s\n" % (name, exc))
            if os.path.exists(path):
                os.unlink(path)
        stop.wait(max(interval - (time.monotonic() - start), 0.05))


def serve(config: str, directory: str, interval: float, stop: threading.Event | None = None,
          prober: Callable | None = None, path_finder: Callable | None = None) -> int:
    """Watch every real server of every service in ``config`` until ``stop`` (SIGTERM, SIGINT)."""
    services = load_config(config)
    watched = []
    for position, entry in enumerate(services):
        where = "services[%d]" % position
        reals = entry.get("real_servers")
        if not isinstance(reals, list):
            raise ProbeValidationError("%s.real_servers: must be a list of addresses" % where)
        for index, real in enumerate(reals):
            checked = service_probe(entry, real, where, "%s.real_servers[%d]" % (where, index))
            watched.append((checked, state_name(entry.get("virtual"), entry.get("port"), checked["real_server"])))
    if stop is None:
        stop = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
    for name in os.listdir(directory):  # verdicts of an earlier configuration (and half-written ones)
        if _VERDICT.match(name):
            os.unlink(os.path.join(directory, name))
    threads = [threading.Thread(target=watch, args=(checked, name, directory, interval, stop, prober, path_finder),
                                name=name, daemon=True) for checked, name in watched]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join()
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ProbeValidationError(message)


def main(argv: list | None = None) -> int:
    """The health checkers' command; exit 0 up, 1 down, 2 usage or configuration error."""
    parser = _Parser(prog="dr_probe.py", description="Check a real server through the direct-routing path.")
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="one real server of one service (ldirectord's external check)")
    checker.add_argument("--config", required=True, help="JSON file: {\"services\": [...]}")
    for name in ("VIRTUAL", "VPORT", "REAL", "RPORT"):
        checker.add_argument(name)
    server = commands.add_parser("serve", help="probe every real server of --config, writing each verdict to --state")
    server.add_argument("--config", required=True, help="JSON file: {\"services\": [... with real_servers]}")
    server.add_argument("--state", required=True, help="directory of the verdicts, one file per check")
    server.add_argument("--interval", type=float, default=1.0, help="seconds between two probes of one real server")
    try:
        args = parser.parse_args(argv)
        if args.command == "serve":
            check_privilege()
            return serve(args.config, args.state, check_timeout(args.interval, "--interval"))
        code, line = check(args.config, args.VIRTUAL, args.VPORT, args.REAL, args.RPORT)
    except ProbeValidationError as exc:
        sys.stderr.write("dr_probe: %s\n" % exc)
        return 2
    except ProbeSetupError as exc:  # this host cannot probe: not the real server's fault
        sys.stderr.write("dr_probe: %s\n" % exc)
        return 2
    except OSError as exc:
        sys.stderr.write("dr_probe: %s\n" % (exc.strerror or exc))
        return 2 if exc.errno in (errno.EPERM, errno.EACCES) else 1
    sys.stdout.write(line + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
