# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import random
import re
import socket

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe
from ansible_collections.lvs.cluster.plugins.modules import dr_probe
from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils import dr_fake as fake
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails

pytestmark = pytest.mark.usefixtures("harness")

main = dr_probe.main


@pytest.fixture
def wire(monkeypatch):
    """The real probe code over scripted servers: 192.0.2.4 serves the VIP, 192.0.2.5 lost it,
    192.0.2.6 answers 404; 192.0.2.7 has no neighbour entry; 192.0.2.5 answers ARP for 192.0.2.13."""
    clock = fake.Clock()
    calls: list = []
    behaviour = {"192.0.2.4": {"response": fake.http_response()}, "192.0.2.5": {"silent": True},
                 "192.0.2.6": {"response": fake.http_response(404)}, "2001:db8::4": {"response": fake.http_response()}}

    def finder(real, port, timeout):
        if real == "192.0.2.7":
            raise probe.ProbeError("192.0.2.7 does not answer ARP on eth0 (neighbour table: no entry)")
        family = 6 if ":" in real else 4
        return fake.path(family)._replace(real_server=real)

    def prober(path, address, port, **kwargs):
        calls.append((path.real_server, address, port, kwargs))
        server = fake.FakeServer(clock, path, address, port, **behaviour[path.real_server])
        return original(path, address, port, link=server, clock=clock, rng=random.Random(1), **kwargs)

    def arp_link(ifname, bpf, protocol):
        return fake.ArpLink(clock, [(bytes.fromhex("020000000005"), "192.0.2.13")])

    original = probe.tcp_probe
    monkeypatch.setattr(probe, "find_path", finder)
    monkeypatch.setattr(probe, "tcp_probe", prober)
    monkeypatch.setattr(probe, "PacketLink", arp_link)
    monkeypatch.setattr(probe, "check_privilege", lambda: None)
    monkeypatch.setattr(probe, "interface_mac", lambda name: fake.DIRECTOR_MAC)
    monkeypatch.setattr(probe.time, "monotonic", clock)
    return calls


def vip(real, **kwargs):
    return dict({"address": "192.0.2.13", "port": 80, "real_server": real}, **kwargs)


def test_probes_and_arp_results(wire):
    args = {"probes": [vip("192.0.2.4", request="/server-status", receive="Apache"), vip("192.0.2.5"),
                       vip("192.0.2.6"), vip("192.0.2.7"), vip("2001:DB8::4", address="2001:db8::13", mode="connect")],
            "arp": ["192.0.2.13", "192.0.2.14"], "interface": "eth0", "timeout": 2}
    for check_mode in (True, False):
        result = exits(main, args, check_mode=check_mode)
        assert result["changed"] is False
        assert [(p["real_server"], p["ok"], p["http_status"], p["reason"]) for p in result["probes"]] == [
            ("192.0.2.4", True, 200, "HTTP 200 for /server-status, receive /Apache/ found"),
            ("192.0.2.5", False, None, "no SYN-ACK from 192.0.2.5 for 192.0.2.13:80 within 2 s (is the VIP on its lo?)"),
            ("192.0.2.6", False, 404, "HTTP 404 for / (expected 200)"),
            ("192.0.2.7", False, None, "192.0.2.7 does not answer ARP on eth0 (neighbour table: no entry)"),
            ("2001:db8::4", True, None, "connected to [2001:db8::13]:80 through 2001:db8::4"),
        ]
        first = result["probes"][0]
        assert {k: first[k] for k in ("address", "port", "mode", "request", "host", "status", "receive")} == {
            "address": "192.0.2.13", "port": 80, "mode": "http", "request": "/server-status", "host": None,
            "status": 200, "receive": "Apache"}
        assert result["probes"][1]["elapsed"] == pytest.approx(2.0, abs=0.01)
        assert [p["real_mac"] for p in result["probes"]] == [probe.format_mac(fake.REAL_MAC)] * 3 + [None] + [
            probe.format_mac(fake.REAL_MAC)]
        assert result["arp"] == [{"address": "192.0.2.13", "responders": [{"mac": "02:00:00:00:00:05", "address": "192.0.2.13"}]},
                                 {"address": "192.0.2.14", "responders": []}]
    assert wire[-1][3]["timeout"] == pytest.approx(2.0)


@pytest.mark.parametrize("args,message", [
    ({"probes": [vip("192.0.2.4"), vip("192.0.2.4", port=70000)]}, r"^probes\[1\]\.port: 70000 is not a port"),
    ({"probes": [vip("2001:db8::4")]}, r"^probes\[0\]\.real_server: 2001:db8::4 is not of the address's family"),
    ({"probes": [vip("192.0.2.4", address="192.0.2.13%eth0")]}, r"^probes\[0\]\.address: .* has a zone ID"),
    ({"probes": [vip("192.0.2.4", receive="[a-")]}, r"^probes\[0\]\.receive: '\[a-' is not a regular expression"),
    ({"probes": [vip("192.0.2.4", request="/a\nb")]}, r"^probes\[0\]\.request: .* control character"),
    ({"probes": [vip("192.0.2.4", status=99)]}, r"^probes\[0\]\.status: 99 is not an HTTP status code"),
    ({"arp": ["192.0.2.13"]}, "^interface: is required when arp is given"),
    ({"arp": ["192.0.2.13", "2001:db8::13"], "interface": "eth0"}, r"^arp\[1\]: 2001:db8::13 is not an IPv4 address"),
    ({"arp": ["web01"], "interface": "eth0"}, r"^arp\[0\]: 'web01' is not an IP address"),
    ({"timeout": 0}, "^timeout: 0.0 is not between 0.1 and 300 seconds"),
])
def test_bad_input_names_the_parameter_and_probes_nothing(wire, args, message):
    result = fails(main, args)
    assert re.search(message, result["msg"]), result["msg"]
    assert wire == []


def test_an_unknown_interface_fails(wire, monkeypatch):
    def no_such(name):
        raise probe.ProbeError("interface %s: No such device" % name)
    monkeypatch.setattr(probe, "interface_mac", no_such)
    assert fails(main, {"arp": ["192.0.2.13"], "interface": "eth9"})["msg"] == "interface: interface eth9: No such device"


def test_without_root_it_fails_saying_so(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(socket, "socket", refuse)
    result = fails(main, {"probes": [vip("192.0.2.4")]})
    assert result["msg"] == "opening a packet socket needs root (CAP_NET_RAW): Operation not permitted"


def test_nothing_to_do():
    assert exits(main, {}) == {"changed": False, "probes": [], "arp": []}
