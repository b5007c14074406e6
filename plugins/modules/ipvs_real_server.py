#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_real_server
short_description: Add, change, drain or remove one real server of an IPVS service
version_added: 0.1.0
description:
  - Manages one destination (real server) of an existing IPVS virtual service over
    generic netlink (pyroute2).
  - V(drained) quiesces the real server (weight 0, so it gets no new connections) and
    waits until it has no active connections or O(drain_timeout) passes, and reports which.
  - Options left unset keep the live real server's values; a new real server gets
    weight 1, direct routing and no thresholds.
  - Do not use it on services that keepalived or ldirectord manage; drain those through
    the daemon.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: Reports the change without making it, and does not wait for a drain.
  diff_mode:
    support: full
    description: Shows the real server before and after.
options:
  service:
    description:
      - The virtual service the real server belongs to. It must exist.
    type: dict
    required: true
    suboptions:
      protocol:
        description:
          - Protocol of an address service; C(tcp) when not given.
        type: str
        choices: [tcp, udp, sctp]
      address:
        description:
          - Virtual address of the service (with O(service.port)).
        type: str
      port:
        description:
          - Virtual port of the service.
        type: int
      fwmark:
        description:
          - Firewall mark of a firewall-mark service, instead of address and port.
        type: int
      family:
        description:
          - Family of a firewall-mark service; C(ipv4) when not given.
        type: str
        choices: [ipv4, ipv6]
  address:
    description:
      - Address of the real server.
    type: str
    required: true
  port:
    description:
      - Port of the real server; the service port when not given (C(0) for firewall-mark services).
    type: int
  weight:
    description:
      - Weight of the real server. With O(state=drained) it is set to C(0) whatever this says.
    type: int
  forwarding:
    description:
      - Forwarding method; C(gate), C(masq), C(ipip) are the ipvsadm names of C(dr), C(nat), C(tunnel).
    type: str
    choices: [dr, nat, tunnel, gate, masq, ipip, droute]
  upper_threshold:
    description:
      - Upper connection threshold; C(0) means no limit.
    type: int
  lower_threshold:
    description:
      - Lower connection threshold.
    type: int
  state:
    description:
      - V(present) adds or updates the real server, V(absent) removes it, V(drained)
        sets its weight to 0 (adding it if missing) and waits for its active connections to end.
    type: str
    default: present
    choices: [present, absent, drained]
  drain_timeout:
    description:
      - With O(state=drained), the longest time in seconds to wait for active connections
        to reach zero. C(0) quiesces without waiting.
    type: int
    default: 300
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS and root privileges
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Take web01 out of the pool, letting its connections finish (at most 2 minutes)
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.13, port: 80}
    address: 192.0.2.4
    state: drained
    drain_timeout: 120
  register: drain

- name: Put it back at its usual weight
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.13, port: 80}
    address: 192.0.2.4
    weight: 5

- name: Add a real server to a firewall-mark service
  lvs.cluster.ipvs_real_server:
    service: {fwmark: 1, family: ipv6}
    address: "2001:db8::6"
"""

RETURN = r"""
real_server:
  description: The real server after the run (predicted in check mode); empty when absent.
  returned: always
  type: dict
  sample: {address: 192.0.2.4, port: 80, weight: 0, forwarding: dr, upper_threshold: 0, lower_threshold: 0}
operations:
  description: The changes made (or that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 0)"]
drained:
  description: Whether the real server had no active connections when the module returned.
  returned: when O(state=drained) and not in check mode
  type: bool
  sample: true
active_connections:
  description: Active connections left on the real server when the module returned.
  returned: when O(state=drained) and not in check mode
  type: int
  sample: 0
waited:
  description: Seconds spent waiting for the drain.
  returned: when O(state=drained) and not in check mode
  type: float
  sample: 4.02
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state

POLL_INTERVAL = 0.5


def wait_for_drain(module, ipvs, service: dict, real_server: dict, timeout: int) -> dict:
    """Poll the real server's active connections until zero or ``timeout`` seconds pass."""
    start = time.monotonic()
    while True:
        counts = common.call(module, ipvs.real_server_connections, service, real_server["address"],
                             real_server["port"]) or {}
        active = counts.get("active_connections", 0)
        waited = time.monotonic() - start
        if active == 0 or waited >= timeout:
            return {"drained": active == 0, "active_connections": active, "waited": round(waited, 2)}
        time.sleep(min(POLL_INTERVAL, max(timeout - waited, 0)))


def main():
    argument_spec = dict(
        service={"type": "dict", "required": True, "options": common.service_key_spec(),
                 "mutually_exclusive": [("fwmark", "address"), ("fwmark", "port"), ("fwmark", "protocol")],
                 "required_one_of": [("address", "fwmark")],
                 "required_together": [("address", "port")]},
        state={"type": "str", "default": "present", "choices": ["present", "absent", "drained"]},
        drain_timeout={"type": "int", "default": 300},
        **common.real_server_spec(defaults=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["drain_timeout"] < 0:
        module.fail_json(msg="drain_timeout: %d is negative" % params["drain_timeout"])
    service = common.validated(module, state.service_from_params, params["service"], "service.")
    address = common.validated(module, state.canonical_address, params["address"], "address")
    port = params["port"] if params["port"] is not None else service["port"] or 0
    wanted = dict(params, weight=0) if params["state"] == "drained" else params

    ipvs = common.open_ipvs(module)
    with ipvs:
        before_table = common.dump(module, ipvs)
        live_service = next((s for s in before_table if state.service_key(s) == state.service_key(service)), None)
        if live_service is None:
            module.fail_json(msg="service: %s does not exist; create it first (lvs.cluster.ipvs_service)"
                             % state.service_id(service))
        current = next((r for r in live_service["real_servers"]
                        if (r["address"], r["port"]) == (address, port)), None)
        if params["state"] == "absent":
            desired = None
            ops = [{"action": "delete_real_server", "service": live_service, "real_server": current}] if current else []
        else:
            # Validated against the live real server: unset options keep its values.
            desired = common.validated(module, state.real_server_from_params, wanted, live_service, "", current)
            ops = state.diff_real_servers(dict(live_service, real_servers=[desired]), live_service, purge=False)
        common.apply_or_restore(module, ipvs, ops, before_table)

        drain = {}
        if params["state"] == "drained" and not module.check_mode:
            drain = wait_for_drain(module, ipvs, live_service, desired, params["drain_timeout"])
    module.exit_json(
        changed=bool(ops),
        real_server=desired or {},
        operations=[state.describe(op) for op in ops],
        diff={"before": current or {}, "after": desired or {}},
        **drain,
    )


if __name__ == "__main__":
    main()
