"""Print every address of one interface as `ADDRESS/PREFIX LABEL proto N`, sorted: the
integration witness.  pyroute2's own IPRoute decodes the messages (vip_address's
adapter is not used), so it needs a pyroute2 that knows IFA_PROTO (0.9.7)."""

import sys

from pyroute2 import IPRoute

with IPRoute() as ipr:
    index = ipr.link_lookup(ifname=sys.argv[1])[0]
    lines = []
    for msg in ipr.get_addr(index=index):
        if msg["scope"] != 0:  # link-local and host addresses: the kernel's own
            continue
        lines.append("%s/%d %s proto %d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"],
                                            msg.get_attr("IFA_LABEL") or "-", msg.get_attr("IFA_PROTO") or 0))
print("\n".join(sorted(lines)))
