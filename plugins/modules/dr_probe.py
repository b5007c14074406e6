#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dr_probe
short_description: Check real servers through the direct-routing path, and find hosts answering ARP for a VIP
version_added: 0.3.0
description:
  - Health checks such as ldirectord's and keepalived's reach a real server at its own address.
    In direct routing the clients' traffic reaches it addressed to the VIP, so a real server that
    lost the VIP on its C(lo) passes them while the requests sent to it are lost.
  - Each entry of O(probes) is checked the way IPVS forwards a client's connection - an Ethernet
    frame to the real server's MAC, addressed to the VIP - from the director's own address on the
    real server's segment. The module speaks TCP itself over a packet socket, since on a director
    the VIP is a local address. In V(http) mode it sends one HTTP/1.0 C(GET) and checks the status
    code and, with O(probes[].receive), the body; in V(connect) mode the handshake alone decides.
    Every conversation ends with a TCP reset, so the real server keeps no half-open connection.
  - Each address of O(arp) is looked for with RFC 5227 ARP probes (sender address 0.0.0.0, so
    nobody's ARP cache changes) sent on O(interface); every host that answers is returned. A
    correctly set-up direct-routing real server (VIP on C(lo), C(arp_ignore) 1 or more) does not
    answer; one whose C(arp_ignore) went back to 0 does, and may steal the VIP's traffic. The
    director does not see its own probes.
  - A probe that fails is a result (RV(probes[].ok) false, with the reason), not a module failure.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same probes in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
options:
  probes:
    description:
      - The connections to check, each to one VIP and port through one real server.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description:
          - The VIP (IPv4 or IPv6, without zone ID) to connect to.
        type: str
        required: true
      port:
        description:
          - The port on the VIP, C(1) to C(65535). Direct routing cannot change ports, so it is the
            real server's port too.
        type: int
        required: true
      real_server:
        description:
          - The real server's own address, of the same family as O(probes[].address). It must be on
            a link of this host (not behind a gateway).
        type: str
        required: true
      mode:
        description:
          - V(http) sends an HTTP/1.0 request and checks the answer; V(connect) checks the TCP handshake only.
        type: str
        choices: [http, connect]
        default: http
      request:
        description:
          - The path (and query) of the HTTP request, starting with C(/).
        type: str
        default: /
      host:
        description:
          - The C(Host) header. Defaults to the VIP (in brackets for IPv6).
        type: str
      status:
        description:
          - The HTTP status code that means up.
        type: int
        default: 200
      receive:
        description:
          - A Python regular expression that must match the body of the answer (C(re.search)), like
            ldirectord's C(receive). Without it the status code alone decides.
        type: str
  arp:
    description:
      - IPv4 addresses (VIPs) to send ARP probes for on O(interface). IPv6 has no counterpart
        to look for, since Linux does not answer neighbour solicitations for an address on C(lo)
        that arrive on another interface.
    type: list
    elements: str
    default: []
  interface:
    description:
      - The Ethernet interface the ARP probes go out of. Required when O(arp) is not empty.
    type: str
  timeout:
    description:
      - Seconds each probe may take (C(0.1) to C(300)). For O(arp), how long replies are collected, at most
        1 s per address (an answer on the link comes within milliseconds).
    type: float
    default: 3.0
requirements:
  - root privileges (C(CAP_NET_RAW), for the packet socket); the module fails saying so without them
  - Linux, with the real servers on a link of the managed host (direct routing)
notes:
  - The real server's MAC comes from the neighbour table; when it is not there, the module makes
    the kernel resolve it with a TCP connection attempt to the real server's own address and
    port, closed at once.
  - The probes come from the director's own address on the real server's subnet, so the real
    server's status page must admit it (for IPv6 services, the director's IPv6 address).
  - The same check runs as a health checker's command, C(python3 dr_probe.py check --config FILE
    VIRTUAL VPORT REAL RPORT), from the collection's C(plugins/module_utils/dr_probe.py).
seealso:
  - module: lvs.cluster.ipvs_info
  - module: lvs.cluster.vip_address
"""

EXAMPLES = r"""
- name: Check each frontend through the VIP, the way client traffic reaches it
  lvs.cluster.dr_probe:
    probes:
      - address: 192.0.2.13
        port: 80
        real_server: 192.0.2.4
        request: /server-status?auto
        receive: "Total Accesses"
      - address: 2001:db8::13
        port: 80
        real_server: 2001:db8::4
        mode: connect
    timeout: 2
  register: dr_path

- name: Find hosts that answer ARP for the VIPs (a frontend with arp_ignore=0)
  lvs.cluster.dr_probe:
    arp: [192.0.2.13, 192.0.2.14]
    interface: eth0
  register: arp_check

- name: Fail when a frontend does not serve the VIP or something else answers ARP for it
  ansible.builtin.assert:
    that:
      - dr_path.probes | rejectattr('ok') | list == []
      - arp_check.arp | map(attribute='responders') | flatten == []
    fail_msg: "{{ dr_path.probes | rejectattr('ok') | map(attribute='reason') | list }}"
"""

RETURN = r"""
probes:
  description: One result per entry of O(probes), in order.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The VIP, canonical.
      type: str
      sample: 192.0.2.13
    port:
      description: The port.
      type: int
      sample: 80
    real_server:
      description: The real server's address, canonical.
      type: str
      sample: 192.0.2.4
    mode:
      description: V(http) or V(connect).
      type: str
      sample: http
    request:
      description: The HTTP request path.
      type: str
      sample: /server-status?auto
    host:
      description: The Host header given, or null for the VIP.
      type: str
      sample: null
    status:
      description: The status code expected.
      type: int
      sample: 200
    receive:
      description: The regular expression given, or null.
      type: str
      sample: Total Accesses
    ok:
      description: Whether the real server answered through the direct-routing path as expected.
      type: bool
      sample: false
    reason:
      description: Why, in words for a log.
      type: str
      sample: "no SYN-ACK from 192.0.2.4 for 192.0.2.13:80 within 3 s (is the VIP on its lo?)"
    http_status:
      description: The HTTP status code received, or null when none was.
      type: int
      sample: 404
    elapsed:
      description: Seconds the probe took.
      type: float
      sample: 0.012
    real_mac:
      description: The real server's MAC address the probe was sent to, or null when it was not found.
      type: str
      sample: "52:54:00:12:34:56"
arp:
  description: One entry per address of O(arp), in order.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address probed.
      type: str
      sample: 192.0.2.13
    responders:
      description: The hosts that answered, by MAC and the sender address of their reply. Empty when none did.
      type: list
      elements: dict
      sample: [{"mac": "02:00:00:00:00:04", "address": "192.0.2.13"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import dr_probe as probe

PROBE_OPTIONS = {
    "address": {"type": "str", "required": True},
    "port": {"type": "int", "required": True},
    "real_server": {"type": "str", "required": True},
    "mode": {"type": "str", "choices": list(probe.MODES), "default": "http"},
    "request": {"type": "str", "default": "/"},
    "host": {"type": "str"},
    "status": {"type": "int", "default": 200},
    "receive": {"type": "str"},
}


def main():
    module = AnsibleModule(
        argument_spec={
            "probes": {"type": "list", "elements": "dict", "default": [], "options": PROBE_OPTIONS},
            "arp": {"type": "list", "elements": "str", "default": []},
            "interface": {"type": "str"},
            "timeout": {"type": "float", "default": probe.DEFAULT_TIMEOUT},
        },
        supports_check_mode=True,
    )
    try:
        timeout = probe.check_timeout(module.params["timeout"], "timeout")
        probes = [probe.check_probe(entry, "probes[%d]" % position)
                  for position, entry in enumerate(module.params["probes"])]
        arp = probe.check_arp(module.params["arp"])
        interface = module.params["interface"]
        if arp and not interface:
            raise probe.ProbeValidationError("interface: is required when arp is given")
        if arp:
            probe.interface_mac(interface)
    except probe.ProbeValidationError as exc:
        module.fail_json(msg=str(exc))
    except probe.ProbeError as exc:
        module.fail_json(msg="interface: %s" % exc)
    try:
        if probes or arp:
            probe.check_privilege()
        results = probe.run_probes(probes, timeout)
        responders = [{"address": address, "responders": [dict(r._asdict()) for r in
                                                          probe.arp_probe(interface, address,
                                                                          timeout=min(timeout, probe.ARP_WAIT))]}
                      for address in arp]
    except probe.ProbeSetupError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, probes=results, arp=responders)


if __name__ == "__main__":
    main()
