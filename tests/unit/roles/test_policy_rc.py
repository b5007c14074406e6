"""The lb role's package guard (lb_package_guard): roles/lb/templates/usr/sbin/policy-rc.d.j2,
rendered with the role's Debian variables and run with /bin/sh as invoke-rc.d and
deb-systemd-invoke call it (policy-rc.d [--quiet] SERVICE "ACTIONS" [RUNLEVEL])."""

from __future__ import annotations

import pathlib
import subprocess

import jinja2
import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "lb"


@pytest.fixture(scope="module")
def policy_rc(tmp_path_factory):
    variables = yaml.safe_load((ROLE / "vars" / "Debian.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = env.from_string((ROLE / "templates" / "usr" / "sbin" / "policy-rc.d.j2").read_text()).render(variables)
    script = tmp_path_factory.mktemp("guard") / "policy-rc.d"
    script.write_text(text)
    return script, variables


def ask(script, *args):
    done = subprocess.run(["/bin/sh", str(script), *args], capture_output=True, text=True, check=False)
    return done.returncode, done.stderr


@pytest.mark.parametrize("service", ["ldirectord", "ldirectord.service", "keepalived", "keepalived.service"])
@pytest.mark.parametrize("actions", ["stop", "restart", "force-reload", "try-restart", "start stop", "restart start"])
def test_the_table_daemons_are_not_stopped_or_restarted(policy_rc, service, actions):
    code, said = ask(policy_rc[0], service, actions)
    assert code == 101
    assert "lvs.cluster keeps %s running" % service in said


@pytest.mark.parametrize("service", ["ldirectord.service", "keepalived"])
@pytest.mark.parametrize("actions", ["start", "reload", "status"])
def test_starting_and_reloading_them_is_allowed(policy_rc, service, actions):
    assert ask(policy_rc[0], service, actions) == (0, "")


@pytest.mark.parametrize("args", [("apache2.service", "restart"), ("ssh", "stop"), ("ldirectord-extra", "stop")])
def test_other_services_are_untouched(policy_rc, args):
    assert ask(policy_rc[0], *args) == (0, "")


def test_invoke_rc_d_options_and_runlevel_are_read_past(policy_rc):
    assert ask(policy_rc[0], "--quiet", "ldirectord", "restart", "2")[0] == 101
    assert ask(policy_rc[0], "--quiet", "apache2", "restart", "2")[0] == 0


def test_the_file_carries_the_role_mark_the_tasks_look_for(policy_rc):
    script, variables = policy_rc
    assert variables["__lb_policy_rc_mark"] in script.read_text().splitlines()[1]
