#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_wait
short_description: Wait until real servers are drained, quiesced or back in the live IPVS table
version_added: 0.3.0
description:
  - Reads the kernel's IPVS table over generic netlink (pyroute2) every O(interval) seconds until
    the real servers at O(real_servers) are in O(state) or O(timeout) seconds pass, in one task,
    and returns what changed on the way (RV(steps)) and one line that says how it went (RV(msg)).
  - Every entry of the addresses counts, in every service and on any port. It never changes the
    table; use it after whatever owns the services (keepalived, ldirectord,
    M(lvs.cluster.ipvs_real_server)) was asked to drain or restore the real servers.
  - The state is never reached while none of the addresses is in any service (but
    O(state=absent)); at the timeout that is a failure (C(is in no service of the IPVS table)),
    whatever O(fail_on_timeout) says.
  - The kernel counts a connection as active while it is established.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs (and waits) the same in check mode; it never reports a change.
  diff_mode:
    support: none
    description: It changes nothing, so there is no diff.
options:
  real_servers:
    description:
      - Addresses (IPv4 or IPv6) of the real servers to wait for; an entry of any of them, in any
        service, counts.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(drained) every entry at weight 0 with no active connection.
      - V(weight_zero) every entry at weight 0 (the owner quiesced them; connections may be left).
      - V(active) every entry at a weight above 0 (the owner put them back).
      - V(absent) no entry at all (an owner that removes a failed real server, such as
        ldirectord with C(quiescent = no), took them out).
    type: str
    default: drained
    choices: [drained, weight_zero, active, absent]
  services:
    description:
      - Only the entries in these services count, and for O(state=drained), O(state=weight_zero)
        and O(state=active) each of them must hold one (a service the owner has not put the real
        server back in yet is not done).
      - Each as RV(entries[].service) names one, C(PROTOCOL/ADDRESS:PORT) (the address in
        brackets for IPv6) or C(fwmark/MARK/FAMILY).
      - Without it, every service counts, and none has to hold an entry.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait at most, counted from the module's start. V(0) reads the table once.
    type: float
    default: 300
  interval:
    description:
      - Seconds between two reads of the table.
    type: float
    default: 0.5
  fail_on_timeout:
    description:
      - Whether the module fails when O(state) is not reached within O(timeout); V(false) reports
        it in RV(reached) and RV(msg) and returns.
      - When not set, weights not as O(state) wants fail (their owner did not act), and active
        connections left on real servers at weight 0 (O(state=drained)) are only reported, in
        RV(msg) and RV(active_connections).
    type: bool
  label:
    description:
      - Said first in RV(msg), such as the director and the owner of its services (C(lb01 (ldirectord))).
    type: str
  hint:
    description:
      - What to check, said in parentheses in a failure whose weights are not as O(state) wants
        after the timeout, such as C(its health checks fail).
    type: str
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS and root privileges
seealso:
  - module: lvs.cluster.ipvs_info
  - module: lvs.cluster.ipvs_real_server
"""

EXAMPLES = r"""
- name: Quiesce web01 in ldirectord (maintenance directory)
  ansible.builtin.copy:
    dest: /etc/ha.d/maintenance/192.0.2.4
    content: "drained\n"
    mode: "0644"

- name: Wait until ldirectord quiesced it and its connections ended (at most 2 minutes)
  lvs.cluster.ipvs_wait:
    real_servers: [192.0.2.4, "2001:db8::4"]
    state: drained
    timeout: 120
    label: lb01 (ldirectord)
  register: drain

- name: Say how the drain went
  ansible.builtin.debug:
    msg: "{{ drain.msg }}"

- name: Wait until the director sends it connections again
  lvs.cluster.ipvs_wait:
    real_servers: [192.0.2.4]
    state: active
    timeout: 60
    hint: its health checks fail

- name: Wait until ldirectord (quiescent = no) took it out of one service
  lvs.cluster.ipvs_wait:
    real_servers: [192.0.2.4]
    services: [tcp/192.0.2.14:80]
    state: absent
    timeout: 30
"""

RETURN = r"""
reached:
  description: Whether O(state) held when the module returned.
  returned: always
  type: bool
  sample: false
waited:
  description: Seconds from the start of the first read of the table to the end of the last.
  returned: always
  type: float
  sample: 120.0
entries:
  description: Every entry of the addresses in the last read of the table, in table order.
  returned: always
  type: list
  elements: dict
  contains:
    service: {description: The service (C(protocol/address:port) or C(fwmark/mark/family))., type: str,
              returned: always, sample: tcp/192.0.2.13:80}
    address: {description: Address of the real server., type: str, returned: always, sample: 192.0.2.6}
    port: {description: Port of the real server., type: int, returned: always, sample: 80}
    weight: {description: Weight of the entry., type: int, returned: always, sample: 0}
    active_connections: {description: Active connections of the entry., type: int, returned: always, sample: 3}
    inactive_connections: {description: Inactive connections of the entry., type: int, returned: always, sample: 12}
  sample:
    - {service: tcp/192.0.2.13:80, address: 192.0.2.6, port: 80, weight: 0,
       active_connections: 3, inactive_connections: 12}
active_connections:
  description: Active connections of all the entries in the last read.
  returned: always
  type: int
  sample: 3
weights:
  description: The entries of the last read as C(address:port:weight).
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.6:80:0"]
steps:
  description:
    - The reads where something changed, the first one always, each with C(t) (seconds since the
      first read), C(weight0) (entries at weight 0 / entries) and C(active) (active connections).
  returned: always
  type: list
  elements: dict
  sample:
    - {t: 0.0, weight0: 0/1, active: 7}
    - {t: 2.1, weight0: 1/1, active: 7}
    - {t: 6.6, weight0: 1/1, active: 3}
msg:
  description: How the wait went, in one line.
  returned: always
  type: str
  sample: "192.0.2.6: weight 0 on 1 service after 2.1 s, 3 active connections left after 120 s"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wait as waiting


def main():
    module = AnsibleModule(
        argument_spec={
            "real_servers": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "default": "drained", "choices": list(waiting.STATES)},
            "services": {"type": "list", "elements": "str"},
            "timeout": {"type": "float", "default": 300},
            "interval": {"type": "float", "default": 0.5},
            "fail_on_timeout": {"type": "bool"},
            "label": {"type": "str"},
            "hint": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = common.validated(module, waiting.params_from, module.params)
    ipvs = common.open_ipvs(module)
    with ipvs:
        result = waiting.wait(
            lambda: waiting.entries_of(common.dump(module, ipvs, stats=True), params["addresses"], params["services"]),
            params["state"], params["timeout"], params["interval"], services=params["services"])
    failed, msg = waiting.outcome(params, result)
    entries = result["entries"]
    returned = {"changed": False, "reached": result["reached"], "waited": result["waited"], "entries": entries,
                "active_connections": waiting.active_connections(entries), "weights": waiting.weights(entries),
                "steps": result["steps"]}
    if failed:
        module.fail_json(msg=msg, **returned)
    module.exit_json(msg=msg, **returned)


if __name__ == "__main__":
    main()
