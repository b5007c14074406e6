# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.test.ip import (
    TestModule as IpTests,
)
from ansible_collections.lvs.cluster.plugins.test.ip import (
    ip_address,
    ip_in_networks,
    ipv4_address,
    ipv6_address,
)


@pytest.mark.parametrize("value, any_, v4, v6", [
    ("192.0.2.13", True, True, False),
    (" 192.0.2.13 ", True, True, False),
    ("2001:db8::d", True, False, True),
    ("192.0.2.0/24", False, False, False),
    ("lb01", False, False, False),
    ("", False, False, False),
    (None, False, False, False),
])
def test_address_tests(value, any_, v4, v6):
    assert (ip_address(value), ipv4_address(value), ipv6_address(value)) == (any_, v4, v6)


@pytest.mark.parametrize("value, networks, expected", [
    ("192.0.2.13", ["192.0.2.3/24"], True),                   # host bits allowed
    ("192.0.2.13", ["192.0.2.3/255.255.255.0"], True),        # as facts give it
    ("192.0.2.13", ["192.0.2.3/255.255.255.248"], False),     # .0-.7 only
    ("198.51.100.13", ["192.0.2.3/24"], False),
    ("198.51.100.13", ["192.0.2.3/24", "198.51.100.1/25"], True),
    ("2001:db8::d", ["192.0.2.3/24", "2001:db8::3/64"], True),
    ("2001:db8:1::d", ["2001:db8::3/64"], False),
    ("192.0.2.13", [], False),
    ("192.0.2.13", None, False),
    ("192.0.2.13", ["not a network", "192.0.2.3/24"], True),  # junk entries are skipped
    ("lb01", ["192.0.2.3/24"], False),
])
def test_ip_in_networks(value, networks, expected):
    assert ip_in_networks(value, networks) is expected


def test_tests_are_registered():
    assert set(IpTests().tests()) == {"ip_address", "ipv4_address", "ipv6_address", "ip_in_networks"}
