# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import (
    IPVSKernelError,
)
from ansible_collections.lvs.cluster.plugins.modules import ipvs_info
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import (
    exits,
    fails,
    live_table,
)

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_info.main

TABLE = [
    {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5}]},
    {"address": "192.0.2.13", "port": 53, "protocol": "udp"},
    {"address": "2001:db8::13", "port": 80, "real_servers": [{"address": "2001:db8::4"}]},
    {"fwmark": 3},
]


def ids(result):
    return [(s.get("protocol"), s.get("address"), s.get("port"), s.get("fwmark")) for s in result["services"]]


def test_whole_table_with_counts(fake_ipvs):
    fake = fake_ipvs(live_table(TABLE))
    result = exits(main, {})
    assert result["changed"] is False
    assert len(result["services"]) == 4
    http = result["services"][0]
    assert (http["address"], http["port"]) == ("192.0.2.13", 80)
    assert "stats" in http and "rates" in http
    assert http["real_servers"][0]["active_connections"] == 2
    fwmark = next(s for s in result["services"] if s.get("fwmark"))
    assert fwmark["fwmark"] == 3 and "address" not in fwmark and "port" not in fwmark
    assert fake.applied == []


def test_sync_daemons_and_timeouts(fake_ipvs):
    daemon = {"role": "backup", "interface": "eth0", "syncid": 0, "mcast_group": "233.252.0.81",
              "mcast_port": 8848, "mcast_ttl": 1, "maxlen": 1472}
    fake_ipvs(live_table(TABLE), daemons=[daemon], timeouts={"tcp": 3600, "tcp_fin": 120, "udp": 60})
    result = exits(main, {})
    assert result["sync_daemons"] == [daemon]
    assert result["timeouts"] == {"tcp": 3600, "tcp_fin": 120, "udp": 60}


@pytest.mark.parametrize("selector, expected", [
    ({"address": "192.0.2.13"}, [("udp", "192.0.2.13", 53, None), ("tcp", "192.0.2.13", 80, None)]),
    ({"address": "2001:DB8:0::13"}, [("tcp", "2001:db8::13", 80, None)]),
    ({"port": 80, "protocol": "tcp"}, [("tcp", "192.0.2.13", 80, None), ("tcp", "2001:db8::13", 80, None)]),
    ({"fwmark": 3}, [(None, None, None, 3)]),
    ({"family": "ipv6"}, [("tcp", "2001:db8::13", 80, None)]),
    ({"address": "192.0.2.99"}, []),
])
def test_selector(fake_ipvs, selector, expected):
    fake_ipvs(live_table(TABLE))
    assert sorted(ids(exits(main, {"service": selector})), key=str) == sorted(expected, key=str)


def test_check_mode_reads_too(fake_ipvs):
    fake_ipvs(live_table(TABLE))
    assert len(exits(main, {}, check_mode=True)["services"]) == 4


def test_bad_selector_address_names_the_parameter(fake_ipvs):
    fake = fake_ipvs(live_table(TABLE))
    assert fails(main, {"service": {"address": "vip.example"}})["msg"].startswith("service.address:")
    assert fake.dumps == 0


def test_dump_failure_is_a_message_not_a_traceback(fake_ipvs):
    fake_ipvs(live_table(TABLE), dump_error_after=0)
    result = fails(main, {})
    assert result["msg"].startswith("dumping the IPVS table failed")


def test_no_ipvs_in_the_kernel(monkeypatch, fake_ipvs):
    fake_ipvs()

    def no_ipvs():
        raise IPVSKernelError("the kernel has no IPVS (generic netlink family IPVS not found: %s); "
                              "load it with 'modprobe ip_vs'" % errno.errorcode[errno.ENOENT])

    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common
    monkeypatch.setattr(ipvs_common, "IPVSNetlink", no_ipvs)
    assert "modprobe ip_vs" in fails(main, {})["msg"]


def test_summary_has_a_line_per_service_and_real_server(fake_ipvs):
    fake_ipvs(live_table(TABLE))
    result = exits(main, {"service": {"address": "192.0.2.13", "port": 80}})
    lines = result["summary"]
    assert len(lines) == 2
    assert lines[0].startswith("TCP  192.0.2.13:80 wlc  conns ")
    assert lines[1].startswith("  -> 192.0.2.4:80") and "Route" in lines[1] and "weight 5 " in lines[1]
    assert "active 2 " in lines[1]


def test_summary_of_ipv6_and_fwmark_services(fake_ipvs):
    fake_ipvs(live_table(TABLE))
    lines = exits(main, {})["summary"]
    assert any(line.startswith("TCP  [2001:db8::13]:80 ") for line in lines)
    assert any(line.startswith("  -> [2001:db8::4]:80 ") for line in lines)
    assert any(line.startswith("FWM  3 ipv4 ") for line in lines)
