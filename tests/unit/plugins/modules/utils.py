# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit/fail harness for the modules (after community.general's tests/unit/plugins/modules/utils.py)
and an in-memory IPVS adapter for UNIT tests only.

``run_module(main, args)`` runs a module's ``main()`` with ``args`` and returns
(``"exit"`` or ``"fail"``, result dict): ``exit_json`` and ``fail_json`` raise instead of exiting.
``FakeIPVS`` stands in for ``IPVSNetlink``: it keeps a table of canonical services,
records every ``apply()`` and answers like the kernel (EEXIST, ESRCH, ENOENT), and can
be told to refuse chosen operations.  Integration tests exercise the real kernel.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import (
    IPVSKernelError,
    message_for,
    sync_message_for,
)

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None


class AnsibleExitJson(Exception):
    """Raised instead of exit_json; args[0] is the result."""


class AnsibleFailJson(Exception):
    """Raised instead of fail_json; args[0] is the result."""


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


@contextlib.contextmanager
def set_module_args(args: dict):
    """Expose ``args`` to the AnsibleModule created inside the block."""
    args = dict(args)
    args.setdefault("_ansible_remote_tmp", "/tmp")
    args.setdefault("_ansible_keep_remote_files", False)
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


def patch_exit_fail(monkeypatch):
    """exit_json/fail_json raise AnsibleExitJson/AnsibleFailJson (the ``harness`` fixture)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run_module(main, args: dict, check_mode: bool = False, diff: bool = False):
    """Run ``main()``; return ("exit" | "fail", result)."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with set_module_args(args):
        try:
            main()
        except AnsibleExitJson as exc:
            return "exit", exc.args[0]
        except AnsibleFailJson as exc:
            return "fail", exc.args[0]
    raise AssertionError("the module returned without exit_json or fail_json")


def exits(main, args, **kwargs) -> dict:
    outcome, result = run_module(main, args, **kwargs)
    assert outcome == "exit", result
    return result


def fails(main, args, **kwargs) -> dict:
    outcome, result = run_module(main, args, **kwargs)
    assert outcome == "fail", result
    return result


# ------------------------------------------------------------ fake adapter


def live_table(items: list) -> list:
    """A table as dump() returns it, from module-style service parameters."""
    return state.sort_table(state.services_from_params(copy.deepcopy(items)))


class FakeIPVS:
    """In-memory IPVS table with the adapter's interface (dump, apply, real_server_connections).

    ``refuse(op) -> errno or 0`` decides which operations the "kernel" rejects; like the
    real batched apply, the rest of the batch is still carried out and the first refusal raised.
    ``connections`` is a list of active-connection counts that successive polls return
    (the last one repeats).
    """

    def __init__(self, table=None, refuse=None, connections=None, dump_error_after=None,
                 daemons=None, timeouts=None, interfaces=None, refuse_daemon=None):
        self.services = {state.service_key(s): copy.deepcopy(s) for s in table or []}
        self.daemons = {d["role"]: dict(d) for d in daemons or []}
        self.timeout_values = dict(timeouts or {"tcp": 900, "tcp_fin": 120, "udp": 300})
        self.interfaces = {"eth0": 1500, "lo": 65536} if interfaces is None else interfaces
        self.refuse_daemon = refuse_daemon or (lambda op: 0)
        self.daemon_writes: list = []  # every sync daemon operation tried, in order
        self.timeout_writes: list = []  # every set_timeouts() argument
        self.refuse = refuse or (lambda op: 0)
        self.connections = list(connections or [0])
        self.dump_error_after = dump_error_after
        self.applied = []  # every apply() call: its list of operations
        self.polls = []
        self.dumps = 0
        self.opened = 0
        self.closed = 0

    # adapter interface -------------------------------------------------------

    def __call__(self):  # stands in for the IPVSNetlink class
        self.opened += 1
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.closed += 1

    def dump(self, stats=False):
        self.dumps += 1
        if self.dump_error_after is not None and self.dumps > self.dump_error_after:
            raise IPVSKernelError("dumping the IPVS table failed: %s" % "Connection reset by peer",
                                  code=errno.ECONNRESET)
        table = copy.deepcopy(self.table())
        if stats:
            for service in table:
                service["stats"] = {"connections": 0}
                service["rates"] = {"connections_per_second": 0}
                for real_server in service["real_servers"]:
                    real_server.update(active_connections=2, inactive_connections=1, persistent_connections=0,
                                       stats={"connections": 3}, rates={"connections_per_second": 0})
        return table

    def apply(self, ops):
        self.applied.append(copy.deepcopy(ops))
        failures = []
        for op in ops:
            code = self.refuse(op) or self._carry_out(op)
            if code:
                failures.append((op, code))
        if failures:
            op, code = failures[0]
            raise IPVSKernelError(message_for(op, code), op=op, code=code)

    def sync_daemons(self):
        return [dict(self.daemons[role]) for role in state.SYNC_ROLES if role in self.daemons]

    def apply_sync_daemon(self, ops):
        for op in ops:
            self.daemon_writes.append(copy.deepcopy(op))
            role = op["daemon"]["role"]
            code = self.refuse_daemon(op)
            if not code and op["action"] == "stop_sync_daemon":
                code = 0 if self.daemons.pop(role, None) else errno.ESRCH
            elif not code:
                if role in self.daemons:
                    code = errno.EEXIST
                elif op["daemon"]["interface"] not in self.interfaces:
                    code = errno.ENODEV
                else:
                    self.daemons[role] = state.predict_sync_daemon(op["daemon"], self.interfaces[op["daemon"]["interface"]])
            if code:
                raise IPVSKernelError(sync_message_for(op, code), op=op, code=code)

    def timeouts(self):
        return dict(self.timeout_values)

    def set_timeouts(self, values):
        self.timeout_writes.append(dict(values))
        self.timeout_values.update(values)

    def interface_mtu(self, name):
        return self.interfaces.get(name)

    def real_server_connections(self, service, address, port):
        self.polls.append((state.service_id(service), address, port))
        active = self.connections.pop(0) if len(self.connections) > 1 else self.connections[0]
        return {"active_connections": active, "inactive_connections": 0, "persistent_connections": 0}

    # helpers -----------------------------------------------------------------

    def table(self) -> list:
        return state.sort_table(list(self.services.values()))

    @property
    def writes(self) -> list:
        """Every operation handed to apply(), flattened."""
        return [op for ops in self.applied for op in ops]

    def _carry_out(self, op) -> int:
        key = state.service_key(op["service"])
        live = self.services.get(key)
        action = op["action"]
        if action == "add_service":
            if live is not None:
                return errno.EEXIST
            self.services[key] = dict(copy.deepcopy(op["service"]), real_servers=[])
            return 0
        if live is None:
            return errno.ESRCH
        if action == "edit_service":
            live.update(state.settings(op["service"]))
            return 0
        if action == "delete_service":
            del self.services[key]
            return 0
        rid = state.real_server_id(op["real_server"])
        others = [r for r in live["real_servers"] if state.real_server_id(r) != rid]
        exists = len(others) != len(live["real_servers"])
        if action == "add_real_server" and exists:
            return errno.EEXIST
        if action != "add_real_server" and not exists:
            return errno.ENOENT
        if action != "delete_real_server":
            others.append({name: op["real_server"][name] for name in
                           ("address", "port") + state.REAL_SERVER_SETTINGS})
        live["real_servers"] = state.sort_real_servers(others)
        return 0


def install_fake(monkeypatch, table=None, **kwargs) -> FakeIPVS:
    """Install a FakeIPVS as the modules' adapter (the ``fake_ipvs`` fixture)."""
    fake = FakeIPVS(table, **kwargs)
    monkeypatch.setattr(common, "HAS_PYROUTE2", True)
    monkeypatch.setattr(common, "IPVSNetlink", fake)
    return fake
