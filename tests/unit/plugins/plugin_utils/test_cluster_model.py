# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster model: role variables and inventories in, checked configuration or named errors out."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state, ipvs_text
from ansible_collections.lvs.cluster.plugins.plugin_utils import cluster_model as model

ROLES = Path(__file__).resolve().parents[4] / "roles"


def defaults(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def facts(v4: str | None, v6: str | None = None, iface: str = "eth0", prefix4: str = "255.255.255.0",
          vips_v4=(), vips_v6=(), lo_vips=()) -> dict:
    """ansible_facts as gather_subset network reports them."""
    eth: dict = {"device": iface, "ipv6": [{"address": "fe80::1", "prefix": "64", "scope": "link"}]}
    if v4:
        eth["ipv4"] = {"address": v4, "netmask": prefix4}
        eth["ipv4_secondaries"] = [{"address": a, "netmask": "255.255.255.255"} for a in vips_v4]
    if v6:
        eth["ipv6"].insert(0, {"address": v6, "prefix": "64", "scope": "global"})
    eth["ipv6"] += [{"address": a, "prefix": "128", "scope": "global"} for a in vips_v6]
    lo = {"device": "lo", "ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"},
          "ipv4_secondaries": [{"address": a, "netmask": "255.255.255.255"} for a in lo_vips]}
    result = {"interfaces": ["lo", iface], iface.replace("-", "_"): eth, "lo": lo}
    if v4:
        result["default_ipv4"] = {"address": v4, "interface": iface}
    return result


def inventory(frontends=4, names=False, v6=True, directors=1):
    """The seed's inventory: lb01 192.0.2.3 (and lb02 .8 ...), web01..web0N from 192.0.2.4 on."""
    hostvars, groups = {}, {"directors": [], "frontends": []}
    for n in range(directors):
        name = "lb%02d" % (n + 1)
        last = 3 if n == 0 else 7 + n
        hostvars[name] = {"ansible_host": "%s.lab.example" % name if names else "192.0.2.%d" % last,
                          "ansible_facts": facts("192.0.2.%d" % last, "2001:db8::%d" % last if v6 else None)}
        groups["directors"].append(name)
    for n in range(frontends):
        name = "web%02d" % (n + 1)
        last = 4 + n if n < 4 else 30 + n
        hostvars[name] = {"ansible_host": "%s.lab.example" % name if names else "192.0.2.%d" % last,
                          "ansible_facts": facts("192.0.2.%d" % last, "2001:db8::%d" % last if v6 else None)}
        groups["frontends"].append(name)
    return hostvars, groups


def lb(settings=None, hostvars=None, groups=None, host="lb01", **overrides):
    s = defaults("lb")
    s["lb_vips"] = ["192.0.2.13"]
    s.update(settings or {})
    s.update(overrides)
    if hostvars is None:
        hostvars, groups = inventory()
    return model.director_model(s, hostvars, groups, host)


def errors_of(**overrides) -> str:
    result = lb(**overrides)
    assert result["errors"], "accepted: %r" % overrides
    return "; ".join(result["errors"])


# ------------------------------------------------------------------ seed


def test_seed_inventory_gives_the_seed_table():
    m = lb()
    assert m["errors"] == []
    assert m["interface"] == "eth0"
    assert m["address"] == "192.0.2.3"
    assert m["vips"] == [{"address": "192.0.2.13", "family": "ipv4", "prefix": 32, "index": 1}]
    [svc] = m["services"]
    assert svc["key"] == "tcp/192.0.2.13:80"
    assert svc["scheduler"] == "wlc"
    assert [(r["address"], r["port"], r["weight"], r["ldirectord"], r["host"]) for r in svc["real_servers"]] == [
        ("192.0.2.%d" % n, 80, 5, "gate", "web%02d" % (n - 3)) for n in range(4, 8)]
    assert m["table"] == [{"address": "192.0.2.13", "port": 80, "protocol": "tcp", "scheduler": "wlc",
                           "scheduler_flags": [], "persistence_timeout": 0,
                           "real_servers": [{"address": "192.0.2.%d" % n, "port": 80, "weight": 5, "forwarding": "dr"}
                                            for n in range(4, 8)]}]
    assert m["kernel_modules"] == ["ip_vs", "ip_vs_wlc"]
    assert m["drain_switches"]["192.0.2.4"] == "drain_192_0_2_4"
    assert m["ha"] is None


def test_the_table_is_what_ipvs_state_accepts():
    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
    m = lb(lb_services=[{"port": 80, "persistence": 60, "persistence_netmask": "255.255.255.0"},
                        {"fwmark": 7, "port": 443}])
    services = state.services_from_params(m["table"])
    assert [state.service_id(s) for s in services] == ["tcp/192.0.2.13:80", "fwmark/7/ipv4"]
    assert services[0]["persistence_netmask"] == 24
    assert m["services"][0]["persistence_netmask"] == "255.255.255.0"


# ------------------------------------------------ an inventory unlike the seed


def mixed_settings():
    return {
        "lb_vips": ["192.0.2.13", "192.0.2.14", "2001:DB8:0::13"],
        "lb_services": [
            {"address": "192.0.2.13", "port": 80},
            {"address": "192.0.2.14", "port": 8080, "scheduler": "rr", "weight": 3},
            {"family": "ipv6", "port": 80, "scheduler": "sh", "persistence": 120},
            {"fwmark": 21, "port": 80, "scheduler": "twos"},
        ],
    }


def test_several_vips_ipv6_and_fwmark_with_hosts_named_by_names():
    hostvars, groups = inventory(frontends=3, names=True)
    m = lb(mixed_settings(), hostvars, groups)
    assert m["errors"] == []
    assert [v["address"] for v in m["vips"]] == ["192.0.2.13", "192.0.2.14", "2001:db8::13"]
    assert m["address"] == "192.0.2.3" and m["address6"] == "2001:db8::3"
    keys = [s["key"] for s in m["services"]]
    assert keys == ["tcp/192.0.2.13:80", "tcp/192.0.2.14:8080", "tcp/[2001:db8::13]:80", "fwmark/21/ipv4"]
    v6 = m["services"][2]
    assert [r["address"] for r in v6["real_servers"]] == ["2001:db8::4", "2001:db8::5", "2001:db8::6"]
    assert v6["persistence"] == 120
    assert [r["weight"] for r in m["services"][1]["real_servers"]] == [3, 3, 3]
    assert m["services"][3]["real_servers"][0]["port"] == 0
    assert m["services"][3]["checkport"] == 80 and m["services"][3]["service"] == "http"
    assert m["kernel_modules"] == ["ip_vs", "ip_vs_rr", "ip_vs_sh", "ip_vs_twos", "ip_vs_wlc"]


def test_a_real_server_address_comes_from_its_host_variable_first():
    hostvars, groups = inventory(frontends=2, names=True)
    hostvars["web02"]["lvs_address"] = "192.0.2.50"
    m = lb({}, hostvars, groups)
    assert [r["address"] for r in m["services"][0]["real_servers"]] == ["192.0.2.4", "192.0.2.50"]


def test_a_host_named_by_a_name_without_facts_or_address_is_named():
    hostvars, groups = inventory(frontends=2, names=True)
    del hostvars["web02"]["ansible_facts"]
    message = errors_of(hostvars=hostvars, groups=groups)
    assert "lb_services[0].real_servers: host web02 of group frontends has no IPv4 address on the director's " \
           "segment (192.0.2.0/24): set its lvs_address host variable" in message


def test_an_ipv6_service_needs_each_frontend_ipv6_address():
    hostvars, groups = inventory(frontends=2, v6=False)
    hostvars["lb01"]["ansible_facts"] = facts("192.0.2.3", "2001:db8::3")
    message = errors_of(settings={"lb_vips": ["192.0.2.13", "2001:db8::13"], "lb_services": [{"family": "ipv6"}]},
                        hostvars=hostvars, groups=groups)
    assert "host web01 of group frontends has no IPv6 address" in message and "lvs_address6" in message


def test_a_director_named_by_a_name_finds_its_interface_from_facts():
    hostvars, groups = inventory(names=True)
    m = lb({}, hostvars, groups)
    assert m["interface"] == "eth0" and m["address"] == "192.0.2.3"


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize("overrides, expected", [
    ({"lb_healthcheck": "heartbeat"}, "lb_healthcheck: heartbeat is not supported; choose one of ldirectord, keepalived, none"),
    ({"lb_vips": []}, "lb_vips: [] must be a non-empty list"),
    ({"lb_vips": "192.0.2.13"}, "lb_vips: '192.0.2.13' must be a non-empty list"),
    ({"lb_vips": ["192.0.2.0/24"]}, "lb_vips[0]: '192.0.2.0/24' is not an IPv4 or IPv6 address"),
    ({"lb_vips": ["192.0.2.13", "192.0.2.13"]}, "lb_vips[1]: 192.0.2.13 is listed twice"),
    ({"lb_vips": ["192.0.2.3"]}, "lb_vips: 192.0.2.3 is this director's own address on eth0"),
    ({"lb_vips": ["198.51.100.13"]}, "lb_vips: 198.51.100.13 not in any subnet of eth0 (192.0.2.3/24"),
    ({"lb_vips": ['2001:db8::13%x\nExecStartPre=/bin/sh -c "id"\n#']}, "lb_vips[0]: "),
    ({"lb_interface": "eth9"}, "lb_interface: interface eth9 does not exist on this host (it has lo, eth0)"),
    ({"lb_interface": "eth0\nx"}, "lb_interface: "),
    ({"lb_services": [{"port": 70000}]}, "lb_services[0].port: 70000 is out of range (1..65535)"),
    ({"lb_services": [{"scheduler": "fastest"}]}, "lb_services[0].scheduler: 'fastest' is not one of"),
    ({"lb_services": [{"persistence": "x"}]}, "lb_services[0].persistence: 'x' is not a whole number"),
    ({"lb_services": [{"persistence": 60, "persistence_netmask": "\u00b2"}]}, "lb_services[0].persistence_netmask: "),
    ({"lb_services": [{"protocol": "sctp"}]}, "lb_services[0].protocol: sctp is not one of tcp, udp (ldirectord has no sctp)"),
    ({"lb_services": [{"weight": 2147483648}]}, "lb_services[0].weight: 2147483648 is out of range"),
    ({"lb_services": [{"forwarding": "teleport"}]}, "lb_services[0].forwarding: 'teleport' is not one of"),
    ({"lb_services": [{"real_servers": []}]}, "lb_services[0].real_servers: the list is empty"),
    ({"lb_services": [{"real_servers": [{"address": "192.0.2.4"}, {"address": "192.0.2.4"}]}]},
     "lb_services[0].real_servers: 192.0.2.4:80 is listed twice"),
    ({"lb_services": [{"real_servers": [{"address": "198.51.100.4"}]}]},
     "lb_services[0].real_servers[0].address: 198.51.100.4 is not on the director's segment"),
    ({"lb_services": [{"real_servers": [{"address": "fe80::1%eth0"}]}]}, "lb_services[0].real_servers[0].address: "),
    ({"lb_services": [{"port": 80}, {"port": 80}]}, "lb_services[1]: service tcp/192.0.2.13:80 is listed more than once"),
    ({"lb_services": [{"address": "192.0.2.99"}]}, "lb_services[0].address: 192.0.2.99 is not one of lb_vips"),
    ({"lb_services": [{"family": "ipv6"}]}, "lb_services[0].address: no address given and lb_vips has no ipv6 VIP"),
    ({"lb_services": [{"prot": "tcp"}]}, "lb_services[0]: unknown key prot"),
    ({"lb_services": [{"ports": [80]}]}, "lb_services[0]: unknown key ports"),
    ({"lb_services": [{"fwmark": 3, "address": "192.0.2.13"}]}, "lb_services[0].address: a firewall-mark service is keyed"),
    ({"lb_services": "x"}, "lb_services: must be a list of mappings"),
    ({"lb_frontend_group": "nosuchgroup"},
     "lb_services[0].real_servers: none listed, and the inventory group lb_frontend_group (nosuchgroup)"),
    ({"lb_verify_timeout": "soon"}, "lb_verify_timeout: 'soon' is not a whole number"),
    ({"lb_venv": "opt/venv"}, "lb_venv: 'opt/venv' is not an absolute path"),
    ({"lb_pip_packages": []}, "lb_pip_packages: is empty"),
    ({"lb_metrics": "sometimes"}, "lb_metrics: 'sometimes' is not a boolean"),
    ({"lb_metrics": True, "lb_metrics_address": "lb01.lab.example"}, "lb_metrics_address: "),
    ({"lb_metrics": True, "lb_metrics_address": "192.0.2.3\nARGS=x"}, "lb_metrics_address: "),
    ({"lb_metrics": True, "lb_metrics_port": 0}, "lb_metrics_port: 0 is out of range (1..65535)"),
    ({"lb_metrics": True, "lb_metrics_interval": 0}, "lb_metrics_interval: 0 is out of range (1..3600)"),
    ({"lb_metrics": True, "lb_metrics_interval": "15s"}, "lb_metrics_interval: '15s' is not a whole number"),
])
def test_bad_input_is_named(overrides, expected):
    assert expected in errors_of(**overrides)


# One test per class of free-text field that reaches a file or a unit.
@pytest.mark.parametrize("overrides, expected", [
    # quoted ldirectord strings
    ({"lb_services": [{"request": '/x" checktype = external'}]}, "lb_services[0].request: "),
    ({"lb_services": [{"receive": "Apache\ncheckcommand = /bin/sh"}]}, "lb_services[0].receive: "),
    # address[:port] values
    ({"lb_services": [{"fallback": "127.0.0.1:80\n    checktype = external"}]}, "lb_services[0].fallback: "),
    ({"lb_ldirectord_fallback": "127.0.0.1:80 gate\nx"}, "lb_ldirectord_fallback: "),
    ({"lb_healthcheck": "keepalived", "lb_services": [{"sorry_server": "192.0.2.99 80\n}"}]},
     "lb_services[0].sorry_server: "),
    # names from a fixed list
    ({"lb_services": [{"service": "http\ncheckcommand"}]}, "lb_services[0].service: "),
    # paths
    ({"lb_ldirectord_maintenancedir": "/etc/ha.d/m\nchecktype = external"}, "lb_ldirectord_maintenancedir: "),
    ({"lb_ldirectord_logfile": "/var/log/x y"}, "lb_ldirectord_logfile: "),
    ({"lb_keepalived_drain_dir": '/var/lib/x"'}, "lb_keepalived_drain_dir: "),
    # verbatim lines: one line each
    ({"lb_services": [{"extra_lines": ["checktimeout = 3\nchecktype = external"]}]},
     "lb_services[0].extra_lines[0]: "),
    ({"lb_keepalived_global_lines": ["a\nb"]}, "lb_keepalived_global_lines[0]: "),
    # URL paths
    ({"lb_healthcheck": "keepalived", "lb_services": [{"request": "/server-status }\n"}]}, "lb_services[0].request: "),
])
def test_free_text_that_would_reach_a_file_is_refused(overrides, expected):
    assert expected in errors_of(**overrides)


def test_well_formed_free_text_passes():
    m = lb(lb_ldirectord_fallback="127.0.0.1:80 gate", lb_ldirectord_logfile="/var/log/ldirectord.log",
           lb_services=[{"fallback": "[2001:db8::99]:80", "service": "http", "extra_lines": ["checktimeout = 3"]}])
    assert m["errors"] == []
    assert m["fallback"] == "127.0.0.1:80 gate"
    assert m["services"][0]["fallback"] == "[2001:db8::99]:80"


@pytest.mark.parametrize("where, listen", [("", ":9100"), ("192.0.2.3", "192.0.2.3:9100"),
                                           ("2001:DB8::3", "[2001:db8::3]:9100")])
def test_metrics_listen_where_asked(where, listen):
    m = lb(lb_metrics=True, lb_metrics_address=where)
    assert m["errors"] == []
    assert m["metrics"] == {"listen": listen, "interval": 15}


def test_metrics_off_checks_nothing_else():
    m = lb(lb_metrics_port="any")
    assert m["errors"] == [] and m["metrics"] is None


def test_one_weight_limit_and_every_kernel_scheduler():
    m = lb(lb_services=[{"weight": 65536, "scheduler": "twos"}])
    assert m["errors"] == [] and m["services"][0]["real_servers"][0]["weight"] == 65536


# ----------------------------------------------------------------- HA


def ha(**overrides):
    hostvars, groups = inventory(directors=3)
    for name in groups["directors"]:
        hostvars[name]["lb_ha"] = True
    settings = {"lb_ha": True, "lb_healthcheck": "keepalived"}
    settings.update(overrides)
    return lb(settings, hostvars, groups)


def test_ha_priorities_peers_and_sync():
    m = ha(lb_sync_mcast_group="233.252.0.81")
    assert m["errors"] == []
    assert m["ha"]["priorities"] == {"lb01": 150, "lb02": 140, "lb03": 130}
    assert m["ha"]["priority"] == 150
    assert m["ha"]["peers"] == ["192.0.2.8", "192.0.2.9"]
    assert m["ha"]["unicast_src"] == "192.0.2.3"
    assert m["ha"]["sync"] == {"syncid": 51, "mcast_group": "233.252.0.81", "mcast_port": 8848, "mcast_ttl": 1,
                               "refresh_period": 10, "retries": 0}
    assert m["ha"]["instance"] == "LVS_51"


def test_sysctls_refresh_synced_connections_only_with_sync_daemons():
    def vs(**values):
        return {"net.ipv4.vs." + key: value for key, value in values.items()}

    base = vs(expire_nodest_conn=1, expire_quiescent_template=1, conntrack=0)
    assert lb()["sysctls"] == base
    assert lb(lb_conntrack="yes")["sysctls"] == dict(base, **vs(conntrack=1))
    assert ha(lb_sync_daemon=False)["sysctls"] == base
    assert ha()["sysctls"] == dict(base, **vs(sync_threshold="3 0", sync_refresh_period=10, sync_retries=0))
    assert ha(lb_sync_refresh_period=0, lb_sync_retries=3)["sysctls"] == dict(
        base, **vs(sync_threshold="3 50", sync_refresh_period=0, sync_retries=3))


@pytest.mark.parametrize("overrides, version, advert, takeover_wait", [
    ({}, 2, "1", 13),
    ({"lb_vrrp_advert_int": "3"}, 2, "3", 19),
    ({"lb_vrrp_version": 3, "lb_vrrp_advert_int": 0.1}, 3, "0.1", 11),
    ({"lb_vrrp_version": "3", "lb_vrrp_advert_int": "0.25"}, 3, "0.25", 11),
    ({"lb_vrrp_version": 3, "lb_vrrp_advert_int": 2}, 3, "2", 16),
])
def test_vrrp_version_and_advert_interval(overrides, version, advert, takeover_wait):
    m = ha(**overrides)
    assert m["errors"] == []
    assert (m["ha"]["version"], m["ha"]["advert_int"]) == (version, advert)
    assert m["ha"]["takeover_wait"] == takeover_wait


@pytest.mark.parametrize("overrides, expected", [
    ({"lb_ha_group": "lonely"}, "lb_ha: HA needs two or more directors in the inventory group lb_ha_group (lonely), found none"),
    ({"lb_vrrp_preempt": True, "lb_vrrp_priority": 140},
     "lb_vrrp_priority: with lb_vrrp_preempt the directors need distinct priorities, got lb01=140, lb02=140, lb03=130"),
    ({"lb_vrrp_advert_int": 0}, "lb_vrrp_advert_int: 0 is not a whole number of seconds from 1 to 255, as VRRPv2"),
    ({"lb_vrrp_advert_int": 0.5}, "lb_vrrp_advert_int: 0.5 is not a whole number of seconds from 1 to 255"),
    ({"lb_vrrp_advert_int": 256}, "lb_vrrp_advert_int: 256 is not a whole number of seconds from 1 to 255"),
    ({"lb_vrrp_version": 4}, "lb_vrrp_version: 4 is out of range (2..3)"),
    ({"lb_vrrp_version": 3, "lb_vrrp_advert_int": 0.005},
     "lb_vrrp_advert_int: 0.005 is not a number of seconds from 0.01 to 40.95 in hundredths, as VRRPv3"),
    ({"lb_vrrp_version": 3, "lb_vrrp_advert_int": 41}, "lb_vrrp_advert_int: 41 is not a number of seconds from 0.01"),
    ({"lb_vrrp_version": 3, "lb_vrrp_advert_int": "0.1\n}"}, "lb_vrrp_advert_int: "),
    ({"lb_sync_mcast_group": "192.0.2.99"}, "lb_sync_mcast_group: 192.0.2.99 is not a multicast address"),
    ({"lb_vrrp_notify": "/usr/local/bin/notify\n}"}, "lb_vrrp_notify: "),
    ({"lb_vrrp_router_id": 256}, "lb_vrrp_router_id: 256 is out of range (1..255)"),
    ({"lb_sync_refresh_period": -1}, "lb_sync_refresh_period: -1 is not a whole number"),
    ({"lb_sync_refresh_period": "1e3"}, "lb_sync_refresh_period: '1e3' is not a whole number"),
    ({"lb_sync_retries": 4}, "lb_sync_retries: 4 is out of range (0..3)"),
    ({"lb_conntrack": "maybe"}, "lb_conntrack: "),
])
def test_bad_ha_input_is_named(overrides, expected):
    result = ha(**overrides)
    assert expected in "; ".join(result["errors"])


def test_ha_needs_every_director_to_agree():
    hostvars, groups = inventory(directors=2)
    hostvars["lb01"]["lb_ha"] = True
    result = lb({"lb_ha": True}, hostvars, groups)
    assert "lb_ha: only some directors of directors set it; lb02 do not" in "; ".join(result["errors"])


# ------------------------------------------------------------- scale-out

ROUTER = {"address": "192.0.2.2", "asn": 64600}


def scaleout(**overrides):
    settings = {"lb_scaleout": True, "lb_bgp_asn": 64601, "lb_bgp_peers": [dict(ROUTER)]}
    settings.update(overrides)
    return lb(settings)


def test_scaleout_announces_each_vip_to_the_peers_of_its_family():
    m = scaleout(lb_vips=["192.0.2.13", "2001:db8::13"],
                 lb_bgp_peers=[ROUTER, {"address": "2001:db8::2", "asn": "64600", "bfd": False}],
                 lb_services=[{"port": 80}, {"port": 80, "family": "ipv6"}, {"fwmark": 7}])
    assert m["errors"] == []
    bgp = m["bgp"]
    assert (bgp["asn"], bgp["router_id"], bgp["keepalive"], bgp["hold_time"]) == (64601, "192.0.2.3", 1, 3)
    assert bgp["peers"] == [{"address": "192.0.2.2", "family": "ipv4", "asn": 64600, "bfd": True},
                            {"address": "2001:db8::2", "family": "ipv6", "asn": 64600, "bfd": False}]
    assert bgp["families"] == {"ipv4": ["192.0.2.13"], "ipv6": ["2001:db8::13"]}
    # What the announcer reads (module_utils/vip_announce.py): the routes' mark, the pace, the VIPs.
    assert bgp["announcer"] == {"protocol": 76, "interval": 1, "vips": [
        {"address": "192.0.2.13", "family": "ipv4", "services": ["tcp/192.0.2.13:80"]},
        {"address": "2001:db8::13", "family": "ipv6", "services": ["tcp/[2001:db8::13]:80"]}]}
    # Every service hashes (the role's default scheduler under scale-out), and
    # a director takes over flows from their next packet.
    assert {svc["scheduler"] for svc in m["services"]} == {"mh"}
    assert m["kernel_modules"] == ["ip_vs", "ip_vs_mh"]
    assert {key: m["sysctls"][key] for key in ("net.ipv4.vs.sloppy_tcp", "net.ipv4.vs.sloppy_sctp",
                                               "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce")} == {
        "net.ipv4.vs.sloppy_tcp": 1, "net.ipv4.vs.sloppy_sctp": 1,
        "net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.all.arp_announce": 2}
    assert "net.ipv4.vs.sloppy_tcp" not in lb()["sysctls"]


def test_scaleout_vip_of_firewall_marks_counts_their_services():
    m = scaleout(lb_services=[{"fwmark": 7}])
    assert m["errors"] == []
    assert m["bgp"]["announcer"]["vips"] == [{"address": "192.0.2.13", "family": "ipv4", "services": ["fwmark/7/ipv4"]}]


def test_scaleout_vip_may_be_off_the_directors_segment():
    assert scaleout(lb_vips=["198.51.100.13"])["errors"] == []
    assert "not in any subnet" in errors_of(lb_vips=["198.51.100.13"])


def test_scheduler_flags_reach_table_and_templates_by_their_names():
    m = scaleout(lb_scheduler_flags=["mh-port"], lb_services=[{"port": 80, "scheduler_flags": ["mh-fallback", "mh-port"]}])
    [svc] = m["services"]
    assert svc["scheduler_flags"] == ["flag-1", "flag-2"]
    assert svc["scheduler_flag_names"] == ["mh-fallback", "mh-port"]
    assert m["table"][0]["scheduler_flags"] == ["flag-1", "flag-2"]
    m = lb({"lb_scheduler": "sh", "lb_scheduler_flags": ["flag-2"]})
    assert m["services"][0]["scheduler_flag_names"] == ["sh-port"]
    assert "scheduler_flags: mh-port applies only to scheduler mh, not wlc" in errors_of(lb_scheduler_flags=["mh-port"])


@pytest.mark.parametrize("overrides, expected", [
    ({"lb_scheduler": "wlc"}, "lb_services[0].scheduler: wlc; scale-out (lb_scaleout) needs mh"),
    ({"lb_bgp_asn": ""}, "lb_bgp_asn: scale-out (lb_scaleout) needs the director's AS number"),
    ({"lb_bgp_asn": 4294967296}, "lb_bgp_asn: 4294967296 is out of range"),
    ({"lb_bgp_peers": []}, "lb_bgp_peers: scale-out needs a non-empty list of peers"),
    ({"lb_bgp_peers": [{"address": "192.0.2.2"}]}, "lb_bgp_peers[0]: needs address and asn"),
    ({"lb_bgp_peers": [dict(ROUTER, port=179)]}, "lb_bgp_peers[0]: unknown key port"),
    ({"lb_bgp_peers": [dict(ROUTER, address="router01")]}, "lb_bgp_peers[0].address"),
    ({"lb_bgp_peers": [dict(ROUTER, address="192.0.2.3")]}, "lb_bgp_peers[0].address: 192.0.2.3 is this director's own"),
    ({"lb_bgp_peers": [ROUTER, ROUTER]}, "lb_bgp_peers[1].address: 192.0.2.2 is listed twice"),
    ({"lb_bgp_peers": [dict(ROUTER, bfd="maybe")]}, "lb_bgp_peers[0].bfd"),
    ({"lb_bgp_hold_time": 3, "lb_bgp_keepalive": 2}, "lb_bgp_hold_time: 3 is less than 3 x lb_bgp_keepalive (2)"),
    ({"lb_bgp_router_id": "2001:db8::3"}, "lb_bgp_router_id: 2001:db8::3 is not an IPv4 address"),
    ({"lb_bfd_interval": 5}, "lb_bfd_interval: 5 is out of range"),
    ({"lb_vips": ["192.0.2.13", "2001:db8::13"]}, "lb_bgp_peers: no IPv6 peer to announce 2001:db8::13 to"),
    ({"lb_ha": True}, "lb_scaleout: cannot be combined with lb_ha"),
    ({"lb_scaleout": "sometimes"}, "lb_scaleout"),
    ({"lb_vip_protocol": 3}, "lb_vip_protocol: 3 is out of range (4..255)"),
    ({"lb_vip_protocol": "76 --clear"}, "lb_vip_protocol: "),
])
def test_bad_scaleout_input_is_named(overrides, expected):
    settings = {"lb_scaleout": True, "lb_bgp_asn": 64601, "lb_bgp_peers": [dict(ROUTER)]}
    settings.update(overrides)
    hostvars, groups = inventory(directors=2)
    if settings.get("lb_ha"):
        hostvars["lb02"]["lb_ha"] = True
    result = lb(settings, hostvars, groups)
    assert expected in "; ".join(result["errors"])


# ------------------------------------------------------------ live table


def live(weights=(5, 5, 5, 5), scheduler="wlc", extra_real=None, address="192.0.2.13"):
    real_servers = [{"address": "192.0.2.%d" % (4 + n), "port": 80, "weight": w, "forwarding": "dr",
                     "active_connections": 0} for n, w in enumerate(weights)]
    if extra_real:
        real_servers.append(extra_real)
    return [{"family": "ipv4", "protocol": "tcp", "address": address, "port": 80, "scheduler": scheduler,
             "persistence_timeout": 0, "real_servers": real_servers}]


def test_drift_none_when_the_table_matches():
    assert model.ipvs_drift(live(), lb()) == {"problems": [], "quiesced": [], "dead": [], "missing": [],
                                              "settled": True}


def test_drift_under_a_checker_tells_health_from_drift():
    drift = model.ipvs_drift(live(weights=(0, 3, 5, 5)), lb())
    assert drift["quiesced"] == ["tcp/192.0.2.13:80 -> 192.0.2.4:80"]
    assert drift["problems"] == ["lb_services[0] tcp/192.0.2.13:80: real server 192.0.2.5:80 has weight 3, expected 5"]
    assert not drift["settled"] and drift["dead"] == []


def test_drift_under_none_counts_every_weight():
    drift = model.ipvs_drift(live(weights=(0, 5, 5, 5)), lb(lb_healthcheck="none"))
    assert drift["problems"] == ["lb_services[0] tcp/192.0.2.13:80: real server 192.0.2.4:80 has weight 0, expected 5"]


def test_a_service_whose_real_servers_all_fail_is_dead():
    drift = model.ipvs_drift(live(weights=(0, 0, 0, 0)), lb())
    assert drift["dead"] == ["tcp/192.0.2.13:80"] and drift["problems"] == []
    assert model.ipvs_drift([], lb())["dead"] == ["tcp/192.0.2.13:80"]
    assert model.ipvs_drift([], lb())["missing"] == ["tcp/192.0.2.13:80"]
    assert model.ipvs_drift(live(weights=(0, 0, 0, 0)), lb())["missing"] == []


def test_drift_missing_unlisted_and_scheduler():
    drift = model.ipvs_drift(live(weights=(5, 5, 5), scheduler="rr",
                                  extra_real={"address": "192.0.2.99", "port": 80, "weight": 1, "forwarding": "dr"}),
                             lb())
    assert drift["problems"] == [
        "lb_services[0] tcp/192.0.2.13:80: scheduler rr, expected wlc",
        "lb_services[0] tcp/192.0.2.13:80: real server 192.0.2.7:80 missing",
        "lb_services[0] tcp/192.0.2.13:80: unlisted real servers 192.0.2.99:80",
    ]


def test_purge_under_none_reports_unlisted_services_on_the_vips_only():
    table = live() + copy.deepcopy(live(address="192.0.2.13"))
    table[1]["port"] = 8080
    table.append(dict(copy.deepcopy(live()[0]), address="192.0.2.77"))
    drift = model.ipvs_drift(table, lb(lb_healthcheck="none"))
    assert drift["problems"] == ["services on lb_vips that lb_services does not list: tcp/192.0.2.13:8080"]


def test_foreign_services_are_protected():
    table = live() + [dict(copy.deepcopy(live()[0]), address="192.0.2.77"),
                      {"family": "ipv6", "fwmark": 9, "scheduler": "wlc", "real_servers": []}]
    assert model.ipvs_foreign(table, lb()) == [{"address": "192.0.2.77", "port": 80, "protocol": "tcp"},
                                               {"fwmark": 9, "family": "ipv6"}]


ADDRESSES = ["192.0.2.%d" % n for n in range(4, 8)]


def weights_of(table: list) -> list:
    return [{rs["address"]: rs["weight"] for rs in svc["real_servers"]} for svc in table]


def test_keepalived_takes_over_at_its_weights_with_its_drains_down():
    # ldirectord left web01 down (weight 0), web02 missing, a scheduler keepalived would not edit
    table = model.handover_table(live(weights=(0, 5, 5), scheduler="rr"), lb(lb_healthcheck="keepalived"),
                                 ["192.0.2.6"])
    assert weights_of(table) == [{"192.0.2.4": 5, "192.0.2.5": 5, "192.0.2.6": 0, "192.0.2.7": 5}]
    assert table[0]["scheduler"] == "wlc"
    assert {k: v for k, v in table[0].items() if k != "real_servers"} == {
        k: v for k, v in lb()["table"][0].items() if k != "real_servers"}


def test_ldirectord_takes_over_what_the_live_table_serves():
    table = model.handover_table(live(weights=(0, 3, 5)), lb(), ["192.0.2.6:80"])
    assert weights_of(table) == [{"192.0.2.4": 0, "192.0.2.5": 5, "192.0.2.6": 0, "192.0.2.7": 0}]


def test_down_is_absent_from_a_service_that_is_not_quiescent():
    settings = {"lb_services": [{"port": 80, "quiescent": False, "alpha": True}, {"port": 443}]}
    keepalived = model.handover_table(live(), lb(settings, lb_healthcheck="keepalived"), ["192.0.2.5"])
    assert weights_of(keepalived) == [{}, {"192.0.2.4": 5, "192.0.2.5": 0, "192.0.2.6": 5, "192.0.2.7": 5}]
    # under ldirectord the service on 443, not live yet, starts with every real server down
    ldirectord = model.handover_table(live(weights=(5, 5, 0)), lb(settings), ["192.0.2.7"])
    assert weights_of(ldirectord) == [{"192.0.2.4": 5, "192.0.2.5": 5}, dict.fromkeys(ADDRESSES, 0)]


def test_the_handover_table_is_what_ipvs_state_accepts():
    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
    director = lb(lb_services=[{"port": 80}, {"fwmark": 7, "port": 443}], lb_healthcheck="keepalived")
    services = state.services_from_params(model.handover_table([], director, []))
    assert [state.service_id(s) for s in services] == ["tcp/192.0.2.13:80", "fwmark/7/ipv4"]


def test_status_lines_carry_health():
    info = {"services": live(weights=(5, 0, 0, 5)),
            "summary": ["TCP  192.0.2.13:80 wlc"] + ["  -> 192.0.2.%d:80" % n for n in range(4, 8)]}
    status = model.director_status(info, lb(), ["192.0.2.5"])
    assert status["summary"] == ["TCP  192.0.2.13:80 wlc", "  -> 192.0.2.4:80  up", "  -> 192.0.2.5:80  drained",
                                 "  -> 192.0.2.6:80  down", "  -> 192.0.2.7:80  up"]
    assert status["health"]["192.0.2.6:80"] == "down"
    assert status["drift"] == []


# ------------------------------------------------------------- frontends


def frontend(settings=None, hostvars=None, groups=None, host="web01"):
    s = defaults("frontend")
    s["frontend_vips"] = ["192.0.2.13"]
    s["frontend_server_name"] = host
    s.update(settings or {})
    if hostvars is None:
        hostvars, groups = inventory()
    return model.frontend_model(s, hostvars, groups, host)


def test_frontend_seed():
    m = frontend()
    assert m["errors"] == []
    assert m["interface"] == "eth0"
    assert m["listen"] == ["192.0.2.4", "2001:db8::4", "192.0.2.13"]
    assert m["status_allow"] == ["192.0.2.3"]
    assert m["vips"][0]["index"] == 1


def test_frontend_with_an_ipv6_vip_lets_the_directors_ipv6_address_read_the_status_page():
    hostvars, groups = inventory(names=True, directors=2)
    m = frontend({"frontend_vips": ["192.0.2.13", "2001:db8::13"]}, hostvars, groups)
    assert m["errors"] == []
    assert m["status_allow"] == ["192.0.2.3", "2001:db8::3", "192.0.2.8", "2001:db8::8"]


def test_frontend_with_an_ipv6_vip_and_a_director_of_unknown_ipv6_address_fails():
    hostvars, groups = inventory(names=True)
    del hostvars["lb01"]["ansible_facts"]
    hostvars["lb01"]["lvs_address"] = "192.0.2.3"
    m = frontend({"frontend_vips": ["2001:db8::13"]}, hostvars, groups)
    assert "director lb01 (group directors) has no IPv6 address on this frontend's segment" in "; ".join(m["errors"])


@pytest.mark.parametrize("overrides, expected", [
    ({"frontend_vips": ["192.0.2.4"]}, "frontend_vips: 192.0.2.4 must be distinct IPv4/IPv6 addresses, none of them one of this host's own addresses"),
    ({"frontend_vips": ["web"]}, "frontend_vips[0]: 'web' is not an IPv4 or IPv6 address"),
    ({"frontend_interface": "eth9"}, "frontend_interface: interface eth9 does not exist"),
    ({"frontend_server_name": "web01\n  Include /etc/passwd"}, "frontend_server_name: "),
    ({"frontend_document_root": "/var/www/a b"}, "frontend_document_root: "),
    ({"frontend_status_path": "/server-status>\n<Location /"}, "frontend_status_path: "),
    ({"frontend_status_allow_extra": ["192.0.2.0/24", "all granted"]}, "frontend_status_allow_extra[1]: "),
    ({"frontend_vhost_extra": ["Redirect / http://x\n</VirtualHost>"]}, "frontend_vhost_extra[0]: "),
    ({"frontend_http_port": 0}, "frontend_http_port: 0 is out of range"),
    ({"frontend_vip_protocol": 256}, "frontend_vip_protocol: 256 is out of range (4..255)"),
])
def test_frontend_bad_input_is_named(overrides, expected):
    assert expected in "; ".join(frontend(overrides)["errors"])


def test_frontend_monitoring_networks_pass():
    m = frontend({"frontend_status_allow_extra": ["198.51.100.0/24", "2001:DB8::99"]})
    assert m["status_allow"] == ["192.0.2.3", "198.51.100.0/24", "2001:db8::99"]


def test_a_host_named_by_a_name_without_a_default_route_is_found_by_its_name(monkeypatch):
    """Lab hosts have no default route: the name Ansible connects to tells the address."""
    hostvars, groups = inventory(names=True)
    for hv in hostvars.values():
        hv["ansible_facts"].pop("default_ipv4")
        hv["ansible_facts"]["interfaces"].append("eth1")
        hv["ansible_facts"]["eth1"] = {"ipv4": {"address": "198.51.100.9", "netmask": "255.255.255.0"}}
    names = {"lb01.lab.example": "192.0.2.3"}

    def getaddrinfo(name, port, family):
        if name not in names:
            raise OSError("unknown")
        return [(family, 1, 6, "", (names[name], port or 0))]

    monkeypatch.setattr(model.socket, "getaddrinfo", getaddrinfo)
    m = lb({}, hostvars, groups)
    assert m["errors"] == [] and m["interface"] == "eth0" and m["address"] == "192.0.2.3"
    names.clear()
    assert "lb_interface: no interface carries this host's address (unknown)" in errors_of(hostvars=hostvars, groups=groups)


def test_real_server_entries_of_a_drain():
    table = live() + [{"family": "ipv6", "fwmark": 9, "scheduler": "wlc",
                       "real_servers": [{"address": "192.0.2.4", "port": 0, "weight": 2, "forwarding": "dr"}]}]
    assert model.real_server_entries(table, ["192.0.2.4"]) == [
        {"service": {"protocol": "tcp", "address": "192.0.2.13", "port": 80}, "address": "192.0.2.4", "port": 80,
         "weight": 5},
        {"service": {"fwmark": 9, "family": "ipv6"}, "address": "192.0.2.4", "port": 0, "weight": 2}]
    with pytest.raises(model.IPVSValidationError, match=r"lb_drain_addresses\[0\]"):
        model.real_server_entries(table, ["web01"])


WEB = {"protocol": "tcp", "address": "192.0.2.13", "port": 80}
MARK = {"fwmark": 9, "family": "ipv6"}


def entry(service, weight, port=80):
    return {"service": service, "address": "192.0.2.4", "port": port, "weight": weight}


def test_a_restore_puts_back_the_weights_kept_before_the_drain():
    saved = [entry(WEB, 7), entry(MARK, 2, port=0)]
    live = [entry(WEB, 0), entry(MARK, 0, port=0)]
    assert model.restore_weights(live, saved, 5) == saved


def test_a_restore_without_a_kept_weight_gives_an_entry_at_0_the_default():
    # a restore without a drain: an entry at 0 gets the director's weight, one above 0 keeps its own
    live = [entry(WEB, 0), entry(MARK, 3, port=0)]
    assert model.restore_weights(live, [], 5) == [entry(WEB, 5), entry(MARK, 3, port=0)]
    assert model.restore_weights(live, None, "5") == [entry(WEB, 5), entry(MARK, 3, port=0)]
    assert model.restore_weights(live, [entry(WEB, 7)], 5) == [entry(WEB, 7), entry(MARK, 3, port=0)]


def test_a_kept_weight_counts_for_its_own_service_and_port_only():
    saved = [entry(WEB, 7)]
    other = {"protocol": "tcp", "address": "192.0.2.14", "port": 80}
    assert model.restore_weights([entry(other, 0), entry(WEB, 0, port=8080)], saved, 5) == [
        entry(other, 5), entry(WEB, 5, port=8080)]


def test_drain_services_say_which_services_are_quiescent():
    m = lb(lb_services=[{"port": 80}, {"port": 443, "quiescent": False}, {"fwmark": 7, "port": 80, "quiescent": "no"}])
    assert m["errors"] == []
    hosts = ["192.0.2.%d" % n for n in range(4, 8)]
    assert m["drain_services"] == [{"service": "tcp/192.0.2.13:80", "quiescent": True, "real_servers": hosts},
                                   {"service": "tcp/192.0.2.13:443", "quiescent": False, "real_servers": hosts},
                                   {"service": "fwmark/7/ipv4", "quiescent": False, "real_servers": hosts}]


CONFIGURED = {"services": [
    {"service": "tcp/192.0.2.13:80", "quiescent": True, "real_servers": ["192.0.2.4", "192.0.2.5"]},
    {"service": "fwmark/9/ipv6", "quiescent": False, "real_servers": ["192.0.2.4"]},
    {"service": "tcp/192.0.2.14:80", "quiescent": False, "real_servers": ["192.0.2.5"]},
]}


def drained_table():
    return live() + [{"family": "ipv6", "fwmark": 9, "scheduler": "wlc",
                      "real_servers": [{"address": "192.0.2.4", "port": 0, "weight": 2, "forwarding": "dr"}]}]


QUIESCENT_ONLY = {"drained": [{"state": "drained"}], "active": [{"state": "active"}]}


def test_a_drain_quiesces_itself_first_where_the_checker_would_remove_the_real_server():
    plan = model.drain_plan(drained_table(), CONFIGURED, ["192.0.2.4"])
    assert plan == {
        "first": [entry(MARK, 2, port=0)], "first_services": ["fwmark/9/ipv6"],
        "removed": ["fwmark/9/ipv6"], "kept": ["tcp/192.0.2.13:80"], "all": ["tcp/192.0.2.13:80", "fwmark/9/ipv6"],
        # the checker's act first (out of that service), then the drain of the quiescent one
        "waits": {"drained": [{"state": "absent", "services": ["fwmark/9/ipv6"]},
                              {"state": "drained", "services": ["tcp/192.0.2.13:80"]}],
                  "active": [{"state": "active", "services": ["tcp/192.0.2.13:80", "fwmark/9/ipv6"]}]}}


def test_a_drain_in_services_that_are_not_quiescent_only_waits_for_it_to_leave_them():
    configured = {"services": [dict(svc, quiescent=False) for svc in CONFIGURED["services"]]}
    plan = model.drain_plan(drained_table(), configured, ["192.0.2.4"])
    assert [(e["service"], e["weight"]) for e in plan["first"]] == [(WEB, 5), (MARK, 2)]
    assert plan["first_services"] == ["tcp/192.0.2.13:80", "fwmark/9/ipv6"] and plan["kept"] == []
    assert plan["waits"]["drained"] == [{"state": "absent", "services": ["tcp/192.0.2.13:80", "fwmark/9/ipv6"]}]


def test_a_drain_in_quiescent_services_only_leaves_it_all_to_the_checker():
    plan = model.drain_plan(drained_table(), CONFIGURED, ["192.0.2.6"])
    assert plan == {"first": [], "first_services": [], "removed": [], "kept": [], "all": [], "waits": QUIESCENT_ONLY}
    plan = model.drain_plan(live(), {"services": CONFIGURED["services"][:1]}, ["192.0.2.5"])
    assert plan["first"] == [] and plan["kept"] == ["tcp/192.0.2.13:80"] and plan["waits"] == QUIESCENT_ONLY


def test_a_drain_plan_without_the_file_counts_every_service_quiescent():
    plan = model.drain_plan(drained_table(), None, ["192.0.2.4"])
    assert plan["first"] == [] and plan["removed"] == [] and plan["waits"] == QUIESCENT_ONLY


def test_a_service_already_without_the_real_server_has_nothing_to_quiesce_first():
    # the checker removed it already (its checks failed): nothing live to set, the service still listed
    plan = model.drain_plan(live(), CONFIGURED, ["192.0.2.5"])
    assert plan["first"] == [] and plan["removed"] == ["tcp/192.0.2.14:80"]
    with pytest.raises(model.IPVSValidationError, match=r"lb_drain_addresses\[0\]"):
        model.drain_plan(live(), CONFIGURED, ["web02"])


def test_under_none_every_service_counts_as_quiescent():
    m = lb(lb_healthcheck="none", lb_services=[{"port": 80, "quiescent": False}])
    assert [svc["quiescent"] for svc in m["drain_services"]] == [True]


# ------------------------------------------------------- the DR-path check


def test_the_seed_service_gets_an_http_dr_check_in_place_of_ldirectords():
    m = lb()
    [svc] = m["services"]
    assert svc["dr_check"] == {
        "virtual": "192.0.2.13", "port": 80, "address": "192.0.2.13", "probe_port": 80, "mode": "http",
        "request": "/server-status", "host": "192.0.2.13", "status": 200, "receive": "Apache Server Status",
        "timeout": 10, "command_timeout": 12}
    assert m["dr_checks"] == [dict(svc["dr_check"], real_servers=["192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7"])]
    # the prober's verdicts are taken up to the slowest probe's timeout (10 s), plus 2 s
    assert m["dr_prober"] == {"interval": 1.0, "fresh": 12}


@pytest.mark.parametrize("interval, timeout, fresh", [(0.5, 1, 3), ("0.25", 2, 4), (5, 1, 7), (60, 1, 62)])
def test_dr_prober_interval_and_freshness(interval, timeout, fresh):
    m = lb(lb_dr_check_interval=interval, lb_negotiatetimeout=timeout)
    assert m["errors"] == []
    assert m["dr_prober"] == {"interval": float(interval), "fresh": fresh}


@pytest.mark.parametrize("interval", [0, 0.05, 61, "1s", True, "0.125", None])
def test_dr_prober_interval_out_of_range_is_named(interval):
    assert "lb_dr_check_interval: %s is not a number of seconds from 0.1 to 60" % (interval,) in errors_of(
        lb_dr_check_interval=interval)


def test_dr_checks_of_several_vips_ipv6_and_fwmark():
    hostvars, groups = inventory(frontends=3, names=True)
    settings = mixed_settings()
    settings["lb_services"][1]["checktype"] = "connect"
    m = lb(settings, hostvars, groups)
    assert m["errors"] == []
    checks = [(c["virtual"], c["port"], c["address"], c["probe_port"], c["mode"], c["host"]) for c in m["dr_checks"]]
    assert checks == [("192.0.2.13", 80, "192.0.2.13", 80, "http", "192.0.2.13"),
                      ("192.0.2.14", 8080, "192.0.2.14", 8080, "connect", "192.0.2.14"),
                      ("2001:db8::13", 80, "2001:db8::13", 80, "http", "[2001:db8::13]"),
                      ("21", 0, "192.0.2.13", 80, "http", "192.0.2.13")]


def test_a_fwmark_service_probes_the_vip_it_names():
    m = lb(lb_vips=["192.0.2.13", "192.0.2.14"], lb_services=[{"fwmark": 21, "port": 80, "dr_check_address": "192.0.2.14"}])
    assert m["dr_checks"][0]["address"] == "192.0.2.14"


def test_keepalived_dr_check_follows_its_check():
    services = [{"port": 80}, {"port": 81, "check": "tcp"}, {"port": 82, "check": "none"}]
    m = lb(lb_healthcheck="keepalived", lb_services=services)
    assert [(c["port"], c["mode"], c["status"], c["receive"], c["timeout"]) for c in m["dr_checks"]] == [
        (80, "http", 200, None, 3), (81, "connect", 200, None, 3)]


def test_a_check_can_ask_another_path_port_and_text_of_a_web_server_not_the_roles():
    """frontend_web_server none: the directors' checks ask the user's server (path, port, expected text)."""
    service = {"port": 80, "request": "/healthz", "receive": "^ok$", "checkport": 8081}
    [svc] = lb(lb_services=[service])["services"]
    assert (svc["request"], svc["receive"], svc["checkport"]) == ("/healthz", "^ok$", 8081)
    # The DR probe names the service from the virtual port, as ldirectord does, not from checkport.
    check = svc["dr_check"]
    assert (check["probe_port"], check["mode"], check["request"], check["receive"]) == (8081, "http", "/healthz", "^ok$")
    [svc] = lb(lb_healthcheck="keepalived", lb_services=[dict(service, status_code=204)])["services"]
    assert (svc["request"], svc["regex"], svc["checkport"], svc["status_code"]) == ("/healthz", "^ok$", 8081, 204)
    check = svc["dr_check"]
    assert (check["probe_port"], check["mode"], check["request"], check["receive"], check["status"]) == (
        8081, "http", "/healthz", "^ok$", 204)


def test_keepalived_reads_the_page_text_only_when_the_service_asks():
    """lb_check_receive is ldirectord's default; keepalived's regex comes from the service's receive only."""
    [svc] = lb(lb_healthcheck="keepalived", lb_services=[{"port": 80}])["services"]
    assert svc["regex"] is None and svc["dr_check"]["receive"] is None
    [svc] = lb(lb_healthcheck="keepalived", lb_services=[{"port": 80, "receive": ""}])["services"]
    assert svc["regex"] is None


@pytest.mark.parametrize("service, expected", [
    ({"port": 80, "check": "tcp", "receive": "ok"},
     "lb_services[0].receive: only check http_get reads the page (this service's check is tcp)"),
    ({"port": 80, "receive": "ok("}, "lb_services[0].receive: 'ok(' is not a regular expression"),
    ({"port": 80, "receive": 'ok" }'}, "lb_services[0].receive: "),
    ({"port": 80, "receive": "ok\n}"}, "lb_services[0].receive: "),
])
def test_bad_keepalived_receive_is_named(service, expected):
    assert expected in errors_of(lb_healthcheck="keepalived", lb_services=[service])


@pytest.mark.parametrize("service, why", [
    ({"port": 53, "protocol": "udp"}, "protocol udp"),
    ({"port": 80, "forwarding": "nat"}, "real servers forwarded by nat"),
    ({"port": 80, "checktype": "off"}, "checktype off"),
])
def test_the_dr_check_stays_off_where_it_cannot_work_and_is_refused_when_asked(service, why):
    assert lb(lb_services=[service])["dr_checks"] == []
    assert "lb_services[0].dr_check: the DR-path probe does not fit this service (%s)" % why in errors_of(
        lb_services=[dict(service, dr_check=True)])


def test_the_dr_check_turned_off_globally_and_per_service():
    assert lb(lb_dr_check=False)["dr_checks"] == []
    assert lb(lb_services=[{"port": 80, "dr_check": False}])["dr_checks"] == []
    assert lb(lb_healthcheck="none")["dr_checks"] == []


@pytest.mark.parametrize("overrides, expected", [
    ({"lb_dr_check": "maybe"}, "lb_services[0].dr_check: 'maybe' is not a boolean"),
    ({"lb_services": [{"port": 80, "dr_check_address": "192.0.2.13"}]},
     "lb_services[0].dr_check_address: only a firewall-mark service needs it"),
    ({"lb_services": [{"fwmark": 3, "port": 80, "dr_check_address": "192.0.2.99"}]},
     "lb_services[0].dr_check_address: 192.0.2.99 is not one of the ipv4 VIPs in lb_vips (192.0.2.13)"),
    ({"lb_services": [{"fwmark": 3, "port": 80, "dr_check_address": "192.0.2.13\nX"}]},
     "lb_services[0].dr_check_address:"),
    ({"lb_services": [{"port": 80, "request": "/a b"}]}, "lb_services[0].request:"),
])
def test_bad_dr_check_input_is_named(overrides, expected):
    assert expected in errors_of(**overrides)


def with_macs(hostvars):
    """The inventory's facts with a MAC address per host: 52:54:00:00:00:NN, NN its address's last byte."""
    for hv in hostvars.values():
        eth = hv["ansible_facts"]["eth0"]
        eth["macaddress"] = "52:54:00:00:00:%02x" % int(eth["ipv4"]["address"].rsplit(".", 1)[1])
    return hostvars


def test_the_director_probes_each_real_server_and_knows_the_hosts_macs():
    hostvars, groups = inventory()
    m = lb(hostvars=with_macs(hostvars), groups=groups)
    assert [(p["address"], p["port"], p["real_server"], p["mode"]) for p in m["dr_probes"]] == [
        ("192.0.2.13", 80, "192.0.2.%d" % n, "http") for n in range(4, 8)]
    assert m["arp_vips"] == ["192.0.2.13"]
    assert m["hosts_by_mac"]["52:54:00:00:00:05"] == {"host": "web02", "role": "frontend"}
    assert m["hosts_by_mac"]["52:54:00:00:00:03"] == {"host": "lb01", "role": "director"}


def test_dr_findings_name_the_host():
    hostvars, groups = inventory()
    m = lb(hostvars=with_macs(hostvars), groups=groups)
    result = {
        "probes": [dict(p, ok=p["real_server"] != "192.0.2.7", reason="no SYN-ACK within 10 s") for p in m["dr_probes"]],
        "arp": [{"address": "192.0.2.13", "responders": [
            {"mac": "52:54:00:00:00:05", "address": "192.0.2.13"},    # web02: a hijack
            {"mac": "52:54:00:00:00:03", "address": "192.0.2.13"},    # a director: holds it, fine
            {"mac": "02:00:00:00:00:99", "address": "192.0.2.13"}]}],  # nobody the facts know
    }
    findings = model.dr_findings(result, m)
    assert [(f["kind"], f["host"], f["vip"]) for f in findings] == [
        ("dr", "web04", "192.0.2.13"), ("arp", "web02", "192.0.2.13"), ("arp", None, "192.0.2.13")]
    assert findings[0]["message"] == ("web04 (192.0.2.7) fails the DR-path check for 192.0.2.13:80: "
                                      "no SYN-ACK within 10 s")
    assert findings[1]["message"].startswith("web02 (52:54:00:00:00:05) answers ARP for VIP 192.0.2.13")
    assert model.dr_findings({"probes": [dict(p, ok=True) for p in m["dr_probes"]], "arp": []}, m) == []


def test_a_responder_is_named_by_the_mac_its_probe_found():
    m = lb()  # no MAC addresses in the facts
    result = {"probes": [dict(m["dr_probes"][1], ok=True, real_mac="52:54:00:AA:00:05")],
              "arp": [{"address": "192.0.2.13", "responders": [{"mac": "52:54:00:aa:00:05"}]}]}
    assert [f["host"] for f in model.dr_findings(result, m)] == ["web02"]


def test_the_frontend_asks_a_director_on_its_segment_who_answers_arp():
    hostvars, groups = inventory()
    m = frontend(hostvars=with_macs(hostvars), groups=groups)
    assert m["arp_witness"] == {"host": "lb01", "interface": "eth0"}
    assert m["arp_vips"] == ["192.0.2.13"]
    assert m["hosts_by_mac"]["52:54:00:00:00:04"] == {"host": "web01", "role": "frontend"}
    hostvars["lb01"]["ansible_facts"] = {}
    assert frontend(hostvars=hostvars, groups=groups)["arp_witness"] is None


def test_the_arp_witness_is_a_device_not_an_address_label():
    # Facts list a director's VIP alias (label vec0:3) as "vec0_3", with no device key
    # and the VIP on the segment: the witness must be the device it labels.
    hostvars, groups = inventory()
    lb01 = hostvars["lb01"]["ansible_facts"]
    lb01["interfaces"].insert(0, "eth0_3")
    lb01["eth0_3"] = {"ipv4": {"address": "192.0.2.13", "netmask": "255.255.255.255"}}
    assert frontend(hostvars=hostvars, groups=groups)["arp_witness"] == {"host": "lb01", "interface": "eth0"}


# ------------------------------------------------------ frontend_findings

def _frontend_state(m, arp_ignore=1, arp_announce=2, lo=None, eth0=None, requires=None):
    """What the frontend role reads on a healthy web01, with what a test changes."""
    sysctls = {("all", "arp_ignore"): arp_ignore, ("all", "arp_announce"): arp_announce,
               (m["interface"], "arp_ignore"): 0, (m["interface"], "arp_announce"): 0}
    addresses = [
        {"ifname": "lo", "addr_info": lo if lo is not None else [
            {"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
            {"family": "inet", "local": "192.0.2.13", "prefixlen": 32, "label": "lo:1"}]},
        {"ifname": m["interface"], "addr_info": eth0 or [{"family": "inet", "local": m["address"], "prefixlen": 24}]},
    ]
    if requires is None:
        requires = ["Require local"] + ["Require ip %s" % a for a in m["status_allow"]]
    vhost = "<VirtualHost 192.0.2.4:80>\n    <Location %s>\n        SetHandler server-status\n%s\n    </Location>\n" \
            "</VirtualHost>\n" % (m["status_path"], "\n".join("        " + r for r in requires))
    return sysctls, addresses, vhost


def test_a_healthy_frontend_has_no_findings():
    m = frontend()
    assert model.frontend_findings(m, *_frontend_state(m)) == []


def test_the_kernel_takes_the_larger_of_all_and_the_interface():
    m = frontend()
    sysctls, addresses, vhost = _frontend_state(m, arp_ignore=0, arp_announce=0)
    sysctls[("eth0", "arp_ignore")] = 1
    sysctls[("eth0", "arp_announce")] = 2
    assert model.frontend_findings(m, sysctls, addresses, vhost) == []
    findings = model.frontend_findings(m, *_frontend_state(m, arp_ignore=0, arp_announce=1))
    assert [f.split(" (")[0] for f in findings] == ["effective arp_ignore=0 on eth0", "effective arp_announce=1 on eth0"]


def test_a_vip_missing_from_lo_or_not_a_host_route_or_on_the_nic_is_named():
    m = frontend()
    assert model.frontend_findings(m, *_frontend_state(m, lo=[]))[0].startswith("VIPs not on lo as /32 or /128: 192.0.2.13")
    wide = [{"family": "inet", "local": "192.0.2.13", "prefixlen": 24}]
    assert model.frontend_findings(m, *_frontend_state(m, lo=wide))[0].startswith("VIPs not on lo")
    on_nic = [{"family": "inet", "local": "192.0.2.4", "prefixlen": 24},
              {"family": "inet", "local": "192.0.2.13", "prefixlen": 32}]
    assert model.frontend_findings(m, *_frontend_state(m, eth0=on_nic)) == [
        "VIPs also on another interface, which answers ARP for them: 192.0.2.13 on eth0"]


def test_an_ipv6_vip_is_compared_in_canonical_form():
    m = frontend({"frontend_vips": ["2001:DB8:0::13"]})
    lo = [{"family": "inet6", "local": "2001:db8::13", "prefixlen": 128}]
    assert model.frontend_findings(m, *_frontend_state(m, lo=lo)) == []


def test_the_status_page_grants_exactly_the_directors():
    m = frontend()
    allow = m["status_allow"]
    assert allow and model.frontend_findings(m, *_frontend_state(m, requires=["Require ip " + " ".join(allow)])) == []
    for requires in (["Require ip %s" % a for a in allow] + ["Require all granted"],
                     ["Require ip 192.0.2.0/24"],
                     []):
        findings = model.frontend_findings(m, *_frontend_state(m, requires=requires))
        assert len(findings) == 1 and findings[0].startswith("/server-status is readable by"), findings
    sysctls, addresses, vhost = _frontend_state(m)
    assert model.frontend_findings(m, sysctls, addresses, vhost.replace("Location", "Directory")) == [
        "the virtual host has no <Location /server-status> block: the status page is not restricted"]


def test_the_frontend_answering_arp_is_a_finding_for_it_alone():
    hostvars, groups = inventory()
    hostvars = with_macs(hostvars)
    m = frontend(hostvars=hostvars, groups=groups)
    probe = {"probes": [], "arp": [{"address": "192.0.2.13", "responders": [
        {"mac": "52:54:00:00:00:04"}, {"mac": "52:54:00:00:00:05"}, {"mac": "52:54:00:00:00:03"}]}]}
    findings = model.frontend_findings(m, *_frontend_state(m), probe, "web01")
    assert len(findings) == 1 and findings[0].startswith("web01 (52:54:00:00:00:04) answers ARP for VIP 192.0.2.13")
    assert model.frontend_findings(m, *_frontend_state(m), probe, "web03") == []


# The README's "From an ipvsadm rules file to an inventory": the seed director's save file,
# parsed, is the table the lb role applies for the seed's inventory (the default lb_services).
SEED_RULES = """\
-A -t 192.0.2.13:80 -s wlc
-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 5
-a -t 192.0.2.13:80 -r 192.0.2.5:80 -g -w 5
-a -t 192.0.2.13:80 -r 192.0.2.6:80 -g -w 5
-a -t 192.0.2.13:80 -r 192.0.2.7:80 -g -w 5
"""


def test_the_seed_rules_file_is_the_default_lb_services():
    parsed = ipvs_text.parse(SEED_RULES)
    assert [ipvs_text.compact(s) for s in parsed] == [
        {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.%d" % n, "weight": 5}
                                                               for n in (4, 5, 6, 7)]}]
    assert ipvs_state.services_from_params(lb()["table"]) == parsed


def test_a_parsed_table_maps_onto_lb_services_as_the_readme_says():
    """persistence_timeout -> persistence, dr/nat -> gate/masq, weight 1 written out."""
    parsed = ipvs_text.parse("-A -t 192.0.2.13:443 -s sh -p 600 -M 255.255.255.0\n"
                             "-a -t 192.0.2.13:443 -r 192.0.2.4:443 -g -w 1\n"
                             "-a -t 192.0.2.13:443 -r 192.0.2.5:8443 -m -w 3\n")
    short = ipvs_text.compact(parsed[0])
    names = {"dr": "gate", "nat": "masq", "tunnel": "ipip"}
    entry = {"address": short["address"], "port": short["port"], "scheduler": short["scheduler"],
             "persistence": short["persistence_timeout"], "persistence_netmask": short["persistence_netmask"],
             "real_servers": [dict(rs, weight=rs.get("weight", 1), forwarding=names[rs.get("forwarding", "dr")])
                              for rs in short["real_servers"]]}
    assert ipvs_state.services_from_params(lb(lb_services=[entry], lb_healthcheck="none")["table"]) == parsed


# ------------------------------------------- frontend_web_server none

SS = """LISTEN 0      511          0.0.0.0:80        0.0.0.0:*
LISTEN 0      4096   127.0.0.53%lo:53         0.0.0.0:*
LISTEN 0      5                  *:8000            *:*
LISTEN 0      511             [::]:8443          [::]:*
LISTEN 0      128      192.0.2.13:8080        0.0.0.0:*
LISTEN 0      128   [2001:db8::d]:8080           [::]:*
LISTEN 0      128 [::ffff:192.0.2.14]:9000         *:*
LISTEN 0      128   0.0.0.0%eth0:9090        0.0.0.0:*
LISTEN 0      128     0.0.0.0%lo:9091        0.0.0.0:*
"""


def test_the_web_server_is_apache_by_default_and_named_when_unknown():
    assert frontend()["web_server"] == "apache"
    assert frontend({"frontend_web_server": "none"})["web_server"] == "none"
    for bad in ("nginx", "Apache", None, ["none"]):
        message = "; ".join(frontend({"frontend_web_server": bad})["errors"])
        assert message.startswith("frontend_web_server: %r is not one of apache, none" % (bad,)), message


def test_without_a_web_server_of_the_roles_nobody_needs_to_read_a_status_page():
    hostvars, groups = inventory(names=True)
    del hostvars["lb01"]["ansible_facts"]
    hostvars["lb01"]["lvs_address"] = "192.0.2.3"
    settings = {"frontend_vips": ["2001:db8::13"], "frontend_web_server": "none"}
    m = frontend(settings, hostvars, groups)
    assert m["errors"] == [] and m["status_allow"] == []
    settings["frontend_web_server"] = "apache"
    assert "director lb01 (group directors) has no IPv6 address" in "; ".join(frontend(settings, hostvars, groups)["errors"])


def test_ss_listeners_are_read_with_wildcards_devices_and_mapped_addresses():
    listeners = model.tcp_listeners(SS + "garbage\nLISTEN 0 1 [nonsense]:80 *:*\nLISTEN 0 1 1.2.3.4:http *:*\n")
    assert listeners == [
        {"address": "0.0.0.0", "port": 80, "device": None},
        {"address": "127.0.0.53", "port": 53, "device": "lo"},
        {"address": "*", "port": 8000, "device": None},
        {"address": "::", "port": 8443, "device": None},
        {"address": "192.0.2.13", "port": 8080, "device": None},
        {"address": "2001:db8::d", "port": 8080, "device": None},
        {"address": "192.0.2.14", "port": 9000, "device": None},
        {"address": "0.0.0.0", "port": 9090, "device": "eth0"},
        {"address": "0.0.0.0", "port": 9091, "device": "lo"},
    ]
    assert model.tcp_listeners("") == []


@pytest.mark.parametrize("port, missing", [
    (80, ["[2001:db8::d]:80"]),          # 0.0.0.0 takes IPv4 only
    (8000, []),                          # * takes both families
    (8443, ["192.0.2.13:8443"]),         # [::] is IPv6 only
    (8080, []),                          # bound to each VIP
    (9000, ["192.0.2.13:9000", "[2001:db8::d]:9000"]),   # another address
    (9090, ["[2001:db8::d]:9090"]),      # IPv4 wildcard on the ingress interface
    (9091, ["192.0.2.13:9091", "[2001:db8::d]:9091"]),   # bound to lo: clients' packets arrive on eth0
    (53, ["192.0.2.13:53", "[2001:db8::d]:53"]),
    (81, ["192.0.2.13:81", "[2001:db8::d]:81"]),
])
def test_without_a_web_server_of_the_roles_each_vip_port_nobody_listens_on_is_named(port, missing):
    m = frontend({"frontend_vips": ["192.0.2.13", "2001:db8::d"], "frontend_web_server": "none",
                  "frontend_http_port": port})
    assert m["errors"] == []
    lo = [{"family": "inet", "local": "192.0.2.13", "prefixlen": 32},
          {"family": "inet6", "local": "2001:db8::d", "prefixlen": 128}]
    sysctls, addresses = _frontend_state(m, lo=lo)[:2]
    findings = model.frontend_findings(m, sysctls, addresses, "", None, "web01", model.tcp_listeners(SS))
    assert [f.split(" (")[0] for f in findings] == ["nothing listens on %s" % where for where in missing]
    assert all("frontend_http_port" in f for f in findings)


def test_each_web_server_is_judged_by_its_own_evidence():
    """Apache by its status page (the sockets are not read), the user's server by its sockets (no vhost)."""
    apache = frontend()
    sysctls, addresses, vhost = _frontend_state(apache)
    assert model.frontend_findings(apache, sysctls, addresses, vhost, None, "web01", []) == []
    assert model.frontend_findings(apache, sysctls, addresses, "")[0].startswith("the virtual host has no <Location")
    none = frontend({"frontend_web_server": "none"})
    assert model.frontend_findings(none, sysctls, addresses, "", None, "web01", model.tcp_listeners(SS)) == []
    assert model.frontend_findings(none, sysctls, addresses, vhost)[0].startswith("nothing listens on 192.0.2.13:80")
    # The ARP and VIP checks stay.
    assert model.frontend_findings(none, sysctls, [], "", None, "web01", model.tcp_listeners(SS))[0].startswith(
        "VIPs not on lo")


# ------------------------------------------------------- real_server_addresses


def test_real_server_addresses_are_where_the_director_model_puts_each_frontend():
    hostvars, groups = inventory(names=True)
    for host in groups["frontends"]:
        hostvars[host]["ansible_facts"]["lo"]["ipv4_secondaries"] = [{"address": "192.0.2.13",
                                                                     "netmask": "255.255.255.255"}]
    m = lb(hostvars=hostvars, groups=groups, lb_vips=["192.0.2.13", "2001:db8::13"],
           lb_services=[{"address": "192.0.2.13"}, {"address": "2001:db8::13"}])
    assert not m["errors"], m["errors"]
    for host in groups["frontends"]:
        in_table = sorted({rs["address"] for svc in m["services"] for rs in svc["real_servers"] if rs["host"] == host},
                          key=len)
        assert model.real_server_addresses(hostvars, host) == in_table
    assert model.real_server_addresses(hostvars, "web02") == ["192.0.2.5", "2001:db8::5"]


def test_real_server_addresses_from_the_inventory_alone():
    hostvars = {"web01": {"ansible_host": "192.0.2.4"},
                "web02": {"ansible_host": "web02.lab.example", "lvs_address": "192.0.2.5", "lvs_address6": "2001:DB8::5"},
                "web03": {"ansible_host": "192.0.2.6", "ansible_facts": facts("192.0.2.6")}}
    assert model.real_server_addresses(hostvars, "web01") == ["192.0.2.4"]
    assert model.real_server_addresses(hostvars, "web02") == ["192.0.2.5", "2001:db8::5"]
    assert model.real_server_addresses(hostvars, "web03") == ["192.0.2.6"]


def test_real_server_addresses_of_a_name_without_facts_names_the_host_and_variable():
    with pytest.raises(model.IPVSValidationError, match="host web01: .* set its lvs_address host variable, or gather"):
        model.real_server_addresses({"web01": {"ansible_host": "web01.invalid"}}, "web01")


# ------------------------------------------------------------ BGP findings


def neighbors(state="Established", bfd="Up", sent=1, peer="192.0.2.2"):
    return json.dumps({peer: {"bgpState": state, "peerBfdInfo": {"status": bfd},
                              "addressFamilyInfo": {"ipv4Unicast": {"sentPrefixCounter": sent}}}})


def test_bgp_findings_pass_when_every_peer_has_the_vips():
    assert model.bgp_findings(neighbors(), scaleout()) == []
    assert model.bgp_findings("not even json", lb()) == []          # no scale-out, nothing to find


@pytest.mark.parametrize("text, expected", [
    (neighbors(state="Active"), "BGP peer 192.0.2.2 (AS 64600): session Active, not Established"),
    (neighbors(bfd="Down"), "BGP peer 192.0.2.2 (AS 64600): BFD Down, not Up"),
    (neighbors(sent=0), "BGP peer 192.0.2.2 (AS 64600): 0 of the 1 IPv4 VIPs announced"),
    (neighbors(peer="192.0.2.1"), "BGP peer 192.0.2.2 (AS 64600): not configured in bgpd"),
    ("bgpd is not running", "bgpd did not answer (is FRR running with bgpd?): bgpd is not running"),
    ("[]", "bgpd's answer is not a set of neighbours"),
])
def test_bgp_findings_name_the_peer_and_the_problem(text, expected):
    assert expected in "; ".join(model.bgp_findings(text, scaleout()))


def test_bgp_findings_count_only_vips_with_services():
    m = scaleout(lb_vips=["192.0.2.13", "192.0.2.14"])     # 192.0.2.14 has no service: never announced
    assert model.bgp_findings(neighbors(sent=1), m) == []
    m = scaleout(lb_bgp_peers=[dict(ROUTER, bfd=False)])
    assert model.bgp_findings(neighbors(bfd="Down"), m) == []


# ------------------------------------------------------------- sysctls retired

def test_sysctls_a_mode_left_behind_go_back_to_the_kernels_default():
    file_text = "\n".join(["# written by the lb role", "net.ipv4.vs.expire_nodest_conn=1",
                           "net.ipv4.vs.sloppy_tcp = 1", "net.ipv4.vs.sloppy_sctp=1",
                           "net.ipv4.conf.all.arp_ignore=1", "net/ipv4/conf/all/arp_announce=2",
                           "net.ipv4.vs.sync_threshold=3 0", "; a comment", "-net.ipv4.vs.am_droprate=10", ""])
    assert model.sysctls_retired(file_text, lb()) == [
        {"name": "net.ipv4.vs.sloppy_tcp", "value": 0}, {"name": "net.ipv4.vs.sloppy_sctp", "value": 0},
        {"name": "net.ipv4.conf.all.arp_ignore", "value": 0}, {"name": "net.ipv4.conf.all.arp_announce", "value": 0},
        {"name": "net.ipv4.vs.sync_threshold", "value": "3 50"}, {"name": "net.ipv4.vs.am_droprate", "value": None}]
    # What the model sets stays; an absent or empty file retires nothing.
    assert model.sysctls_retired(file_text, scaleout(lb_vips=["192.0.2.13"])) == [
        {"name": "net.ipv4.vs.sync_threshold", "value": "3 50"}, {"name": "net.ipv4.vs.am_droprate", "value": None}]
    assert model.sysctls_retired("", lb()) == []


def test_every_sysctl_the_model_sets_has_a_kernel_default():
    for m in (lb(), ha(), scaleout(), lb({"lb_conntrack": True})):
        assert set(m["sysctls"]) <= set(model.SYSCTL_DEFAULTS)
