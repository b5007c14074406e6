#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_service
short_description: Manage one IPVS virtual service and its real servers
version_added: 0.1.0
description:
  - Creates, changes or removes one virtual service of the Linux kernel's IP Virtual
    Server (IPVS) table, and optionally its real servers.
  - Talks to the kernel over generic netlink (pyroute2); it never runs C(ipvsadm).
  - Reads the live table, compares it with the requested state and applies only the
    difference; a run against a table that already matches changes nothing.
  - If a change fails part-way (the kernel refuses it, pyroute2 cannot encode a value, the
    netlink socket fails), the service is read back and put back as it was, and the task
    fails saying so.
  - Do not use it on services that keepalived or ldirectord manage; they own those.
author:
  - lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.ipvs.SERVICE
  - lvs.cluster.ipvs.REAL_SERVERS
attributes:
  check_mode:
    support: full
    description: Computes the same operations and reports them without applying any.
  diff_mode:
    support: full
    description: Shows the service (with its real servers) before and after.
options:
  state:
    description:
      - V(present) creates or updates the service; V(absent) removes it with its real servers.
    type: str
    default: present
    choices: [present, absent]
  purge_real_servers:
    description:
      - Remove live real servers that O(real_servers) does not list.
      - Ignored when O(real_servers) is omitted.
    type: bool
    default: false
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS (C(ip_vs) module) and root privileges
seealso:
  - module: lvs.cluster.ipvs_real_server
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Balance HTTP on the VIP over four frontends (direct routing, weight 5)
  lvs.cluster.ipvs_service:
    address: 192.0.2.13
    port: 80
    scheduler: wlc
    real_servers:
      - {address: 192.0.2.4, weight: 5}
      - {address: 192.0.2.5, weight: 5}
      - {address: 192.0.2.6, weight: 5}
      - {address: 192.0.2.7, weight: 5}
    purge_real_servers: true

- name: Persistent HTTPS service on an IPv6 VIP, clients grouped per /64
  lvs.cluster.ipvs_service:
    address: "2001:db8::13"
    port: 443
    persistence_timeout: 300
    persistence_netmask: "64"
    real_servers:
      - address: "2001:db8::4"

- name: Firewall-mark service for traffic marked 1 by nftables
  lvs.cluster.ipvs_service:
    fwmark: 1
    family: ipv4
    scheduler: sh
    scheduler_flags: [sh-port]

- name: Remove a service
  lvs.cluster.ipvs_service:
    address: 192.0.2.13
    port: 8080
    state: absent
"""

RETURN = r"""
service:
  description: The service as the table holds it after the run (predicted in check mode); empty when absent.
  returned: always
  type: dict
  sample:
    family: ipv4
    protocol: tcp
    address: 192.0.2.13
    port: 80
    scheduler: wlc
    scheduler_flags: []
    persistence_timeout: 0
    persistence_netmask: 32
    one_packet: false
    real_servers:
      - {address: 192.0.2.4, port: 80, weight: 5, forwarding: dr, upper_threshold: 0, lower_threshold: 0}
operations:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["add service tcp/192.0.2.13:80 (scheduler wlc)", "add real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 5)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state


def main():
    argument_spec = dict(
        common.service_spec(),
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        purge_real_servers={"type": "bool", "default": False},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("fwmark", "address"), ("fwmark", "port"), ("fwmark", "protocol")],
        required_one_of=[("address", "fwmark")],
        required_together=[("address", "port")],
        supports_check_mode=True,
    )
    desired = common.validated(module, state.service_from_params, module.params)
    ipvs = common.open_ipvs(module)
    with ipvs:
        before_table = common.dump(module, ipvs)
        current = next((s for s in before_table if state.service_key(s) == state.service_key(desired)), None)
        if module.params["state"] == "absent":
            ops = [{"action": "delete_service", "service": current}] if current else []
        else:
            ops = state.diff_service(desired, current, module.params["purge_real_servers"])
        common.apply_or_restore(module, ipvs, ops, before_table)
        after_table = state.apply_ops(before_table, ops) if module.check_mode else common.dump(module, ipvs, applied=ops)
    after = next((s for s in after_table if state.service_key(s) == state.service_key(desired)), None)
    module.exit_json(
        changed=bool(ops),
        service=state.public(after) if after else {},
        operations=[state.describe(op) for op in ops],
        diff={"before": state.public(current) if current else {}, "after": state.public(after) if after else {}},
    )


if __name__ == "__main__":
    main()
