# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the IPVS modules share: argument specs and the read-compare-apply run."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import (
    HAS_PYROUTE2,
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_REQUIREMENT,
    IPVSKernelError,
    IPVSNetlink,
)


def service_key_spec() -> dict:
    """Options that name a virtual service: protocol + address + port, or fwmark + family."""
    return {
        "protocol": {"type": "str", "choices": list(state.PROTOCOLS)},
        "address": {"type": "str"},
        "port": {"type": "int"},
        "fwmark": {"type": "int"},
        "family": {"type": "str", "choices": list(state.FAMILIES)},
    }


def service_settings_spec() -> dict:
    return {
        "scheduler": {"type": "str", "default": "wlc", "choices": list(state.SCHEDULERS)},
        "scheduler_flags": {"type": "list", "elements": "str", "default": [],
                            "choices": list(state.SCHEDULER_FLAG_CHOICES)},
        "persistence_timeout": {"type": "int", "default": 0},
        "persistence_netmask": {"type": "str"},
        "one_packet": {"type": "bool", "default": False},
    }


def real_server_spec(defaults: bool = True) -> dict:
    """A real server's options; ``defaults`` False leaves unset ones as None (keep live values)."""
    spec: dict[str, dict] = {
        "address": {"type": "str", "required": True},
        "port": {"type": "int"},
        "weight": {"type": "int", "default": 1},
        "forwarding": {"type": "str", "default": "dr", "choices": list(state.FORWARDING_CHOICES)},
        "upper_threshold": {"type": "int", "default": 0},
        "lower_threshold": {"type": "int", "default": 0},
    }
    if not defaults:
        for name in ("weight", "forwarding", "upper_threshold", "lower_threshold"):
            spec[name].pop("default")
    return spec


def service_spec(with_real_servers: bool = True) -> dict:
    spec = dict(service_key_spec(), **service_settings_spec())
    if with_real_servers:
        spec["real_servers"] = {"type": "list", "elements": "dict", "options": real_server_spec()}
    return spec


def open_ipvs(module) -> IPVSNetlink:
    """The netlink adapter, or a fail_json that says what is missing."""
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib(PYROUTE2_REQUIREMENT), exception=PYROUTE2_IMPORT_ERROR)
    try:
        return IPVSNetlink()
    except IPVSKernelError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits


def validated(module, build, *args, **kwargs):
    """Call a validating builder from ipvs_state; bad input ends in fail_json naming the parameter."""
    try:
        return build(*args, **kwargs)
    except state.IPVSValidationError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits


def dump(module, ipvs: IPVSNetlink, stats: bool = False) -> list:
    try:
        return ipvs.dump(stats=stats)
    except IPVSKernelError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits


def apply_or_restore(module, ipvs: IPVSNetlink, ops: list, before: list) -> None:
    """Apply ``ops`` unless in check mode; if the kernel refuses one, put back what changed.

    ``before`` is the table the operations were computed from.  Services touched by
    ``ops`` are brought back to their ``before`` state, so a failed run leaves the
    table as it found it, and the failure names the object and the kernel's reason.
    """
    if module.check_mode or not ops:
        return
    try:
        ipvs.apply(ops)
    except IPVSKernelError as exc:
        touched = {state.service_key(op["service"]) for op in ops}
        restore = [s for s in before if state.service_key(s) in touched]
        try:
            now = [s for s in ipvs.dump() if state.service_key(s) in touched]
            ipvs.apply(state.diff_table(restore, now, purge=True))
            restored = "nothing was changed"
        except IPVSKernelError as again:
            restored = "restoring the table failed too (%s); check it with lvs.cluster.ipvs_info" % again
        module.fail_json(msg="%s; %s" % (exc, restored),
                         operations=[state.describe(op) for op in ops])


def sync_daemon_spec() -> dict:
    """The options of ipvs_sync_daemon (documented in the SYNC_DAEMON doc fragment)."""
    return {
        "role": {"type": "str", "required": True, "choices": list(state.SYNC_ROLES)},
        "state": {"type": "str", "default": "started", "choices": ["started", "stopped"]},
        "interface": {"type": "str"},
        "syncid": {"type": "int", "default": 0},
        "mcast_group": {"type": "str", "default": state.SYNC_DEFAULT_GROUP},
        "mcast_port": {"type": "int", "default": state.SYNC_DEFAULT_PORT},
        "mcast_ttl": {"type": "int", "default": 1},
        "maxlen": {"type": "int"},
    }


def timeouts_spec() -> dict:
    """The options of ipvs_timeouts (documented in the TIMEOUTS doc fragment)."""
    return {name: {"type": "int"} for name in state.TIMEOUTS}


def call(module, method, *args):
    """Call an adapter method (sync_daemons, timeouts, set_timeouts, interface_mtu); a kernel error ends in fail_json."""
    try:
        return method(*args)
    except IPVSKernelError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits


def apply_sync_daemon_or_restore(module, ipvs: IPVSNetlink, ops: list, current: dict | None) -> None:
    """Apply sync daemon ``ops`` unless in check mode; if the kernel refuses the start of a
    restart, start the daemon that ran before again, so a failed run leaves it as it was."""
    if module.check_mode or not ops:
        return
    try:
        ipvs.apply_sync_daemon(ops)
    except IPVSKernelError as exc:
        restored = "nothing was changed"
        if current is not None and exc.op is not None and exc.op["action"] == "start_sync_daemon":
            try:
                ipvs.apply_sync_daemon([{"action": "start_sync_daemon", "daemon": current}])
                restored = "the daemon runs again as before"
            except IPVSKernelError as again:
                restored = "restarting the daemon as before failed too (%s); it is stopped" % again
        module.fail_json(msg="%s; %s" % (exc, restored),
                         operations=[state.describe_sync_daemon(op) for op in ops])
