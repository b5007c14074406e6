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
  - Takes a desired set of IPVS virtual services with their real servers, diffs it against
    the live table and applies only the difference, batching many netlink requests per
    write. A run against a matching table changes nothing.
  - O(state) follows the states of Ansible's network resource modules. V(merged) adds the
    listed services and real servers, and updates the options an entry gives (options it
    leaves unset keep their live values); nothing is removed. V(replaced) sets each listed
    service exactly as listed (options left unset take their defaults, and live real servers
    it does not list are removed; new ones are added before old ones go); other services stay.
    V(overridden) makes the table exactly O(services), removing every unlisted service that
    O(purge_exclude) does not protect. V(deleted) removes the listed services with their real
    servers, or, when O(services) is empty or omitted, every service that O(purge_exclude) does
    not protect.
  - V(gathered) changes nothing and returns the live table as RV(gathered), a list that
    O(services) takes as it is. V(rendered) needs no kernel and returns RV(rendered), the
    C(ipvsadm -R) lines of O(services). V(parsed) needs no kernel either and turns
    O(running_config), the text of an C(ipvsadm -S) (or C(ipvsadm -S -n)) save file, into
    RV(parsed), shaped like RV(gathered). The module never runs C(ipvsadm).
  - Without O(state), the module does what it did before it had states, V(replaced), or
    V(overridden) with O(purge=true). O(purge=true) with another state is refused.
  - Every request is encoded before the first is sent. If a change fails part-way (the kernel
    refuses it, the netlink socket fails), the services touched are read back and put back as
    they were, and the task fails saying so.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: Computes the same operations and reports them without applying any. V(gathered), V(rendered) and
      V(parsed) change nothing in any mode.
  diff_mode:
    support: full
    description: Shows the services the run changes (or would change) before and after; nothing for a run with no
      change, and nothing for V(gathered), V(rendered) and V(parsed).
options:
  services:
    description:
      - The desired services. Each takes the options of M(lvs.cluster.ipvs_service)
        except O(lvs.cluster.ipvs_service#module:state) and
        O(lvs.cluster.ipvs_service#module:purge_real_servers).
      - Required when O(state) is V(merged), V(replaced), V(overridden) (an empty list then removes every
        unprotected service), V(rendered), or omitted. Optional for V(deleted); refused for V(gathered) and
        V(parsed).
      - With O(state=merged), an option an entry leaves unset keeps its live value (a new service takes
        the default); the defaults below apply to the other states. Each entry must be valid on its own.
      - With O(state=deleted), only the identity of each entry counts (O(services[].protocol),
        O(services[].address) and O(services[].port), or O(services[].fwmark) and O(services[].family)), and
        O(services[].real_servers) must be empty.
    type: list
    elements: dict
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
        description:
          - The real servers of the service. Live ones not listed are removed, except with O(state=merged),
            which keeps them.
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
  state:
    description:
      - What to do with O(services), as the network resource modules' states (see the description).
      - When omitted, V(replaced), or V(overridden) with O(purge=true).
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed]
  purge:
    description:
      - Remove live services that O(services) does not list and O(purge_exclude) does not protect.
      - The older spelling of O(state=overridden) (without O(state), V(false) is O(state=replaced)). V(true) with
        any O(state) but V(overridden) is refused.
    type: bool
    default: false
  purge_exclude:
    description:
      - Selectors of live services that O(state=overridden), O(purge=true) and O(state=deleted) without
        O(services) must leave alone. A service is protected when every field a selector gives matches it
        (a selector with only an address protects every service on that address).
      - Refused with a state that removes no unlisted service, and with O(state=deleted) when O(services)
        lists what to remove.
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
  running_config:
    description:
      - With O(state=parsed) (and only then, where it is required), the text of an C(ipvsadm -S) or
        C(ipvsadm -S -n) save file, or of C(ipvsadm -R) rules in that syntax, for example
        C("{{ lookup('ansible.builtin.file', 'rules.ipvs') }}").
      - Lines of V(-A) (a service) and V(-a) (a real server) with C(-t), C(-u), C(--sctp-service), C(-f), C(-6), C(-s),
        C(-p), C(-M), C(-o), C(-b), C(-r), C(-g), C(-i), C(-m), C(-w), C(-x) and C(-y) (long names too); a leading
        C(ipvsadm), blank lines and C(#) comments are allowed, and V(-C) forgets the services read so far.
        Port names are looked up in C(/etc/services) of the managed host; host names are refused (save with
        C(-n)). Real servers of a direct-routed or tunnelled address service take the service port, as
        C(ipvsadm) does.
      - An error names the line number and the line.
    type: str
notes:
  - The result's C(invocation) (shown from C(-vvv)) echoes O(services) only up to 100 entries; a longer list
    appears there as its size. The echo of a table of thousands of services would cost the controller as much
    as the rest of the result.
requirements:
  - pyroute2 >= 0.9.5 on the managed host (not for O(state=rendered) and O(state=parsed))
  - a kernel with IPVS and root privileges (not for O(state=rendered) and O(state=parsed))
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
    state: overridden            # the same as purge: true
    purge_exclude:
      - address: 192.0.2.50

- name: Add a fifth frontend to the HTTP service, leaving its other real servers and settings as they are
  lvs.cluster.ipvs_table:
    services:
      - address: 192.0.2.13
        port: 80
        real_servers:
          - {address: 192.0.2.8, weight: 5}
    state: merged

- name: Set the HTTP service exactly as listed (its unlisted real servers go); other services stay
  lvs.cluster.ipvs_table:
    services:
      - address: 192.0.2.13
        port: 80
        real_servers:
          - {address: 192.0.2.4, weight: 5}
          - {address: 192.0.2.5, weight: 5}
    state: replaced

- name: Remove the DNS service
  lvs.cluster.ipvs_table:
    services:
      - {protocol: udp, address: 192.0.2.13, port: 53}
    state: deleted

- name: Remove every service but keepalived's
  lvs.cluster.ipvs_table:
    state: deleted
    purge_exclude:
      - address: 192.0.2.50

- name: Read the live table as services input
  lvs.cluster.ipvs_table:
    state: gathered
  register: __table

- name: Apply the gathered table to another director, exactly
  lvs.cluster.ipvs_table:
    services: "{{ hostvars['lb01'].__table.gathered }}"
    state: overridden
  delegate_to: lb02

- name: Write the rules ipvsadm -R reads, without a kernel
  lvs.cluster.ipvs_table:
    services:
      - address: 192.0.2.13
        port: 80
        real_servers: [{address: 192.0.2.4, weight: 5}]
    state: rendered
  register: __rules
  # __rules.rendered: ["-A -t 192.0.2.13:80 -s wlc", "-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 5"]

- name: Turn a director's ipvsadm -S -n save file into services, without a kernel
  lvs.cluster.ipvs_table:
    state: parsed
    running_config: "{{ lookup('ansible.builtin.file', 'lb01.rules') }}"
  register: __parsed
  # __parsed.parsed: [{address: 192.0.2.13, port: 80, real_servers: [{address: 192.0.2.4, weight: 5}, ...]}]
"""

RETURN = r"""
services:
  description:
    - The services O(services) lists, as the table holds them after the run (predicted in check mode); none for
      O(state=deleted).
  returned: when O(state) is V(merged), V(replaced), V(overridden), V(deleted) or omitted
  type: list
  elements: dict
  sample:
    - {family: ipv4, protocol: tcp, address: 192.0.2.13, port: 80, scheduler: wlc, scheduler_flags: [],
       persistence_timeout: 0, persistence_netmask: 32, one_packet: false,
       real_servers: [{address: 192.0.2.4, port: 80, weight: 5, forwarding: dr, upper_threshold: 0, lower_threshold: 0}]}
operations:
  description: The changes made (or that would be made), in order.
  returned: when O(state) is V(merged), V(replaced), V(overridden), V(deleted) or omitted
  type: list
  elements: str
  sample: ["edit real server 192.0.2.5:80 in tcp/192.0.2.13:80 (dr, weight 5)", "delete service udp/192.0.2.13:53"]
gathered:
  description:
    - The live table, in the table's order, as entries of O(services) that mean it exactly with O(state=replaced)
      or O(state=overridden). Options at their default are left out (C(protocol) tcp, C(family) ipv4, C(scheduler)
      wlc, no C(scheduler_flags), no persistence, the full C(persistence_netmask), C(one_packet) false; a real
      server's C(port) when it is the service's, C(weight) 1, C(forwarding) dr, thresholds 0); C(real_servers) is
      always there. Scheduler flags carry ipvsadm's names (C(sh-port), C(mh-fallback), C(flag-3)).
  returned: when O(state=gathered)
  type: list
  elements: dict
  sample:
    - {address: 192.0.2.13, port: 80, real_servers: [{address: 192.0.2.4, weight: 5}, {address: 192.0.2.5, weight: 5}]}
    - {protocol: udp, address: 192.0.2.13, port: 53, scheduler: sh, scheduler_flags: [sh-port], one_packet: true,
       real_servers: [{address: 192.0.2.4}]}
rendered:
  description:
    - The C(ipvsadm -R) lines of O(services), in their order, in C(ipvsadm -S -n)'s syntax (an V(-A) line per
      service, then an V(-a) line per real server; C(-x) and C(-y) when a threshold is set). Add V(-C) in front to
      replace a whole table with them. A weight above 65535, which C(ipvsadm) refuses, fails naming the service.
  returned: when O(state=rendered)
  type: list
  elements: str
  sample: ["-A -t 192.0.2.13:80 -s wlc", "-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 5", "-A -f 1 -6 -s sh -b sh-port"]
parsed:
  description: The services of O(running_config), shaped as RV(gathered), in the order of their V(-A) lines.
  returned: when O(state=parsed)
  type: list
  elements: dict
  sample:
    - {address: 192.0.2.13, port: 80, real_servers: [{address: 192.0.2.4, weight: 5}, {address: 192.0.2.5, weight: 5}]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_resource as resource
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_text as text

# A services list longer than this is echoed in the result's invocation as its size only.
ECHO_LIMIT = 100


def invocation(params: dict) -> dict:
    """The result's ``invocation``: the arguments as given, a services list above ECHO_LIMIT as its size.

    Ansible echoes every argument otherwise; for a table of thousands of entries the echo is as big
    as the rest of the result, and the controller decodes and tags each of its values once more.
    """
    services = params["services"]
    if services is None or len(services) <= ECHO_LIMIT:
        return {"module_args": params}
    return {"module_args": dict(params, services="%d services (a list above %d is not echoed)"
                                % (len(services), ECHO_LIMIT))}


def main():
    # The entries of services are checked by ipvs_state.services_from_params (options, types,
    # choices, defaults, each error naming services[i].option), not by an "options" spec:
    # Ansible's validation of thousands of nested entries, and their echo in the result's
    # invocation, cost more than the kernel's work on them.  DOCUMENTATION describes them;
    # a unit test holds it to common.service_spec().
    module = AnsibleModule(
        argument_spec={
            "services": {"type": "list", "elements": "dict"},
            "state": {"type": "str", "choices": list(resource.STATES)},
            "purge": {"type": "bool", "default": False},
            "purge_exclude": {"type": "list", "elements": "dict", "default": [],
                              "options": common.service_key_spec()},
            "running_config": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    echo = invocation(params)
    mode = common.validated(module, resource.effective_state, params)
    if mode == "parsed":  # no kernel
        table = common.validated(module, text.parse, params["running_config"])
        module.exit_json(changed=False, parsed=[text.compact(s) for s in table], invocation=echo)
    if mode == "rendered":  # no kernel
        desired = common.validated(module, state.services_from_params, params["services"])
        module.exit_json(changed=False, rendered=common.validated(module, text.render, desired), invocation=echo)

    desired = []
    if mode == "deleted":
        desired = common.validated(module, resource.services_to_delete, params["services"] or [])
    elif mode != "gathered":  # merged is validated here too, and again once the live values fill it in
        desired = common.validated(module, state.services_from_params, params["services"])
    exclude = []
    for index, selector in enumerate(params["purge_exclude"]):
        if selector.get("address") is not None:
            selector = dict(selector, address=common.validated(
                module, state.canonical_address, selector["address"], "purge_exclude[%d].address" % index))
        exclude.append(selector)

    ipvs = common.open_ipvs(module)
    with ipvs:
        before_table = common.dump(module, ipvs)
        if mode == "gathered":
            module.exit_json(changed=False, gathered=[text.compact(s) for s in before_table], invocation=echo)
        if mode == "merged":
            desired = common.validated(module, resource.merged_services, params["services"], before_table)
        ops = resource.plan(mode, desired, before_table, exclude)
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
        "invocation": echo,
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
