#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_table
short_description: Converge the whole IPVS table to a desired list of services in one task
version_added: 0.1.0
description:
  - Takes the complete desired set of IPVS virtual services with their real servers,
    diffs it against the live table and applies only the difference, batching many
    netlink requests per write. A run against a matching table changes nothing.
  - Each listed service owns its real servers, so live real servers that it does not
    list are removed (new ones are added before old ones go).
  - With O(purge), live services that are not listed are removed too, except those that
    O(purge_exclude) protects (for example services that keepalived owns).
  - Every request is encoded before the first is sent. If a change fails part-way (the kernel
    refuses it, the netlink socket fails), the services touched are read back and put back as
    they were, and the task fails saying so.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: Computes the same operations and reports them without applying any.
  diff_mode:
    support: full
    description: Shows the services the run changes (or would change) before and after; nothing for a run with no
      change.
options:
  services:
    description:
      - The desired services. Each takes the options of M(lvs.cluster.ipvs_service)
        except O(lvs.cluster.ipvs_service#module:state) and
        O(lvs.cluster.ipvs_service#module:purge_real_servers).
    type: list
    elements: dict
    required: true
    suboptions:
      protocol:
        description: Protocol of an address service; C(tcp) when not given.
        type: str
        choices: [tcp, udp, sctp]
      address:
        description: Virtual address (IPv4 or IPv6), with O(services[].port).
        type: str
      port:
        description: Virtual port, 1 to 65535.
        type: int
      fwmark:
        description: Firewall mark, instead of address and port.
        type: int
      family:
        description: Family of a firewall-mark service; C(ipv4) when not given.
        type: str
        choices: [ipv4, ipv6]
      scheduler:
        description: Scheduling algorithm.
        type: str
        default: wlc
        choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
      scheduler_flags:
        description: Scheduler flags, as for M(lvs.cluster.ipvs_service).
        type: list
        elements: str
        default: []
        choices: [flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port]
      persistence_timeout:
        description: Persistence timeout in seconds; C(0) turns persistence off.
        type: int
        default: 0
      persistence_netmask:
        description: Persistence granularity, a netmask or prefix length. Needs a persistence timeout.
        type: str
      one_packet:
        description: One-packet scheduling (UDP and firewall-mark services).
        type: bool
        default: false
      real_servers:
        description: The real servers of the service; live ones not listed are removed.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: Address of the real server.
            type: str
            required: true
          port:
            description: Port of the real server; the service port when not given.
            type: int
          weight:
            description: Weight; C(0) quiesces the server.
            type: int
            default: 1
          forwarding:
            description: Forwarding method (C(gate), C(masq), C(ipip) as ipvsadm names).
            type: str
            default: dr
            choices: [dr, nat, tunnel, gate, masq, ipip, droute]
          upper_threshold:
            description: Upper connection threshold; C(0) means no limit.
            type: int
            default: 0
          lower_threshold:
            description: Lower connection threshold.
            type: int
            default: 0
  purge:
    description:
      - Remove live services that O(services) does not list and O(purge_exclude) does not protect.
    type: bool
    default: false
  purge_exclude:
    description:
      - Selectors of live services that O(purge) must leave alone. A service is protected
        when every field a selector gives matches it (a selector with only an address
        protects every service on that address).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Protocol to match.
        type: str
        choices: [tcp, udp, sctp]
      address:
        description: Virtual address to match.
        type: str
      port:
        description: Virtual port to match.
        type: int
      fwmark:
        description: Firewall mark to match.
        type: int
      family:
        description: Address family to match.
        type: str
        choices: [ipv4, ipv6]
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS and root privileges
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: The seed cluster's table, and nothing else but what keepalived owns on 192.0.2.50
  lvs.cluster.ipvs_table:
    services:
      - address: 192.0.2.13
        port: 80
        scheduler: wlc
        real_servers: "{{ groups['frontends'] | map('extract', hostvars, 'ansible_host')
                          | map('community.general.dict_kv', 'address')
                          | map('combine', {'weight': 5}) | list }}"
      - address: "2001:db8::13"
        port: 80
        real_servers:
          - {address: "2001:db8::4", weight: 5}
    purge: true
    purge_exclude:
      - address: 192.0.2.50
"""

RETURN = r"""
services:
  description: The services O(services) lists, as the table holds them after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {family: ipv4, protocol: tcp, address: 192.0.2.13, port: 80, scheduler: wlc, scheduler_flags: [],
       persistence_timeout: 0, persistence_netmask: 32, one_packet: false,
       real_servers: [{address: 192.0.2.4, port: 80, weight: 5, forwarding: dr, upper_threshold: 0, lower_threshold: 0}]}
operations:
  description: The changes made (or that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["edit real server 192.0.2.5:80 in tcp/192.0.2.13:80 (dr, weight 5)", "delete service udp/192.0.2.13:53"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state


def main():
    # The entries of services are checked by ipvs_state.services_from_params (options, types,
    # choices, defaults, each error naming services[i].option), not by an "options" spec:
    # Ansible's validation of thousands of nested entries, and their echo in the result's
    # invocation, cost more than the kernel's work on them.  DOCUMENTATION describes them;
    # a unit test holds it to common.service_spec().
    module = AnsibleModule(
        argument_spec={
            "services": {"type": "list", "elements": "dict", "required": True},
            "purge": {"type": "bool", "default": False},
            "purge_exclude": {"type": "list", "elements": "dict", "default": [],
                              "options": common.service_key_spec()},
        },
        supports_check_mode=True,
    )
    desired = common.validated(module, state.services_from_params, module.params["services"])
    exclude = []
    for index, selector in enumerate(module.params["purge_exclude"]):
        if selector.get("address") is not None:
            selector = dict(selector, address=common.validated(
                module, state.canonical_address, selector["address"], "purge_exclude[%d].address" % index))
        exclude.append(selector)

    ipvs = common.open_ipvs(module)
    with ipvs:
        before_table = common.dump(module, ipvs)
        ops = state.diff_table(desired, before_table, purge=module.params["purge"], exclude=exclude)
        common.apply_or_restore(module, ipvs, ops, before_table)
        if module.check_mode:
            after_table = state.apply_ops(before_table, ops)
        else:  # read back what the kernel made of the changes; with none, the table is the one just read
            after_table = common.dump(module, ipvs, applied=ops) if ops else before_table

    listed = {state.service_key(s) for s in desired}
    result = {
        "changed": bool(ops),
        "services": [state.public(s) for s in after_table if state.service_key(s) in listed],
        "operations": [state.describe(op) for op in ops],
    }
    if module._diff:  # the services the operations change, as they were and as they are (or would be)
        touched = {state.service_key(op["service"]) for op in ops}
        result["diff"] = {
            "before": {state.service_id(s): state.public(s) for s in before_table if state.service_key(s) in touched},
            "after": {state.service_id(s): state.public(s) for s in after_table if state.service_key(s) in touched},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
