# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests for addresses, so roles can check their input without netaddr.

``x is lvs.cluster.ip_address`` is true for one IPv4 or IPv6 address (not a network,
not a hostname); ``ipv4_address`` and ``ipv6_address`` also check the family.
"""

from __future__ import annotations

import ipaddress


def _version(value) -> int:
    try:
        return ipaddress.ip_address(str(value).strip()).version
    except ValueError:
        return 0


def ip_address(value) -> bool:
    return _version(value) != 0


def ipv4_address(value) -> bool:
    return _version(value) == 4


def ipv6_address(value) -> bool:
    return _version(value) == 6


class TestModule:
    def tests(self):
        return {"ip_address": ip_address, "ipv4_address": ipv4_address, "ipv6_address": ipv6_address}
