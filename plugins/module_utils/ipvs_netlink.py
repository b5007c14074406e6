# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to the kernel's IPVS: generic netlink.

``IPVSNetlink.dump()`` returns the live table in the canonical form of
``ipvs_state``; ``IPVSNetlink.apply(ops)`` carries out operations from its diff.
The table's messages (dumps of services and real servers; add, edit, delete) and
the reads of the sync daemons and the timeouts (``sync_daemons()``, ``timeouts()``)
are encoded and parsed by hand (``ipvs_wire``, byte for byte what pyroute2 makes) on
a raw netlink socket: pyroute2's generic encoder cost more than the kernel's work on
a large table.  Writes go out in batches: many requests in one send, and only the
last asks for an acknowledgement (the kernel answers every refusal anyway).
``apply_sync_daemon(ops)`` and ``set_timeouts()`` go through pyroute2, which has no
wrappers for them: their attributes are declared here (``ipvsmsg``).  Messages avoid the traps of pyroute2's ``IPVSService``/``IPVSDest``
helpers (see LVS-NOTES): "update" maps to DELETE, IPv6 and fwmark services need an
explicit netmask, dumped flags carry IP_VS_SVC_F_HASHED.

pyroute2 is imported on first use only (``pyroute2_api()``): ``import pyroute2``
loads the whole library (~0.3-0.5 s on a quiet host, ~7 s on a loaded UML
director), and the reads and the table (``dump()``, ``apply()``,
``real_server_connections()``, ``sync_daemons()``, ``timeouts()``) never need it,
so ipvs_table, ipvs_info, ipvs_wait, ipvs_service and ipvs_real_server never
import it.  Starting or stopping a sync daemon, setting the timeouts and
``interface_mtu()`` do (ipvs_sync_daemon, ipvs_timeouts when they change something
or look an interface up).  Whether pyroute2 is there, and its version, are
read without importing it (``HAS_PYROUTE2``, ``PYROUTE2_VERSION``).  The modules
still require pyroute2 >= 0.9.5 as documented, table-only runs included
(``ipvs_common.open_ipvs`` fails without it): one requirement for every IPVS
module is simpler to install and to check than one that depends on the options.
"""

from __future__ import annotations

import errno
import functools
import importlib.util
import os
import re
import socket
import struct
import sys
import types

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wire as wire


def _find_pyroute2():
    """The import spec of the pyroute2 package this Python would import (None if none): finding
    it imports nothing."""
    try:
        return importlib.util.find_spec("pyroute2")
    except (ImportError, ValueError):
        return None


_PYROUTE2_SPEC = _find_pyroute2()
# Reported once, by the module, through missing_required_lib.
HAS_PYROUTE2 = _PYROUTE2_SPEC is not None
PYROUTE2_IMPORT_ERROR: str | None = (None if HAS_PYROUTE2 else
                                     "ModuleNotFoundError: No module named 'pyroute2' (for %s)" % sys.executable)

PYROUTE2_MINIMUM = (0, 9, 5)
PYROUTE2_REQUIREMENT = "pyroute2>=0.9.5"


_DIST_INFO = re.compile(r"pyroute2-([0-9][^-]*?)(?:-py[0-9.]+)?\.(?:dist|egg)-info$", re.IGNORECASE)


def _installed_pyroute2() -> str | None:
    """The version of the pyroute2 this Python imports (even one too old to import the
    IPVS parts from), None when there is none or it does not say.

    Read from the name of its distribution's metadata directory beside the package
    (``pyroute2-0.9.7.dist-info``, Debian's ``pyroute2-0.7.2.egg-info``), else from
    importlib.metadata: importing pyroute2 to ask costs more than the whole module run.
    """
    if _PYROUTE2_SPEC is None:
        return None
    locations = list(_PYROUTE2_SPEC.submodule_search_locations or [])
    if locations:
        try:
            found = {m.group(1) for m in map(_DIST_INFO.match, os.listdir(os.path.dirname(locations[0]))) if m}
        except OSError:
            found = set()
        if len(found) == 1:
            return found.pop()
    try:
        from importlib.metadata import version as distribution_version

        return distribution_version("pyroute2")
    except Exception:
        return None


def version_numbers(text: str) -> tuple | None:
    """``"0.9.4"`` -> (0, 9, 4); ``"0.9.5.post1"`` and ``"0.9.5rc1"`` count as 0.9.5; None if no version."""
    match = re.match(r"([0-9]+)\.([0-9]+)(?:\.([0-9]+))?", text.strip())
    if match is None:
        return None
    return tuple(int(part or 0) for part in match.groups())


def pyroute2_too_old(found: str | None) -> str | None:
    """The error for a pyroute2 below PYROUTE2_MINIMUM, naming both versions; None when
    it will do, or when its version cannot be told (the import then decides)."""
    numbers = version_numbers(found) if found else None
    if numbers is None or numbers >= PYROUTE2_MINIMUM:
        return None
    return ("pyroute2 %s is installed for %s, but the lvs.cluster IPVS modules need %s (older releases "
            "read IPVS dumps wrongly, or lack the IPVS API); upgrade it on the managed host, for example "
            "with pip install '%s'" % (found, sys.executable, PYROUTE2_REQUIREMENT, PYROUTE2_REQUIREMENT))


PYROUTE2_VERSION = _installed_pyroute2()


def _ipvsmsg_class(base, nla):
    """The ``ipvsmsg`` class of ``pyroute2_api()``, built on pyroute2's once it is imported."""

    class ipvsmsg(base):
        """pyroute2's IPVS message, with the daemon and timeout attributes it leaves as "hex".

        From include/uapi/linux/ip_vs.h and ip_vs_daemon_policy in net/netfilter/ipvs/ip_vs_ctl.c.
        pyroute2 caches a compiled nla_map on the class (nlmsg_base's private attributes),
        and a subclass inherits its parent's cache: reset it so this map is compiled.
        """

        _nlmsg_base__compiled_nla = False
        _nlmsg_base__t_nla_map = None
        _nlmsg_base__r_nla_map = None

        nla_map = (
            ("IPVS_CMD_ATTR_UNSPEC", "none"),
            ("IPVS_CMD_ATTR_SERVICE", "service"),
            ("IPVS_CMD_ATTR_DEST", "dest"),
            ("IPVS_CMD_ATTR_DAEMON", "daemon"),
            ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
            ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
            ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
        )

        class daemon(nla):
            prefix = "IPVS_DAEMON_ATTR_"
            nla_map = (
                ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
                ("IPVS_DAEMON_ATTR_STATE", "uint32"),  # IP_VS_STATE_MASTER 1, IP_VS_STATE_BACKUP 2
                ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
                ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
                ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
                ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),  # network byte order
                ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
                # Host byte order, whatever nla_get_be16 in ip_vs_genl_new_daemon suggests:
                # get_mcast_sockaddr applies htons() to it, and libipvs (ipvsadm) sends a u16.
                ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
                ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
            )

    return ipvsmsg


@functools.cache
def pyroute2_api() -> types.SimpleNamespace:
    """The pyroute2 names the adapter uses, imported on first use and kept: ``IPRoute``,
    ``NetlinkError``, ``NetlinkRequest``, ``genl_ipvs`` (pyroute2.netlink.generic.ipvs)
    and ``ipvsmsg`` (its IPVS message with the daemon and timeout attributes).

    Only the sync daemon and timeout writes and the interface lookup call it; an
    IPVSDependencyError says when pyroute2 cannot be imported.
    """
    try:
        from pyroute2 import IPRoute
        from pyroute2.netlink import nla
        from pyroute2.netlink.exceptions import NetlinkError
        from pyroute2.netlink.generic import ipvs as genl_ipvs
        from pyroute2.netlink.nlsocket import NetlinkRequest
    except ImportError as exc:
        raise IPVSDependencyError(
            "pyroute2 cannot be imported for %s (%s); starting and stopping sync daemons, setting timeouts and "
            "interface lookups need %s" % (sys.executable, error_text(exc), PYROUTE2_REQUIREMENT)) from exc
    return types.SimpleNamespace(IPRoute=IPRoute, NetlinkError=NetlinkError, NetlinkRequest=NetlinkRequest,
                                 genl_ipvs=genl_ipvs, ipvsmsg=_ipvsmsg_class(genl_ipvs.ipvsmsg, nla))


SYNC_STATE = {"master": 1, "backup": 2}
STOP_ACK_TIMEOUT = 3.0  # seconds; see IPVSNetlink.apply_sync_daemon
_SYNC_ROLE = {v: k for k, v in SYNC_STATE.items()}
_TIMEOUT_ATTRS = {"tcp": "IPVS_CMD_ATTR_TIMEOUT_TCP", "tcp_fin": "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN",
                  "udp": "IPVS_CMD_ATTR_TIMEOUT_UDP"}

_AF = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
_FAMILY = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
_PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
_PROTO_NAME = {v: k for k, v in _PROTO.items()}
_FWD_NAME = {v: k for k, v in state.FORWARDING.items()}

_COMMANDS = {
    "add_service": ("IPVS_CMD_NEW_SERVICE", True),
    "edit_service": ("IPVS_CMD_SET_SERVICE", True),
    "delete_service": ("IPVS_CMD_DEL_SERVICE", False),
    "add_real_server": ("IPVS_CMD_NEW_DEST", False),
    "edit_real_server": ("IPVS_CMD_SET_DEST", False),
    "delete_real_server": ("IPVS_CMD_DEL_DEST", False),
}

# Requests per send.  Measured in a UML kernel: 200 and 400 work; 700 and more never
# get all their acknowledgements and pyroute2 waits for ever.  Keep well below.
BATCH_SIZE = 200

_STATS = (
    ("connections", "IPVS_STATS_ATTR_CONNS"),
    ("in_packets", "IPVS_STATS_ATTR_INPKTS"),
    ("out_packets", "IPVS_STATS_ATTR_OUTPKTS"),
    ("in_bytes", "IPVS_STATS_ATTR_INBYTES"),
    ("out_bytes", "IPVS_STATS_ATTR_OUTBYTES"),
)
_RATES = (
    ("connections_per_second", "IPVS_STATS_ATTR_CPS"),
    ("in_packets_per_second", "IPVS_STATS_ATTR_INPPS"),
    ("out_packets_per_second", "IPVS_STATS_ATTR_OUTPPS"),
    ("in_bytes_per_second", "IPVS_STATS_ATTR_INBPS"),
    ("out_bytes_per_second", "IPVS_STATS_ATTR_OUTBPS"),
)


class IPVSError(Exception):
    """Talking to the kernel's IPVS failed.  ``str()`` names the object and the reason;
    ``op`` is the operation concerned (None for a read), ``code`` the errno if there is one."""

    def __init__(self, message: str, op: dict | None = None, code: int | None = None):
        super().__init__(message)
        self.op = op
        self.code = code


class IPVSKernelError(IPVSError):
    """The kernel refused a request, or IPVS is not there."""


class IPVSEncodeError(IPVSError):
    """pyroute2 could not encode a request (a value the model let through): nothing was sent."""


class IPVSDependencyError(IPVSError):
    """pyroute2, needed for the sync daemon and timeout writes and interface lookups, cannot be imported."""


class IPVSSocketError(IPVSError):
    """The netlink conversation itself failed (a write, a read, or anything raised in between).

    Which requests the kernel carried out is unknown, and the socket is not to be
    trusted any more: read the state back through a new one.
    """


def _netmask_attr(family: str, prefix: int) -> str:
    """IPVS_SVC_ATTR_NETMASK carries a dotted mask for IPv4 and a prefix length for IPv6.

    pyroute2 declares the attribute as ip4addr, so an IPv6 prefix length is passed as
    the dotted form of its 32-bit value in host byte order (the kernel reads it raw).
    """
    if family == "ipv4":
        return socket.inet_ntoa(struct.pack("!I", (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
    return socket.inet_ntoa(struct.pack("=I", prefix))


def _prefix_from_attr(family: str, value: str) -> int:
    raw = socket.inet_aton(value)
    if family == "ipv4":
        return bin(struct.unpack("!I", raw)[0]).count("1")
    return struct.unpack("=I", raw)[0]


def _scheduler_flag_bits(service: dict) -> int:
    bits = 0
    if service["persistence_timeout"]:
        bits |= state.FLAG_PERSISTENT
    if service["one_packet"]:
        bits |= state.FLAG_ONEPACKET
    for flag in service["scheduler_flags"]:
        bits |= state.SCHED_FLAG_BITS[flag]
    return bits


def _service_attrs(service: dict, full: bool) -> dict:
    attrs: list[tuple[str, object]] = [("IPVS_SVC_ATTR_AF", _AF[service["family"]])]
    if service["fwmark"]:
        attrs.append(("IPVS_SVC_ATTR_FWMARK", service["fwmark"]))
    else:
        attrs += [
            ("IPVS_SVC_ATTR_PROTOCOL", _PROTO[service["protocol"]]),
            ("IPVS_SVC_ATTR_ADDR", service["address"]),
            ("IPVS_SVC_ATTR_PORT", service["port"]),
        ]
    if full:
        attrs += [
            ("IPVS_SVC_ATTR_SCHED_NAME", service["scheduler"]),
            ("IPVS_SVC_ATTR_FLAGS", {"flags": _scheduler_flag_bits(service), "mask": 0xFFFFFFFF}),
            ("IPVS_SVC_ATTR_TIMEOUT", service["persistence_timeout"]),
            ("IPVS_SVC_ATTR_NETMASK", _netmask_attr(service["family"], service["persistence_netmask"])),
        ]
    return {"attrs": attrs}


def _dest_attrs(real_server: dict, family: str, full: bool) -> dict:
    attrs: list[tuple[str, object]] = [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", _AF[family]),
        ("IPVS_DEST_ATTR_ADDR", real_server["address"]),
        ("IPVS_DEST_ATTR_PORT", real_server["port"]),
    ]
    if full:
        attrs += [
            ("IPVS_DEST_ATTR_FWD_METHOD", state.FORWARDING[real_server["forwarding"]]),
            ("IPVS_DEST_ATTR_WEIGHT", real_server["weight"]),
            ("IPVS_DEST_ATTR_U_THRESH", real_server["upper_threshold"]),
            ("IPVS_DEST_ATTR_L_THRESH", real_server["lower_threshold"]),
        ]
    return {"attrs": attrs}


def _code(exc: BaseException) -> int | None:
    """The errno of a netlink error (``code``) or a socket error (``errno``), if it has one."""
    for attr in ("code", "errno"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value != 0:
            return abs(value)
    return None


def error_text(exc: BaseException) -> str:
    """The errno text of a netlink or socket error; type and text of anything else."""
    code = _code(exc)
    if code is not None:
        return os.strerror(code)
    text = str(exc)
    if isinstance(exc, OSError) and text:
        return text
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def unexpected(exc: BaseException) -> bool:
    """True for a failure nobody foresaw (a bug, not a refusal or a socket error): its
    traceback is worth keeping.  An IPVSError is judged by the exception it wraps."""
    if isinstance(exc, IPVSError):
        exc = exc.__cause__ or exc
    return not isinstance(exc, (IPVSError, OSError)) and _code(exc) is None


def _subject(op: dict) -> str:
    """``add real server 192.0.2.4:80 of service tcp/192.0.2.13:80``: what an operation is about."""
    if "daemon" in op:
        return state.describe_sync_daemon(op)
    sid = state.service_id(op["service"])
    if "real_server" in op:
        return "%s %s of service %s" % (op["action"].replace("_", " "), state.real_server_id(op["real_server"]), sid)
    return "%s %s" % (op["action"].replace("_", " "), sid)


def _encode(msg, op: dict) -> None:
    """Encode ``msg`` now, so that a value pyroute2 refuses fails before anything is sent."""
    try:
        msg.encode()
    except Exception as exc:  # OSError from inet_pton, struct.error, UnicodeEncodeError, ...
        raise IPVSEncodeError("%s: pyroute2 cannot encode the request (%s)" % (_subject(op), error_text(exc)),
                              op=op) from exc


def message_for(op: dict, code: int) -> str:
    """The kernel's refusal of ``op``, in words that name the object (and option) concerned."""
    reason = os.strerror(code)
    svc = op["service"]
    if op["action"] in ("add_service", "edit_service") and code == errno.ENOENT:
        return ("scheduler: the kernel has no IPVS scheduler %r for service %s (module ip_vs_%s missing): %s"
                % (svc["scheduler"], state.service_id(svc), svc["scheduler"], reason))
    return "%s: %s" % (_subject(op), reason)


def _daemon_attrs(daemon: dict, full: bool) -> dict:
    """IPVS_CMD_ATTR_DAEMON of a NEW_DAEMON (``full``) or DEL_DAEMON request."""
    attrs: list[tuple[str, object]] = [("IPVS_DAEMON_ATTR_STATE", SYNC_STATE[daemon["role"]])]
    if full:
        group = "IPVS_DAEMON_ATTR_MCAST_GROUP6" if ":" in daemon["mcast_group"] else "IPVS_DAEMON_ATTR_MCAST_GROUP"
        attrs += [
            ("IPVS_DAEMON_ATTR_MCAST_IFN", daemon["interface"]),
            ("IPVS_DAEMON_ATTR_SYNC_ID", daemon["syncid"]),
            (group, daemon["mcast_group"]),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", daemon["mcast_port"]),
            ("IPVS_DAEMON_ATTR_MCAST_TTL", daemon["mcast_ttl"]),
        ]
        if daemon.get("maxlen") is not None:
            attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", daemon["maxlen"]))
    return {"attrs": attrs}


def _daemon_from_raw(raw: dict) -> dict:
    """A sync daemon as ipvs_state describes it, from ipvs_wire.parse_daemon's fields."""
    return {
        "role": _SYNC_ROLE.get(raw["state"], "unknown"),
        "interface": raw["interface"],
        "syncid": raw["syncid"],
        "mcast_group": raw["group"] or state.SYNC_DEFAULT_GROUP,
        "mcast_port": raw["port"],
        "mcast_ttl": raw["ttl"],
        "maxlen": raw["maxlen"],
    }


def sync_message_for(op: dict, code: int) -> str:
    """The kernel's refusal of a sync daemon operation, naming the parameter where one is to blame."""
    reason = os.strerror(code)
    daemon = op["daemon"]
    if op["action"] == "start_sync_daemon":
        if code == errno.ENODEV:
            return "interface: the kernel finds no interface %r: %s" % (daemon["interface"], reason)
        if code == errno.EADDRNOTAVAIL:
            return ("interface: %s has no IPv4 address for the %s sync daemon to send from: %s"
                    % (daemon["interface"], daemon["role"], reason))
        if code == errno.EEXIST:
            return "role: a %s sync daemon is already running: %s" % (daemon["role"], reason)
    return "%s: %s" % (state.describe_sync_daemon(op), reason)


class KernelRefused(Exception):
    """An NLMSG_ERROR answer on the table's own socket; ``code`` is the errno."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # refusals without the request echoed back
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 4 << 20  # bytes; room for the refusals of whole batches
READ_SIZE = 65536  # a netlink dump datagram is at most 32 KiB


def open_table_socket():
    """A raw generic netlink socket for the table's requests (replaced by a fake in unit tests)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    try:
        sock.bind((0, 0))
        for level, option, value in ((socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER),
                                     (socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER),
                                     (SOL_NETLINK, NETLINK_CAP_ACK, 1)):
            try:
                sock.setsockopt(level, option, value)
            except OSError:  # not root, or an old kernel: the defaults work, with smaller batches
                pass
    except BaseException:
        sock.close()
        raise
    return sock


def open_ipvs_socket():
    """pyroute2's IPVSSocket, unbound, for the sync daemon and timeout writes (replaced by a fake in unit tests)."""
    return pyroute2_api().genl_ipvs.IPVSSocket()


class TableSocket:
    """The table's requests on a raw netlink socket, encoded and parsed by ipvs_wire.

    ``dump(command, attrs, parse)`` reads a dump; ``batch(requests)`` writes many
    requests at once.  Only the last request of a batch asks for an acknowledgement:
    the kernel answers every refused request anyway (netlink_rcv_skb), so one read
    per batch collects the refusals, and the last answer says the batch is done.
    """

    def __init__(self, sock):
        self.sock = sock
        self.seq = 0
        self.family = 0

    def close(self) -> None:
        self.sock.close()

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def resolve(self) -> int:
        """The IPVS family id (CTRL_CMD_GETFAMILY); KernelRefused(ENOENT) without IPVS."""
        seq = self._next()
        self.sock.send(wire.getfamily_request(seq))
        found = None
        while True:  # each datagram the kernel sends back, until the one awaited
            data = self.sock.recv(READ_SIZE)
            for kind, _flags, mseq, offset, end in wire.messages(data):
                if mseq != seq:
                    continue
                if kind == wire.NLMSG_ERROR:
                    code = wire.error_code(data, offset)
                    if code:
                        raise KernelRefused(code)
                    if found is None:
                        raise KernelRefused(errno.ENOENT)
                    self.family = found
                    return found
                found = wire.family_id(data, offset, end)

    def dump(self, command: int, attrs: bytes, parse, flags: int = wire.NLM_F_DUMP) -> list:
        """``parse(data, offset, end)`` of every answer to a dump request (None ones left out);
        with ``flags`` NLM_F_ACK, of the answer to a plain GET request (GET_CONFIG has no dump)."""
        seq = self._next()
        self.sock.send(wire.message(self.family, command, attrs, wire.NLM_F_REQUEST | flags, seq))
        result: list = []
        while True:  # each datagram the kernel sends back, until the one awaited
            data = self.sock.recv(READ_SIZE)
            for kind, _flags, mseq, offset, end in wire.messages(data):
                if mseq != seq:
                    continue
                if kind == wire.NLMSG_DONE:
                    return result
                if kind == wire.NLMSG_ERROR:
                    code = wire.error_code(data, offset)
                    if code:
                        raise KernelRefused(code)
                    return result
                item = parse(data, offset, end)
                if item is not None:
                    result.append(item)

    def batch(self, requests: list) -> list:
        """Write ``requests`` ([(bytes, flags)]) in one send; the errno of each (0: carried out)."""
        data = bytearray()
        first = self.seq + 1
        last = len(requests) - 1
        for index, (encoded, flags) in enumerate(requests):
            offset = len(data)
            data += encoded
            data += wire.pad(len(encoded))
            wire.set_header(data, offset, flags | (wire.NLM_F_ACK if index == last else 0), self._next())
        self.sock.send(bytes(data))
        codes = [0] * len(requests)
        while True:
            answer = self.sock.recv(READ_SIZE)
            for kind, _flags, mseq, offset, _end in wire.messages(answer):
                if kind != wire.NLMSG_ERROR or not first <= mseq <= self.seq:
                    continue
                codes[mseq - first] = wire.error_code(answer, offset)
                if mseq == self.seq:
                    return codes


class IPVSNetlink:
    """The kernel's IPVS over generic netlink.

    The table (dump, apply) and the reads of the sync daemons and the timeouts go
    over a raw netlink socket with messages encoded and parsed by ipvs_wire; the
    writes of the sync daemons and the timeouts over a pyroute2 ``IPVSSocket``,
    opened (and pyroute2 imported) the first time they are asked for.
    """

    def __init__(self):
        self._sock = None
        try:
            self._table = TableSocket(open_table_socket())
        except Exception as exc:  # pragma: no cover - depends on the kernel
            raise IPVSKernelError("cannot open a netlink socket: %s" % error_text(exc), code=_code(exc)) from exc
        try:
            self._table.resolve()
        except Exception as exc:
            self._table.close()
            raise IPVSKernelError(
                "the kernel has no IPVS (generic netlink family %s not found: %s); "
                "load it with 'modprobe ip_vs'" % (wire.GENL_NAME, error_text(exc)), code=_code(exc)) from exc

    def _pyroute2(self):
        """pyroute2's IPVS socket (for the sync daemon and timeout writes), opened once."""
        if self._sock is None:
            api = pyroute2_api()
            try:
                sock = open_ipvs_socket()
            except Exception as exc:  # pragma: no cover - depends on the kernel
                raise IPVSKernelError("cannot open a netlink socket: %s" % error_text(exc), code=_code(exc)) from exc
            try:
                sock.bind(api.genl_ipvs.GENL_NAME, api.ipvsmsg)
            except Exception as exc:
                sock.close()
                raise IPVSKernelError(
                    "the kernel has no IPVS (generic netlink family %s not found: %s); "
                    "load it with 'modprobe ip_vs'" % (api.genl_ipvs.GENL_NAME, error_text(exc))) from exc
            self._sock = sock
        return self._sock

    def close(self) -> None:
        for sock in (self._sock, getattr(self, "_table", None)):
            try:
                if sock is not None:
                    sock.close()
            except Exception:  # closing a socket that failed: nothing more to lose
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ---------------------------------------------------------------- read

    def _msg(self, command: str, attrs: list):
        api = pyroute2_api()
        msg = api.ipvsmsg()
        msg["cmd"] = getattr(api.genl_ipvs, command)
        msg["version"] = api.genl_ipvs.GENL_VERSION
        msg["attrs"] = attrs
        return msg

    def _table_dump(self, command: int, attrs: bytes, parse, what: str, flags: int = wire.NLM_F_DUMP) -> list:
        try:
            return self._table.dump(command, attrs, parse, flags)
        except KernelRefused as exc:
            raise IPVSKernelError("dumping %s failed: %s" % (what, os.strerror(exc.code)), code=exc.code) from exc
        except Exception as exc:  # a socket error, or an answer that does not parse
            raise IPVSSocketError("dumping %s failed: %s" % (what, error_text(exc)), code=_code(exc)) from exc

    def dump(self, stats: bool = False) -> list:
        """The live table: a list of canonical services, each with its real servers.

        With ``stats``, services and real servers also carry ``stats`` and ``rates``
        (and real servers their connection counts), as ``ipvsadm -Ln --stats --rate`` shows.
        """
        def parse(data, offset, end):
            return wire.parse_service(data, offset, end, stats)

        table = []
        for raw in self._table_dump(wire.CMD_GET_SERVICE, b"", parse, "the IPVS table"):
            service = _service_from_raw(raw)
            if stats:
                service["stats"], service["rates"] = _split_counters(raw)
            service["real_servers"] = self._dump_real_servers(service, stats)
            table.append(service)
        return state.sort_table(table)

    def _service_from_nla(self, nla) -> dict:
        """A service as pyroute2 decodes it (the unit tests read what it encodes back this way)."""
        family = _FAMILY[nla.get_attr("IPVS_SVC_ATTR_AF")]
        flags = nla.get_attr("IPVS_SVC_ATTR_FLAGS")
        bits = flags["flags"] if flags else 0
        fwmark = nla.get_attr("IPVS_SVC_ATTR_FWMARK") or None
        persistent = bool(bits & state.FLAG_PERSISTENT)
        service = {
            "family": family,
            "protocol": None if fwmark else _PROTO_NAME.get(nla.get_attr("IPVS_SVC_ATTR_PROTOCOL")),
            "address": None if fwmark else str(nla.get_attr("IPVS_SVC_ATTR_ADDR")),
            "port": None if fwmark else nla.get_attr("IPVS_SVC_ATTR_PORT"),
            "fwmark": fwmark,
            "scheduler": nla.get_attr("IPVS_SVC_ATTR_SCHED_NAME"),
            "scheduler_flags": sorted(name for name, bit in state.SCHED_FLAG_BITS.items() if bits & bit),
            "persistence_timeout": nla.get_attr("IPVS_SVC_ATTR_TIMEOUT") if persistent else 0,
            "persistence_netmask": (_prefix_from_attr(family, nla.get_attr("IPVS_SVC_ATTR_NETMASK"))
                                    if persistent else state.full_prefix(family)),
            "one_packet": bool(bits & state.FLAG_ONEPACKET),
        }
        if service["address"]:
            service["address"] = str(state.ipaddress.ip_address(service["address"]))
        return service

    def _dump_real_servers(self, service: dict, stats: bool) -> list:
        attrs = wire.nla(wire.CMD_ATTR_SERVICE, wire.service_attrs(service, full=False))
        what = "the real servers of %s" % state.service_id(service)
        default_af = _AF[service["family"]]

        def parse(data, offset, end):
            return wire.parse_dest(data, offset, end, default_af, stats)

        real_servers = []
        for raw in self._table_dump(wire.CMD_GET_DEST, attrs, parse, what):
            real_server = {
                "address": raw["address"],
                "port": raw["port"],
                "weight": raw["weight"],
                "forwarding": _FWD_NAME.get(raw["forwarding"] & 0x7, "local"),
                "upper_threshold": raw["upper_threshold"],
                "lower_threshold": raw["lower_threshold"],
            }
            if stats:
                real_server["active_connections"] = raw["active_connections"]
                real_server["inactive_connections"] = raw["inactive_connections"]
                real_server["persistent_connections"] = raw["persistent_connections"]
                real_server["stats"], real_server["rates"] = _split_counters(raw)
            real_servers.append(real_server)
        return state.sort_real_servers(real_servers)

    def real_server_connections(self, service: dict, address: str, port: int) -> dict | None:
        """Active, inactive and persistent connection counts of one real server (None if absent)."""
        for real_server in self._dump_real_servers(service, stats=True):
            if real_server["address"] == address and real_server["port"] == port:
                return {name: real_server[name]
                        for name in ("active_connections", "inactive_connections", "persistent_connections")}
        return None

    def sync_daemons(self) -> list:
        """The running connection synchronisation daemons (master first), as ipvs_state describes them."""
        daemons = [_daemon_from_raw(raw)
                   for raw in self._table_dump(wire.CMD_GET_DAEMON, b"", wire.parse_daemon, "the IPVS sync daemons")]
        return sorted(daemons, key=lambda d: SYNC_STATE.get(d["role"], 9))

    def timeouts(self) -> dict:
        """The connection timeouts in seconds: {"tcp", "tcp_fin", "udp"}."""
        found = self._table_dump(wire.CMD_GET_CONFIG, b"", wire.parse_config, "the IPVS timeouts", wire.NLM_F_ACK)
        if not found:
            raise IPVSKernelError("dumping the IPVS timeouts failed: the kernel sent none")
        return found[0]

    @staticmethod
    def interface_mtu(name: str) -> int | None:
        """The MTU of network interface ``name``, or None when the host has no such interface."""
        api = pyroute2_api()
        try:
            with api.IPRoute() as ipr:
                links = ipr.link("get", ifname=name)
        except api.NetlinkError as exc:
            if abs(exc.code) == errno.ENODEV:
                return None
            raise IPVSKernelError("reading interface %s failed: %s" % (name, error_text(exc)), code=_code(exc)) from exc
        except Exception as exc:
            raise IPVSSocketError("reading interface %s failed: %s" % (name, error_text(exc)), code=_code(exc)) from exc
        return links[0].get_attr("IFLA_MTU") if links else None

    # --------------------------------------------------------------- write

    def _ack(self, msg, timeout: float | None = None) -> bool:
        """Send one request and wait for its acknowledgement; False if none came within ``timeout``."""
        sock = self._pyroute2()
        if timeout is None:
            list(sock.nlm_request(msg, msg_type=sock.prid, msg_flags=wire.NLM_F_REQUEST | wire.NLM_F_ACK))
            return True
        msg["header"]["type"] = sock.prid
        msg["header"]["flags"] = wire.NLM_F_REQUEST | wire.NLM_F_ACK
        return sock._run_with_cleanup(_one, sock.asyncore, msg, timeout)

    def _daemon_request(self, op: dict):
        start = op["action"] == "start_sync_daemon"
        try:
            msg = self._msg("IPVS_CMD_NEW_DAEMON" if start else "IPVS_CMD_DEL_DAEMON",
                            [("IPVS_CMD_ATTR_DAEMON", _daemon_attrs(op["daemon"], full=start))])
        except Exception as exc:
            raise IPVSEncodeError("%s: cannot build the request (%s)" % (_subject(op), error_text(exc)), op=op) from exc
        _encode(msg, op)
        return msg

    def apply_sync_daemon(self, ops: list) -> None:
        """Stop and start sync daemons, one request each; an IPVSError names the first failure.

        Every request is built and encoded before the first is sent, so a value pyroute2
        refuses (IPVSEncodeError) stops nothing.  A daemon stopped before its kernel
        thread first ran makes kthread_stop() return -EINTR, for which netlink sends no
        acknowledgement at all (netlink_rcv_skb): a stop therefore waits STOP_ACK_TIMEOUT
        at most, then reads the daemons to see whether it worked.
        """
        netlink_error = pyroute2_api().NetlinkError  # an IPVSDependencyError before anything is built
        requests = [self._daemon_request(op) for op in ops]
        for op, msg in zip(ops, requests):
            start = op["action"] == "start_sync_daemon"
            try:
                acked = self._ack(msg, timeout=None if start else STOP_ACK_TIMEOUT)
            except netlink_error as exc:
                code = abs(exc.code)
                raise IPVSKernelError(sync_message_for(op, code), op=op, code=code) from exc
            except Exception as exc:
                raise IPVSSocketError("%s failed: %s" % (_subject(op), error_text(exc)), op=op, code=_code(exc)) from exc
            if not acked and any(d["role"] == op["daemon"]["role"] for d in self.sync_daemons()):
                raise IPVSKernelError("%s: the kernel did not answer and the daemon still runs"
                                      % state.describe_sync_daemon(op), op=op, code=errno.ETIMEDOUT)

    def set_timeouts(self, timeouts: dict) -> None:
        """Set the timeouts given (seconds, each above 0); those not given stay as they are."""
        what = "setting the IPVS timeouts %s" % ", ".join("%s=%s" % item for item in timeouts.items())
        netlink_error = pyroute2_api().NetlinkError
        msg = self._msg("IPVS_CMD_SET_CONFIG", [(_TIMEOUT_ATTRS[name], value) for name, value in timeouts.items()])
        try:
            msg.encode()
        except Exception as exc:
            raise IPVSEncodeError("%s: pyroute2 cannot encode the request (%s)" % (what, error_text(exc))) from exc
        try:
            self._ack(msg)
        except netlink_error as exc:
            raise IPVSKernelError("%s failed: %s" % (what, error_text(exc)), code=_code(exc)) from exc
        except Exception as exc:
            raise IPVSSocketError("%s failed: %s" % (what, error_text(exc)), code=_code(exc)) from exc

    def _request(self, op: dict):
        """The request of ``op`` as a pyroute2 message and its flags: what ``encode_request``
        writes by hand, byte for byte (the unit tests compare them)."""
        command, full = _COMMANDS[op["action"]]
        svc = op["service"]
        attrs = [("IPVS_CMD_ATTR_SERVICE", _service_attrs(svc, full=full))]
        if "real_server" in op:
            full_dest = op["action"] != "delete_real_server"
            attrs.append(("IPVS_CMD_ATTR_DEST", _dest_attrs(op["real_server"], svc["family"], full_dest)))
        msg = self._msg(command, attrs)
        flags = wire.NLM_F_REQUEST | wire.NLM_F_ACK
        if op["action"].startswith("add"):
            flags |= wire.NLM_F_CREATE | wire.NLM_F_EXCL
        return msg, flags

    def _encoded(self, op: dict) -> tuple:
        """The request of ``op`` encoded (bytes, flags): IPVSEncodeError if a value cannot be."""
        try:
            return encode_request(op, self._table.family)
        except Exception as exc:  # OSError from inet_pton, struct.error, UnicodeEncodeError, ...
            raise IPVSEncodeError("%s: pyroute2 cannot encode the request (%s)" % (_subject(op), error_text(exc)),
                                  op=op) from exc

    def apply(self, ops: list) -> None:
        """Carry out ``ops`` in order, in batches.

        Every request is encoded before the first batch is sent, so a value that
        cannot be encoded (IPVSEncodeError) changes nothing.  Raises IPVSKernelError for
        the first operation the kernel refused (the others of its batch have been
        carried out), IPVSSocketError when a batch could not be sent or its answers not
        read (what the kernel did of it is unknown); the caller restores the table.
        """
        requests = [(op, self._encoded(op)) for op in ops]
        for start in range(0, len(requests), BATCH_SIZE):
            failures = self._send_batch(requests[start:start + BATCH_SIZE])
            if failures:
                op, code = failures[0]
                raise IPVSKernelError(message_for(op, code), op=op, code=code)

    def _send_batch(self, batch: list) -> list:
        """Send ``batch`` ([(op, (bytes, flags))]) in one write, then read the answers.

        Returns [(op, errno)] for the operations the kernel refused, in order.
        """
        try:
            codes = self._table.batch([pair[1] for pair in batch])
        except Exception as exc:
            first = batch[0][0]
            raise IPVSSocketError("sending %d IPVS requests (%s first) failed: %s"
                                  % (len(batch), _subject(first), error_text(exc)), op=first, code=_code(exc)) from exc
        return [(pair[0], code) for pair, code in zip(batch, codes) if code]


def read_table(program: str, stats: bool = False) -> list | None:
    """The live table (with its counters when ``stats``) for a long-running program.

    None when it cannot be read, and why on stderr as ``program: error``: the
    program carries on and looks again (the metrics writer exports ipvs_up 0,
    the announcer announces nothing).
    """
    try:
        with IPVSNetlink() as ipvs:
            return ipvs.dump(stats=stats)
    except IPVSError as exc:
        sys.stderr.write("%s: %s\n" % (program, exc))
        sys.stderr.flush()
        return None


_ACTION_WIRE = {action: (command, full_service, full_dest, wire.NLM_F_REQUEST | extra)
                for action, (command, full_service, full_dest, extra) in wire.ACTIONS.items()}


def encode_request(op: dict, family_id: int) -> tuple:
    """(bytes, flags) of the request that carries out ``op`` (sequence number 0, no NLM_F_ACK)."""
    command, full_service, full_dest, flags = _ACTION_WIRE[op["action"]]
    svc = op["service"]
    attrs = wire.nla(wire.CMD_ATTR_SERVICE, wire.service_attrs(
        svc, full_service, _scheduler_flag_bits(svc) if full_service else 0))
    if full_dest is not None:
        real_server = op["real_server"]
        attrs += wire.nla(wire.CMD_ATTR_DEST, wire.dest_attrs(
            real_server, svc["family"], full_dest, state.FORWARDING[real_server["forwarding"]] if full_dest else 0))
    return wire.message(family_id, command, attrs, flags), flags


def _service_from_raw(raw: dict) -> dict:
    """A canonical service from ipvs_wire.parse_service's fields."""
    family = _FAMILY[raw["af"]]
    bits = raw["flags"]
    fwmark = raw["fwmark"] or None
    persistent = bool(bits & state.FLAG_PERSISTENT)
    netmask = state.full_prefix(family)
    if persistent and raw["netmask"] is not None:
        netmask = _prefix_from_attr(family, socket.inet_ntoa(raw["netmask"]))
    return {
        "family": family,
        "protocol": None if fwmark else _PROTO_NAME.get(raw["protocol"]),
        "address": None if fwmark else raw["address"],
        "port": None if fwmark else raw["port"],
        "fwmark": fwmark,
        "scheduler": raw["scheduler"],
        "scheduler_flags": sorted(name for name, bit in state.SCHED_FLAG_BITS.items() if bits & bit),
        "persistence_timeout": raw["timeout"] if persistent else 0,
        "persistence_netmask": netmask,
        "one_packet": bool(bits & state.FLAG_ONEPACKET),
    }


def _split_counters(raw: dict) -> tuple:
    """(stats, rates) of a parsed service or real server, as ipvs_info returns them."""
    found = raw["counters"] or {}
    return ({name: found.get(name, 0) for name, _attr in _STATS}, {name: found.get(name, 0) for name, _attr in _RATES})


async def _one(core, msg, timeout: float) -> bool:
    """Send ``msg``; True once acknowledged, False if nothing came in ``timeout`` seconds."""
    import asyncio  # ~0.1 s: only a sync daemon's stop needs it

    request = pyroute2_api().NetlinkRequest(core, msg)
    await request.prepare()
    core.send(request.msg.data)

    async def acknowledged():
        async for _reply in request.response():
            pass

    try:
        await asyncio.wait_for(acknowledged(), timeout)
    except asyncio.TimeoutError:
        return False
    return True
