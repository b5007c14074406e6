# -*- coding: utf-8 -*-
"""The DR-path probe against real kernels (inside lab/uml-run).

The UML's root namespace plays the director: its end of a veth pair has
192.0.2.10/24 and 2001:db8::10/64 and the VIPs 192.0.2.100/32 and 2001:db8::100/128
as local addresses.  A namespace "rs" on the other end plays a DR real server:
192.0.2.21/24 and 2001:db8::21/64, the VIPs on its lo, arp_ignore=1 and
arp_announce=2, an HTTP server listening on the VIPs only.  Nothing leaves the
throwaway kernel (it has no network device of its own).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe

DIRECTOR, DIRECTOR6 = "192.0.2.10", "2001:db8::10"
REAL, REAL6 = "192.0.2.21", "2001:db8::21"
VIP, VIP6 = "192.0.2.100", "2001:db8::100"
IFACE = "dir0"
BODY = "lvs-cluster test backend: Apache-like status page"
SCRIPT = Path(probe.__file__)

SERVER = r"""
import http.server, socket, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (sys.argv[1] + "\n").encode() if self.path == "/status" else b"no such page\n"
        self.send_response(200 if self.path == "/status" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
servers = [http.server.ThreadingHTTPServer(("192.0.2.100", 80), Handler), Server6(("2001:db8::100", 80), Handler)]
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
"""


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(list(args), check=check, capture_output=True, text=True).stdout


def rs(*args: str, check: bool = True) -> str:
    return sh("ip", "netns", "exec", "rs", *args, check=check)


@pytest.fixture(scope="module")
def lab():
    sh("modprobe", "veth")
    sh("ip", "netns", "add", "rs")
    sh("ip", "link", "add", IFACE, "type", "veth", "peer", "name", "rs0", "netns", "rs")
    for address in (DIRECTOR + "/24", VIP + "/32"):
        sh("ip", "address", "add", address, "dev", IFACE)
    for address in (DIRECTOR6 + "/64", VIP6 + "/128"):
        sh("ip", "address", "add", address, "dev", IFACE, "nodad")
    sh("ip", "link", "set", IFACE, "up")
    for key in ("all", "default"):
        rs("sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=1" % key, "net.ipv4.conf.%s.arp_announce=2" % key)
    rs("ip", "link", "set", "lo", "up")
    rs("ip", "address", "add", REAL + "/24", "dev", "rs0")
    rs("ip", "address", "add", REAL6 + "/64", "dev", "rs0", "nodad")
    rs("ip", "link", "set", "rs0", "up")
    rs("ip", "address", "add", VIP + "/32", "dev", "lo")
    rs("ip", "address", "add", VIP6 + "/128", "dev", "lo")
    server = subprocess.Popen(["ip", "netns", "exec", "rs", sys.executable, "-c", SERVER, BODY],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    time.sleep(1)  # the veth's link-local addresses settle
    yield
    server.terminate()
    server.wait(10)
    sh("ip", "link", "del", IFACE)
    sh("ip", "netns", "del", "rs")


@pytest.fixture
def vips_on_lo(lab):
    """Each test starts (and leaves) rs with both VIPs on lo and arp_ignore=1."""
    yield
    for vip, plen in ((VIP, 32), (VIP6, 128)):
        rs("ip", "address", "replace", "%s/%d" % (vip, plen), "dev", "lo")
    arp_ignore(1)


def arp_ignore(value: int) -> None:
    """rs's effective arp_ignore (the kernel takes the max of all and the interface; default reached rs0)."""
    rs("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=%d" % value, "net.ipv4.conf.rs0.arp_ignore=%d" % value)


def half_open() -> list:
    """rs's TCP sockets on port 80 that are not listening or closed: a probe must leave none."""
    lines = rs("ss", "-Htan", "sport", "= :80").splitlines()
    return [line for line in lines if not line.startswith(("LISTEN", "TIME-WAIT"))]


def wait_no_half_open(limit: float = 2.0) -> list:
    deadline = time.monotonic() + limit
    left = half_open()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = half_open()
    return left


def run_probe(real: str, vip: str, **kwargs) -> probe.ProbeResult:
    path = probe.find_path(real, 80)
    return probe.tcp_probe(path, vip, 80, **kwargs)


def outgoing_rsts(seconds_holder: dict, stop: threading.Event) -> None:
    """Count the TCP RSTs leaving dir0 to the VIPs (run in a thread)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(probe.ETH_P_ALL))
    sock.bind((IFACE, 0))
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            frame, address = sock.recvfrom(65536)
        except socket.timeout:
            continue
        segment = probe.parse_frame(frame)
        if address[2] == probe.PACKET_OUTGOING and segment and segment.flags & probe.TCP_RST:
            seconds_holder.setdefault(segment.dst, []).append(segment.sport)
    sock.close()


# ------------------------------------------------------------------ path


def test_path_resolves_the_real_server(vips_on_lo):
    sh("ip", "neigh", "flush", "dev", IFACE)
    for real, source in ((REAL, DIRECTOR), (REAL6, DIRECTOR6)):
        path = probe.find_path(real, 80)
        assert (path.ifname, path.source, path.real_server) == (IFACE, source, real)
        rs_mac = rs("cat", "/sys/class/net/rs0/address").strip()
        assert probe.format_mac(path.real_mac) == rs_mac
        assert probe.format_mac(path.source_mac) == sh("cat", "/sys/class/net/%s/address" % IFACE).strip()


def test_path_fails_for_nobody_and_for_local_addresses(lab):
    with pytest.raises(probe.ProbeError, match=r"192\.0\.2\.99 does not answer ARP on dir0"):
        probe.find_path("192.0.2.99", 80, timeout=1.0)
    with pytest.raises(probe.ProbeError, match=r"2001:db8::99 does not answer neighbour solicitations"):
        probe.find_path("2001:db8::99", 80, timeout=1.0)
    with pytest.raises(probe.ProbeError, match="is an address of this host"):
        probe.find_path(VIP, 80)


# ----------------------------------------------------------------- probes


@pytest.mark.parametrize("real,vip", [(REAL, VIP), (REAL6, VIP6)])
def test_http_probe_through_the_dr_path(vips_on_lo, real, vip):
    seen: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=outgoing_rsts, args=(seen, stop))
    watcher.start()
    time.sleep(0.2)
    try:
        result = run_probe(real, vip, request="/status", receive=r"Apache-like \w+ page")
    finally:
        time.sleep(0.3)
        stop.set()
        watcher.join()
    assert result.ok, result
    assert result.status == 200 and "receive /Apache-like \\w+ page/ found" in result.reason
    assert result.elapsed < 2
    assert wait_no_half_open() == []
    # Exactly the probe's own RST left the interface: the director's kernel sent none to the real server
    # (IPv4: the SYN-ACK from its own VIP is a martian; IPv6: its RST goes to the VIP, a local address).
    assert len(seen.get(vip, [])) == 1, seen


@pytest.mark.parametrize("real,vip", [(REAL, VIP), (REAL6, VIP6)])
def test_http_probe_failures_say_why(vips_on_lo, real, vip):
    missing = run_probe(real, vip, request="/status", receive="Nginx")
    assert not missing.ok and missing.status == 200
    assert missing.reason == "receive /Nginx/ not found in the response to /status"
    wrong = run_probe(real, vip, request="/server-status")
    assert not wrong.ok and wrong.status == 404 and wrong.reason == "HTTP 404 for /server-status (expected 200)"
    assert run_probe(real, vip, request="/nope", status=404).ok
    assert wait_no_half_open() == []


@pytest.mark.parametrize("real,vip,plen", [(REAL, VIP, 32), (REAL6, VIP6, 128)])
def test_a_real_server_without_the_vip_fails_within_the_timeout(vips_on_lo, real, vip, plen):
    assert run_probe(real, vip, mode="connect").ok
    rs("ip", "address", "del", "%s/%d" % (vip, plen), "dev", "lo")
    for mode in ("http", "connect"):
        start = time.monotonic()
        result = run_probe(real, vip, mode=mode, request="/status", timeout=1.5)
        took = time.monotonic() - start
        assert not result.ok and result.status is None
        endpoint = "[%s]:80" % vip if ":" in vip else "%s:80" % vip
        assert result.reason == "no SYN-ACK from %s for %s within 1.5 s (is the VIP on its lo?)" % (real, endpoint)
        assert 1.4 <= result.elapsed <= 2.5 and took < 4
    assert wait_no_half_open() == []


def test_connect_mode_and_a_closed_port(vips_on_lo):
    result = run_probe(REAL, VIP, mode="connect")
    assert result.ok and result.reason == "connected to 192.0.2.100:80 through 192.0.2.21"
    path = probe.find_path(REAL, 80)
    refused = probe.tcp_probe(path, VIP, 81, mode="connect")
    assert not refused.ok and refused.reason == "192.0.2.21 refused 192.0.2.100:81 (RST): nothing listens there"
    assert wait_no_half_open() == []


# -------------------------------------------------------------------- ARP


def test_arp_probe_finds_real_servers_that_answer_for_the_vip(vips_on_lo):
    assert probe.arp_probe(IFACE, VIP, timeout=1.0) == []
    arp_ignore(0)
    rs_mac = rs("cat", "/sys/class/net/rs0/address").strip()
    assert probe.arp_probe(IFACE, VIP, timeout=1.0) == [probe.Responder(rs_mac, VIP)]
    # Its own address is answered either way: the probe itself works.
    assert probe.arp_probe(IFACE, REAL, timeout=1.0) == [probe.Responder(rs_mac, REAL)]
    # RFC 5227 probes change nobody's cache: rs learnt no entry for 0.0.0.0 and kept the director's.
    assert "0.0.0.0" not in rs("ip", "neigh", "show", "dev", "rs0")


def neighbour_advertised(target: str) -> bool:
    """Send a neighbour solicitation for ``target`` from the director; True if rs advertises it."""
    mac = probe.interface_mac(IFACE)
    target_ip = socket.inet_pton(socket.AF_INET6, target)
    group = "ff02::1:ff" + "%02x:%02x%02x" % tuple(target_ip[13:])
    group_mac = b"\x33\x33\xff" + target_ip[13:]
    body = struct.pack("!BBHI16s", 135, 0, 0, 0, target_ip) + struct.pack("!BB6s", 1, 1, mac)
    pseudo = (socket.inet_pton(socket.AF_INET6, DIRECTOR6) + socket.inet_pton(socket.AF_INET6, group)
              + struct.pack("!I3xB", len(body), 58))
    body = body[:2] + struct.pack("!H", probe.checksum(pseudo + body)) + body[4:]
    packet = struct.pack("!IHBB16s16s", 6 << 28, len(body), 58, 255, socket.inet_pton(socket.AF_INET6, DIRECTOR6),
                         socket.inet_pton(socket.AF_INET6, group)) + body
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(probe.ETH_P_IPV6))
    sock.bind((IFACE, probe.ETH_P_IPV6))
    sock.settimeout(0.2)
    try:
        sock.send(probe.ethernet(group_mac, mac, probe.ETH_P_IPV6, packet))
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                frame, address = sock.recvfrom(65536)
            except socket.timeout:
                continue
            data = frame[14:]
            if address[2] != probe.PACKET_OUTGOING and data[6] == 58 and data[40] == 136 and data[48:64] == target_ip:
                return True
        return False
    finally:
        sock.close()


def test_linux_does_not_answer_neighbour_solicitations_for_the_vip_on_lo(vips_on_lo):
    assert neighbour_advertised(REAL6) is True
    assert neighbour_advertised(VIP6) is False
    arp_ignore(0)  # an IPv4 setting: IPv6 has no such switch
    assert neighbour_advertised(VIP6) is False


# -------------------------------------------------------------------- CLI


@pytest.fixture
def config(tmp_path):
    services = [
        {"virtual": VIP, "port": 80, "address": VIP, "probe_port": 80, "mode": "http", "request": "/status",
         "host": VIP, "status": 200, "receive": "Apache-like", "timeout": 2},
        {"virtual": VIP6, "port": 80, "address": VIP6, "probe_port": 80, "mode": "http", "request": "/status",
         "receive": "Apache-like", "timeout": 2},
        {"virtual": "21", "port": 0, "address": VIP, "probe_port": 80, "mode": "connect", "timeout": 2},
    ]
    path = tmp_path / "dr-probe.json"
    path.write_text(json.dumps({"services": services}))
    return str(path)


def cli(*args: str) -> subprocess.CompletedProcess:
    # As the health checkers run it: the file on its own, by path, with no collection around it.
    return subprocess.run([sys.executable, "-I", str(SCRIPT), "check", *args], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"]}, timeout=30)


def test_cli_exit_codes(vips_on_lo, config):
    for args in (("192.0.2.100", "80", "192.0.2.21", "80"), ("[2001:db8::100]", "80", "[2001:db8::21]", "80"),
                 ("2001:db8:0::100", "80", "2001:db8::21", "80"), ("21", "0", "192.0.2.21", "0")):
        done = cli("--config", config, *args)
        assert (done.returncode, done.stderr) == (0, ""), (args, done)
        assert done.stdout.startswith("up: ") and done.stdout.count("\n") == 1
    rs("ip", "address", "del", VIP + "/32", "dev", "lo")
    done = cli("--config", config, "192.0.2.100", "80", "192.0.2.21", "80")
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout == ("down: 192.0.2.100:80 via 192.0.2.21: no SYN-ACK from 192.0.2.21 for 192.0.2.100:80 "
                           "within 2 s (is the VIP on its lo?)\n")
    assert cli("--config", config, "21", "0", "192.0.2.21", "0").returncode == 1
    assert cli("--config", config, "[2001:db8::100]", "80", "[2001:db8::21]", "80").returncode == 0
    nobody = cli("--config", config, "192.0.2.100", "80", "192.0.2.99", "80")
    assert nobody.returncode == 1 and "192.0.2.99 does not answer ARP" in nobody.stdout
    unknown = cli("--config", config, "192.0.2.101", "80", "192.0.2.21", "80")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == "dr_probe: no service for 192.0.2.101:80 in the configuration\n"
    usage = cli("--config", config, "192.0.2.100", "80")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
