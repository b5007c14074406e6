#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_info
short_description: Read the kernel's IPVS table with connection counts, counters and rates
version_added: 0.1.0
description:
  - Returns every IPVS virtual service with its settings, counters and rates, and every
    real server with its weight, active, inactive and persistent connections, counters
    and rates, the data C(ipvsadm -L -n --stats --rate) shows; also the running connection
    synchronisation daemons (C(ipvsadm -L --daemon)) and the connection timeouts (C(ipvsadm -L --timeout)).
  - Reads the table over generic netlink (pyroute2); it never runs C(ipvsadm).
  - The kernel's estimator updates counters and rates about every two seconds.
  - RV(summary) is the same table as text, a line per service and per real server.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: It changes nothing, so there is no diff.
options:
  service:
    description:
      - Return only the services this selector matches. Every field given must match.
    type: dict
    suboptions:
      protocol:
        description: Protocol of the service.
        type: str
        choices: [tcp, udp, sctp]
      address:
        description: Virtual address of the service.
        type: str
      port:
        description: Virtual port of the service.
        type: int
      fwmark:
        description: Firewall mark of the service.
        type: int
      family:
        description: Address family of the service.
        type: str
        choices: [ipv4, ipv6]
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS and root privileges
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_sync_daemon
  - module: lvs.cluster.ipvs_timeouts
"""

EXAMPLES = r"""
- name: Read the whole IPVS table
  lvs.cluster.ipvs_info:
  register: ipvs

- name: Show each real server of the HTTP service with its active connections
  ansible.builtin.debug:
    msg: "{{ item.address }}: weight {{ item.weight }}, {{ item.active_connections }} active"
  loop: "{{ (ipvs.services | selectattr('port', 'equalto', 80) | first).real_servers }}"

- name: Only the services on one VIP
  lvs.cluster.ipvs_info:
    service:
      address: 192.0.2.13
"""

RETURN = r"""
services:
  description: The virtual services, each with its real servers.
  returned: always
  type: list
  elements: dict
  contains:
    family: {description: C(ipv4) or C(ipv6)., type: str, returned: always, sample: ipv4}
    protocol: {description: Protocol of an address service., type: str, returned: unless fwmark service, sample: tcp}
    address: {description: Virtual address., type: str, returned: unless fwmark service, sample: 192.0.2.13}
    port: {description: Virtual port., type: int, returned: unless fwmark service, sample: 80}
    fwmark: {description: Firewall mark., type: int, returned: for fwmark services, sample: 1}
    scheduler: {description: Scheduler name., type: str, returned: always, sample: wlc}
    scheduler_flags: {description: Scheduler flags set., type: list, elements: str, returned: always, sample: []}
    persistence_timeout: {description: Persistence timeout in seconds (0 off)., type: int, returned: always, sample: 0}
    persistence_netmask: {description: Persistence prefix length., type: int, returned: always, sample: 32}
    one_packet: {description: One-packet scheduling., type: bool, returned: always, sample: false}
    stats:
      description: Counters since the service was created (connections, in/out packets and bytes).
      type: dict
      returned: always
      sample: {connections: 12, in_packets: 80, out_packets: 0, in_bytes: 5210, out_bytes: 0}
    rates:
      description: Current rates per second (connections, in/out packets and bytes).
      type: dict
      returned: always
      sample: {connections_per_second: 1, in_packets_per_second: 8, out_packets_per_second: 0,
               in_bytes_per_second: 512, out_bytes_per_second: 0}
    real_servers:
      description: Real servers with weight, forwarding, thresholds, connection counts, stats and rates.
      type: list
      elements: dict
      returned: always
      sample:
        - {address: 192.0.2.4, port: 80, weight: 5, forwarding: dr, upper_threshold: 0, lower_threshold: 0,
           active_connections: 2, inactive_connections: 7, persistent_connections: 0,
           stats: {connections: 9, in_packets: 60, out_packets: 0, in_bytes: 3900, out_bytes: 0},
           rates: {connections_per_second: 0, in_packets_per_second: 1, out_packets_per_second: 0,
                   in_bytes_per_second: 65, out_bytes_per_second: 0}}
summary:
  description:
    - The selected services as text, as C(ipvsadm -L -n --stats --rate) shows them - a line per
      service (scheduler, connections and rates) and an indented line per real server
      (forwarding, weight, active and inactive connections, connections and rates).
  returned: always
  type: list
  elements: str
  sample:
    - "TCP  192.0.2.13:80 wlc  conns 120 (4/s)  in 840 pkts (28/s)  out 0 pkts (0/s)"
    - "  -> 192.0.2.4:80           Route  weight 5     active 1     inactive 29    conns 30 (1/s)  in 210 pkts (7/s)"
sync_daemons:
  description: The running connection synchronisation daemons (master first), as M(lvs.cluster.ipvs_sync_daemon) returns them.
  returned: always
  type: list
  elements: dict
  sample:
    - {role: master, interface: eth0, syncid: 7, mcast_group: 233.252.0.81, mcast_port: 8848, mcast_ttl: 1, maxlen: 1472}
timeouts:
  description: The connection timeouts in seconds.
  returned: always
  type: dict
  sample: {tcp: 900, tcp_fin: 120, udp: 300}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state


def main():
    module = AnsibleModule(
        argument_spec={"service": {"type": "dict", "options": common.service_key_spec()}},
        supports_check_mode=True,
    )
    selector = dict(module.params["service"] or {})
    if selector.get("address") is not None:
        selector["address"] = common.validated(module, state.canonical_address, selector["address"], "service.address")
    ipvs = common.open_ipvs(module)
    with ipvs:
        table = common.dump(module, ipvs, stats=True)
        daemons = common.call(module, ipvs.sync_daemons)
        timeouts = common.call(module, ipvs.timeouts)
    selected = [s for s in table if state.matches(s, selector)]
    module.exit_json(changed=False, services=[state.public(s) for s in selected],
                     summary=state.summary_lines(selected), sync_daemons=daemons, timeouts=timeouts)


if __name__ == "__main__":
    main()
