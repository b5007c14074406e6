# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options naming a virtual service and its settings, shared by ipvs_service.
    SERVICE = r"""
options:
  protocol:
    description:
      - Transport protocol of an address service. Defaults to C(tcp) when O(address) is given.
      - Not allowed with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description:
      - Virtual IP address (IPv4 or IPv6) of the service. Give it with O(port), or give O(fwmark).
    type: str
  port:
    description:
      - Virtual port of an address service, 1 to 65535.
    type: int
  fwmark:
    description:
      - Firewall mark of a firewall-mark service (1 to 4294967295), instead of O(address) and O(port).
    type: int
  family:
    description:
      - Address family of a firewall-mark service. For an address service it follows from O(address).
      - Defaults to C(ipv4) for a firewall-mark service.
    type: str
    choices: [ipv4, ipv6]
  scheduler:
    description:
      - Scheduling algorithm. The kernel must have its C(ip_vs_<name>) module; the module
        fails, changing nothing, when it does not.
    type: str
    default: wlc
    choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
  scheduler_flags:
    description:
      - Scheduler flags. C(sh-fallback), C(sh-port) need O(scheduler=sh); C(mh-fallback),
        C(mh-port) need O(scheduler=mh); C(flag-1) to C(flag-3) are the generic names.
    type: list
    elements: str
    default: []
    choices: [flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port]
  persistence_timeout:
    description:
      - Persistence timeout in seconds; C(0) turns persistence off.
    type: int
    default: 0
  persistence_netmask:
    description:
      - Granularity of persistence. For IPv4 a netmask (V(255.255.255.0)) or a prefix
        length (V(24)); for IPv6 a prefix length. Needs O(persistence_timeout).
      - Defaults to the full host mask.
    type: str
  one_packet:
    description:
      - One-packet scheduling (UDP and firewall-mark services).
    type: bool
    default: false
"""

    # The options of one real server inside a list (real_servers).
    REAL_SERVERS = r"""
options:
  real_servers:
    description:
      - Real servers of the service. When omitted, the module leaves real servers alone.
    type: list
    elements: dict
    suboptions:
      address:
        description:
          - Address of the real server, of the same family as the service.
        type: str
        required: true
      port:
        description:
          - Port of the real server. Defaults to the service port (C(0) for firewall-mark
            services). Only C(nat) forwarding can map it to another port.
        type: int
      weight:
        description:
          - Weight, C(0) to 2147483647. C(0) quiesces the server (no new connections).
        type: int
        default: 1
      forwarding:
        description:
          - Packet forwarding method. C(gate), C(masq) and C(ipip) are accepted as the
            ipvsadm/ldirectord names of C(dr), C(nat) and C(tunnel).
        type: str
        default: dr
        choices: [dr, nat, tunnel, gate, masq, ipip, droute]
      upper_threshold:
        description:
          - Upper connection threshold; C(0) means no limit.
        type: int
        default: 0
      lower_threshold:
        description:
          - Lower connection threshold, at most O(real_servers[].upper_threshold).
        type: int
        default: 0
"""

    # The options of ipvs_sync_daemon (ipvs_common.sync_daemon_spec).
    SYNC_DAEMON = r"""
options:
  role:
    description:
      - Which daemon. A kernel runs at most one V(master) (sends the state of its connections)
        and one V(backup) (receives it), and can run both at once; this module touches only
        the one named here.
    type: str
    required: true
    choices: [master, backup]
  state:
    description:
      - V(started) runs the daemon with these settings. A daemon of this role that runs with
        other settings is stopped and started again, since the kernel cannot change a running one.
      - V(stopped) stops the daemon of this role if it runs.
    type: str
    default: started
    choices: [started, stopped]
  interface:
    description:
      - Network interface the daemon sends or receives its multicast on. It must exist.
      - Required with O(state=started).
    type: str
  syncid:
    description:
      - Synchronisation ID, C(0) to C(255). A backup with a non-zero ID accepts only the
        messages of a master with the same ID; C(0) accepts all.
    type: int
    default: 0
  mcast_group:
    description:
      - Multicast group (IPv4 or IPv6) the messages go to. Must be a multicast address.
      - The default is the kernel's own group.
    type: str
    default: 224.0.0.81
  mcast_port:
    description:
      - UDP port of the multicast group, C(1) to C(65535).
    type: int
    default: 8848
  mcast_ttl:
    description:
      - Multicast TTL (hop limit) of the messages, C(1) to C(255).
    type: int
    default: 1
  maxlen:
    description:
      - Largest sync message, in bytes of UDP payload. When omitted the kernel picks it from the
        MTU and the running daemon's value is not compared.
      - A master accepts C(1) to C(1472) (C(1452) with an IPv6 group); a backup C(1024) to the
        interface MTU minus the IP and UDP headers. Other values fail (the kernel would clamp them).
    type: int
"""

    # The options of ipvs_timeouts (ipvs_common.timeouts_spec).
    TIMEOUTS = r"""
options:
  tcp:
    description:
      - Timeout of established TCP connections, in seconds (C(1) to C(2147483)). Omitted, it stays as it is.
    type: int
  tcp_fin:
    description:
      - Timeout of TCP connections after a FIN, in seconds (C(1) to C(2147483)). Omitted, it stays as it is.
    type: int
  udp:
    description:
      - Timeout of UDP connections, in seconds (C(1) to C(2147483)). Omitted, it stays as it is.
    type: int
"""
