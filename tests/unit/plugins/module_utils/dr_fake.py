# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for the wire in dr_probe's UNIT tests: a fake clock, a scripted TCP server
behind a fake packet link, a tiny classic-BPF interpreter.  The kernel tests use real ones."""

from __future__ import annotations

import ipaddress
import struct

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe

DIRECTOR_MAC = bytes.fromhex("020000000010")
REAL_MAC = bytes.fromhex("020000000021")


def path(family: int = 4, mtu: int = 1500) -> probe.Path:
    if family == 4:
        return probe.Path(2, "eth0", 4, "192.0.2.10", DIRECTOR_MAC, "192.0.2.21", REAL_MAC, mtu)
    return probe.Path(2, "eth0", 6, "2001:db8::10", DIRECTOR_MAC, "2001:db8::21", REAL_MAC, mtu)


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class FakeServer:
    """A TCP server behind the VIP, reached through a fake link: the probe's frames go to send(),
    the server's frames come out of recv().  Every frame the probe sends is kept in ``sent``.

    syn_drops: SYNs ignored before the SYN-ACK; refuse: answer the SYN with RST|ACK; silent: no SYN-ACK
    at all; response: the bytes answered to a complete request; chunks: their segment sizes;
    order: the order the segments go out the first time (missing ones are retransmitted when
    the probe's ACKs ask for them); end: "fin", "rst" or None after the response.
    """

    def __init__(self, clock: Clock, tcp_path: probe.Path, vip: str, port: int = 80, syn_drops: int = 0,
                 refuse: bool = False, silent: bool = False, response: bytes = b"", chunks: tuple = (),
                 order: tuple | None = None, end: str | None = "fin", mss: int = 1460, ack_request: bool = True):
        self.clock, self.path, self.vip, self.port = clock, tcp_path, vip, port
        self.syn_drops, self.refuse, self.silent = syn_drops, refuse, silent
        self.response, self.end, self.mss, self.ack_request = response, end, mss, ack_request
        self.chunks = list(chunks) or ([len(response)] if response else [])
        self.order = order
        self.isn = 0xFFFFFF00  # wraps around during the response
        self.queue: list = []
        self.sent: list = []  # (time, Segment) of every frame the probe sent
        self.request = b""
        self.segments: list = []  # (seq, payload, flags) of the response
        self.client_next = 0
        self.answered = False

    # the link -----------------------------------------------------------

    def send(self, frame: bytes) -> None:
        segment = probe.parse_frame(frame)
        assert segment is not None, frame
        assert frame[:6] == self.path.real_mac and frame[6:12] == self.path.source_mac
        self.sent.append((self.clock(), segment))
        if segment.flags & probe.TCP_RST:
            return
        if segment.flags & probe.TCP_SYN:
            if self.silent:
                return
            if self.syn_drops:
                self.syn_drops -= 1
                return
            if self.refuse:
                self._queue(0, segment.seq + 1, probe.TCP_RST | probe.TCP_ACK, segment)
                return
            self.client_next = (segment.seq + 1) & 0xFFFFFFFF
            self._queue(self.isn, self.client_next, probe.TCP_SYN | probe.TCP_ACK, segment,
                        options=struct.pack("!BBH", 2, 4, self.mss))
            return
        if segment.payload and segment.seq == self.client_next:
            self.request += segment.payload
            self.client_next = (self.client_next + len(segment.payload)) & 0xFFFFFFFF
            if self.ack_request and self.request.endswith(b"\r\n\r\n") and not self.answered:
                self.answered = True
                self._respond(segment)
            return
        if self.answered and not self.queue:  # go back N from what the probe still expects
            for seq, payload, flags in self.segments:
                if (seq - segment.ack) & 0xFFFFFFFF < 0x80000000:
                    self._queue(seq, self.client_next, flags, segment, payload=payload)

    def recv(self, timeout: float):
        if self.queue:
            return self.queue.pop(0)
        self.clock.advance(timeout)
        return None

    # the server ---------------------------------------------------------

    def _queue(self, seq: int, ack: int, flags: int, to: probe.Segment, options: bytes = b"", payload: bytes = b""):
        tcp = probe.tcp_segment(self.vip, to.src, self.port, to.sport, seq, ack, flags, options=options, payload=payload)
        ethertype = probe.ETH_P_IP if self.path.family == 4 else probe.ETH_P_IPV6
        self.queue.append(probe.ethernet(self.path.source_mac, self.path.real_mac, ethertype,
                                         probe.ip_packet(self.vip, to.src, tcp)))

    def _respond(self, to: probe.Segment) -> None:
        seq = (self.isn + 1) & 0xFFFFFFFF
        position = 0
        for size in self.chunks:
            self.segments.append((seq, self.response[position:position + size], probe.TCP_ACK | probe.TCP_PSH))
            seq = (seq + size) & 0xFFFFFFFF
            position += size
        if self.end == "fin":
            if self.segments:
                last_seq, last, unused = self.segments[-1]
                self.segments[-1] = (last_seq, last, probe.TCP_ACK | probe.TCP_FIN)
            else:
                self.segments.append((seq, b"", probe.TCP_ACK | probe.TCP_FIN))
        order = self.order if self.order is not None else range(len(self.segments))
        for index in order:
            start, payload, flags = self.segments[index]
            self._queue(start, self.client_next, flags, to, payload=payload)
        if self.end == "rst":
            self._queue(seq, self.client_next, probe.TCP_RST | probe.TCP_ACK, to)

    # what the probe did ------------------------------------------------

    def flags(self) -> list:
        return [segment.flags for unused, segment in self.sent]


class ArpLink:
    """Answers each ARP probe with a reply from each of ``answers`` (mac, sender address)."""

    def __init__(self, clock, answers):
        self.clock, self.answers, self.queue, self.sent = clock, answers, [], []

    def send(self, frame):
        self.sent.append((self.clock(), frame))
        for mac, address in self.answers:
            self.queue.append(probe.ethernet(DIRECTOR_MAC, mac, 0x0806, struct.pack(
                "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, ipaddress.IPv4Address(address).packed,
                DIRECTOR_MAC, b"\0" * 4)))

    def recv(self, timeout):
        if self.queue:
            return self.queue.pop(0)
        self.clock.advance(timeout)
        return None

    def close(self):
        self.closed = True


def http_response(code: int = 200, body: bytes = b"Apache Server Status\n") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (code, len(body), body)


def run_bpf(program: list, packet: bytes) -> int:
    """Run a classic BPF program (the opcodes dr_probe uses) over ``packet``, as the kernel would."""
    a = x = 0
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code in (probe.BPF_LD_W_ABS, probe.BPF_LD_H_ABS, probe.BPF_LD_B_ABS, probe.BPF_LD_H_IND):
            size = {probe.BPF_LD_W_ABS: 4, probe.BPF_LD_H_ABS: 2, probe.BPF_LD_B_ABS: 1, probe.BPF_LD_H_IND: 2}[code]
            offset = k + (x if code == probe.BPF_LD_H_IND else 0)
            if offset + size > len(packet):
                return 0  # an out-of-bounds load ends the program: drop
            a = int.from_bytes(packet[offset:offset + size], "big")
        elif code == probe.BPF_LDX_B_MSH:
            if k >= len(packet):
                return 0
            x = (packet[k] & 0x0F) * 4
        elif code == probe.BPF_JEQ_K:
            pc += jt if a == k else jf
        elif code == probe.BPF_JSET_K:
            pc += jt if a & k else jf
        elif code == probe.BPF_RET_K:
            return k
        else:
            raise AssertionError("opcode 0x%x is not interpreted" % code)
