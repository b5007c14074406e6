# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_release against a stand-in process tree (keepalived_fake.py) that reloads and
restarts its child as keepalived 2.2 does; the ha scenario runs it against keepalived."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.lvs.cluster.plugins.modules import keepalived_release
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails

pytestmark = pytest.mark.usefixtures("harness")

main = keepalived_release.main
FAKE = Path(__file__).with_name("keepalived_fake.py")


class Keepalived:
    """A running keepalived_fake.py: its files, and what its processes logged."""

    def __init__(self, tmp_path: Path, propagate: bool):
        self.pid_file = tmp_path / "keepalived.pid"
        self.checker_pid_file = tmp_path / "checkers.pid"
        self.log = tmp_path / "log"
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, str(FAKE), str(self.pid_file), str(self.checker_pid_file), str(self.log),
             "1" if propagate else "0"])
        deadline = time.monotonic() + 10
        while not self.lines() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.lines(), "the stand-in keepalived did not start its child"

    def args(self, **more) -> dict:
        return {"pid_file": str(self.pid_file), "checker_pid_file": str(self.checker_pid_file), **more}

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="ascii").splitlines() if self.log.exists() else []

    def checker(self) -> int:
        return int(self.checker_pid_file.read_text(encoding="ascii"))

    def checker_state(self) -> str:
        return keepalived_release.state(keepalived_release.proc_status(self.checker()))


def eventually(test, timeout: float = 5) -> bool:
    """TEST's answer once it is true, or at TIMEOUT: the stand-in's processes log on their own time."""
    deadline = time.monotonic() + timeout
    while not test() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(test())


@pytest.fixture
def keepalived(tmp_path):
    started = []

    def start(propagate: bool = True) -> Keepalived:
        started.append(Keepalived(tmp_path, propagate))
        return started[-1]

    yield start
    for fake in started:
        fake.process.terminate()
        fake.process.wait(timeout=10)


def test_kills_the_checker_before_it_runs_the_reload(keepalived):
    fake = keepalived()
    old = fake.checker()
    result = exits(main, fake.args(timeout=5))
    assert result["changed"] is True and result["released"] is True
    assert result["checker_pid"] == old
    new = result["new_checker_pid"]
    assert new not in (None, old) and new == fake.checker()
    assert eventually(lambda: len(fake.lines()) >= 3)
    assert fake.lines() == [f"child {old} started with generation 1", "main read generation 2",
                            f"child {new} started with generation 2"]
    assert not os.path.exists(f"/proc/{old}")


def test_without_reload_a_new_checker_starts_from_the_configuration_keepalived_runs(keepalived):
    fake = keepalived()
    old = fake.checker()
    result = exits(main, fake.args(reload=False, timeout=5))
    assert result["changed"] is True and result["released"] is True and result["checker_pid"] == old
    new = result["new_checker_pid"]
    assert new not in (None, old) and new == fake.checker()
    assert result["msg"].endswith(f"{new} started from the configuration it runs")
    assert eventually(lambda: len(fake.lines()) >= 2)
    time.sleep(0.1)
    assert fake.lines() == [f"child {old} started with generation 1", f"child {new} started with generation 1"]


def test_check_mode_without_reload_sends_nothing(keepalived):
    fake = keepalived()
    old = fake.checker()
    result = exits(main, fake.args(reload=False), check_mode=True)
    assert result["changed"] is True and "would start a new health-check process" in result["msg"]
    time.sleep(0.1)
    assert fake.checker() == old and fake.lines() == [f"child {old} started with generation 1"]


def test_a_reload_not_passed_on_lets_the_checker_go_on(keepalived):
    fake = keepalived(propagate=False)
    old = fake.checker()
    result = fails(main, fake.args(timeout=0.3))
    assert "did not pass its reload on to its health-check process" in result["msg"]
    assert fake.checker() == old and eventually(lambda: fake.checker_state() in ("S", "R"))
    time.sleep(0.1)
    assert fake.lines() == [f"child {old} started with generation 1", "main read generation 2"]


def test_keepalived_gone_before_the_reload_lets_the_checker_go_on(keepalived, monkeypatch):
    fake = keepalived()
    old = fake.checker()
    main_pid = int(fake.pid_file.read_text(encoding="ascii"))
    real_send = keepalived_release.send
    monkeypatch.setattr(keepalived_release, "send",
                        lambda pid, signum: False if pid == main_pid else real_send(pid, signum))
    result = fails(main, fake.args(timeout=2))
    assert "ended before it could be reloaded" in result["msg"]
    assert fake.checker() == old and eventually(lambda: fake.checker_state() in ("S", "R"))
    assert fake.lines() == [f"child {old} started with generation 1"]


def test_check_mode_sends_nothing(keepalived):
    fake = keepalived()
    old = fake.checker()
    result = exits(main, fake.args(), check_mode=True)
    assert result["changed"] is True and result["released"] is True and result["checker_pid"] == old
    time.sleep(0.1)
    assert fake.checker() == old and fake.checker_state() in ("S", "R")
    assert fake.lines() == [f"child {old} started with generation 1"]


def test_nothing_to_release_without_keepalived(tmp_path):
    result = exits(main, {"pid_file": str(tmp_path / "none.pid"), "checker_pid_file": str(tmp_path / "c.pid")})
    assert result["changed"] is False and result["released"] is False
    assert "keepalived does not run" in result["msg"]


def test_a_checker_pid_not_keepalived_s_child_is_left_alone(keepalived, tmp_path):
    fake = keepalived()
    stranger = tmp_path / "stranger.pid"
    stranger.write_text(f"{os.getpid()}\n", encoding="ascii")
    result = exits(main, fake.args(checker_pid_file=str(stranger)))
    assert result["changed"] is False and "runs no health-check process" in result["msg"]
    assert fake.lines() == [f"child {fake.checker()} started with generation 1"]


@pytest.mark.parametrize("timeout", [0, 0.05, 301])
def test_bad_timeout_is_named_and_nothing_is_sent(keepalived, timeout):
    fake = keepalived()
    result = fails(main, fake.args(timeout=timeout))
    assert result["msg"].startswith(f"timeout: {timeout:g} is not a number of seconds from 0.1 to 300")
    assert len(fake.lines()) == 1
