#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vip_address
short_description: Put virtual IP addresses on an interface, marked as the module's, over netlink
version_added: 0.3.0
description:
  - Makes the addresses that carry the mark O(protocol) on O(interface) exactly O(addresses).
    The mark is the address protocol the kernel keeps with every address (C(IFA_PROTO),
    C(ip -d address) shows it as C(proto)), so clean-up removes only what this module added;
    an address without the mark (added by hand, by keepalived, by the network
    configuration) is never removed or changed, with one exception below.
  - IPv4 addresses go on as C(/32) labelled C(<interface>:<N>), N being the address's
    1-based position in O(addresses) (C(lo:1), C(eth0:2)); IPv6 addresses as C(/128) with
    C(nodad), usable at once (duplicate address detection is pointless for a VIP).
  - Addresses are compared in canonical form, so C(2001:DB8:0::13) is C(2001:db8::13).
  - An address listed in O(addresses) that is already on the interface without the mark,
    with the same prefix length (and for IPv4 the same label), is adopted - marked in place
    by a netlink replace, without taking it off. Linux can do that for IPv6 addresses, and
    for IPv4 addresses from 6.4 on; on older kernels the module fails naming the address.
    A listed address present without the mark with another prefix length or label makes
    the module fail naming it, before any change.
  - A marked address with the wrong prefix length or label is replaced (removed, then added).
  - If the kernel refuses a change part-way, the changes already made are undone and the
    failure says so.
author:
  - lvs.cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    description: Computes the same operations and reports them without applying any.
  diff_mode:
    support: full
    description: Shows the marked addresses of the interface before and after, one a line.
options:
  interface:
    description:
      - The network interface, for example C(lo) on a direct-routing real server or the
        director's NIC.
    type: str
    required: true
  addresses:
    description:
      - The addresses (IPv4 or IPv6, without prefix length or zone ID) that must carry the mark.
      - Must be empty with O(state=absent).
    type: list
    elements: str
    default: []
  protocol:
    description:
      - The mark, stored by the kernel as the address protocol. 0 to 3 belong to the
        kernel and are refused.
      - Use a value of your own for every owner of addresses on a host.
    type: int
    default: 76
  state:
    description:
      - V(present) makes the marked addresses exactly O(addresses), removing marked ones not listed.
      - V(absent) removes every address carrying the mark on O(interface).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pyroute2 >= 0.7.2 on the managed host (Debian 12's python3-pyroute2 will do)
  - Linux >= 5.18 (address protocols); >= 6.4 to adopt an unmarked IPv4 address
  - root privileges
seealso:
  - module: lvs.cluster.ipvs_service
notes:
  - The module reads and writes only O(interface)'s addresses; the same VIP on another
    interface is not its business.
"""

EXAMPLES = r"""
- name: Hold the VIPs on lo of a direct-routing real server
  lvs.cluster.vip_address:
    interface: lo
    addresses:
      - 192.0.2.13
      - 2001:db8::13

- name: Hold the VIPs on the director's interface, and announce the new IPv4 ones
  lvs.cluster.vip_address:
    interface: eth0
    addresses: "{{ lb_vips }}"
  register: vips

- name: Send a gratuitous ARP for each IPv4 VIP just added
  ansible.builtin.command: arping -U -c 2 -I eth0 {{ item }}
  loop: "{{ vips.added | select('lvs.cluster.ipv4_address') | list }}"
  changed_when: true

- name: Take every VIP this module added off eth0
  lvs.cluster.vip_address:
    interface: eth0
    state: absent
"""

RETURN = r"""
addresses:
  description: The addresses carrying the mark on the interface after the run (predicted in check mode), canonical.
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.13", "2001:db8::13"]
added:
  description: The addresses this run put on the interface (not there before at all).
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.13"]
removed:
  description: The addresses this run took off the interface.
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.14"]
adopted:
  description: The addresses that were on the interface without the mark and now carry it.
  returned: always
  type: list
  elements: str
  sample: []
operations:
  description: The changes made (or that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["remove 192.0.2.14/32 (eth0:2) from eth0 (protocol 76)", "add 2001:db8::13/128 to eth0 (protocol 76)"]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lvs.cluster.plugins.module_utils import vip_netlink as netlink
from ansible_collections.lvs.cluster.plugins.module_utils import vip_state as state


def main():
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True},
            "addresses": {"type": "list", "elements": "str", "default": []},
            "protocol": {"type": "int", "default": state.DEFAULT_PROTOCOL},
            "state": {"type": "str", "default": "present", "choices": list(state.STATES)},
        },
        supports_check_mode=True,
    )
    interface = module.params["interface"]
    try:
        protocol = state.check_protocol(module.params["protocol"])
        desired = state.desired_from_params(interface, module.params["addresses"], module.params["state"])
    except state.VipValidationError as exc:
        module.fail_json(msg=str(exc))
    if not netlink.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib(netlink.PYROUTE2_REQUIREMENT), exception=netlink.PYROUTE2_IMPORT_ERROR)
    try:
        with netlink.AddressNetlink() as adapter:
            result = state.converge(adapter, interface, desired, protocol, module.params["state"], module.check_mode)
    except state.VipError as exc:
        module.fail_json(msg=str(exc))
    ops = result["ops"]
    module.exit_json(
        changed=bool(ops),
        operations=[state.describe(op, interface) for op in ops],
        diff={"before": state.listing(result["before"], protocol), "after": state.listing(result["after"], protocol)},
        **state.summary(result["before"], result["after"], ops, protocol),
    )


if __name__ == "__main__":
    main()
