# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs, open_ipvs (missing pyroute2) and apply_or_restore."""

from __future__ import annotations

import copy
import errno

import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.modules import (
    ipvs_info,
    ipvs_real_server,
    ipvs_service,
    ipvs_sync_daemon,
    ipvs_table,
    ipvs_timeouts,
)
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import (
    FakeIPVS,
    fails,
    live_table,
)

MODULES = {
    "ipvs_service": (ipvs_service.main, {"address": "192.0.2.13", "port": 80}),
    "ipvs_real_server": (ipvs_real_server.main, {"service": {"address": "192.0.2.13", "port": 80},
                                                 "address": "192.0.2.4"}),
    "ipvs_table": (ipvs_table.main, {"services": []}),
    "ipvs_info": (ipvs_info.main, {}),
    "ipvs_sync_daemon": (ipvs_sync_daemon.main, {"role": "master", "state": "stopped"}),
    "ipvs_timeouts": (ipvs_timeouts.main, {"tcp": 60}),
}


def test_spec_choices_follow_the_model():
    assert common.service_key_spec()["protocol"]["choices"] == list(state.PROTOCOLS)
    settings = common.service_settings_spec()
    assert settings["scheduler"]["choices"] == list(state.SCHEDULERS)
    assert settings["scheduler_flags"]["choices"] == list(state.SCHEDULER_FLAG_CHOICES)
    assert common.real_server_spec()["forwarding"]["choices"] == list(state.FORWARDING_CHOICES)
    assert set(state.FORWARDING_CHOICES) == set(state.FORWARDING) | set(state.FORWARDING_ALIASES)


def test_real_server_spec_without_defaults_keeps_live_values():
    spec = common.real_server_spec(defaults=False)
    assert all("default" not in spec[name] for name in spec)
    assert common.real_server_spec()["weight"]["default"] == 1
    assert common.real_server_spec()["forwarding"]["default"] == "dr"


@pytest.fixture
def no_pyroute2(monkeypatch, fake_ipvs):
    fake = fake_ipvs()
    monkeypatch.setattr(common, "HAS_PYROUTE2", False)
    monkeypatch.setattr(common, "PYROUTE2_IMPORT_ERROR", "ModuleNotFoundError: No module named 'pyroute2'")
    return fake


@pytest.mark.usefixtures("harness")
@pytest.mark.parametrize("name", list(MODULES))
def test_missing_pyroute2_is_reported_through_missing_required_lib(no_pyroute2, name):
    main, args = MODULES[name]
    result = fails(main, args)
    assert result["msg"] == missing_required_lib(common.PYROUTE2_REQUIREMENT)
    assert "pyroute2" in result["exception"]
    assert no_pyroute2.opened == 0


@pytest.mark.parametrize("found, numbers", [("0.9.4", (0, 9, 4)), ("0.9.5", (0, 9, 5)), ("0.10", (0, 10, 0)),
                                            ("0.9.5.post1", (0, 9, 5)), ("0.9.6rc1", (0, 9, 6)), ("unknown", None),
                                            ("\u0660.9.5", None)])
def test_version_numbers(found, numbers):
    assert nl.version_numbers(found) == numbers


@pytest.mark.parametrize("found", ["0.9.5", "0.9.7", "0.10.0", "1.0", None, "unknown"])
def test_a_recent_or_unknown_pyroute2_will_do(found):
    assert nl.pyroute2_too_old(found) is None


@pytest.mark.parametrize("found", ["0.9.4", "0.8.1", "0.7.2"])
def test_an_older_pyroute2_is_named_with_the_version_needed(found):
    message = nl.pyroute2_too_old(found)
    assert message.startswith("pyroute2 %s is installed for " % found)
    assert "need pyroute2>=0.9.5" in message


@pytest.mark.parametrize("name, found", [("pyroute2-0.9.7.dist-info", "0.9.7"), ("pyroute2-0.7.2.egg-info", "0.7.2"),
                                         ("pyroute2-0.7.2-py3.11.egg-info", "0.7.2"),
                                         ("pyroute2-0.9.5.post1.dist-info", "0.9.5.post1"),
                                         ("pyroute2_extra-1.0.dist-info", None), ("pyroute2", None)])
def test_the_version_is_read_from_the_metadata_directory_name(name, found):
    match = nl._DIST_INFO.match(name)
    assert (match.group(1) if match else None) == found


def test_the_installed_pyroute2_is_found():
    pyroute2 = pytest.importorskip("pyroute2")
    assert pyroute2.__version__ == nl.PYROUTE2_VERSION


@pytest.mark.usefixtures("harness")
@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("importable", [True, False], ids=["imports", "lacks-ipvs"])
def test_a_too_old_pyroute2_fails_naming_both_versions(fake_ipvs, monkeypatch, name, importable):
    """0.9.4 imports fine (HAS_PYROUTE2) yet is below the minimum; 0.7.2 lacks the IPVS API."""
    fake = fake_ipvs()
    monkeypatch.setattr(common, "PYROUTE2_VERSION", "0.9.4" if importable else "0.7.2")
    monkeypatch.setattr(common, "HAS_PYROUTE2", importable)
    main, args = MODULES[name]
    result = fails(main, args)
    assert result["msg"].startswith("pyroute2 %s is installed for " % ("0.9.4" if importable else "0.7.2"))
    assert "need pyroute2>=0.9.5" in result["msg"]
    assert fake.opened == 0


# ----------------------------------------------------------- apply_or_restore


class Module:
    """The bit of AnsibleModule apply_or_restore uses."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode

    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs)


HTTP = {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4"}, {"address": "192.0.2.5"}]}


def ops_for(before, desired_items):
    return state.diff_table(state.services_from_params(copy.deepcopy(desired_items)), before, purge=True)


def test_apply_or_restore_applies():
    before = live_table([HTTP])
    fake = FakeIPVS(copy.deepcopy(before))
    ops = ops_for(before, [dict(HTTP, real_servers=[{"address": "192.0.2.6"}])])
    common.apply_or_restore(Module(), fake, ops, before)
    assert fake.applied == [ops]


@pytest.mark.parametrize("check_mode, ops", [(True, "some"), (False, [])])
def test_apply_or_restore_skips_writes(check_mode, ops):
    before = live_table([HTTP])
    fake = FakeIPVS(copy.deepcopy(before))
    ops = ops_for(before, []) if ops == "some" else ops
    common.apply_or_restore(Module(check_mode), fake, ops, before)
    assert fake.applied == []


def test_apply_or_restore_restores_and_names_the_refusal():
    before = live_table([HTTP, {"address": "192.0.2.99", "port": 25}])
    fake = FakeIPVS(copy.deepcopy(before), refuse=lambda op: errno.EBUSY if op["action"] == "delete_service" else 0)
    ops = ops_for(before, [dict(HTTP, real_servers=[{"address": "192.0.2.9"}])])
    with pytest.raises(RuntimeError) as caught:
        common.apply_or_restore(Module(), fake, ops, before)
    result = caught.value.args[0]
    assert result["msg"] == ("delete service tcp/192.0.2.99:25: Device or resource busy; nothing was changed: "
                             "the %d changes made before the failure were undone" % (len(ops) - 1))
    assert result["operations"] == [state.describe(op) for op in ops]
    assert fake.table() == before


def test_apply_or_restore_reports_a_failing_dump_during_restore():
    before = live_table([HTTP])
    fake = FakeIPVS(copy.deepcopy(before), refuse=lambda op: errno.EINVAL, dump_error_after=0)
    with pytest.raises(RuntimeError) as caught:
        common.apply_or_restore(Module(), fake, ops_for(before, []), before)
    message = caught.value.args[0]["msg"]
    assert message.startswith("delete service tcp/192.0.2.13:80: Invalid argument; restoring the table failed too")
