# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests for addresses, so roles can check their input without netaddr.

``x is lvs.cluster.ip_address`` is true for one IPv4 or IPv6 address (not a network,
not a hostname); ``ipv4_address`` and ``ipv6_address`` also check the family.
``x is lvs.cluster.ip_in_networks(networks)`` is true when the address x lies in one of
``networks`` ("192.0.2.3/24", "192.0.2.3/255.255.255.0", "2001:db8::3/64": host bits allowed,
entries that are not networks are ignored).
"""

from __future__ import annotations

import ipaddress


def _version(value) -> int:
    text = str(value).strip()
    if "%" in text:  # a zone ID: link-local only, and ipaddress takes any character after it
        return 0
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0


def ip_address(value) -> bool:
    return _version(value) != 0


def ipv4_address(value) -> bool:
    return _version(value) == 4


def ipv6_address(value) -> bool:
    return _version(value) == 6


def ip_in_networks(value, networks) -> bool:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return False
    for network in networks or []:
        try:
            if address in ipaddress.ip_network(str(network).strip(), strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


class TestModule:
    def tests(self):
        return {"ip_address": ip_address, "ipv4_address": ipv4_address, "ipv6_address": ipv6_address,
                "ip_in_networks": ip_in_networks}
