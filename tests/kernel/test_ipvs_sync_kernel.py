# -*- coding: utf-8 -*-
"""Sync daemons and timeouts through the netlink adapter, in a real kernel (lab/uml-run).

The kernel has no network device but lo: the tests add a dummy interface with a
documentation address.  Groups are documentation multicast groups (233.252.0.0/24,
ff0e::db8:0:0/96); nothing leaves the throwaway kernel.  ipvsadm is the witness.
"""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_common import apply_sync_daemon_or_restore
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import IPVSEncodeError, IPVSKernelError

IFACE = "sync0"


def run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module", autouse=True)
def interface():
    run("ip", "link", "add", IFACE, "type", "dummy")
    run("ip", "link", "set", IFACE, "up")
    run("ip", "addr", "add", "192.0.2.3/24", "dev", IFACE)
    yield
    run("ip", "link", "del", IFACE)


@pytest.fixture
def sync(ipvs):
    yield ipvs
    for role in ("master", "backup"):
        subprocess.run(["ipvsadm", "--stop-daemon", role], capture_output=True)
    run("ipvsadm", "--set", "900", "120", "300")


def desired(role="master", **params):
    base = {"role": role, "interface": IFACE, "mcast_group": "233.252.0.81"}
    return state.sync_daemon_from_params(dict(base, **params), 1500)


def converge(ipvs, daemon, role="master"):
    current = next((d for d in ipvs.sync_daemons() if d["role"] == role), None)
    ops = state.diff_sync_daemon(daemon, current, role)
    ipvs.apply_sync_daemon(ops)
    return ops


def witness() -> list:
    return sorted(line.strip() for line in run("ipvsadm", "-L", "--daemon").splitlines() if line.strip())


def test_master_and_backup_together_then_stop_one(sync):
    master = desired(syncid=3, mcast_port=8850, mcast_ttl=2)
    backup = desired("backup", syncid=4, mcast_group="ff0e::db8:0:81")
    assert converge(sync, master)
    assert converge(sync, backup, "backup")
    assert sync.sync_daemons() == [state.predict_sync_daemon(master, 1500), state.predict_sync_daemon(backup, 1500)]
    assert witness() == [
        "backup sync daemon (mcast=sync0, syncid=4, maxlen=1452, group=ff0e::db8:0:81, port=8848, ttl=1)",
        "master sync daemon (mcast=sync0, syncid=3, maxlen=1472, group=233.252.0.81, port=8850, ttl=2)",
    ]
    assert converge(sync, master) == [] and converge(sync, backup, "backup") == []
    assert [op["action"] for op in converge(sync, None, "master")] == ["stop_sync_daemon"]
    assert [d["role"] for d in sync.sync_daemons()] == ["backup"]
    assert witness() == [
        "backup sync daemon (mcast=sync0, syncid=4, maxlen=1452, group=ff0e::db8:0:81, port=8848, ttl=1)"]


def test_changed_settings_restart_the_daemon(sync):
    converge(sync, desired(syncid=1))
    converge(sync, desired("backup"), "backup")
    ops = converge(sync, desired(syncid=2, maxlen=1000))
    assert [op["action"] for op in ops] == ["stop_sync_daemon", "start_sync_daemon"]
    master = next(d for d in sync.sync_daemons() if d["role"] == "master")
    assert (master["syncid"], master["maxlen"]) == (2, 1000)
    assert any(line.startswith("backup sync daemon") for line in witness())


def test_backup_maxlen_follows_the_interface_mtu(sync):
    converge(sync, desired("backup", interface="lo"), "backup")
    mtu = sync.interface_mtu("lo")
    assert sync.sync_daemons()[0]["maxlen"] == state.sync_maxlen_range("backup", "233.252.0.81", mtu)[1]


def test_a_stop_right_after_a_start_still_returns(sync):
    """kthread_stop before the thread ran: -EINTR, and netlink sends no acknowledgement."""
    for _ in range(3):
        sync.apply_sync_daemon([{"action": "start_sync_daemon", "daemon": desired()}])
        sync.apply_sync_daemon([{"action": "stop_sync_daemon", "daemon": desired()}])
        assert sync.sync_daemons() == []


def test_kernel_refusals_are_named(sync):
    with pytest.raises(IPVSKernelError, match="^interface: the kernel finds no interface 'nosuch0'"):
        sync.apply_sync_daemon([{"action": "start_sync_daemon", "daemon": desired(interface="nosuch0")}])
    converge(sync, desired())
    with pytest.raises(IPVSKernelError, match="^role: a master sync daemon is already running"):
        sync.apply_sync_daemon([{"action": "start_sync_daemon", "daemon": desired(syncid=9)}])


def test_interface_mtu(sync):
    assert sync.interface_mtu(IFACE) == 1500
    assert sync.interface_mtu("nosuch0") is None


def test_timeouts_get_and_set(sync):
    assert sync.timeouts() == {"tcp": 900, "tcp_fin": 120, "udp": 300}
    sync.set_timeouts({"tcp": 3600, "udp": 60})
    assert sync.timeouts() == {"tcp": 3600, "tcp_fin": 120, "udp": 60}
    assert run("ipvsadm", "-L", "--timeout").strip() == "Timeout (tcp tcpfin udp): 3600 120 60"
    sync.set_timeouts({"tcp_fin": state.MAX_TIMEOUT})
    assert sync.timeouts()["tcp_fin"] == state.MAX_TIMEOUT


class Module:
    """The two things apply_sync_daemon_or_restore asks of an AnsibleModule."""

    check_mode = False

    def fail_json(self, **result):
        raise RuntimeError(result["msg"])


def running(ipvs, role="master"):
    return next((d for d in ipvs.sync_daemons() if d["role"] == role), None)


def test_a_restart_the_kernel_refuses_brings_the_old_daemon_back(sync):
    converge(sync, desired(syncid=1))
    old = running(sync)
    new = dict(desired(syncid=2), interface="nosuch0")  # passes the model here; the kernel has no such device
    ops = state.diff_sync_daemon(new, old, "master")
    with pytest.raises(RuntimeError) as failure:
        apply_sync_daemon_or_restore(Module(), sync, ops, old)
    assert str(failure.value).startswith("interface: the kernel finds no interface 'nosuch0'")
    assert str(failure.value).endswith("; the old master sync daemon runs again as before")
    assert running(sync) == old
    assert any("syncid=1" in line for line in witness())


def test_a_restart_whose_start_cannot_be_encoded_stops_nothing(sync):
    converge(sync, desired(syncid=1))
    old = running(sync)
    new = dict(desired(syncid=2, mcast_group="ff0e::db8:0:81"), mcast_group="ff02::1%sync0")
    ops = state.diff_sync_daemon(new, old, "master")
    with pytest.raises(IPVSEncodeError):
        sync.apply_sync_daemon(ops)
    assert running(sync) == old
    with pytest.raises(RuntimeError, match="; nothing was changed: the master sync daemon runs as before$"):
        apply_sync_daemon_or_restore(Module(), sync, ops, old)
    assert running(sync) == old
