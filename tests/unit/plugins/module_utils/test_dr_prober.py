# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR-path prober (dr_probe serve) and the checkers' wrapper that answers from its verdicts.

The prober's probes are the fakes of test_dr_probe_wire; the wrapper is the lb role's
template, rendered and run with /bin/sh, with a stand-in for the interpreter it falls
back to.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import jinja2
import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe
from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils import dr_fake as fake

WRAPPER = Path(__file__).resolve().parents[4] / "roles/lb/templates/usr/local/lib/lvs-cluster/dr-check.j2"

SERVICES = [
    {"virtual": "192.0.2.13", "port": 80, "address": "192.0.2.13", "probe_port": 80, "mode": "http",
     "request": "/server-status", "host": "192.0.2.13", "status": 200, "receive": "Apache", "timeout": 1,
     "real_servers": ["192.0.2.4", "192.0.2.5"]},
    {"virtual": "2001:db8::13", "port": 443, "address": "2001:db8::13", "probe_port": 443, "mode": "connect",
     "real_servers": ["2001:DB8::4"]},
    {"virtual": "21", "port": 0, "address": "192.0.2.15", "probe_port": 80, "mode": "connect", "timeout": 2,
     "real_servers": ["192.0.2.4"]},
]
NAMES = ["192.0.2.13_80_192.0.2.4", "192.0.2.13_80_192.0.2.5", "2001:db8::13_443_2001:db8::4", "21_0_192.0.2.4"]


@pytest.mark.parametrize("virtual, port, real, name", [
    ("192.0.2.13", 80, "192.0.2.4", "192.0.2.13_80_192.0.2.4"),
    ("[2001:db8::13]", "443", "[2001:db8::4]", "2001:db8::13_443_2001:db8::4"),
    ("21", "80", "192.0.2.4", "21_0_192.0.2.4"),
    (21, 0, "192.0.2.4", "21_0_192.0.2.4"),
])
def test_state_name(virtual, port, real, name):
    assert probe.state_name(virtual, port, real) == name


@pytest.fixture
def probes(monkeypatch):
    """192.0.2.5 is down (no SYN-ACK); every other real server is up. Records each probe."""
    calls: list = []

    def finder(real, port, timeout):
        return fake.path(ipaddress.ip_address(real).version)._replace(real_server=real)

    def prober(path, address, port, **kwargs):
        calls.append((path.real_server, address, port))
        if path.real_server == "192.0.2.5":
            return probe.ProbeResult(False, "no SYN-ACK", None, 1.0)
        return probe.ProbeResult(True, "connected", None, 0.01)

    monkeypatch.setattr(probe, "find_path", finder)
    monkeypatch.setattr(probe, "tcp_probe", prober)
    return calls


def write_config(tmp_path, services) -> str:
    path = tmp_path / "dr-check.json"
    path.write_text(json.dumps({"services": services}))
    return str(path)


def serve_until(config: str, state: Path, done, limit: float = 10.0) -> None:
    """serve() in a thread until ``done()`` is true (or ``limit`` seconds), then stopped."""
    stop = threading.Event()
    thread = threading.Thread(target=probe.serve, args=(config, str(state), 0.1, stop))
    thread.start()
    deadline = time.monotonic() + limit
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_serve_keeps_a_verdict_per_real_server_and_clears_an_earlier_configurations(tmp_path, probes):
    state = tmp_path / "state"
    state.mkdir()
    (state / "192.0.2.99_80_192.0.2.4").write_text("up: from an earlier configuration\n")
    (state / ".192.0.2.99_80_192.0.2.4.k2j_x9").write_text("up: half written\n")
    (state / "notes.txt").write_text("not the prober's\n")
    serve_until(write_config(tmp_path, SERVICES), state, lambda: len(probes) >= 12)
    assert sorted(os.listdir(state)) == sorted(NAMES + ["notes.txt"])
    verdicts = {name: (state / name).read_text() for name in NAMES}
    assert verdicts["192.0.2.13_80_192.0.2.5"] == "down: 192.0.2.13:80 via 192.0.2.5: no SYN-ACK\n"
    assert verdicts["192.0.2.13_80_192.0.2.4"] == "up: 192.0.2.13:80 via 192.0.2.4: connected\n"
    assert verdicts["2001:db8::13_443_2001:db8::4"].startswith("up: [2001:db8::13]:443 via 2001:db8::4")
    assert verdicts["21_0_192.0.2.4"] == "up: 192.0.2.15:80 via 192.0.2.4: connected\n"
    # every real server probed again and again, each in its own thread
    assert {call[:2] for call in probes} == {("192.0.2.4", "192.0.2.13"), ("192.0.2.5", "192.0.2.13"),
                                             ("2001:db8::4", "2001:db8::13"), ("192.0.2.4", "192.0.2.15")}


def test_a_host_that_cannot_probe_leaves_no_verdict(tmp_path, monkeypatch, capsys):
    def no_permission(path, address, port, **kwargs):
        raise probe.ProbeSetupError("a packet socket needs root (CAP_NET_RAW)")
    monkeypatch.setattr(probe, "find_path", lambda real, port, timeout: fake.path(4))
    monkeypatch.setattr(probe, "tcp_probe", no_permission)
    state = tmp_path / "state"
    state.mkdir()
    (state / "192.0.2.13_80_192.0.2.4").write_text("up: stale\n")
    stop = threading.Event()
    checked = probe.service_probe(SERVICES[0], "192.0.2.4", "services[0]")
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    probe.watch(checked, "192.0.2.13_80_192.0.2.4", str(state), 0.1, stop)
    assert os.listdir(state) == []
    assert "dr_probe: 192.0.2.13_80_192.0.2.4: a packet socket needs root" in capsys.readouterr().err


@pytest.mark.parametrize("services, message", [
    ([dict(SERVICES[0], real_servers="192.0.2.4")], r"services\[0\].real_servers: must be a list"),
    ([dict(SERVICES[0], real_servers=["192.0.2.4", "2001:db8::4"])],
     r"services\[0\].real_servers\[1\]: 2001:db8::4 is not of the family of the service's address"),
    ([dict(SERVICES[0], real_servers=["web01"])], r"services\[0\].real_servers\[0\]: 'web01' is not an IP address"),
])
def test_serve_refuses_a_bad_configuration_naming_the_entry(tmp_path, services, message):
    state = tmp_path / "state"
    state.mkdir()
    with pytest.raises(probe.ProbeValidationError, match=message):
        probe.serve(write_config(tmp_path, services), str(state), 1.0, threading.Event())


@pytest.mark.parametrize("interval", ["0", "0.05", "301", "often"])
def test_serve_refuses_a_bad_interval(tmp_path, interval, monkeypatch, capsys):
    monkeypatch.setattr(probe, "check_privilege", lambda: None)
    config = write_config(tmp_path, SERVICES)
    assert probe.main(["serve", "--config", config, "--state", str(tmp_path), "--interval", interval]) == 2
    assert "--interval" in capsys.readouterr().err


# ------------------------------------------------------------------ the wrapper


@pytest.fixture
def wrapper(tmp_path):
    """The rendered dr-check, its state directory, and an interpreter stand-in that says it ran."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text('#!/bin/sh\nshift 7  # -I -S -c CODE check --config FILE\necho "probed here: $*"\nexit 7\n')
    python.chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "# " + text
    text = env.from_string(WRAPPER.read_text()).render(
        ansible_managed="Ansible managed", lb_venv=str(venv), __lb_lib="/usr/local/lib/lvs-cluster",
        __lb_dr_check_config="/etc/lvs-cluster/dr-check.json", __lb_dr_state_dir=str(state),
        __lb_model={"dr_prober": {"interval": 1.0, "fresh": 3}})
    script = tmp_path / "dr-check"
    script.write_text(text)
    script.chmod(0o755)

    def run(*args):
        done = subprocess.run(["/bin/sh", str(script), *args], capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    return run, state


def test_wrapper_answers_from_a_fresh_verdict(wrapper):
    run, state = wrapper
    (state / "192.0.2.13_80_192.0.2.4").write_text("up: 192.0.2.13:80 via 192.0.2.4: HTTP 200\n")
    (state / "192.0.2.13_80_192.0.2.5").write_text("down: 192.0.2.13:80 via 192.0.2.5: no SYN-ACK\n")
    (state / "2001:db8::13_80_2001:db8::4").write_text("up: [2001:db8::13]:80 via 2001:db8::4: HTTP 200\n")
    (state / "21_0_192.0.2.4").write_text("down: 192.0.2.15:80 via 192.0.2.4: refused\n")
    assert run("192.0.2.13", "80", "192.0.2.4", "80") == (0, "up: 192.0.2.13:80 via 192.0.2.4: HTTP 200\n", "")
    assert run("192.0.2.13", "80", "192.0.2.5", "80") == (1, "down: 192.0.2.13:80 via 192.0.2.5: no SYN-ACK\n", "")
    # as ldirectord may pass IPv6 addresses, in brackets
    assert run("[2001:db8::13]", "80", "[2001:db8::4]", "80")[0] == 0
    # a firewall mark, whatever port the checker passes with it
    assert run("21", "80", "192.0.2.4", "80") == (1, "down: 192.0.2.15:80 via 192.0.2.4: refused\n", "")


def test_wrapper_probes_by_itself_without_a_fresh_verdict(wrapper):
    run, state = wrapper
    old = state / "192.0.2.13_80_192.0.2.4"
    old.write_text("up: 192.0.2.13:80 via 192.0.2.4: HTTP 200\n")
    os.utime(old, (time.time() - 5, time.time() - 5))  # older than fresh (3 s)
    assert run("192.0.2.13", "80", "192.0.2.4", "80") == (7, "probed here: 192.0.2.13 80 192.0.2.4 80\n", "")
    assert run("192.0.2.13", "80", "192.0.2.6", "80") == (7, "probed here: 192.0.2.13 80 192.0.2.6 80\n", "")
    # arguments that are no address never name a file: the probe itself refuses them
    (state / "x").write_text("up: planted\n")
    for args in (("../state/x", "80", "192.0.2.4", "80"), ("192.0.2.13", "80", "*", "80"), ("", "", "", "")):
        code, out, _err = run(*args)
        assert code == 7 and out.startswith("probed here: ")
