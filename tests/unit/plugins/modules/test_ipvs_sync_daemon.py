# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno

import pytest

from ansible_collections.lvs.cluster.plugins.modules import ipvs_sync_daemon
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_sync_daemon.main

MASTER = {"role": "master", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81"}
RUNNING = {"role": "master", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81",
           "mcast_port": 8848, "mcast_ttl": 1, "maxlen": 1472}
BACKUP = dict(RUNNING, role="backup", syncid=9)


def test_start_reports_the_daemon_and_a_diff(fake_ipvs):
    fake = fake_ipvs()
    result = exits(main, MASTER, diff=True)
    assert result["changed"] is True
    assert result["operations"] == ["start master sync daemon on eth0 (syncid 7, group 233.252.0.81 port 8848, ttl 1)"]
    assert result["daemon"] == RUNNING
    assert result["diff"] == {"before": {}, "after": RUNNING}
    assert fake.sync_daemons() == [RUNNING]


def test_check_mode_predicts_and_writes_nothing(fake_ipvs):
    fake = fake_ipvs()
    checked = exits(main, MASTER, check_mode=True, diff=True)
    assert fake.daemon_writes == []
    real = exits(main, MASTER, diff=True)
    assert (checked["changed"], checked["operations"], checked["daemon"], checked["diff"]) == \
        (real["changed"], real["operations"], real["daemon"], real["diff"])


def test_second_run_changes_nothing(fake_ipvs):
    fake = fake_ipvs(daemons=[RUNNING])
    for check_mode in (True, False):
        result = exits(main, MASTER, check_mode=check_mode, diff=True)
        assert result["changed"] is False and result["operations"] == []
        assert result["diff"]["before"] == result["diff"]["after"] == RUNNING
    assert fake.daemon_writes == []


def test_other_settings_restart_it_and_the_diff_says_so(fake_ipvs):
    fake = fake_ipvs(daemons=[RUNNING, BACKUP])
    result = exits(main, dict(MASTER, syncid=8, mcast_ttl=2), diff=True)
    assert [op["action"] for op in fake.daemon_writes] == ["stop_sync_daemon", "start_sync_daemon"]
    assert result["operations"][0].startswith("stop master sync daemon on eth0 (syncid 7")
    assert result["operations"][1].startswith("start master sync daemon on eth0 (syncid 8")
    assert result["diff"]["before"] == RUNNING
    assert result["diff"]["after"] == dict(RUNNING, syncid=8, mcast_ttl=2)
    assert "restarted" in result["diff"]["after_header"]
    assert fake.daemons["backup"] == BACKUP  # the other role is left alone


def test_stop_leaves_the_other_role(fake_ipvs):
    fake = fake_ipvs(daemons=[RUNNING, BACKUP])
    result = exits(main, {"role": "master", "state": "stopped"}, diff=True)
    assert result["changed"] is True and result["daemon"] is None
    assert result["diff"] == {"before": RUNNING, "after": {}}
    assert fake.sync_daemons() == [BACKUP]
    assert exits(main, {"role": "master", "state": "stopped"})["changed"] is False


@pytest.mark.parametrize("args, message", [
    (dict(MASTER, mcast_group="192.0.2.81"), "^mcast_group: 192.0.2.81 is not a multicast address"),
    (dict(MASTER, mcast_ttl=0), r"^mcast_ttl: 0 is out of range \(1..255\)"),
    (dict(MASTER, syncid=256), r"^syncid: 256 is out of range \(0..255\)"),
    (dict(MASTER, interface="eth9"), "^interface: there is no network interface 'eth9' on this host"),
    ({"role": "master"}, "^interface: required to start a master sync daemon"),
    (dict(MASTER, maxlen=9000), "^maxlen: 9000 is out of range for a master sync daemon"),
    ({"role": "backup", "state": "stopped", "mcast_port": 0}, "^mcast_port: 0 is out of range"),
])
def test_bad_input_fails_naming_the_parameter_and_changes_nothing(fake_ipvs, args, message):
    import re

    fake = fake_ipvs(daemons=[RUNNING])
    result = fails(main, args)
    assert re.search(message, result["msg"]), result["msg"]
    assert fake.daemon_writes == []
    assert fake.sync_daemons() == [RUNNING]


def test_a_refused_restart_starts_the_old_daemon_again(fake_ipvs):
    fake = fake_ipvs(daemons=[RUNNING], refuse_daemon=lambda op: errno.EINVAL if op["daemon"]["syncid"] == 8 else 0)
    result = fails(main, dict(MASTER, syncid=8))
    assert result["msg"].startswith("start master sync daemon on eth0 (syncid 8")
    assert result["msg"].endswith("; the old master sync daemon runs again as before")
    assert fake.sync_daemons() == [RUNNING]
