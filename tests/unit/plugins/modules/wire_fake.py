# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A table-only IPVS kernel on bytes, built with ipvs_wire alone: no pyroute2.

netlink_fake's FakeKernel decodes and encodes with pyroute2's message classes, so
importing it imports pyroute2.  This one stands in for the raw socket of the table
(``ipvs_netlink.open_table_socket``) where a test must show that a module's run never
imports pyroute2: it answers CTRL_CMD_GETFAMILY, dumps of services and real servers,
NEW_SERVICE/NEW_DEST (keeping the attributes as the request carried them, and
sending them back in the dumps), GET_DAEMON (no daemon runs) and GET_CONFIG.  Any other request is an AssertionError.
"""

from __future__ import annotations

import struct

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wire as wire

FAMILY_ID = 0x1D


def _key(raw: dict) -> tuple:
    return raw["af"], raw["protocol"], raw["address"], raw["port"], raw["fwmark"]


class WireKernel:
    """The table: {service key: [IPVS_CMD_ATTR_SERVICE payload, {real server: IPVS_CMD_ATTR_DEST payload}]}."""

    def __init__(self):
        self.services: dict = {}
        self.commands: list = []  # the command number of every IPVS request, in order

    def socket(self) -> WireSocket:
        return WireSocket(self)

    def handle(self, data: bytes, offset: int, end: int, seq: int) -> list:
        """The answers to one IPVS request (the message's payload starts at ``offset``)."""
        command = data[offset]
        self.commands.append(command)
        top = wire.attrs(data, offset + 4, end)
        if command == wire.CMD_GET_DAEMON:
            return []
        if command == wire.CMD_GET_CONFIG:
            return [wire.message(FAMILY_ID, wire.CMD_GET_CONFIG, b"".join(
                wire.nla(kind, struct.pack("=I", value)) for kind, value in (
                    (wire.CMD_ATTR_TIMEOUT_TCP, 900), (wire.CMD_ATTR_TIMEOUT_TCP_FIN, 120),
                    (wire.CMD_ATTR_TIMEOUT_UDP, 300))), 0, seq)]
        if command == wire.CMD_GET_SERVICE:
            return [wire.message(FAMILY_ID, wire.CMD_NEW_SERVICE, wire.nla(wire.CMD_ATTR_SERVICE, svc), wire.NLM_F_MULTI, seq)
                    for svc, _dests in self.services.values()]
        key = _key(wire.parse_service(data, offset, end))
        if command == wire.CMD_GET_DEST:
            dests = self.services[key][1] if key in self.services else {}
            return [wire.message(FAMILY_ID, wire.CMD_NEW_DEST, wire.nla(wire.CMD_ATTR_DEST, dest), wire.NLM_F_MULTI, seq)
                    for dest in dests.values()]
        if command == wire.CMD_NEW_SERVICE:
            start, stop = top[wire.CMD_ATTR_SERVICE]
            self.services[key] = [bytes(data[start:stop]), {}]
            return []
        if command == wire.CMD_NEW_DEST:
            start, stop = top[wire.CMD_ATTR_DEST]
            dest = wire.parse_dest(data, offset, end, key[0])
            self.services[key][1][(dest["address"], dest["port"])] = bytes(data[start:stop])
            return []
        raise AssertionError("WireKernel has no IPVS command %d" % command)


class WireSocket:
    """What ipvs_netlink.TableSocket uses of a raw netlink socket: send, recv, close."""

    def __init__(self, kernel: WireKernel):
        self.kernel = kernel
        self.pending: list = []

    def close(self) -> None:
        pass

    @staticmethod
    def _ack(seq: int, request: bytes) -> bytes:
        return struct.pack("=IHHIIi", 36, wire.NLMSG_ERROR, 0, seq, 0, 0) + request[:16]

    def send(self, data: bytes) -> int:
        data = bytes(data)
        for kind, flags, seq, offset, end in wire.messages(data):
            if kind == wire.GENL_ID_CTRL:
                self.pending.append(wire.message(wire.GENL_ID_CTRL, 1, wire.nla(
                    wire.CTRL_ATTR_FAMILY_ID, struct.pack("=H", FAMILY_ID)), 0, seq))
            else:
                assert kind == FAMILY_ID, kind
                self.pending += self.kernel.handle(data, offset, end, seq)
            if flags & wire.NLM_F_DUMP == wire.NLM_F_DUMP:
                self.pending.append(struct.pack("=IHHIIi", 20, wire.NLMSG_DONE, wire.NLM_F_MULTI, seq, 0, 0))
            elif flags & wire.NLM_F_ACK:
                self.pending.append(self._ack(seq, data[offset - 16:end]))
        return len(data)

    def recv(self, size: int) -> bytes:
        if not self.pending:
            raise AssertionError("the adapter waits for an answer the kernel never sends")
        return self.pending.pop(0)[:size]
