# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/lvslab.py: names matched whole, and `down` refuses a namespace it did not make.

No root and no namespace: the state root is a temporary directory, and every
command lvslab would run (ip, kill) is recorded instead of run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "lab" / "lvslab.py"
spec = importlib.util.spec_from_file_location("lvslab", SCRIPT)
lvslab = importlib.util.module_from_spec(spec)
sys.modules.setdefault("lvslab", lvslab)  # dataclasses look their module up there
spec.loader.exec_module(lvslab)


@pytest.mark.parametrize("name", ["demo", "ipvstest", "flt-1", "a" * 20, "0"])
def test_lab_names_that_pass(name):
    assert lvslab.Lab(name).name == name


@pytest.mark.parametrize("name", ["demo\n", "demo\r", "\ndemo", "de mo", "a" * 21, "-demo", "Demo", "demo/..",
                                  "", "d\u0435mo"])
def test_lab_names_are_matched_whole(name):
    """re.match with "^...$" let "demo\\n" through: "$" matches before a trailing newline."""
    with pytest.raises(lvslab.LabError, match="lab name"):
        lvslab.Lab(name)


def inventory(tmp_path, host: str) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps({"all": {"hosts": {host: {"ansible_host": "192.0.2.4"}}}}))
    return path


def test_a_host_name_with_a_trailing_newline_is_refused(tmp_path):
    assert lvslab.load_inventory(inventory(tmp_path, "web01"))[1][0].name == "web01"
    with pytest.raises(lvslab.LabError, match="lab host names are letters, digits and '-'"):
        lvslab.load_inventory(inventory(tmp_path, "web01\n"))


class Machine:
    """What `down` would do to the machine, recorded: commands run and signals sent."""

    def __init__(self, monkeypatch, tmp_path, namespaces):
        self.commands: list = []
        self.signals: list = []
        self.namespaces = set(namespaces)
        monkeypatch.setattr(lvslab, "STATE_ROOT", tmp_path / "run-lvslab")
        monkeypatch.setattr(lvslab.Lab, "netns_exists", lambda lab: lab.netns in self.namespaces)
        monkeypatch.setattr(lvslab, "run", self.run)
        monkeypatch.setattr(lvslab.os, "kill", lambda pid, sig: self.signals.append((pid, sig)))

    def run(self, *cmd, check=True):
        self.commands.append(cmd)
        if cmd[:3] == ("ip", "netns", "pids"):
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[:3] == ("ip", "netns", "del"):
            self.namespaces.discard(cmd[3])
        return subprocess.CompletedProcess(cmd, 0, "", "")


def test_down_refuses_a_namespace_without_its_state_file(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, ["someone"])
    with pytest.raises(lvslab.LabError) as refused:
        lvslab.Lab("someone").down()
    assert "network namespace someone has no lab state file" in str(refused.value)
    assert "nothing was stopped or removed" in str(refused.value)
    assert machine.commands == [] and machine.signals == []
    assert machine.namespaces == {"someone"}


def test_down_refuses_a_state_file_of_another_lab(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, ["flt"])
    lab = lvslab.Lab("flt")
    lab.dir.mkdir(parents=True)
    lab.state_file.write_text(json.dumps({"name": "other", "hosts": []}))
    with pytest.raises(lvslab.LabError, match="belongs to lab 'other', not 'flt'"):
        lab.down()
    assert machine.commands == [] and machine.namespaces == {"flt"}
    assert lab.state_file.exists()


def test_down_removes_its_own_lab(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, ["flt"])
    lab = lvslab.Lab("flt")
    lab.dir.mkdir(parents=True)
    lab.save([])
    lab.down()
    assert ("ip", "netns", "del", "flt") in machine.commands
    assert machine.namespaces == set()
    assert not lab.dir.exists()


def test_down_of_nothing_does_nothing(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, [])
    lvslab.Lab("flt").down()
    assert machine.commands == []


# --------------------------------------------------------------------------
# The router (lab_router) and the outside segment (lab_segment: outside)
# --------------------------------------------------------------------------

ROUTED = {
    "router01": {"ansible_host": "192.0.2.2", "lab_router": True},
    "web01": {"ansible_host": "192.0.2.4"},
    "client01": {"ansible_host": "192.0.2.226", "lab_segment": "outside"},
}
LB01 = {"lb01": {"ansible_host": "192.0.2.3"}}


def topology(tmp_path, hosts: dict, directors: dict | None = None) -> Path:
    path = tmp_path / "topology.yml"
    children = {"others": {"hosts": hosts}, "directors": {"hosts": directors or {}}}
    path.write_text(json.dumps({"all": {"children": children}}))
    return path


def hosts_of(tmp_path, hosts: dict, directors: dict | None = None) -> dict:
    return {h.name: h for h in lvslab.load_inventory(topology(tmp_path, hosts, directors))[1]}


def test_router_and_outside_hosts_are_read(tmp_path):
    hosts = hosts_of(tmp_path, ROUTED, LB01)
    router, client, web, lb = hosts["router01"], hosts["client01"], hosts["web01"], hosts["lb01"]
    assert (router.router, router.segment, router.bridge) == (True, "inside", "br0")
    assert (router.addr4, router.addr6) == ("192.0.2.2/24", "2001:db8::2/64")
    assert (client.router, client.segment, client.bridge) == (False, "outside", "br1")
    assert (client.addr4, client.addr6) == ("192.0.2.226/27", "2001:db8:1::e2/64")
    assert (web.segment, web.router, lb.kind, lb.segment) == ("inside", False, "uml", "inside")


@pytest.mark.parametrize("hosts, directors, message", [
    ({"r1": {"ansible_host": "192.0.2.2", "lab_router": True},
      "r2": {"ansible_host": "192.0.2.9", "lab_router": True}}, None,
     "hosts r1, r2 all set lab_router: a lab has at most one router"),
    ({}, {"lb01": {"ansible_host": "192.0.2.3", "lab_router": True}},
     "host lb01: lab_router needs an nspawn host, not uml"),
    ({"r1": {"ansible_host": "192.0.2.2", "lab_router": True, "lab_kind": "uml"}}, None,
     "host r1: lab_router needs an nspawn host, not uml"),
    ({"r1": {"ansible_host": "192.0.2.2", "lab_router": "yes"}}, None,
     "host r1: lab_router must be true or false, not 'yes'"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.230", "lab_segment": "outside", "lab_kind": "uml"}}, None,
     "host c2: lab_segment: outside needs an nspawn host, not uml"),
    ({"c1": {"ansible_host": "192.0.2.226", "lab_segment": "outside"}}, None,
     "host c1: lab_segment: outside needs a router in the lab"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.30", "lab_segment": "outside"}}, None,
     r"host c2: lab_segment: outside needs an ansible_host in 192.0.2.224/27, .226-.253 .* not 192.0.2.30"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.225", "lab_segment": "outside"}}, None,
     r"host c2: lab_segment: outside needs an ansible_host in 192.0.2.224/27, .226-.253 \(.225 is the router\)"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.224", "lab_segment": "outside"}}, None,
     "host c2: lab_segment: outside needs an ansible_host in 192.0.2.224/27"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.254", "lab_segment": "outside"}}, None,
     r"\.254 is the controller"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.230", "lab_segment": "nowhere"}}, None,
     "host c2: lab_segment must be inside or outside, not 'nowhere'"),
    ({"r1": {"ansible_host": "192.0.2.226", "lab_router": True, "lab_segment": "outside"}}, None,
     "host r1: lab_router and lab_segment: outside exclude each other"),
    ({**ROUTED, "web09": {"ansible_host": "192.0.2.240"}}, None,
     r"host web09: ansible_host 192.0.2.240 is in 192.0.2.224/27, the outside segment routed by router01"),
    ({**ROUTED, "c2": {"ansible_host": "192.0.2.226", "lab_segment": "outside"}}, None,
     "hosts client01 and c2 share the address 192.0.2.226"),
])
def test_router_and_segment_mistakes_are_one_line_errors(tmp_path, hosts, directors, message):
    with pytest.raises(lvslab.LabError, match=message) as refused:
        lvslab.load_inventory(topology(tmp_path, hosts, directors))
    assert "\n" not in str(refused.value)


def test_without_a_router_the_outside_addresses_are_ordinary_br0_addresses(tmp_path):
    """Labs without a router behave as they always did: .224-.253 are br0 addresses."""
    hosts = hosts_of(tmp_path, {"web09": {"ansible_host": "192.0.2.240"}, "web10": {"ansible_host": "192.0.2.225"}})
    assert hosts["web09"].addr4 == "192.0.2.240/24" and hosts["web09"].addr6 == "2001:db8::f0/64"
    assert hosts["web10"].bridge == "br0" and not hosts["web10"].router
    assert lvslab.host_etc_files(list(hosts.values())) == {}


@pytest.mark.parametrize("topology_file", ["seed.yml", "ipvs.yml"])
def test_the_existing_topologies_get_no_extra_files(topology_file):
    hosts = lvslab.load_inventory(SCRIPT.parent / "topologies" / topology_file)[1]
    assert all(h.segment == "inside" and not h.router for h in hosts)
    assert lvslab.host_etc_files(hosts) == {}


def test_the_scaleout_topology(tmp_path):
    hosts = {h.name: h for h in lvslab.load_inventory(SCRIPT.parent / "topologies" / "scaleout.yml")[1]}
    assert [h for h in hosts.values() if h.router] == [hosts["router01"]]
    assert hosts["router01"].addr4 == "192.0.2.2/24"
    assert {n for n, h in hosts.items() if h.kind == "uml"} == {"lb01", "lb02", "lb03"}
    assert [n for n, h in hosts.items() if h.segment == "outside"] == ["client01"]
    assert hosts["client01"].addr4 == "192.0.2.226/27"


def sections(text: str) -> list[dict]:
    """A systemd unit-style file as a list of {"[Section]": name, key: value}."""
    out: list[dict] = []
    for line in text.splitlines():
        if line.startswith("["):
            out.append({"[Section]": line})
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[-1][key] = value
    return out


def test_network_files_route_through_the_router(tmp_path):
    hosts = list(hosts_of(tmp_path, ROUTED, LB01).values())
    files = lvslab.host_etc_files(hosts)
    dropin = "systemd/network/10-lvslab.network.d/50-lvslab-routes.conf"
    route = "[Route]"
    # br0 hosts, UML or nspawn: the outside /27 and /64 via the router, the controller on the link.
    for name in ("web01", "lb01"):
        assert sorted(files[name]) == [dropin]
        assert sections(files[name][dropin]) == [
            {"[Section]": route, "Destination": "192.0.2.224/27", "Gateway": "192.0.2.2"},
            {"[Section]": route, "Destination": "2001:db8:1::/64", "Gateway": "2001:db8::2"},
            {"[Section]": route, "Destination": "192.0.2.254/32", "Scope": "link"},
        ]
    # The outside host: the lab and the controller via the router's outside addresses; no default.
    assert sections(files["client01"][dropin]) == [
        {"[Section]": route, "Destination": "192.0.2.0/24", "Gateway": "192.0.2.225"},
        {"[Section]": route, "Destination": "192.0.2.254/32", "Gateway": "192.0.2.225"},
        {"[Section]": route, "Destination": "2001:db8::/64", "Gateway": "2001:db8:1::1"},
    ]
    assert "0.0.0.0/0" not in str(files) and "::/0" not in str(files)
    # The router: its br1 leg (host1), the controller on br0, and its sysctls.
    router = files["router01"]
    assert sorted(router) == ["sysctl.d/91-lvslab-router.conf", dropin,
                              "systemd/network/11-lvslab-outside.network"]
    assert sections(router[dropin]) == [{"[Section]": route, "Destination": "192.0.2.254/32", "Scope": "link"}]
    outside = sections(router["systemd/network/11-lvslab-outside.network"])
    assert outside[0] == {"[Section]": "[Match]", "Name": "host1"}
    assert [s.get("Address") for s in outside[2:]] == ["192.0.2.225/27", "2001:db8:1::1/64"]
    sysctl = dict(line.split(" = ") for line in router["sysctl.d/91-lvslab-router.conf"].splitlines()
                  if line and not line.startswith("#"))
    assert sysctl == {
        "net.ipv4.ip_forward": "1",
        "net.ipv6.conf.all.forwarding": "1",
        "net.ipv4.fib_multipath_hash_policy": "1",
        "net.ipv6.fib_multipath_hash_policy": "1",
        "net.ipv4.conf.all.send_redirects": "0",
        "net.ipv4.conf.default.send_redirects": "0",
        "net.ipv4.conf.host0.send_redirects": "0",
        "net.ipv4.conf.host1.send_redirects": "0",
        "net.ipv4.conf.all.rp_filter": "0",
        "net.ipv4.conf.default.rp_filter": "0",
        "net.ipv4.conf.host0.rp_filter": "0",
        "net.ipv4.conf.host1.rp_filter": "0",
    }


def test_files_land_under_each_hosts_etc_and_the_hosts_file_names_outside_hosts(monkeypatch, tmp_path):
    monkeypatch.setattr(lvslab, "STATE_ROOT", tmp_path / "run-lvslab")
    lab = lvslab.Lab("rt")
    monkeypatch.setattr(lvslab.Lab, "netns_etc", property(lambda self: tmp_path / "etc-netns" / self.netns))
    lab.dir.mkdir(parents=True)
    hosts = list(hosts_of(tmp_path, ROUTED, LB01).values())
    lab.write_host_etc_files(hosts)
    lab.write_hosts_file(hosts)
    written = sorted(str(p.relative_to(lab.dir)) for p in lab.dir.rglob("*") if p.is_file())
    assert "hosts/router01/etc/sysctl.d/91-lvslab-router.conf" in written
    assert "hosts/client01/etc/systemd/network/10-lvslab.network.d/50-lvslab-routes.conf" in written
    etc_hosts = (lab.dir / "etc-hosts").read_text()
    assert "192.0.2.226\tclient01 client01.lab.test\n" in etc_hosts
    assert "2001:db8:1::e2\tclient01\n" in etc_hosts


def test_state_saved_before_the_router_existed_still_loads(monkeypatch, tmp_path):
    monkeypatch.setattr(lvslab, "STATE_ROOT", tmp_path / "run-lvslab")
    lab = lvslab.Lab("old")
    lab.dir.mkdir(parents=True)
    old = {"name": "web01", "kind": "nspawn", "addr4": "192.0.2.4/24", "addr6": "2001:db8::4/64",
           "pid": 0, "starttime": 0}
    lab.state_file.write_text(json.dumps({"name": "old", "hosts": [old]}))
    (host,) = lab.load()
    assert (host.segment, host.router, host.bridge) == ("inside", False, "br0")
    lab.save([host, *hosts_of(tmp_path, ROUTED).values()])
    assert {h.name: (h.segment, h.router) for h in lab.load()}["client01"] == ("outside", False)


def network_commands(monkeypatch, tmp_path, hosts: dict, directors: dict | None = None) -> list:
    machine = Machine(monkeypatch, tmp_path, [])
    lvslab.Lab("rt").make_network(list(hosts_of(tmp_path, hosts, directors).values()))
    return machine.commands


def test_a_lab_without_a_router_gets_the_network_it_always_had(monkeypatch, tmp_path):
    commands = network_commands(monkeypatch, tmp_path, {"web01": {"ansible_host": "192.0.2.4"}}, LB01)
    ipn = ("ip", "-n", "rt")
    assert [c for c in commands if c[:3] == ipn] == [
        (*ipn, "link", "set", "lo", "up"),
        (*ipn, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"),
        (*ipn, "link", "set", "br0", "gso_max_size", "1500"),
        (*ipn, "link", "set", "br0", "up"),
        (*ipn, "addr", "add", "192.0.2.254/24", "dev", "br0"),
        (*ipn, "addr", "add", "2001:db8::fe/64", "dev", "br0", "nodad"),
    ]


def test_a_lab_with_a_router_gets_br1_and_controller_routes(monkeypatch, tmp_path):
    commands = network_commands(monkeypatch, tmp_path, ROUTED, LB01)
    ipn = ("ip", "-n", "rt")
    assert [c for c in commands if c[:3] == ipn][-5:] == [
        (*ipn, "link", "add", "br1", "type", "bridge", "mcast_snooping", "0"),
        (*ipn, "link", "set", "br1", "gso_max_size", "1500"),
        (*ipn, "link", "set", "br1", "up"),
        (*ipn, "route", "add", "192.0.2.224/27", "via", "192.0.2.2", "dev", "br0"),
        (*ipn, "-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::2", "dev", "br0"),
    ]


def test_nspawn_hosts_get_their_bridge_and_the_router_its_second_wire(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, [])
    spawned: dict = {}
    monkeypatch.setattr(lvslab.Lab, "_spawn", lambda lab, host, cmd: spawned.__setitem__(host.name, cmd))
    lab = lvslab.Lab("rt")
    hosts = hosts_of(tmp_path, ROUTED)
    for host in hosts.values():
        lab.start_nspawn(host)
    assert spawned["web01"][-2:] == [str(lvslab.SHARE), "br0"]
    assert spawned["client01"][-2:] == [str(lvslab.SHARE), "br1"]
    assert spawned["router01"][-3:] == [str(lvslab.SHARE), "br0", "host1"]
    assert machine.commands == [
        ("ip", "-n", "rt", "link", "add", "vo-router01", "type", "veth", "peer", "name", "host1"),
        ("ip", "-n", "rt", "link", "set", "vo-router01", "master", "br1", "up"),
    ]


def test_link_cuts_both_wires_of_the_router(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path, ["rt"])
    state = {}

    def run(*cmd, check=True):
        machine.commands.append(cmd)
        if cmd[4:6] == ("set", "dev"):
            state[cmd[6]] = cmd[7]
        out = ""
        if "-json" in cmd:
            out = json.dumps([{"flags": ["UP"] if state.get(cmd[-1]) == "up" else []}])
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(lvslab, "run", run)
    lab = lvslab.Lab("rt")
    lab.dir.mkdir(parents=True)
    lab.save(list(hosts_of(tmp_path, ROUTED).values()))
    lab.link("router01", "down")
    assert state == {"vb-router01": "down", "vo-router01": "down"}
    lab.link("client01", "down")
    lab.link("router01", "up")
    assert state == {"vb-router01": "up", "vo-router01": "up", "vb-client01": "down"}
