# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's side of IPVS generic netlink, in memory, under the REAL adapter.

``FakeKernel`` stands in for the kernel, ``FakeTableSocket`` for the raw netlink
socket of the table (dumps, batched writes: bytes the adapter encodes by hand, see
ipvs_wire) and ``FakeSocket`` for pyroute2's ``IPVSSocket`` (sync daemons,
timeouts): the modules run the real ``IPVSNetlink``, and the fake kernel decodes
every request's bytes with pyroute2's message classes before it acts on them, as
the kernel parses a request.  Every answer (dumps of services, real servers, sync
daemons, timeouts; acknowledgements and refusals) is encoded by the fake kernel
with pyroute2 and parsed by the adapter from those bytes.  So whatever the
encoders refuse fails here as it fails on a host (``OSError`` from ``inet_pton``
and the like), and the dump parsers read real wire data.  As netlink_rcv_skb()
does, the table socket acknowledges a request only when it asks (NLM_F_ACK), and
answers every refusal.

No socket is opened and no kernel is needed.  The kernel's answers follow
net/netfilter/ipvs/ip_vs_ctl.c: EEXIST, ESRCH, ENOENT (scheduler, real server),
EINVAL for a NEW/SET request without sched, flags, timeout and netmask.

Faults to inject (each fires once, then the socket works again):

* ``refuse(op) -> errno``: the kernel refuses the operation (``op`` as ipvs_state
  describes it, rebuilt from the decoded request);
* ``fail_on(event, nth, exc)``: raise ``exc`` at the ``nth`` event of a kind:
  ``"send"`` (a write; nothing of it reaches the kernel), ``"receive"`` (reading
  the acknowledgements of a write the kernel carried out in full), ``"request"``
  (while the kernel carries out one request of a batch: the ones before it are
  done), ``"dump"`` (a read).  The socket the fault went through is unusable
  afterwards (OSError EPIPE), as a real one may be: only a new socket works.
"""

from __future__ import annotations

import asyncio
import copy
import errno
import ipaddress
import os
import socket
import struct

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as genl_ipvs

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wire as wire

ipvsmsg = nl.pyroute2_api().ipvsmsg  # the adapter's, built when pyroute2 is first imported

PRID = 0x1D  # the generic netlink family id the "kernel" gave IPVS

_AF = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
_AF_NUM = {v: k for k, v in _AF.items()}
_PROTO = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp", 132: "sctp"}
_PROTO_NUM = {v: k for k, v in _PROTO.items()}
_FWD = {0: "nat", 2: "tunnel", 3: "dr"}
_FWD_NUM = {v: k for k, v in _FWD.items()}
_CMD = {getattr(genl_ipvs, name): name for name in dir(genl_ipvs) if name.startswith("IPVS_CMD_")
        and isinstance(getattr(genl_ipvs, name), int)}
_ACTIONS = {
    "IPVS_CMD_NEW_SERVICE": "add_service", "IPVS_CMD_SET_SERVICE": "edit_service",
    "IPVS_CMD_DEL_SERVICE": "delete_service", "IPVS_CMD_NEW_DEST": "add_real_server",
    "IPVS_CMD_SET_DEST": "edit_real_server", "IPVS_CMD_DEL_DEST": "delete_real_server",
}
_SYNC_STATE = {1: "master", 2: "backup"}
_SERVICE_FULL = ("IPVS_SVC_ATTR_SCHED_NAME", "IPVS_SVC_ATTR_FLAGS", "IPVS_SVC_ATTR_TIMEOUT", "IPVS_SVC_ATTR_NETMASK")
_DEST_FULL = ("IPVS_DEST_ATTR_FWD_METHOD", "IPVS_DEST_ATTR_WEIGHT", "IPVS_DEST_ATTR_U_THRESH",
              "IPVS_DEST_ATTR_L_THRESH")


class KernelSays(Exception):
    """A refusal inside the fake kernel: becomes the NetlinkError the adapter reads."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _attrs(nla) -> dict:
    return dict(nla["attrs"]) if nla is not None else {}


def _prefix(family: str, dotted: str) -> int:
    raw = socket.inet_aton(dotted)
    if family == "ipv4":
        return bin(struct.unpack("!I", raw)[0]).count("1")
    return struct.unpack("=I", raw)[0]


def _dotted(family: str, prefix: int) -> str:
    if family == "ipv4":
        return socket.inet_ntoa(struct.pack("!I", (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
    return socket.inet_ntoa(struct.pack("=I", prefix))


def _roundtrip(msg):
    """What the other end reads: ``msg`` encoded to bytes and decoded again."""
    msg.encode()
    decoded = ipvsmsg(bytes(msg.data))
    decoded.decode()
    return decoded


class FakeKernel:
    """IPVS in memory: a table of canonical services, sync daemons, timeouts, interfaces."""

    def __init__(self, table=None, daemons=None, timeouts=None, interfaces=None, refuse=None,
                 refuse_daemon=None, schedulers=state.SCHEDULERS, active=None, no_ipvs=False,
                 stop_without_ack=False):
        self.services: dict = {}
        for service in copy.deepcopy(table or []):
            self.services[state.service_key(service)] = service
        self.daemons = {d["role"]: dict(d) for d in daemons or []}
        self.timeout_values = dict(timeouts or {"tcp": 900, "tcp_fin": 120, "udp": 300})
        self.interfaces = {"eth0": 1500, "lo": 65536} if interfaces is None else dict(interfaces)
        self.refuse = refuse or (lambda op: 0)
        self.refuse_daemon = refuse_daemon or (lambda op: 0)
        self.schedulers = set(schedulers)
        self.active = list(active or [0])  # ACTIVE_CONNS of successive real server dumps (the last repeats)
        # ACTIVE_CONNS by real server "address:port" (ipvs_state.real_server_id), over ``active``;
        # tests change it (and the weights in ``services``) while a module waits.
        self.connections: dict = {}
        self.no_ipvs = no_ipvs
        self.stop_without_ack = stop_without_ack  # kthread_stop() -EINTR: netlink sends no ack
        self.faults: list = []
        self.events: dict = {}
        self.requests: list = []  # every request decoded: (command, op or attrs)
        self.carried_out: list = []  # every change made: ops as ipvs_state describes them
        self.sockets: list = []

    # -------------------------------------------------------------- set-up

    def socket(self) -> FakeSocket:
        sock = FakeSocket(self)
        self.sockets.append(sock)
        return sock

    def table_socket(self) -> FakeTableSocket:
        sock = FakeTableSocket(self)
        self.sockets.append(sock)
        return sock

    def adapter(self) -> nl.IPVSNetlink:
        """The real adapter over new sockets to this kernel (what IPVSNetlink() gives once installed)."""
        ipvs = object.__new__(nl.IPVSNetlink)
        ipvs._table = nl.TableSocket(self.table_socket())
        ipvs._table.resolve()
        ipvs._sock = self.socket()
        ipvs._sock.bind(genl_ipvs.GENL_NAME, ipvsmsg)
        return ipvs

    def fail_on(self, event: str, nth: int, exc: BaseException) -> None:
        self.faults.append([event, nth, exc])

    def table(self) -> list:
        return state.sort_table([copy.deepcopy(s) for s in self.services.values()])

    def sync_daemons(self) -> list:
        return [dict(self.daemons[role]) for role in state.SYNC_ROLES if role in self.daemons]

    def interface_mtu(self, name):
        return self.interfaces.get(name)

    def _event(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1
        for fault in list(self.faults):
            if fault[0] == event and fault[1] == self.events[event]:
                self.faults.remove(fault)
                raise fault[2]

    # ------------------------------------------------------------ requests

    def handle(self, data: bytes) -> list:
        """Carry out one encoded request; the encoded answers (dump replies), or KernelSays."""
        msg = ipvsmsg(data)
        msg.decode()
        command = _CMD.get(msg["cmd"], msg["cmd"])
        flags = msg["header"]["flags"]
        if msg["header"]["type"] != PRID:
            raise KernelSays(errno.EOPNOTSUPP)
        if command == "IPVS_CMD_GET_SERVICE":
            self.requests.append((command, None))
            return [self._service_reply(s) for s in self.table()] if flags & NLM_F_DUMP else []
        if command == "IPVS_CMD_GET_DEST":
            service = self._lookup(_attrs(msg.get_attr("IPVS_CMD_ATTR_SERVICE")))
            self.requests.append((command, state.service_id(service) if service else None))
            return [self._dest_reply(service, rs) for rs in service["real_servers"]] if service else []
        if command == "IPVS_CMD_GET_DAEMON":
            self.requests.append((command, None))
            return [self._daemon_reply(d) for d in self.sync_daemons()]
        if command == "IPVS_CMD_GET_CONFIG":
            self.requests.append((command, None))
            return [self._config_reply()]
        if command == "IPVS_CMD_SET_CONFIG":
            values = {name: msg.get_attr(attr) for name, attr in nl._TIMEOUT_ATTRS.items()}
            self.requests.append((command, values))
            self.timeout_values.update({k: v for k, v in values.items() if v})
            return []
        if command in ("IPVS_CMD_NEW_DAEMON", "IPVS_CMD_DEL_DAEMON"):
            return self._daemon_request(command, _attrs(msg.get_attr("IPVS_CMD_ATTR_DAEMON")))
        if command in _ACTIONS:
            return self._table_request(command, flags, msg)
        raise KernelSays(errno.EOPNOTSUPP)

    def _key(self, svc: dict, full: bool) -> dict:
        """ip_vs_genl_parse_service: the service's identity, and with ``full`` its settings."""
        if "IPVS_SVC_ATTR_AF" not in svc:
            raise KernelSays(errno.EINVAL)
        family = _AF.get(svc["IPVS_SVC_ATTR_AF"])
        if family is None:
            raise KernelSays(errno.EAFNOSUPPORT)
        if svc.get("IPVS_SVC_ATTR_FWMARK"):
            service = {"family": family, "protocol": None, "address": None, "port": None,
                       "fwmark": svc["IPVS_SVC_ATTR_FWMARK"]}
        elif all(name in svc for name in ("IPVS_SVC_ATTR_PROTOCOL", "IPVS_SVC_ATTR_ADDR", "IPVS_SVC_ATTR_PORT")):
            protocol = _PROTO.get(svc["IPVS_SVC_ATTR_PROTOCOL"])
            if protocol is None:
                raise KernelSays(errno.EINVAL)
            service = {"family": family, "protocol": protocol,
                       "address": str(ipaddress.ip_address(svc["IPVS_SVC_ATTR_ADDR"])),
                       "port": svc["IPVS_SVC_ATTR_PORT"], "fwmark": None}
        else:
            raise KernelSays(errno.EINVAL)
        if full:
            if any(name not in svc for name in _SERVICE_FULL):
                raise KernelSays(errno.EINVAL)
            bits = svc["IPVS_SVC_ATTR_FLAGS"]["flags"]
            persistent = bool(bits & state.FLAG_PERSISTENT)
            service.update({
                "scheduler": svc["IPVS_SVC_ATTR_SCHED_NAME"],
                "scheduler_flags": sorted(n for n, bit in state.SCHED_FLAG_BITS.items() if bits & bit),
                "persistence_timeout": svc["IPVS_SVC_ATTR_TIMEOUT"] if persistent else 0,
                "persistence_netmask": (_prefix(family, svc["IPVS_SVC_ATTR_NETMASK"]) if persistent
                                        else state.full_prefix(family)),
                "one_packet": bool(bits & state.FLAG_ONEPACKET),
            })
        return service

    def _lookup(self, svc: dict):
        try:
            return self.services.get(state.service_key(self._key(svc, full=False)))
        except KernelSays:
            return None

    def _dest(self, dest: dict, service: dict, full: bool) -> dict:
        """ip_vs_genl_parse_dest."""
        if "IPVS_DEST_ATTR_ADDR" not in dest or "IPVS_DEST_ATTR_PORT" not in dest:
            raise KernelSays(errno.EINVAL)
        real_server = {"address": str(ipaddress.ip_address(dest["IPVS_DEST_ATTR_ADDR"])),
                       "port": dest["IPVS_DEST_ATTR_PORT"]}
        if full:
            if any(name not in dest for name in _DEST_FULL):
                raise KernelSays(errno.EINVAL)
            weight = dest["IPVS_DEST_ATTR_WEIGHT"]
            if weight > state.MAX_WEIGHT:  # the kernel reads an int: negative
                raise KernelSays(errno.EINVAL)
            if dest["IPVS_DEST_ATTR_L_THRESH"] > dest["IPVS_DEST_ATTR_U_THRESH"]:
                raise KernelSays(errno.ERANGE)
            forwarding = _FWD.get(dest["IPVS_DEST_ATTR_FWD_METHOD"] & 0x7)
            if forwarding is None:
                raise KernelSays(errno.EINVAL)
            family = _AF.get(dest.get("IPVS_DEST_ATTR_ADDR_FAMILY", _AF_NUM[service["family"]]))
            if family != service["family"] and forwarding != "tunnel":
                raise KernelSays(errno.EINVAL)
            real_server.update({"weight": weight, "forwarding": forwarding,
                                "upper_threshold": dest["IPVS_DEST_ATTR_U_THRESH"],
                                "lower_threshold": dest["IPVS_DEST_ATTR_L_THRESH"]})
        return real_server

    def _table_request(self, command: str, flags: int, msg) -> list:
        action = _ACTIONS[command]
        full = action in ("add_service", "edit_service")
        if action.startswith("add") and flags & (NLM_F_CREATE | NLM_F_EXCL) != NLM_F_CREATE | NLM_F_EXCL:
            raise AssertionError("%s without NLM_F_CREATE|NLM_F_EXCL" % command)
        svc = self._key(_attrs(msg.get_attr("IPVS_CMD_ATTR_SERVICE")), full)
        key = state.service_key(svc)
        live = self.services.get(key)
        op: dict = {"action": action, "service": dict(live, **svc) if live else svc}
        if "real_server" in action:
            if live is None:
                raise KernelSays(errno.ESRCH)
            op["real_server"] = self._dest(_attrs(msg.get_attr("IPVS_CMD_ATTR_DEST")), live,
                                           full=action != "delete_real_server")
        self.requests.append((command, op))
        code = self.refuse(op)
        if code:
            raise KernelSays(code)
        self._event("request")
        if action == "add_service":
            if live is not None:
                raise KernelSays(errno.EEXIST)
            if svc["scheduler"] not in self.schedulers:
                raise KernelSays(errno.ENOENT)
            self.services[key] = dict(svc, real_servers=[])
        elif live is None:
            raise KernelSays(errno.ESRCH)
        elif action == "edit_service":
            if svc["scheduler"] not in self.schedulers:
                raise KernelSays(errno.ENOENT)
            live.update(state.settings(svc))
        elif action == "delete_service":
            del self.services[key]
        else:
            rid = state.real_server_id(op["real_server"])
            others = [r for r in live["real_servers"] if state.real_server_id(r) != rid]
            exists = len(others) != len(live["real_servers"])
            if action == "add_real_server" and exists:
                raise KernelSays(errno.EEXIST)
            if action != "add_real_server" and not exists:
                raise KernelSays(errno.ENOENT)
            if action != "delete_real_server":
                others.append(op["real_server"])
            live["real_servers"] = state.sort_real_servers(others)
        self.carried_out.append(op)
        return []

    def _daemon_request(self, command: str, attrs: dict) -> list:
        role = _SYNC_STATE.get(attrs.get("IPVS_DAEMON_ATTR_STATE"))
        if role is None:
            raise KernelSays(errno.EINVAL)
        if command == "IPVS_CMD_DEL_DAEMON":
            op = {"action": "stop_sync_daemon", "daemon": self.daemons.get(role) or {"role": role}}
        else:
            if "IPVS_DAEMON_ATTR_MCAST_IFN" not in attrs or "IPVS_DAEMON_ATTR_SYNC_ID" not in attrs:
                raise KernelSays(errno.EINVAL)
            group = attrs.get("IPVS_DAEMON_ATTR_MCAST_GROUP6") or attrs.get("IPVS_DAEMON_ATTR_MCAST_GROUP")
            daemon = {"role": role, "interface": attrs["IPVS_DAEMON_ATTR_MCAST_IFN"],
                      "syncid": attrs["IPVS_DAEMON_ATTR_SYNC_ID"],
                      "mcast_group": str(ipaddress.ip_address(group)) if group else state.SYNC_DEFAULT_GROUP,
                      "mcast_port": attrs.get("IPVS_DAEMON_ATTR_MCAST_PORT") or state.SYNC_DEFAULT_PORT,
                      "mcast_ttl": attrs.get("IPVS_DAEMON_ATTR_MCAST_TTL") or 1,
                      "maxlen": attrs.get("IPVS_DAEMON_ATTR_SYNC_MAXLEN")}
            op = {"action": "start_sync_daemon", "daemon": daemon}
        self.requests.append((command, op))
        code = self.refuse_daemon(op)
        if code:
            raise KernelSays(code)
        self._event("request")
        if op["action"] == "stop_sync_daemon":
            if role not in self.daemons:
                raise KernelSays(errno.ESRCH)
            del self.daemons[role]
            self.carried_out.append(op)
            if self.stop_without_ack:
                raise KernelSays(errno.EINTR)
            return []
        daemon = op["daemon"]
        if role in self.daemons:
            raise KernelSays(errno.EEXIST)
        if daemon["interface"] not in self.interfaces:
            raise KernelSays(errno.ENODEV)
        if any(state.family_of(rs["address"]) != s["family"] for s in self.services.values()
               for rs in s["real_servers"]):
            raise KernelSays(errno.EINVAL)  # mixed_address_family_dests
        self.daemons[role] = state.predict_sync_daemon(daemon, self.interfaces[daemon["interface"]])
        self.carried_out.append(op)
        return []

    # ------------------------------------------------------------- replies

    def _reply(self, attrs: list):
        msg = ipvsmsg()
        msg["cmd"] = genl_ipvs.IPVS_CMD_NEW_SERVICE
        msg["version"] = genl_ipvs.GENL_VERSION
        msg["attrs"] = attrs
        msg["header"]["type"] = PRID
        return _roundtrip(msg)

    def _service_reply(self, service: dict):
        bits = state.FLAG_HASHED  # set on every live service
        if service["persistence_timeout"]:
            bits |= state.FLAG_PERSISTENT
        if service["one_packet"]:
            bits |= state.FLAG_ONEPACKET
        for flag in service["scheduler_flags"]:
            bits |= state.SCHED_FLAG_BITS[flag]
        attrs: list = [("IPVS_SVC_ATTR_AF", _AF_NUM[service["family"]])]
        if service["fwmark"]:
            attrs.append(("IPVS_SVC_ATTR_FWMARK", service["fwmark"]))
        else:
            attrs += [("IPVS_SVC_ATTR_PROTOCOL", _PROTO_NUM[service["protocol"]]),
                      ("IPVS_SVC_ATTR_ADDR", service["address"]), ("IPVS_SVC_ATTR_PORT", service["port"])]
        attrs += [("IPVS_SVC_ATTR_SCHED_NAME", service["scheduler"]),
                  ("IPVS_SVC_ATTR_FLAGS", {"flags": bits, "mask": 0xFFFFFFFF}),
                  ("IPVS_SVC_ATTR_TIMEOUT", service["persistence_timeout"]),
                  ("IPVS_SVC_ATTR_NETMASK", _dotted(service["family"], service["persistence_netmask"])),
                  ("IPVS_SVC_ATTR_STATS64", {"attrs": [("IPVS_STATS_ATTR_CONNS", 7)]})]
        return self._reply([("IPVS_CMD_ATTR_SERVICE", {"attrs": attrs})])

    def _dest_reply(self, service: dict, real_server: dict):
        active = self.active.pop(0) if len(self.active) > 1 else self.active[0]
        active = self.connections.get(state.real_server_id(real_server), active)
        attrs = [("IPVS_DEST_ATTR_ADDR_FAMILY", _AF_NUM[state.family_of(real_server["address"])]),
                 ("IPVS_DEST_ATTR_ADDR", real_server["address"]),
                 ("IPVS_DEST_ATTR_PORT", real_server["port"]),
                 ("IPVS_DEST_ATTR_FWD_METHOD", _FWD_NUM[real_server["forwarding"]]),
                 ("IPVS_DEST_ATTR_WEIGHT", real_server["weight"]),
                 ("IPVS_DEST_ATTR_U_THRESH", real_server["upper_threshold"]),
                 ("IPVS_DEST_ATTR_L_THRESH", real_server["lower_threshold"]),
                 ("IPVS_DEST_ATTR_ACTIVE_CONNS", active),
                 ("IPVS_DEST_ATTR_INACT_CONNS", 1),
                 ("IPVS_DEST_ATTR_PERSIST_CONNS", 0),
                 ("IPVS_DEST_ATTR_STATS64", {"attrs": [("IPVS_STATS_ATTR_CONNS", 3)]})]
        return self._reply([("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])

    def _daemon_reply(self, daemon: dict):
        group = "IPVS_DAEMON_ATTR_MCAST_GROUP6" if ":" in daemon["mcast_group"] else "IPVS_DAEMON_ATTR_MCAST_GROUP"
        attrs = [("IPVS_DAEMON_ATTR_STATE", {v: k for k, v in _SYNC_STATE.items()}[daemon["role"]]),
                 ("IPVS_DAEMON_ATTR_MCAST_IFN", daemon["interface"]),
                 ("IPVS_DAEMON_ATTR_SYNC_ID", daemon["syncid"]),
                 ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", daemon["maxlen"]),
                 (group, daemon["mcast_group"]),
                 ("IPVS_DAEMON_ATTR_MCAST_PORT", daemon["mcast_port"]),
                 ("IPVS_DAEMON_ATTR_MCAST_TTL", daemon["mcast_ttl"])]
        return self._reply([("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})])

    def _config_reply(self):
        return self._reply([(attr, self.timeout_values[name]) for name, attr in nl._TIMEOUT_ATTRS.items()])


class FakeCore:
    """What pyroute2's NetlinkRequest needs of the asyncio core under a socket.

    ``send()`` takes the bytes of one write (one request, or a batch laid end to end)
    and the FakeKernel works through them as netlink_rcv_skb() does, one message
    after the other; ``get()`` then hands each request its acknowledgement, or raises
    the NetlinkError the kernel answered, or never answers (an -EINTR stop).
    """

    def __init__(self, sock: FakeSocket):
        self.sock = sock
        self.epid = 4242
        self.status: dict = {}
        self.callbacks: list = []
        self.exception_factory = None
        self.marshal = type("Marshal", (), {"seq_map": {}})()
        self.msg_queue = type("Queue", (), {"ensure_tag": lambda self, tag: None,
                                            "free_tag": lambda self, tag: None})()
        self.addr_pool = type("Pool", (), {"alloc": self._alloc, "free": lambda self, seq, ban=0: None})()
        self._seq = 0
        self.answers: dict = {}

    def _alloc(self) -> int:
        self._seq += 1
        return self._seq

    async def setup_endpoint(self):
        return None

    def send(self, data: bytes) -> int:
        self.sock._event("send")
        offset = 0
        try:
            while offset < len(data):
                length, kind, _flags, seq = struct.unpack_from("=IHHI", data, offset)
                if length < 16 or offset + length > len(data):
                    raise AssertionError("a malformed netlink write: length %d at offset %d" % (length, offset))
                self.answers[seq] = self.sock._answer(bytes(data[offset:offset + length]))[1]
                offset += (length + 3) & ~3
        except BaseException:
            self.sock.broken = True
            raise
        return len(data)

    async def get(self, msg_seq=0, terminate=None, callback=None, exception_factory=None, noraise=False):
        self.sock._event("receive")
        code = self.answers.pop(msg_seq)
        if code == errno.EINTR:
            await asyncio.sleep(3600)  # netlink_rcv_skb() sends no acknowledgement for -EINTR
        if code:
            raise NetlinkError(code)
        return
        yield  # an async generator that yields nothing: a bare acknowledgement


class FakeSocket:
    """What IPVSNetlink uses of pyroute2's IPVSSocket: bind, nlm_request, _run_with_cleanup, close.

    Dumps and single requests (nlm_request) are encoded here, as pyroute2 encodes
    them; timed requests run the adapter's own coroutine (_one)
    with pyroute2's NetlinkRequest over a FakeCore.  Only bytes reach the FakeKernel.
    """

    def __init__(self, kernel: FakeKernel):
        self.kernel = kernel
        self.prid = None
        self.asyncore = FakeCore(self)
        self.closed = False
        self.broken = False
        self._seq = 1000

    def bind(self, name, msg_class):
        if self.kernel.no_ipvs:
            raise NetlinkError(errno.ENOENT)
        assert (name, msg_class) == (genl_ipvs.GENL_NAME, ipvsmsg)
        self.prid = PRID

    def close(self):
        self.closed = True

    def _answer(self, data: bytes):
        try:
            return self.kernel.handle(data), 0
        except KernelSays as said:
            return [], said.code

    def _usable(self) -> None:
        if self.closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        if self.broken:
            raise OSError(errno.EPIPE, "this socket failed before: " + os.strerror(errno.EPIPE))

    def _event(self, event: str) -> None:
        """A fault fired through this socket leaves it unusable, as a real one may be."""
        try:
            self.kernel._event(event)
        except BaseException:
            self.broken = True
            raise

    def nlm_request(self, msg, msg_type, msg_flags):
        self._usable()
        self._seq += 1
        msg["header"].update(type=msg_type, flags=msg_flags, sequence_number=self._seq, pid=4242)
        msg.reset()
        msg.encode()  # NetlinkRequest.prepare()
        data = bytes(msg.data)
        dump = bool(msg_flags & NLM_F_DUMP) or _CMD.get(msg["cmd"], "").startswith("IPVS_CMD_GET")
        self._event("dump" if dump else "send")
        replies, code = self._answer(data)
        if not dump:
            self._event("receive")
        if code:
            raise NetlinkError(code)
        return iter(replies)

    def _run_with_cleanup(self, func, core, *args):
        """pyroute2 runs the adapter's coroutine (_one) on its event loop."""
        self._usable()
        assert core is self.asyncore and func is nl._one, func
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(func(core, *args))
        finally:
            loop.close()


class FakeTableSocket:
    """The raw netlink socket of the table (what ``nl.open_table_socket()`` returns): bytes in, bytes out.

    ``send()`` takes one write (a request, or a batch laid end to end) and the
    FakeKernel works through it as netlink_rcv_skb() does, one message after the
    other; ``recv()`` hands back the answers a datagram at a time: a dump's replies
    then NLMSG_DONE, a refusal (NLMSG_ERROR with the errno) for every request the
    kernel refused, an acknowledgement for each other request that asked for one.
    Events: a GET request is a ``"dump"``, any other write a ``"send"``; reading an
    answer to a write is a ``"receive"``.
    """

    def __init__(self, kernel: FakeKernel):
        self.kernel = kernel
        self.closed = False
        self.broken = False
        self.pending: list = []  # (datagram, answers a write)
        self.writes: list = []  # the bytes of every write, as sent

    def close(self):
        self.closed = True

    def _usable(self) -> None:
        FakeSocket._usable(self)  # type: ignore[arg-type]

    def _event(self, event: str) -> None:
        FakeSocket._event(self, event)  # type: ignore[arg-type]

    @staticmethod
    def _answer_bytes(kind: int, flags: int, seq: int, payload: bytes) -> bytes:
        return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 4242) + payload

    def _error(self, code: int, request: bytes) -> bytes:
        return self._answer_bytes(wire.NLMSG_ERROR, 0, struct.unpack_from("=I", request, 8)[0],
                                  struct.pack("=i", -code) + request[:16])

    def send(self, data: bytes) -> int:
        self._usable()
        data = bytes(data)
        self.writes.append(data)
        first = list(wire.messages(data))
        if not first:
            raise AssertionError("an empty netlink write")
        kind = first[0][0]
        dump = kind == PRID and _CMD.get(data[16], "").startswith("IPVS_CMD_GET")
        if kind != wire.GENL_ID_CTRL:
            self._event("dump" if dump else "send")
        try:
            for kind, flags, seq, offset, end in first:
                request = data[offset - 16:end]
                if kind == wire.GENL_ID_CTRL:
                    self._family(request, seq, flags)
                    continue
                replies, code = (self._answer(request) if kind == PRID else ([], errno.EOPNOTSUPP))
                if code:
                    self.pending.append((self._error(code, request), not dump))
                    continue
                for reply in replies:
                    raw = bytearray(reply.data)
                    struct.pack_into("=HHI", raw, 4, PRID, wire.NLM_F_MULTI, seq)
                    self.pending.append((bytes(raw), False))
                if flags & wire.NLM_F_DUMP == wire.NLM_F_DUMP:
                    self.pending.append((self._answer_bytes(wire.NLMSG_DONE, wire.NLM_F_MULTI, seq,
                                                            struct.pack("=i", 0)), False))
                elif flags & NLM_F_ACK:
                    self.pending.append((self._error(0, request), not dump))
        except BaseException:
            self.broken = True
            raise
        return len(data)

    def _answer(self, request: bytes):
        try:
            return self.kernel.handle(request), 0
        except KernelSays as said:
            return [], said.code

    def _family(self, request: bytes, seq: int, flags: int) -> None:
        """CTRL_CMD_GETFAMILY: the IPVS family's id, or ENOENT."""
        name = request[24:request.index(b"\0", 24)]
        if self.kernel.no_ipvs or name != b"IPVS":
            self.pending.append((self._error(errno.ENOENT, request), False))
            return
        payload = struct.pack("=BBH", 1, 2, 0) + wire.nla(wire.CTRL_ATTR_FAMILY_ID, struct.pack("=H", PRID))
        self.pending.append((self._answer_bytes(wire.GENL_ID_CTRL, 0, seq, payload), False))
        if flags & NLM_F_ACK:
            self.pending.append((self._error(0, request), False))

    def recv(self, size: int) -> bytes:
        self._usable()
        if not self.pending:
            raise AssertionError("the adapter waits for an answer the kernel never sends")
        datagram, answers_a_write = self.pending.pop(0)
        if answers_a_write:
            self._event("receive")
        return datagram[:size]


def install_kernel(monkeypatch, table=None, **kwargs) -> FakeKernel:
    """Make the modules use the real IPVSNetlink over a FakeKernel (the ``fake_kernel`` fixture)."""
    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common

    kernel = FakeKernel(table, **kwargs)
    monkeypatch.setattr(common, "HAS_PYROUTE2", True)
    monkeypatch.setattr(common, "IPVSNetlink", nl.IPVSNetlink)
    monkeypatch.setattr(nl, "open_ipvs_socket", kernel.socket)
    monkeypatch.setattr(nl, "open_table_socket", kernel.table_socket)
    monkeypatch.setattr(nl.IPVSNetlink, "interface_mtu", staticmethod(kernel.interface_mtu))
    return kernel
