# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the IPVS modules share: argument specs and the read-compare-apply run."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import (
    HAS_PYROUTE2,
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_REQUIREMENT,
    PYROUTE2_VERSION,
    IPVSEncodeError,
    IPVSError,
    IPVSKernelError,
    IPVSNetlink,
    error_text,
    pyroute2_too_old,
    unexpected,
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


def _traceback(exc: BaseException) -> dict:
    """``exception`` for fail_json when nobody foresaw ``exc``: shown by verbose runs."""
    return {"exception": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))} \
        if unexpected(exc) else {}


def _fail(module, exc: BaseException, what: str | None = None, **extra) -> None:
    """fail_json for an exception: an IPVSError says what failed itself; anything else
    is named with its type.  An unforeseen one's traceback goes along for verbose runs."""
    if isinstance(exc, IPVSError):
        msg = str(exc)
    else:
        msg = "%s failed: %s" % (what or "talking to the kernel's IPVS", error_text(exc))
    module.fail_json(msg=msg, **dict(_traceback(exc), **extra))


def open_ipvs(module) -> IPVSNetlink:
    """The netlink adapter, or a fail_json that says what is missing (or too old)."""
    too_old = pyroute2_too_old(PYROUTE2_VERSION)
    if too_old:
        extra = {"exception": PYROUTE2_IMPORT_ERROR} if PYROUTE2_IMPORT_ERROR else {}
        module.fail_json(msg=too_old, pyroute2_version=PYROUTE2_VERSION, **extra)
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib(PYROUTE2_REQUIREMENT), exception=PYROUTE2_IMPORT_ERROR)
    try:
        return IPVSNetlink()
    except Exception as exc:
        _fail(module, exc, "opening a netlink socket")
        raise  # fail_json exits


def validated(module, build, *args, **kwargs):
    """Call a validating builder from ipvs_state; bad input ends in fail_json naming the parameter."""
    try:
        return build(*args, **kwargs)
    except state.IPVSValidationError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits


def dump(module, ipvs: IPVSNetlink, stats: bool = False, applied: list | None = None) -> list:
    """The live table; a failure ends in fail_json (saying so when ``applied`` changes were made before)."""
    try:
        return ipvs.dump(stats=stats)
    except Exception as exc:
        extra = " (after the %d changes were made)" % len(applied) if applied and not module.check_mode else ""
        if isinstance(exc, IPVSError):
            module.fail_json(msg=str(exc) + extra, **_traceback(exc))
        _fail(module, exc, "dumping the IPVS table" + extra)
        raise  # fail_json exits


def restore_table(ipvs: IPVSNetlink, ops: list, before: list, fresh: bool = False) -> str:
    """Bring the services ``ops`` touched back to their state in ``before``; say how it went.

    The table is read back rather than guessed: after a socket error nobody knows
    which requests of the last batch the kernel carried out.  With ``fresh`` (the
    socket failed) the restore goes through a new socket.
    """
    touched = {state.service_key(op["service"]) for op in ops}
    wanted = [s for s in before if state.service_key(s) in touched]
    adapter: IPVSNetlink = ipvs
    opened: IPVSNetlink | None = None
    try:
        if fresh:
            adapter = opened = IPVSNetlink()
        now = [s for s in adapter.dump() if state.service_key(s) in touched]
        undo = state.diff_table(wanted, now, purge=True)
        if not undo:
            return "nothing was changed"
        adapter.apply(undo)
        left = state.diff_table(wanted, [s for s in adapter.dump() if state.service_key(s) in touched], purge=True)
        if left:
            return ("restoring the table left %d differences (%s); check it with lvs.cluster.ipvs_info"
                    % (len(left), "; ".join(state.describe(op) for op in left[:3])))
        return "nothing was changed: the %d changes made before the failure were undone" % len(undo)
    except Exception as again:
        return "restoring the table failed too (%s); check it with lvs.cluster.ipvs_info" % (
            again if isinstance(again, IPVSError) else error_text(again))
    finally:
        if opened is not None:
            opened.close()


def apply_or_restore(module, ipvs: IPVSNetlink, ops: list, before: list) -> None:
    """Apply ``ops`` unless in check mode; on any failure, put back what changed.

    ``before`` is the table the operations were computed from.  Whatever the failure
    (the kernel refusing an operation, pyroute2 refusing to encode a value, a socket
    error, anything else raised on the way), the services touched by ``ops`` are
    brought back to their ``before`` state and the module fails with a message that
    names the object and the reason, and says whether the table is as it was.
    """
    if module.check_mode or not ops:
        return
    try:
        ipvs.apply(ops)
    except Exception as exc:
        fresh = not isinstance(exc, (IPVSKernelError, IPVSEncodeError))
        restored = restore_table(ipvs, ops, before, fresh=fresh)
        extra = dict(_traceback(exc), operations=[state.describe(op) for op in ops])
        reason = str(exc) if isinstance(exc, IPVSError) else "applying the IPVS changes failed: %s" % error_text(exc)
        module.fail_json(msg="%s; %s" % (reason, restored), **extra)


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
    """Call an adapter method (sync_daemons, timeouts, set_timeouts, interface_mtu,
    real_server_connections); any failure ends in fail_json."""
    try:
        return method(*args)
    except Exception as exc:
        _fail(module, exc, "%s()" % getattr(method, "__name__", "the IPVS adapter"))
        raise  # fail_json exits


def _role_daemon(ipvs: IPVSNetlink, role: str) -> dict | None:
    return next((d for d in ipvs.sync_daemons() if d["role"] == role), None)


def restore_sync_daemon(ipvs: IPVSNetlink, ops: list, current: dict | None, fresh: bool = False) -> str:
    """After a failed stop/start of one role's daemon: read what runs, start the old
    daemon again if none does, and say which one runs (or that none does)."""
    role = ops[0]["daemon"]["role"]
    desired = ops[-1]["daemon"] if ops[-1]["action"] == "start_sync_daemon" else None
    adapter: IPVSNetlink = ipvs
    opened: IPVSNetlink | None = None
    try:
        if fresh:
            adapter = opened = IPVSNetlink()
        running = _role_daemon(adapter, role)
        if running is None and current is not None:
            try:
                adapter.apply_sync_daemon([{"action": "start_sync_daemon", "daemon": current}])
            except Exception as again:
                return ("no %s sync daemon runs now: the old one was stopped and starting it again failed too (%s)"
                        % (role, again if isinstance(again, IPVSError) else error_text(again)))
            running = _role_daemon(adapter, role)
            if running is not None and state.sync_daemon_matches(current, running):
                return "the old %s sync daemon runs again as before" % role
        if running is None:
            return "nothing was changed: no %s sync daemon runs" % role if current is None else \
                "no %s sync daemon runs now" % role
        if current is not None and state.sync_daemon_matches(current, running):
            return "nothing was changed: the %s sync daemon runs as before" % role
        if desired is not None and state.sync_daemon_matches(desired, running):
            return "the new %s sync daemon runs (%s)" % (role, state.sync_daemon_settings(running))
        return "a %s sync daemon runs on %s with other settings (%s)" % (
            role, running["interface"], state.sync_daemon_settings(running))
    except Exception as again:
        return "reading the sync daemons failed too (%s); check them with lvs.cluster.ipvs_info" % (
            again if isinstance(again, IPVSError) else error_text(again))
    finally:
        if opened is not None:
            opened.close()


def apply_sync_daemon_or_restore(module, ipvs: IPVSNetlink, ops: list, current: dict | None) -> None:
    """Apply sync daemon ``ops`` unless in check mode.

    A restart is a stop then a start (the kernel cannot change a running daemon).
    Whatever makes it fail, the daemons are read back: if none of the role runs, the
    old one is started again; the failure then says which daemon runs, the old or
    the new one, or that none does.
    """
    if module.check_mode or not ops:
        return
    try:
        ipvs.apply_sync_daemon(ops)
    except Exception as exc:
        fresh = not isinstance(exc, (IPVSKernelError, IPVSEncodeError))
        outcome = restore_sync_daemon(ipvs, ops, current, fresh=fresh)
        extra = dict(_traceback(exc), operations=[state.describe_sync_daemon(op) for op in ops])
        reason = str(exc) if isinstance(exc, IPVSError) else "applying the sync daemon changes failed: %s" % error_text(exc)
        module.fail_json(msg="%s; %s" % (reason, outcome), **extra)
