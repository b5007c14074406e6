# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_probe without root or network: frames, BPF, the TCP conversation against a scripted
server, the path lookup over a fake rtnetlink, the ARP probe, the health checkers' command."""

from __future__ import annotations

import ipaddress
import json
import random
import struct

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe
from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils import dr_fake as fake

VIP, VIP6 = "192.0.2.13", "2001:db8::13"


def reference_sum(data: bytes) -> int:
    """Ones' complement sum of 16-bit words, written independently of dr_probe.checksum."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += int.from_bytes(data[i:i + 2], "big")
        total = (total & 0xFFFF) + (total >> 16)
    return total


# ------------------------------------------------------------------ frames


def test_checksum_of_a_known_ipv4_header():
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")  # RFC 1071 style textbook example
    assert probe.checksum(header) == 0xB861
    assert probe.checksum(b"\x01") == 0xFEFF  # odd length: padded with a zero byte


@pytest.mark.parametrize("family", [4, 6])
def test_tcp_frames_carry_valid_checksums(family):
    tcp_path = fake.path(family)
    vip = VIP if family == 4 else VIP6
    frame = probe.tcp_frame(tcp_path, vip, 40000, 80, 0xDEADBEEF, 7, probe.TCP_ACK | probe.TCP_PSH,
                            payload=b"GET / HTTP/1.0\r\n\r\n!", ident=0x1234)
    assert frame[:6] == fake.REAL_MAC and frame[6:12] == fake.DIRECTOR_MAC
    src, dst = ipaddress.ip_address(tcp_path.source).packed, ipaddress.ip_address(vip).packed
    if family == 4:
        assert frame[12:14] == b"\x08\x00"
        ip_header, tcp = frame[14:34], frame[34:]
        assert reference_sum(ip_header) == 0xFFFF
        assert ip_header[9] == 6 and ip_header[12:16] == src and ip_header[16:20] == dst
        assert struct.unpack("!H", ip_header[2:4])[0] == 20 + len(tcp)
        pseudo = src + dst + bytes([0, 6]) + len(tcp).to_bytes(2, "big")
    else:
        assert frame[12:14] == b"\x86\xdd"
        ip_header, tcp = frame[14:54], frame[54:]
        assert ip_header[6] == 6 and ip_header[8:24] == src and ip_header[24:40] == dst
        assert struct.unpack("!H", ip_header[4:6])[0] == len(tcp)
        pseudo = src + dst + len(tcp).to_bytes(4, "big") + bytes([0, 0, 0, 6])
    assert reference_sum(pseudo + tcp) == 0xFFFF
    assert reference_sum(pseudo + tcp[:16] + b"\0\0" + tcp[18:]) != 0xFFFF  # the checksum field is what makes it


@pytest.mark.parametrize("family", [4, 6])
def test_parse_frame_reads_back_what_was_built(family):
    tcp_path = fake.path(family)
    vip = VIP if family == 4 else VIP6
    options = struct.pack("!BBH", 2, 4, 1400)
    frame = probe.tcp_frame(tcp_path, vip, 40000, 80, 1, 2, probe.TCP_SYN, options=options, payload=b"xy")
    segment = probe.parse_frame(frame + b"\0" * 10)  # Ethernet padding is not payload
    assert segment == probe.Segment(family, tcp_path.source, vip, 40000, 80, 1, 2, probe.TCP_SYN, 65535, b"xy", 1400)
    assert probe.parse_frame(frame[:30]) is None
    assert probe.parse_frame(probe.arp_request(fake.DIRECTOR_MAC, VIP)) is None


def test_parse_frame_refuses_fragments_and_other_protocols():
    frame = bytearray(probe.tcp_frame(fake.path(4), VIP, 40000, 80, 1, 2, probe.TCP_ACK))
    frame[20:22] = b"\x20\x00"  # more fragments
    assert probe.parse_frame(bytes(frame)) is None
    frame[20:22] = b"\x40\x00"
    frame[23] = 17
    assert probe.parse_frame(bytes(frame)) is None


def test_arp_probe_frame_and_reply():
    frame = probe.arp_request(fake.DIRECTOR_MAC, VIP)
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack("!HHBBH6s4s6s4s", frame[14:42])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert sha == fake.DIRECTOR_MAC and spa == b"\0" * 4 and tha == b"\0" * 6 and tpa == bytes([192, 0, 2, 13])
    reply = probe.ethernet(fake.DIRECTOR_MAC, fake.REAL_MAC, 0x0806, struct.pack(
        "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, fake.REAL_MAC, bytes([192, 0, 2, 13]), fake.DIRECTOR_MAC, b"\0" * 4))
    assert probe.parse_arp_reply(reply) == probe.Responder("02:00:00:00:00:21", VIP)
    assert probe.parse_arp_reply(frame) is None  # a request


# --------------------------------------------------------------------- BPF


def server_frame(family: int, sport: int = 80, dport: int = 40000, protocol: int = 6) -> bytes:
    vip = VIP if family == 4 else VIP6
    tcp_path = fake.path(family)
    tcp = probe.tcp_segment(vip, tcp_path.source, sport, dport, 1, 2, probe.TCP_SYN | probe.TCP_ACK)
    return probe.ethernet(fake.DIRECTOR_MAC, fake.REAL_MAC, probe.ETH_P_IP if family == 4 else probe.ETH_P_IPV6,
                          probe.ip_packet(vip, tcp_path.source, tcp, protocol=protocol))


@pytest.mark.parametrize("family", [4, 6])
def test_tcp_filter_passes_only_the_conversation(family):
    program = probe.tcp_filter(80, 40000)
    assert all(0 <= jt < len(program) - i and 0 <= jf < len(program) - i for i, (c, jt, jf, k) in enumerate(program))
    assert fake.run_bpf(program, server_frame(family)) == probe.ACCEPT
    assert fake.run_bpf(program, server_frame(family, sport=81)) == 0
    assert fake.run_bpf(program, server_frame(family, dport=40001)) == 0
    assert fake.run_bpf(program, server_frame(family, sport=40000, dport=80)) == 0  # our own direction
    assert fake.run_bpf(program, server_frame(family, protocol=17)) == 0
    cut = 14 + (20 if family == 4 else 40) + 3  # the destination port is not all there
    assert fake.run_bpf(program, server_frame(family)[:cut]) == 0
    assert fake.run_bpf(program, probe.arp_request(fake.DIRECTOR_MAC, VIP)) == 0


def test_tcp_filter_reads_ports_after_ipv4_options_and_drops_fragments():
    frame = server_frame(4)
    with_options = bytearray(frame[:14] + bytes([0x46]) + frame[15:34] + b"\x01\x01\x01\x00" + frame[34:])
    assert fake.run_bpf(probe.tcp_filter(80, 40000), bytes(with_options)) == probe.ACCEPT
    assert probe.parse_frame(bytes(with_options[:16]) + struct.pack("!H", 44) + bytes(with_options[18:])) is not None
    fragment = bytearray(frame)
    fragment[20:22] = b"\x00\x10"
    assert fake.run_bpf(probe.tcp_filter(80, 40000), bytes(fragment)) == 0


def test_arp_filter_passes_only_replies_for_the_target():
    def reply(op, spa):
        return probe.ethernet(fake.DIRECTOR_MAC, fake.REAL_MAC, 0x0806, struct.pack(
            "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, fake.REAL_MAC, ipaddress.IPv4Address(spa).packed,
            fake.DIRECTOR_MAC, b"\0" * 4))
    program = probe.arp_filter(VIP)
    assert fake.run_bpf(program, reply(2, VIP)) == probe.ACCEPT
    assert fake.run_bpf(program, reply(2, "192.0.2.14")) == 0
    assert fake.run_bpf(program, reply(1, VIP)) == 0
    assert fake.run_bpf(program, server_frame(4)) == 0


# ----------------------------------------------------- the TCP conversation


def converse(family=4, timeout=3.0, **kwargs):
    clock = fake.Clock()
    vip = VIP if family == 4 else VIP6
    probe_kwargs = {key: kwargs.pop(key) for key in ("mode", "request", "host", "status", "receive") if key in kwargs}
    server = fake.FakeServer(clock, fake.path(family), vip, **kwargs)
    result = probe.tcp_probe(fake.path(family), vip, 80, timeout=timeout, link=server, clock=clock,
                             rng=random.Random(7), **probe_kwargs)
    return result, server


def assert_reset_at_the_end(server):
    last = server.sent[-1][1]
    assert last.flags & probe.TCP_RST
    assert last.seq == server.sent[0][1].seq + 1 + len(server.request)


@pytest.mark.parametrize("family", [4, 6])
def test_http_ok_in_one_segment(family):
    result, server = converse(family, response=fake.http_response(), request="/server-status", receive="Apache")
    assert result.ok and result.status == 200 and result.reason == "HTTP 200 for /server-status, receive /Apache/ found"
    host = VIP if family == 4 else "[%s]" % VIP6
    assert server.request == ("GET /server-status HTTP/1.0\r\nHost: %s\r\nUser-Agent: lvs-cluster-dr-probe\r\n"
                              "Connection: close\r\n\r\n" % host).encode()
    syn = server.sent[0][1]
    assert syn.flags == probe.TCP_SYN and syn.window == 65535 and syn.mss == (1460 if family == 4 else 1440)
    assert 32768 <= syn.sport <= 60999
    assert server.flags()[1] == probe.TCP_ACK and server.sent[1][1].ack == server.isn + 1
    assert_reset_at_the_end(server)


def test_syn_is_retransmitted_with_a_doubling_interval():
    result, server = converse(syn_drops=3, mode="connect")
    assert result.ok and result.reason == "connected to 192.0.2.13:80 through 192.0.2.21"
    syn_times = [when - 100.0 for when, segment in server.sent if segment.flags == probe.TCP_SYN]
    assert [round(t, 3) for t in syn_times] == [0.0, 0.3, 0.9, 2.1]
    assert len({segment.seq for unused, segment in server.sent if segment.flags == probe.TCP_SYN}) == 1
    assert server.flags()[-2:] == [probe.TCP_ACK, probe.TCP_RST | probe.TCP_ACK]
    assert result.elapsed == pytest.approx(2.1)


def test_no_syn_ack_times_out_with_the_reason():
    result, server = converse(silent=True, timeout=2.0)
    assert not result.ok and result.status is None
    assert result.reason == "no SYN-ACK from 192.0.2.21 for 192.0.2.13:80 within 2 s (is the VIP on its lo?)"
    assert result.elapsed == pytest.approx(2.0)
    assert all(segment.flags == probe.TCP_SYN for unused, segment in server.sent)  # nothing to reset


def test_ipv6_reason_brackets_the_address():
    result, unused = converse(6, silent=True, timeout=1.0)
    assert result.reason == "no SYN-ACK from 2001:db8::21 for [2001:db8::13]:80 within 1 s (is the VIP on its lo?)"


def test_refused():
    result, unused = converse(refuse=True)
    assert not result.ok and result.reason == "192.0.2.21 refused 192.0.2.13:80 (RST): nothing listens there"


def test_response_in_several_segments_out_of_order():
    body = b"x" * 3000 + b"Apache Server Status\n"
    response = fake.http_response(body=body)
    sizes = (100, 1400, 1400, len(response) - 2900)
    result, server = converse(response=response, chunks=sizes, order=(0, 2, 3, 1), receive="Server Status$")
    assert result.ok and result.status == 200
    acks = [segment.ack for unused, segment in server.sent if segment.flags == probe.TCP_ACK]
    start = (server.isn + 1) & 0xFFFFFFFF
    # In order: the first chunk; the two out of order are answered with what is still expected.
    assert acks[1:4] == [(start + 100) & 0xFFFFFFFF] * 3
    assert acks[-1] == (start + len(response) + 1) & 0xFFFFFFFF  # everything and the FIN
    assert_reset_at_the_end(server)


def test_http_status_and_receive_failures():
    result, server = converse(response=fake.http_response(404), request="/server-status")
    assert not result.ok and result.status == 404 and result.reason == "HTTP 404 for /server-status (expected 200)"
    assert_reset_at_the_end(server)
    result, unused = converse(response=fake.http_response(body=b"It works\n"), request="/", receive="Apache")
    assert not result.ok and result.status == 200 and result.reason == "receive /Apache/ not found in the response to /"
    result, unused = converse(response=fake.http_response(404), status=404)
    assert result.ok
    result, unused = converse(response=b"SSH-2.0-OpenSSH_9.2\r\n")
    assert not result.ok and result.reason == "not an HTTP response to /: 'SSH-2.0-OpenSSH_9.2'"


def test_status_decides_before_the_end_without_receive():
    result, server = converse(response=fake.http_response(), end=None)  # the server never closes
    assert result.ok and result.elapsed == 0
    assert_reset_at_the_end(server)


def test_reset_by_the_server_and_silence_after_the_handshake():
    result, unused = converse(response=b"HTTP/1.1 200 OK\r\n\r\nhalf", end="rst", receive="Apache")
    assert not result.ok and result.status == 200
    assert result.reason == "192.0.2.21 reset the connection to 192.0.2.13:80 after 23 bytes of the response to /"
    result, server = converse(ack_request=False, timeout=2.0)
    assert not result.ok
    assert result.reason == "no complete HTTP response from 192.0.2.21 for 192.0.2.13:80 within 2 s (0 bytes received)"
    requests = [when for when, segment in server.sent if segment.payload]
    assert len(requests) >= 3  # the request is retransmitted too
    assert_reset_at_the_end(server)


def test_request_larger_than_the_peer_mss_is_split():
    result, server = converse(response=fake.http_response(), request="/" + "a" * 700, mss=536)
    assert result.ok
    sizes = [len(segment.payload) for unused, segment in server.sent if segment.payload]
    assert sizes[0] == 536 and sum(sizes) == len(server.request)


def test_probe_refuses_a_family_mismatch():
    with pytest.raises(probe.ProbeValidationError, match="address: 2001:db8::13 is not of the real server's family"):
        probe.tcp_probe(fake.path(4), VIP6, 80, link=object())


# -------------------------------------------------------------------- path


class FakeRtnl:
    def __init__(self, route, addresses, neighbours):
        self._route, self._addresses, self.table = route, addresses, neighbours
        self.lookups = 0

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def route(self, address):
        if isinstance(self._route, OSError):
            raise self._route
        return self._route

    def addresses(self, family, ifindex):
        return self._addresses

    def neighbours(self, family):
        self.lookups += 1
        return self.table(self.lookups) if callable(self.table) else self.table


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(probe, "interface_name", lambda index: {2: "eth0"}[index])
    monkeypatch.setattr(probe, "interface_mac", lambda name: fake.DIRECTOR_MAC)
    monkeypatch.setattr(probe, "interface_mtu", lambda name: 9000)


ROUTE = {"type": probe.RTN_UNICAST, "oif": 2, "prefsrc": "2001:db8::13", "gateway": None}
ADDRESSES = [("2001:db8::13", 128), ("2001:db8::10", 64), ("fe80::1", 64)]


def neighbour(state=0x02, mac=fake.REAL_MAC, address="2001:db8::21"):
    return {"ifindex": 2, "address": address, "state": state, "mac": mac}


def find(rtnl, provoked=None, **kwargs):
    clock = fake.Clock()
    return probe.find_path("2001:DB8::21", 80, timeout=1.0, netlink=rtnl, clock=clock, sleep=clock.advance,
                           provoke=lambda address, port: (provoked if provoked is not None else []).append((address, port)), **kwargs)


def test_path_takes_the_directors_own_address_not_a_vip(host):
    path = find(FakeRtnl(ROUTE, ADDRESSES, [neighbour(state=0x04)]))  # STALE has a MAC
    assert path == probe.Path(2, "eth0", 6, "2001:db8::10", fake.DIRECTOR_MAC, "2001:db8::21", fake.REAL_MAC, 9000)
    route = dict(ROUTE, prefsrc="2001:db8::11")
    assert find(FakeRtnl(route, ADDRESSES + [("2001:db8::11", 64)], [neighbour()])).source == "2001:db8::11"


def test_path_provokes_resolution_then_waits(host):
    provoked: list = []
    rtnl = FakeRtnl(ROUTE, ADDRESSES, lambda n: [neighbour(state=0x01, mac=None)] if n < 4 else [neighbour()])
    assert find(rtnl, provoked).real_mac == fake.REAL_MAC
    assert provoked == [("2001:db8::21", 80)]
    never = FakeRtnl(ROUTE, ADDRESSES, [neighbour(state=0x20)])
    with pytest.raises(probe.ProbeError, match=r"^2001:db8::21 does not answer neighbour solicitations on eth0 "
                                               r"\(neighbour table: state 0x20\)$"):
        find(never)
    with pytest.raises(probe.ProbeError, match=r"\(neighbour table: no entry\)"):
        find(FakeRtnl(ROUTE, ADDRESSES, [neighbour(address="2001:db8::22")]))


@pytest.mark.parametrize("route,addresses,message", [
    (dict(ROUTE, gateway="2001:db8::1"), ADDRESSES, "is reached through the gateway 2001:db8::1: direct routing"),
    (dict(ROUTE, type=probe.RTN_LOCAL), ADDRESSES, "2001:db8::21 is an address of this host"),
    (OSError(101, "Network is unreachable"), ADDRESSES, "no route to 2001:db8::21: Network is unreachable"),
    (ROUTE, [("2001:db8::13", 128)], "no address of eth0 is on the subnet of 2001:db8::21"),
])
def test_path_failures_say_why(host, route, addresses, message):
    with pytest.raises(probe.ProbeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        find(FakeRtnl(route, addresses, [neighbour()]))


# --------------------------------------------------------------------- ARP


def test_arp_probe_collects_each_responder_once(monkeypatch):
    monkeypatch.setattr(probe, "interface_mac", lambda name: fake.DIRECTOR_MAC)
    clock = fake.Clock()
    other = bytes.fromhex("020000000022")
    link = fake.ArpLink(clock, [(fake.REAL_MAC, VIP), (other, VIP), (other, "192.0.2.99")])
    found = probe.arp_probe("eth0", VIP, timeout=1.0, count=3, link=link, clock=clock)
    assert found == [probe.Responder("02:00:00:00:00:21", VIP), probe.Responder("02:00:00:00:00:22", VIP)]
    assert [round(when - 100.0, 3) for when, unused in link.sent] == [0.0, 0.2, 0.4]
    assert all(frame == probe.arp_request(fake.DIRECTOR_MAC, VIP) for unused, frame in link.sent)
    assert clock.now - 100.0 == pytest.approx(1.0)
    assert probe.arp_probe("eth0", VIP, link=fake.ArpLink(clock, []), clock=clock) == []
    with pytest.raises(probe.ProbeValidationError, match="ARP is IPv4 only"):
        probe.arp_probe("eth0", VIP6, link=link, clock=clock)


# --------------------------------------------------------------------- CLI

SERVICES = [
    {"virtual": "192.0.2.13", "port": 80, "address": "192.0.2.13", "probe_port": 80, "mode": "http",
     "request": "/server-status?auto", "host": "192.0.2.13", "status": 200, "receive": "Apache", "timeout": 4},
    {"virtual": "2001:db8::13", "port": 443, "address": "2001:db8::13", "probe_port": 443, "mode": "connect"},
    {"virtual": "21", "port": 0, "address": "192.0.2.15", "probe_port": 8080, "mode": "connect", "timeout": 2},
]


@pytest.mark.parametrize("virtual,vport,index", [
    ("192.0.2.13", "80", 0), ("[2001:db8::13]", "443", 1), ("2001:DB8:0::13", "443", 1), ("21", "0", 2),
])
def test_find_service(virtual, vport, index):
    assert probe.find_service(SERVICES, virtual, vport) is SERVICES[index]


@pytest.mark.parametrize("virtual,vport,message", [
    ("192.0.2.13", "81", "no service for 192.0.2.13:81 in the configuration"),
    ("[2001:db8::14]", "443", r"no service for \[2001:db8::14\]:443 in the configuration"),
    ("22", "0", "no service for firewall mark 22 in the configuration"),
    ("web", "80", "VIRTUAL: 'web' is not an IP address"),
    ("192.0.2.13", "http", "VPORT: 'http' is not a port"),
    ("fe80::1%eth0", "80", "VIRTUAL: 'fe80::1%eth0' has a zone ID"),
])
def test_find_service_errors(virtual, vport, message):
    with pytest.raises(probe.ProbeValidationError, match=message):
        probe.find_service(SERVICES, virtual, vport)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "dr-probe.json"
    path.write_text(json.dumps({"services": SERVICES}))
    return str(path)


@pytest.fixture
def recorded(monkeypatch):
    calls: list = []

    def finder(real, port, timeout):
        calls.append(("path", real, port))
        if real == "192.0.2.99":
            raise probe.ProbeError("192.0.2.99 does not answer ARP on eth0 (neighbour table: no entry)")
        return fake.path(ipaddress.ip_address(real).version)

    def prober(path, address, port, **kwargs):
        calls.append(("probe", address, port, kwargs))
        if kwargs["mode"] == "connect" and port == 8080:
            return probe.ProbeResult(False, "no SYN-ACK", None, 2.0)
        return probe.ProbeResult(True, "HTTP 200 for /server-status?auto", 200, 0.01)

    monkeypatch.setattr(probe, "find_path", finder)
    monkeypatch.setattr(probe, "tcp_probe", prober)
    return calls


def test_cli_up_down_and_config_errors(config, recorded, capsys, tmp_path):
    assert probe.main(["check", "--config", config, "192.0.2.13", "80", "192.0.2.4", "80"]) == 0
    assert capsys.readouterr() == ("up: 192.0.2.13:80 via 192.0.2.4: HTTP 200 for /server-status?auto\n", "")
    assert recorded[0] == ("path", "192.0.2.4", 80)
    assert recorded[1][:3] == ("probe", "192.0.2.13", 80)
    assert recorded[1][3]["receive"] == "Apache" and recorded[1][3]["host"] == "192.0.2.13"
    assert 3.5 < recorded[1][3]["timeout"] <= 4
    assert probe.main(["check", "--config", config, "[2001:db8::13]", "443", "[2001:db8::4]", "443"]) == 0
    assert recorded[-1][:3] == ("probe", "2001:db8::13", 443)
    capsys.readouterr()
    # fwmark: the probe goes to the entry's address and probe_port, whatever RPORT says.
    assert probe.main(["check", "--config", config, "21", "0", "192.0.2.4", "0"]) == 1
    assert recorded[-1][:3] == ("probe", "192.0.2.15", 8080)
    assert capsys.readouterr() == ("down: 192.0.2.15:8080 via 192.0.2.4: no SYN-ACK\n", "")
    assert probe.main(["check", "--config", config, "192.0.2.13", "80", "192.0.2.99", "80"]) == 1
    assert capsys.readouterr().out == ("down: 192.0.2.13:80 via 192.0.2.99: 192.0.2.99 does not answer ARP on eth0 "
                                       "(neighbour table: no entry)\n")
    for args, message in (
        (["192.0.2.14", "80", "192.0.2.4", "80"], "dr_probe: no service for 192.0.2.14:80 in the configuration\n"),
        (["192.0.2.13", "80", "2001:db8::4", "80"],
         "dr_probe: REAL: 2001:db8::4 is not of the family of the service's address 192.0.2.13\n"),
        (["192.0.2.13", "80", "192.0.2.4", "99999"], "dr_probe: RPORT: 99999 is not a port (0 to 65535)\n"),
        (["192.0.2.13", "80"], None),
    ):
        assert probe.main(["check", "--config", config, *args]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("dr_probe: ")
        assert message is None or err == message
    missing = str(tmp_path / "missing.json")
    assert probe.main(["check", "--config", missing, "192.0.2.13", "80", "192.0.2.4", "80"]) == 2
    assert "--config: cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"services": [dict(SERVICES[0], receive="(")]}))
    assert probe.main(["check", "--config", str(bad), "192.0.2.13", "80", "192.0.2.4", "80"]) == 2
    assert "services[0].receive: '(' is not a regular expression" in capsys.readouterr().err


# ----------------------------------------------------------- input checks


@pytest.mark.parametrize("entry,message", [
    ({"address": "192.0.2.13", "port": 80, "real_server": "2001:db8::4"}, "p.real_server: 2001:db8::4 is not of the"),
    ({"address": "192.0.2.13", "port": 0, "real_server": "192.0.2.4"}, r"p.port: 0 is not a port \(1 to 65535\)"),
    ({"address": "fe80::1%eth0", "port": 80, "real_server": "fe80::2"}, "p.address: 'fe80::1%eth0' has a zone ID"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.13"}, "p.real_server: is the VIP itself"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.4", "request": "/a b"}, "p.request: '/a b' has a space"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.4", "request": "status"}, "p.request: 'status' must start"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.4", "host": "a\r\nX: y"}, "p.host: .* control character"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.4", "status": 1000}, "p.status: 1000 is not an HTTP"),
    ({"address": "192.0.2.13", "port": 80, "real_server": "192.0.2.4", "mode": "ping"}, "p.mode: 'ping' is not one of"),
])
def test_check_probe_names_the_parameter(entry, message):
    with pytest.raises(probe.ProbeValidationError, match="^" + message):
        probe.check_probe(entry, "p")


def test_check_probe_canonical():
    assert probe.check_probe({"address": "2001:DB8:0::13", "port": 80, "real_server": "2001:db8::0:4"}, "p") == {
        "address": "2001:db8::13", "port": 80, "real_server": "2001:db8::4", "mode": "http", "request": "/",
        "host": None, "status": 200, "receive": None}
