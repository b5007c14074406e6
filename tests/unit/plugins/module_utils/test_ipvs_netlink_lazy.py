# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyroute2 is imported only to start or stop a sync daemon, set the timeouts or look an interface up.

``import pyroute2`` costs ~0.3-0.5 s here and seconds on a loaded UML director, and the
table's messages and the reads never go through it.  Each test runs in a fresh interpreter (this
one imported pyroute2 long ago) and reports which pyroute2 modules were loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl

pytestmark = pytest.mark.skipif(not nl.HAS_PYROUTE2, reason="pyroute2 is not installed")

# Runs of ipvs_table (twice), ipvs_wait and ipvs_info, through the real adapter over a
# kernel on bytes (wire_fake: no pyroute2); then whatever the test adds, and the report.
SCRIPT = '''
import json
import sys

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.modules import ipvs_info, ipvs_sync_daemon, ipvs_table, ipvs_wait
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import utils, wire_fake


def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] == "pyroute2")


report = {"on_import": loaded()}
patch = pytest.MonkeyPatch()
utils.patch_exit_fail(patch)
kernel = wire_fake.WireKernel()
patch.setattr(nl, "open_table_socket", kernel.socket)
%(before)s
TABLE = {"services": [{"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5}]}]}
report["first"] = utils.run_module(ipvs_table.main, TABLE)
report["second"] = utils.run_module(ipvs_table.main, TABLE)
report["wait"] = utils.run_module(ipvs_wait.main, {"real_servers": ["192.0.2.4"], "state": "active", "timeout": 0})
report["info"] = utils.run_module(ipvs_info.main, {})
report["after_table"] = loaded()
MASTER = {"role": "master", "interface": "eth0", "syncid": 7}
%(after)s
print(json.dumps(report, default=str))
'''


def run_fresh(before: str = "", after: str = "") -> dict:
    """SCRIPT in a new interpreter, with ``before`` inserted ahead of the table run and ``after`` behind it."""
    done = subprocess.run([sys.executable, "-c", SCRIPT % {"before": before, "after": after}],
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_table_run(report: dict) -> None:
    outcome, first = report["first"]
    assert outcome == "exit", first
    assert first["changed"] is True
    assert first["operations"] == ["add service tcp/192.0.2.13:80 (scheduler wlc)",
                                   "add real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 5)"]
    outcome, second = report["second"]
    assert (outcome, second["changed"], second["operations"]) == ("exit", False, [])
    outcome, waited = report["wait"]
    assert (outcome, waited["reached"], waited["weights"]) == ("exit", True, ["192.0.2.4:80:5"]), waited
    outcome, info = report["info"]
    assert (outcome, info["sync_daemons"]) == ("exit", []), info
    assert [(s["address"], s["port"], [(rs["address"], rs["weight"]) for rs in s["real_servers"]])
            for s in info["services"]] == [("192.0.2.13", 80, [("192.0.2.4", 5)])]
    assert info["timeouts"] == {"tcp": 900, "tcp_fin": 120, "udp": 300}


def test_table_and_read_runs_never_import_pyroute2():
    report = run_fresh()
    assert report["on_import"] == []
    assert_table_run(report)
    assert report["after_table"] == []


def test_the_sync_daemon_path_works_after_a_table_run():
    """The sync daemons go through pyroute2's IPVSSocket (netlink_fake's, which imports pyroute2)
    with the ipvsmsg class the adapter builds the first time it is asked for."""
    report = run_fresh(after='''
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import netlink_fake
fake = netlink_fake.install_kernel(patch)
report["sync"] = utils.run_module(ipvs_sync_daemon.main, MASTER)
report["daemons"] = fake.sync_daemons()
report["ipvsmsg"] = nl.pyroute2_api().ipvsmsg.__mro__[1].__module__
report["after_sync"] = loaded()
''')
    assert_table_run(report)
    assert report["after_table"] == []
    outcome, result = report["sync"]
    assert (outcome, result["changed"]) == ("exit", True), result
    assert [(d["role"], d["interface"], d["syncid"]) for d in report["daemons"]] == [("master", "eth0", 7)]
    assert report["ipvsmsg"] == "pyroute2.netlink.generic.ipvs"
    assert "pyroute2.netlink.generic.ipvs" in report["after_sync"]


def test_without_an_importable_pyroute2_only_the_sync_daemons_fail():
    """pyroute2 found (so the module runs) but not importable: the table works, the sync
    daemon path says what is missing."""
    report = run_fresh(before='sys.modules["pyroute2"] = None  # import pyroute2 now raises ImportError',
                       after='report["sync"] = utils.run_module(ipvs_sync_daemon.main, MASTER)')
    assert_table_run(report)
    outcome, result = report["sync"]
    assert outcome == "fail"
    assert result["msg"].startswith("pyroute2 cannot be imported for %s (" % sys.executable)
    assert result["msg"].endswith("starting and stopping sync daemons, setting timeouts and interface lookups "
                                  "need pyroute2>=0.9.5")
    assert "import of pyroute2 halted" in result["msg"]  # the import's own reason
    assert "in pyroute2_api" in result["exception"]  # an unforeseen failure: the traceback goes along
