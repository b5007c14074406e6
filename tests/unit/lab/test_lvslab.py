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
