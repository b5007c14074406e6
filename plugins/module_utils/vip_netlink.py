# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to the kernel's addresses: rtnetlink, with pyroute2's message class.

``AddressNetlink.dump(index)`` returns the addresses of one interface as plain
dicts (address, family, prefixlen, label, proto, flags, metric) and
``AddressNetlink.apply(index, op)`` carries out one operation of
``vip_state.plan`` (add, remove, adopt = RTM_NEWADDR with NLM_F_REPLACE).

It works with pyroute2 0.7.2 (Debian 12's python3-pyroute2, the frontends') and
0.9.7 (the directors' virtualenv) alike, so it uses no more of pyroute2 than the
``ifaddrmsg`` class, declared again here with IFA_PROTO: 0.7.2 does not know the
attribute (its ``IPRoute.addr()`` drops ``proto=`` without a word, and its dumps
show it as UNKNOWN), and 0.9.7's synchronous ``IPRoute.nlm_request()`` fails
with KeyError('nlm_generator').  Requests go over a plain NETLINK_ROUTE socket.

Run as a script, it is the VIP boot helper of the roles' systemd units (see
``main``), with vip_state.py beside it.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import struct
import sys
import traceback

try:
    from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state
except ImportError:  # the boot helper: vip_state.py sits beside this file
    import vip_state as state  # type: ignore[no-redef,import-not-found]

try:
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
except ImportError:  # reported once, by the module, through missing_required_lib
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None

PYROUTE2_REQUIREMENT = "pyroute2>=0.7.2"

# include/uapi/linux/netlink.h and rtnetlink.h: a stable ABI.
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NLM_F_REQUEST = 0x01
NLM_F_ACK = 0x04
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_CAPPED = 0x100  # in an NLMSG_ERROR reply
NLM_F_ACK_TLVS = 0x200  # in an NLMSG_ERROR reply
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSGERR_ATTR_MSG = 1
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
# The ifa flags a request may carry (inet6_rtm_newaddr keeps only these).
SEND_FLAGS = 0x02 | 0x04 | 0x10 | 0x100 | 0x200 | 0x400  # NODAD OPTIMISTIC HOMEADDRESS MANAGETEMPADDR NOPREFIXROUTE MCAUTOJOIN
INFINITY_LIFE_TIME = 0xFFFFFFFF
RECV_SIZE = 1 << 20
TIMEOUT = 10.0
DUMP_ATTEMPTS = 3

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_AF = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
_FAMILY = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}

if HAS_PYROUTE2:

    class addrmsg(ifaddrmsg):
        """pyroute2's ifaddrmsg with every attribute up to IFA_PROTO (include/uapi/linux/if_addr.h).

        pyroute2 caches a compiled nla_map on the class (nlmsg_base's private attributes),
        and a subclass inherits its parent's cache: reset it so this map is compiled.
        """

        _nlmsg_base__compiled_nla = False
        _nlmsg_base__t_nla_map = None
        _nlmsg_base__r_nla_map = None

        nla_map = (
            ("IFA_UNSPEC", "hex"),
            ("IFA_ADDRESS", "ipaddr"),
            ("IFA_LOCAL", "ipaddr"),
            ("IFA_LABEL", "asciiz"),
            ("IFA_BROADCAST", "ipaddr"),
            ("IFA_ANYCAST", "ipaddr"),
            ("IFA_CACHEINFO", "cacheinfo"),
            ("IFA_MULTICAST", "ipaddr"),
            ("IFA_FLAGS", "uint32"),
            ("IFA_RT_PRIORITY", "uint32"),
            ("IFA_TARGET_NETNSID", "hex"),
            ("IFA_PROTO", "uint8"),
        )


def kernel_release(release: str | None = None) -> tuple:
    """(major, minor) of a release string such as ``6.1.0-18-amd64`` (this kernel's by default)."""
    release = os.uname().release if release is None else release
    numbers = []
    for part in release.split(".")[:2]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        numbers.append(int(digits or 0))
    return tuple(numbers + [0] * (2 - len(numbers)))


def entry_from_message(msg) -> dict:
    """One dumped address as a plain dict."""
    family = _FAMILY.get(msg["family"], str(msg["family"]))
    address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    if family in _AF and address:
        address = ipaddress.ip_address(address).compressed
    flags = msg.get_attr("IFA_FLAGS")
    return {
        "address": address,
        "family": family,
        "prefixlen": msg["prefixlen"],
        "label": msg.get_attr("IFA_LABEL") if family == "ipv4" else None,
        "proto": msg.get_attr("IFA_PROTO") or 0,
        "flags": msg["flags"] if flags is None else flags,
        "metric": msg.get_attr("IFA_RT_PRIORITY") or 0,
    }


_REQUESTS = {
    "add": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL),
    "adopt": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE),
    "deprecate": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE),
    "remove": (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
}


def message_for(op: dict, index: int, sequence: int = 0):
    """The rtnetlink request of one operation, encoded."""
    entry = op["entry"]
    msg_type, msg_flags = _REQUESTS[op["action"]]
    msg = addrmsg()
    msg["family"] = _AF[entry["family"]]
    msg["prefixlen"] = entry["prefixlen"]
    msg["flags"] = entry.get("flags", 0) & SEND_FLAGS & 0xFF
    msg["scope"] = 0
    msg["index"] = index
    attrs: list = [("IFA_LOCAL", entry["address"]), ("IFA_ADDRESS", entry["address"])]
    if entry["family"] == "ipv4" and entry.get("label"):
        attrs.append(("IFA_LABEL", entry["label"]))
    if op["action"] != "remove":
        attrs.append(("IFA_FLAGS", entry.get("flags", 0) & SEND_FLAGS))
        if entry.get("metric"):
            attrs.append(("IFA_RT_PRIORITY", entry["metric"]))
        # A replace without IFA_PROTO sets the protocol to 0: undoing an adoption sends 0 too.
        attrs.append(("IFA_PROTO", entry.get("proto", 0)))
        if entry["family"] == "ipv6":
            # Deprecated (preferred 0) or preferred, valid forever either way.
            preferred = 0 if entry.get("flags", 0) & state.IFA_F_DEPRECATED else INFINITY_LIFE_TIME
            attrs.append(("IFA_CACHEINFO", {"ifa_preferred": preferred, "ifa_valid": INFINITY_LIFE_TIME,
                                            "cstamp": 0, "tstamp": 0}))
    msg["attrs"] = attrs
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = msg_flags
    msg["header"]["sequence_number"] = sequence
    msg["header"]["pid"] = 0
    msg.encode()
    return msg


def parse_error(data: bytes, offset: int, length: int) -> tuple:
    """(errno, extended-ack text or None) of the NLMSG_ERROR message at ``offset``; errno 0 is an acknowledgement."""
    flags = _HEADER.unpack_from(data, offset)[2]
    (error,) = struct.unpack_from("=i", data, offset + _HEADER.size)
    text = None
    if flags & NLM_F_ACK_TLVS:
        request_length = _HEADER.size
        if not flags & NLM_F_CAPPED:
            (request_length,) = struct.unpack_from("=I", data, offset + _HEADER.size + 4)
        position = offset + _HEADER.size + 4 + ((request_length + 3) & ~3)
        end = offset + length
        while position + 4 <= end:
            attr_length, attr_type = struct.unpack_from("=HH", data, position)
            if attr_length < 4:
                break
            if attr_type & 0x3FFF == NLMSGERR_ATTR_MSG:
                text = bytes(data[position + 4:position + attr_length]).split(b"\0")[0].decode("utf-8", "replace")
            position += (attr_length + 3) & ~3
    return -error, text


def _reason(code: int, text: str | None) -> str:
    reason = os.strerror(code)
    return "%s (%s)" % (reason, text) if text else reason


class AddressNetlink:
    """A NETLINK_ROUTE socket for the addresses of the host's interfaces."""

    def __init__(self):
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
            self._sock.bind((0, 0))
            self._sock.settimeout(TIMEOUT)
        except OSError as exc:
            raise state.VipKernelError("cannot open a netlink socket: %s" % exc.strerror, exc.errno) from exc
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
            try:  # shorter acknowledgements, and the kernel's own words in errors
                self._sock.setsockopt(SOL_NETLINK, option, 1)
            except OSError:
                pass
        self._sequence = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ----------------------------------------------------------- interface

    @staticmethod
    def kernel_release() -> tuple:
        return kernel_release()

    @staticmethod
    def index(name: str) -> int | None:
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return None

    def dump(self, index: int) -> list:
        """The addresses of interface ``index``, in the kernel's order."""
        for _attempt in range(DUMP_ATTEMPTS):
            entries, interrupted = self._dump(index)
            if not interrupted:
                return entries
        raise state.VipKernelError("dumping the addresses failed: they kept changing during %d attempts" % DUMP_ATTEMPTS,
                                   errno.EINTR)

    def apply(self, index: int, op: dict) -> None:
        """Carry out one operation; VipKernelError (the kernel's reason) if it is refused."""
        sequence = self._next()
        self._send(message_for(op, index, sequence))
        for data, offset, length, msg_type, _flags in self._replies(sequence):
            if msg_type == NLMSG_ERROR:
                code, text = parse_error(data, offset, length)
                if code:
                    raise state.VipKernelError(_reason(code, text), code)
                return

    # ------------------------------------------------------------ protocol

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _send(self, msg) -> None:
        try:
            self._sock.send(bytes(msg.data))
        except OSError as exc:
            raise state.VipKernelError("sending to the kernel failed: %s" % exc.strerror, exc.errno) from exc

    def _replies(self, sequence: int):
        """Yield (data, offset, length, type, flags) of each reply to ``sequence`` until an error/ack or NLMSG_DONE."""
        while True:
            try:
                data = self._sock.recv(RECV_SIZE)
            except socket.timeout as exc:
                raise state.VipKernelError("the kernel did not answer within %d s" % TIMEOUT, errno.ETIMEDOUT) from exc
            except OSError as exc:
                raise state.VipKernelError("reading from the kernel failed: %s" % exc.strerror, exc.errno) from exc
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, msg_type, flags, seq, dummy = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    break
                if seq == sequence:
                    yield data, offset, length, msg_type, flags
                    if msg_type in (NLMSG_ERROR, NLMSG_DONE):
                        return
                offset += (length + 3) & ~3

    def _dump(self, index: int) -> tuple:
        sequence = self._next()
        request = addrmsg()
        request["family"] = socket.AF_UNSPEC
        request["header"]["type"] = RTM_GETADDR
        request["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
        request["header"]["sequence_number"] = sequence
        request["header"]["pid"] = 0
        request.encode()
        self._send(request)
        entries = []
        interrupted = False
        for data, offset, length, msg_type, flags in self._replies(sequence):
            interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
            if msg_type == NLMSG_ERROR:
                code, text = parse_error(data, offset, length)
                raise state.VipKernelError("dumping the addresses failed: %s" % _reason(code, text), code)
            if msg_type != RTM_NEWADDR:
                continue
            msg = addrmsg(bytes(data[offset:offset + length]))
            msg.decode()
            if msg["index"] == index:
                entries.append(entry_from_message(msg))
        return entries, interrupted


# ------------------------------------------------------------ boot helper

def main(argv: list | None = None) -> int:
    """The boot helper: what the lvs.cluster.vip_address module does, from a systemd unit."""
    parser = argparse.ArgumentParser(
        prog="vip_netlink.py",
        description="Make the addresses marked PROTOCOL on INTERFACE exactly the ADDRESSes (IPv4 /32 labelled "
                    "INTERFACE:<position>, IPv6 /128 nodad), or remove every one of them (absent).")
    parser.add_argument("--interface", required=True)
    parser.add_argument("--protocol", type=int, default=state.DEFAULT_PROTOCOL)
    parser.add_argument("state", choices=state.STATES)
    parser.add_argument("addresses", nargs="*", metavar="ADDRESS")
    args = parser.parse_args(argv)
    try:
        protocol = state.check_protocol(args.protocol)
        desired = state.desired_from_params(args.interface, args.addresses, args.state)
        if not HAS_PYROUTE2:
            raise state.VipError("pyroute2 is not installed for %s" % sys.executable)
        with AddressNetlink() as adapter:
            result = state.converge(adapter, args.interface, desired, protocol, args.state)
    except state.VipError as exc:
        sys.stderr.write("vip_netlink: %s\n" % exc)
        return 1
    for op in result["ops"]:
        sys.stdout.write(state.describe(op, args.interface) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
