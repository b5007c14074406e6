#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_timeouts
short_description: Set the IPVS connection timeouts (TCP, TCP after FIN, UDP)
version_added: 0.2.0
description:
  - Sets the timeouts after which IPVS forgets an idle connection, as C(ipvsadm --set) does.
  - Talks to the kernel over generic netlink (pyroute2); it never runs C(ipvsadm).
  - Reads the current timeouts first and sets only those that differ; omitted ones stay as they are.
  - The kernel's defaults are 900 s (TCP), 120 s (TCP after FIN) and 300 s (UDP).
author:
  - lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.ipvs.TIMEOUTS
attributes:
  check_mode:
    support: full
    description: Computes the same change and reports it without making it.
  diff_mode:
    support: full
    description: Shows the three timeouts before and after.
requirements:
  - pyroute2 >= 0.9.5 on the managed host
  - a kernel with IPVS (C(ip_vs) module) and root privileges
seealso:
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Keep idle TCP connections for an hour, UDP for a minute
  lvs.cluster.ipvs_timeouts:
    tcp: 3600
    udp: 60

- name: Back to the kernel's defaults
  lvs.cluster.ipvs_timeouts:
    tcp: 900
    tcp_fin: 120
    udp: 300
"""

RETURN = r"""
timeouts:
  description: The timeouts in seconds after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {tcp: 3600, tcp_fin: 120, udp: 60}
operations:
  description: The changes made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: str
  sample: ["set tcp timeout 900 -> 3600 s", "set udp timeout 300 -> 60 s"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state


def main():
    module = AnsibleModule(argument_spec=common.timeouts_spec(), supports_check_mode=True)
    wanted = common.validated(module, state.timeouts_from_params, module.params)
    ipvs = common.open_ipvs(module)
    with ipvs:
        before = common.call(module, ipvs.timeouts)
        changes = state.diff_timeouts(wanted, before)
        if changes and not module.check_mode:
            common.call(module, ipvs.set_timeouts, changes)
        after = dict(before, **changes) if module.check_mode or not changes else common.call(module, ipvs.timeouts)
    module.exit_json(
        changed=bool(changes),
        timeouts=after,
        operations=state.describe_timeouts(changes, before),
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()
