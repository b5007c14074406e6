#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_sync_daemon
short_description: Start, change or stop the kernel's IPVS connection synchronisation daemon
version_added: 0.2.0
description:
  - Manages one of the kernel's IPVS sync daemons, the master that multicasts the state of
    the director's connections or the backup that receives it, so that a backup director
    taking over keeps the established connections (C(ipvsadm --start-daemon)).
  - Talks to the kernel over generic netlink (pyroute2); it never runs C(ipvsadm).
  - Reads the running daemons first; a daemon that already runs with these settings is left
    alone. One that runs with other settings is stopped and started again (the kernel cannot
    change a running daemon); the diff and RV(operations) say so. Both requests are encoded
    before the stop is sent. If the restart fails, the daemons are read back and, if none of
    O(role) runs, the old one is started again; the failure says which daemon runs.
  - The daemon of the other role is never touched.
author:
  - lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.ipvs.SYNC_DAEMON
attributes:
  check_mode:
    support: full
    description: Computes the same operations and reports them without applying any.
  diff_mode:
    support: full
    description: Shows the daemon's settings before and after; a restart is named in the diff headers.
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS (C(ip_vs) module) and root privileges
notes:
  - Master and backup must agree on O(mcast_group), O(mcast_port) and (when not C(0)) O(syncid).
  - The kernel refuses to start a daemon while the table holds real servers of another address
    family than their service (tunnelling); the module reports its refusal.
seealso:
  - module: lvs.cluster.ipvs_info
  - module: lvs.cluster.ipvs_timeouts
"""

EXAMPLES = r"""
- name: Send the connection state of the active director
  lvs.cluster.ipvs_sync_daemon:
    role: master
    interface: eth0
    syncid: 7
    mcast_group: 233.252.0.81

- name: Receive it on the standby director
  lvs.cluster.ipvs_sync_daemon:
    role: backup
    interface: eth0
    syncid: 7
    mcast_group: 233.252.0.81

- name: Synchronise over IPv6 multicast
  lvs.cluster.ipvs_sync_daemon:
    role: master
    interface: eth0
    mcast_group: "ff0e::db8:0:81"
    mcast_ttl: 2

- name: Stop the backup daemon (a master daemon keeps running)
  lvs.cluster.ipvs_sync_daemon:
    role: backup
    state: stopped
"""

RETURN = r"""
daemon:
  description: The daemon of O(role) after the run (predicted in check mode); null when it does not run.
  returned: always
  type: dict
  sample: {role: master, interface: eth0, syncid: 7, mcast_group: 233.252.0.81, mcast_port: 8848, mcast_ttl: 1, maxlen: 1472}
operations:
  description: The changes made (or, in check mode, that would be made), in order. A restart is a stop then a start.
  returned: always
  type: list
  elements: str
  sample:
    - stop master sync daemon on eth0 (syncid 0, group 233.252.0.81 port 8848, ttl 1, maxlen 1472)
    - start master sync daemon on eth0 (syncid 7, group 233.252.0.81 port 8848, ttl 1)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state


def main():
    module = AnsibleModule(argument_spec=common.sync_daemon_spec(), supports_check_mode=True)
    params = module.params
    role = params["role"]
    starting = params["state"] == "started"
    # Everything that needs no host lookup first, before a socket is opened.
    common.validated(module, state.sync_daemon_from_params, dict(params, state="stopped"))
    if starting and params["interface"] is None:
        common.validated(module, state.sync_daemon_from_params, params)
    ipvs = common.open_ipvs(module)
    with ipvs:
        mtu = common.call(module, ipvs.interface_mtu, params["interface"]) if starting else None
        desired = common.validated(module, state.sync_daemon_from_params, params, mtu)
        current = next((d for d in common.call(module, ipvs.sync_daemons) if d["role"] == role), None)
        ops = state.diff_sync_daemon(desired, current, role)
        common.apply_sync_daemon_or_restore(module, ipvs, ops, current)
        if module.check_mode or not ops:
            after = current if not ops else (state.predict_sync_daemon(desired, mtu) if desired else None)
        else:
            after = next((d for d in common.call(module, ipvs.sync_daemons) if d["role"] == role), None)
    diff = {"before": current or {}, "after": after or {}}
    if len(ops) == 2:
        diff["before_header"] = "%s sync daemon (running)" % role
        diff["after_header"] = "%s sync daemon (restarted: the kernel cannot change a running daemon)" % role
    module.exit_json(
        changed=bool(ops),
        daemon=after,
        operations=[state.describe_sync_daemon(op) for op in ops],
        diff=diff,
    )


if __name__ == "__main__":
    main()
