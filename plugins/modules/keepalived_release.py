#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_release
short_description: Reload keepalived so that its health-check process lets go of the IPVS table as it is
version_added: 0.3.0
description:
  - Hands the IPVS services that keepalived's health-check process keeps (its C(virtual_server)
    blocks) over to another owner, without a moment in which they are missing from the table, and
    loads keepalived's configuration on disk, in which they are gone.
  - A plain reload of keepalived makes its health-check process delete every service its new
    configuration no longer has, and clients are refused until the new owner (ldirectord, or the
    IPVS modules of this collection) adds them again. So this module stops the health-check
    process (C(SIGSTOP)), reloads keepalived (C(SIGHUP) to its main process, which reads the
    configuration and passes the reload on), kills the stopped process (C(SIGKILL)) before it ever
    runs the reload, and keepalived starts a new one from the configuration it just read. The new
    process keeps nothing it was not given; the table stays exactly as it was.
  - The VRRP process reloads as it would for any reload; the VIPs stay where they are.
  - With O(reload=false), keepalived is not reloaded. The health-check process is killed and
    keepalived starts a new one from the configuration it runs, which adds back the services and real
    servers of that configuration the table lacks (deleted behind its back; a reload would not add
    them, as keepalived reloads only what its configuration changed) and leaves the others as they are.
  - Nothing to do (not changed) when keepalived does not run or runs no health-check process.
  - Write keepalived's new configuration first (validated); run the new owner right after.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: Reports whether there is a health-check process to release; sends no signal.
  diff_mode:
    support: none
    description: It changes processes, not files or the table.
options:
  pid_file:
    description:
      - The pid file of keepalived's main process.
    type: path
    default: /run/keepalived.pid
  checker_pid_file:
    description:
      - The pid file of keepalived's health-check process (its child).
    type: path
    default: /run/checkers.pid
  reload:
    description:
      - Whether keepalived loads its configuration on disk (a reload whose health-check process is killed
        before it runs it), or only starts a new health-check process from the configuration it runs.
    type: bool
    default: true
    version_added: 0.3.0
  timeout:
    description:
      - Seconds to wait at most for each step (the process stopped, the reload passed on to it, it
        gone), from 0.1 to 300. When keepalived does not pass the reload on in time (its new
        configuration fails, or a reload was still under way), the health-check process is let go
        on (C(SIGCONT)) with the configuration it had, and the module fails.
    type: float
    default: 10
requirements:
  - Linux (/proc), root privileges on the director
notes:
  - Tested with keepalived 2.2.7 (Debian 12), which reads its configuration in the main process at
    a reload and starts a health-check process that died from that configuration.
seealso:
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Write keepalived's configuration without its virtual_server blocks (VRRP only)
  ansible.builtin.template:
    src: keepalived.conf.j2
    dest: /etc/keepalived/keepalived.conf
    mode: "0640"
    validate: /usr/sbin/keepalived --config-test --use-file %s

- name: Reload it, leaving the services it kept in the IPVS table for ldirectord to adopt
  lvs.cluster.keepalived_release:
  register: release

- name: Start ldirectord, which adopts the services
  ansible.builtin.systemd_service:
    name: ldirectord
    state: started
  when: release is changed

- name: Have keepalived add back the services deleted behind its back (a new health-check process)
  lvs.cluster.keepalived_release:
    reload: false
"""

RETURN = r"""
released:
  description: Whether a health-check process was released (in check mode, would be).
  returned: always
  type: bool
  sample: true
checker_pid:
  description: The health-check process found (none when keepalived runs none).
  returned: always
  type: int
  sample: 1234
new_checker_pid:
  description:
    - The health-check process keepalived started again from its new configuration (none when it
      started none within O(timeout), or nothing was released).
  returned: always
  type: int
  sample: 1301
waited:
  description: Seconds from the stop (with O(reload=false), the kill) of the health-check process to its end.
  returned: always
  type: float
  sample: 0.12
msg:
  description: What was done, in one line.
  returned: always
  type: str
  sample: keepalived (pid 1200) reloaded; its health-check process 1234 was killed before it ran the reload
"""

import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule

POLL = 0.01


def read_pid(path: str) -> int | None:
    """The pid in PATH, or None when the file is missing or holds no number."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() else None


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status; empty when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def state(status: dict[str, str]) -> str:
    """The state letter of a process (R, S, T, Z...), '' when it is gone."""
    return status.get("State", " ")[0].strip()


def alive(status: dict[str, str]) -> bool:
    """Whether a process (its /proc status) runs or is stopped: not gone, not a zombie."""
    return state(status) not in ("", "Z", "X")


def signal_pending(status: dict[str, str], signum: int) -> bool:
    """Whether SIGNUM waits, undelivered, for the process (to it or to one of its threads)."""
    mask = int(status.get("ShdPnd", "0"), 16) | int(status.get("SigPnd", "0"), 16)
    return bool(mask >> (signum - 1) & 1)


def wait_for(test, timeout: float) -> bool:
    """Poll TEST until it is true or TIMEOUT seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() >= deadline:
            return bool(test())
        time.sleep(POLL)
    return True


def checker_of(main: int, checker: int | None) -> int | None:
    """CHECKER when it is a live child of MAIN, else None."""
    if checker is None:
        return None
    status = proc_status(checker)
    return checker if alive(status) and status.get("PPid") == str(main) else None


def send(pid: int, signum: int) -> bool:
    """Send SIGNUM to PID; False when the process is gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def respawn(module: AnsibleModule, main: int, checker: int, started: float, done: str) -> dict:
    """Kill CHECKER and wait for MAIN to start a new one; the result (DONE: what was done, for msg)."""
    timeout = module.params["timeout"]
    send(checker, signal.SIGKILL)
    wait_for(lambda: not alive(proc_status(checker)), timeout)
    waited = round(time.monotonic() - started, 3)
    respawned = wait_for(lambda: checker_of(main, read_pid(module.params["checker_pid_file"])) not in (None, checker),
                         timeout)
    new = read_pid(module.params["checker_pid_file"]) if respawned else None
    source = "the new configuration" if module.params["reload"] else "the configuration it runs"
    return {
        "released": True,
        "checker_pid": checker,
        "new_checker_pid": new,
        "waited": waited,
        "msg": f"keepalived (pid {main}) {done}, " + (f"{new} started from {source}" if new else "and none started again"),
    }


def release(module: AnsibleModule, main: int, checker: int) -> dict:
    """Stop CHECKER, reload MAIN, kill CHECKER once the reload waits for it; the result."""
    timeout = module.params["timeout"]
    label = f"keepalived (pid {main})"
    started = time.monotonic()
    if not send(checker, signal.SIGSTOP):
        module.fail_json(msg=f"{label}: its health-check process {checker} ended before it could be stopped; "
                             "nothing was changed", checker_pid=checker)
    if not wait_for(lambda: state(proc_status(checker)) in ("T", ""), timeout):
        send(checker, signal.SIGCONT)
        module.fail_json(msg=f"{label}: its health-check process {checker} did not stop within {timeout:g} s; "
                             "nothing was changed", checker_pid=checker)
    if not send(main, signal.SIGHUP):
        send(checker, signal.SIGCONT)
        module.fail_json(msg=f"{label} ended before it could be reloaded; its health-check process {checker} was "
                             "let go on", checker_pid=checker)
    if not wait_for(lambda: signal_pending(proc_status(checker), signal.SIGHUP) or not proc_status(checker),
                    timeout):
        send(checker, signal.SIGCONT)
        module.fail_json(msg=f"{label} did not pass its reload on to its health-check process {checker} within "
                             f"{timeout:g} s (its new configuration failed, or a reload was still under way: see "
                             "its journal); the process was let go on with the configuration it had",
                         checker_pid=checker)
    return respawn(module, main, checker, started,
                   f"reloaded; its health-check process {checker} was killed before it ran the reload")


def find(pid_file: str, checker_pid_file: str) -> tuple[int, int] | str:
    """keepalived's main process and its health-check process, or why there is nothing to release."""
    main = read_pid(pid_file)
    if main is None or not alive(proc_status(main)):
        return f"keepalived does not run (no live process in {pid_file}): it keeps no IPVS service"
    checker = checker_of(main, read_pid(checker_pid_file))
    if checker is None:
        return (f"keepalived (pid {main}) runs no health-check process (none of its children in "
                f"{checker_pid_file}): it keeps no IPVS service")
    return main, checker


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "pid_file": {"type": "path", "default": "/run/keepalived.pid"},
            "checker_pid_file": {"type": "path", "default": "/run/checkers.pid"},
            "reload": {"type": "bool", "default": True},
            "timeout": {"type": "float", "default": 10},
        },
        supports_check_mode=True,
    )
    timeout = module.params["timeout"]
    if not 0.1 <= timeout <= 300:
        module.fail_json(msg=f"timeout: {timeout:g} is not a number of seconds from 0.1 to 300")
    found = find(module.params["pid_file"], module.params["checker_pid_file"])
    if isinstance(found, str):
        module.exit_json(changed=False, released=False, checker_pid=None, new_checker_pid=None, waited=0.0,
                         msg=found)
    elif module.check_mode:
        module.exit_json(changed=True, released=True, checker_pid=found[1], new_checker_pid=None, waited=0.0,
                         msg=f"keepalived (pid {found[0]}) would " + (
                             f"be reloaded, its health-check process {found[1]} killed before it ran the reload"
                             if module.params["reload"] else
                             f"start a new health-check process, {found[1]} killed"))
    elif module.params["reload"]:
        module.exit_json(changed=True, **release(module, *found))
    else:
        done = f"not reloaded; its health-check process {found[1]} was killed"
        module.exit_json(changed=True, **respawn(module, *found, time.monotonic(), done))


if __name__ == "__main__":
    main()
