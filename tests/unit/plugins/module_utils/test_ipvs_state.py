# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure IPVS model: validation, normalisation, diff, apply_ops, describe."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import (
    IPVSValidationError,
)

V4 = {"address": "192.0.2.13", "port": 80}
V6 = {"address": "2001:db8::13", "port": 80}


def svc(base=None, **overrides):
    """A canonical service built through the public validator."""
    params = dict(V4 if base is None else base)
    params.update(overrides)
    return state.service_from_params(params)


def rs(address, **kwargs):
    return dict({"address": address}, **kwargs)


# ---------------------------------------------------------------- validation

BAD_SERVICES = [
    # (id, params, parameter named at the start of the message)
    ("address-not-ip", {"address": "web.example.com", "port": 80}, "address"),
    ("address-v4-octet", {"address": "192.0.2.300", "port": 80}, "address"),
    ("address-network", {"address": "192.0.2.0/24", "port": 80}, "address"),
    ("address-v6-garbage", {"address": "2001:db8:::13", "port": 80}, "address"),
    ("address-missing", {"port": 80}, "address"),
    ("port-missing", {"address": "192.0.2.13"}, "port"),
    ("port-0", {"address": "192.0.2.13", "port": 0}, "port"),
    ("port-65536", {"address": "192.0.2.13", "port": 65536}, "port"),
    ("port-negative", {"address": "192.0.2.13", "port": -1}, "port"),
    ("port-not-int", {"address": "192.0.2.13", "port": "http"}, "port"),
    ("port-bool", {"address": "192.0.2.13", "port": True}, "port"),
    ("protocol-unknown", dict(V4, protocol="icmp"), "protocol"),
    ("family-mismatch", dict(V4, family="ipv6"), "family"),
    ("scheduler-unknown", dict(V4, scheduler="roundrobin"), "scheduler"),
    ("scheduler-flag-unknown", dict(V4, scheduler_flags=["flag-9"]), "scheduler_flags"),
    ("sh-flag-on-wlc", dict(V4, scheduler="wlc", scheduler_flags=["sh-port"]), "scheduler_flags"),
    ("sh-flag-on-mh", dict(V4, scheduler="mh", scheduler_flags=["sh-fallback"]), "scheduler_flags"),
    ("mh-flag-on-sh", dict(V4, scheduler="sh", scheduler_flags=["mh-port"]), "scheduler_flags"),
    ("fwmark-with-address", {"fwmark": 1, "address": "192.0.2.13"}, "fwmark"),
    ("fwmark-with-port", {"fwmark": 1, "port": 80}, "fwmark"),
    ("fwmark-with-protocol", {"fwmark": 1, "protocol": "tcp"}, "fwmark"),
    ("fwmark-0", {"fwmark": 0}, "fwmark"),
    ("fwmark-too-big", {"fwmark": 2 ** 32}, "fwmark"),
    ("fwmark-family-unknown", {"fwmark": 1, "family": "ipx"}, "family"),
    ("timeout-negative", dict(V4, persistence_timeout=-1), "persistence_timeout"),
    ("netmask-without-timeout", dict(V4, persistence_netmask="24"), "persistence_netmask"),
    ("netmask-with-timeout-0", dict(V4, persistence_timeout=0, persistence_netmask="24"), "persistence_netmask"),
    ("netmask-v4-33", dict(V4, persistence_timeout=60, persistence_netmask="33"), "persistence_netmask"),
    ("netmask-v4-noncontiguous", dict(V4, persistence_timeout=60, persistence_netmask="255.0.255.0"),
     "persistence_netmask"),
    ("netmask-v4-garbage", dict(V4, persistence_timeout=60, persistence_netmask="/24"), "persistence_netmask"),
    ("netmask-v6-dotted", dict(V6, persistence_timeout=60, persistence_netmask="255.255.255.0"),
     "persistence_netmask"),
    ("netmask-v6-colon", dict(V6, persistence_timeout=60, persistence_netmask="ffff:ffff:ffff:ffff::"),
     "persistence_netmask"),
    ("netmask-v6-0", dict(V6, persistence_timeout=60, persistence_netmask="0"), "persistence_netmask"),
    ("netmask-v6-129", dict(V6, persistence_timeout=60, persistence_netmask="129"), "persistence_netmask"),
    ("one-packet-tcp", dict(V4, protocol="tcp", one_packet=True), "one_packet"),
    ("one-packet-sctp", dict(V4, protocol="sctp", one_packet=True), "one_packet"),
]


@pytest.mark.parametrize("params, param", [case[1:] for case in BAD_SERVICES], ids=[c[0] for c in BAD_SERVICES])
def test_bad_service_names_the_parameter(params, param):
    with pytest.raises(IPVSValidationError) as caught:
        state.service_from_params(params)
    assert str(caught.value).startswith(param + ":"), str(caught.value)


def test_where_prefixes_the_parameter_name():
    with pytest.raises(IPVSValidationError) as caught:
        state.service_from_params({"address": "192.0.2.13", "port": 0}, "service.")
    assert str(caught.value).startswith("service.port:")


BAD_REAL_SERVERS = [
    # (id, service params, real server params, parameter named)
    ("address-invalid", V4, rs("192.0.2.256"), "real_servers[0].address"),
    ("address-missing", V4, {"weight": 1}, "real_servers[0].address"),
    ("v6-in-v4-service", V4, rs("2001:db8::4"), "real_servers[0].address"),
    ("v4-in-v6-service", V6, rs("192.0.2.4"), "real_servers[0].address"),
    ("v4-in-v6-fwmark-service", {"fwmark": 1, "family": "ipv6"}, rs("192.0.2.4"), "real_servers[0].address"),
    ("weight-negative", V4, rs("192.0.2.4", weight=-1), "real_servers[0].weight"),
    ("weight-too-big", V4, rs("192.0.2.4", weight=2 ** 31), "real_servers[0].weight"),
    ("port-0-address-service", V4, rs("192.0.2.4", port=0, forwarding="nat"), "real_servers[0].port"),
    ("port-65536", V4, rs("192.0.2.4", port=65536, forwarding="nat"), "real_servers[0].port"),
    ("forwarding-unknown", V4, rs("192.0.2.4", forwarding="bridge"), "real_servers[0].forwarding"),
    ("upper-negative", V4, rs("192.0.2.4", upper_threshold=-5), "real_servers[0].upper_threshold"),
    ("lower-above-upper", V4, rs("192.0.2.4", upper_threshold=10, lower_threshold=20),
     "real_servers[0].lower_threshold"),
    ("lower-without-upper", V4, rs("192.0.2.4", lower_threshold=5), "real_servers[0].lower_threshold"),
    ("dr-other-port", V4, rs("192.0.2.4", port=8080), "real_servers[0].port"),
    ("gate-other-port", V4, rs("192.0.2.4", port=8080, forwarding="gate"), "real_servers[0].port"),
    ("tunnel-other-port", V4, rs("192.0.2.4", port=8080, forwarding="tunnel"), "real_servers[0].port"),
]


@pytest.mark.parametrize("service, real_server, param", [c[1:] for c in BAD_REAL_SERVERS],
                         ids=[c[0] for c in BAD_REAL_SERVERS])
def test_bad_real_server_names_the_parameter(service, real_server, param):
    with pytest.raises(IPVSValidationError) as caught:
        state.service_from_params(dict(service, real_servers=[real_server]))
    assert str(caught.value).startswith(param + ":"), str(caught.value)


def test_mixed_family_message_names_both_families():
    with pytest.raises(IPVSValidationError) as caught:
        svc(real_servers=[rs("2001:db8::4")])
    message = str(caught.value)
    assert "ipv6" in message and "ipv4" in message and "tcp/192.0.2.13:80" in message


def test_real_server_not_a_dict():
    with pytest.raises(IPVSValidationError) as caught:
        svc(real_servers=["192.0.2.4"])
    assert str(caught.value).startswith("real_servers[0]:")


@pytest.mark.parametrize("first, second", [
    (rs("192.0.2.4"), rs("192.0.2.4", weight=5)),
    (rs("192.0.2.4"), rs("192.0.2.4", port=80)),  # the default port is the service port
    (rs(" 192.0.2.4 "), rs("192.0.2.4")),
])
def test_duplicate_real_servers_v4(first, second):
    with pytest.raises(IPVSValidationError) as caught:
        svc(real_servers=[rs("192.0.2.9"), first, second])
    message = str(caught.value)
    assert message.startswith("real_servers[2]:")
    assert "192.0.2.4:80" in message and "index 1" in message


def test_duplicate_real_servers_v6_other_spelling():
    with pytest.raises(IPVSValidationError) as caught:
        svc(V6, real_servers=[rs("2001:db8::4"), rs("2001:DB8:0:0::4")])
    assert str(caught.value).startswith("real_servers[1]:")
    assert "[2001:db8::4]:80" in str(caught.value)


def test_same_real_server_on_two_ports_is_not_a_duplicate():
    service = svc(real_servers=[rs("192.0.2.4", port=8080, forwarding="nat"),
                                rs("192.0.2.4", port=8081, forwarding="nat")])
    assert [r["port"] for r in service["real_servers"]] == [8080, 8081]


@pytest.mark.parametrize("items, index", [
    ([V4, dict(V4)], 1),
    ([V4, {"address": "192.0.2.13", "port": 80, "protocol": "tcp", "scheduler": "rr"}], 1),
    ([V6, {"address": "2001:DB8:0::13", "port": 80}], 1),
    ([{"fwmark": 1}, {"address": "192.0.2.1", "port": 1}, {"fwmark": 1, "family": "ipv4"}], 2),
])
def test_duplicate_services_in_a_table(items, index):
    with pytest.raises(IPVSValidationError) as caught:
        state.services_from_params(copy.deepcopy(items))
    assert str(caught.value).startswith("services[%d]:" % index)
    assert "listed twice" in str(caught.value)


def test_table_is_not_a_duplicate_across_protocols_and_families():
    table = state.services_from_params([V4, dict(V4, protocol="udp"), {"fwmark": 1}, {"fwmark": 1, "family": "ipv6"}])
    assert len(table) == 4


def test_table_error_names_the_nested_parameter():
    with pytest.raises(IPVSValidationError) as caught:
        state.services_from_params([V4, dict(V6, real_servers=[rs("2001:db8::4", weight=-3)])])
    assert str(caught.value).startswith("services[1].real_servers[0].weight:")


def test_table_item_not_a_dict():
    with pytest.raises(IPVSValidationError) as caught:
        state.services_from_params([V4, "192.0.2.14:80"])
    assert str(caught.value).startswith("services[1]:")


# ------------------------------------------------------------ normalisation


@pytest.mark.parametrize("given, canonical", [
    ("2001:DB8:0::13", "2001:db8::13"),
    ("2001:0db8:0000:0000:0000:0000:0000:0013", "2001:db8::13"),
    (" 192.0.2.13 ", "192.0.2.13"),
    ("::ffff:192.0.2.13", "::ffff:c000:20d"),
])
def test_address_is_canonical(given, canonical):
    assert svc({"address": given, "port": 80})["address"] == canonical


def test_canonical_service_defaults():
    assert svc() == {
        "family": "ipv4", "protocol": "tcp", "address": "192.0.2.13", "port": 80, "fwmark": None,
        "scheduler": "wlc", "scheduler_flags": [], "persistence_timeout": 0, "persistence_netmask": 32,
        "one_packet": False, "real_servers": None,
    }


def test_fwmark_service_defaults():
    assert svc({"fwmark": 7}) == {
        "family": "ipv4", "protocol": None, "address": None, "port": None, "fwmark": 7,
        "scheduler": "wlc", "scheduler_flags": [], "persistence_timeout": 0, "persistence_netmask": 32,
        "one_packet": False, "real_servers": None,
    }
    assert svc({"fwmark": 7, "family": "ipv6"})["persistence_netmask"] == 128


def test_matching_family_is_accepted():
    assert svc(dict(V6, family="ipv6"))["family"] == "ipv6"


@pytest.mark.parametrize("alias, name", [
    ("gate", "dr"), ("droute", "dr"), ("dr", "dr"), ("masq", "nat"), ("nat", "nat"),
    ("ipip", "tunnel"), ("tunnel", "tunnel"),
])
def test_forwarding_aliases(alias, name):
    assert svc(real_servers=[rs("192.0.2.4", forwarding=alias)])["real_servers"][0]["forwarding"] == name


@pytest.mark.parametrize("base, netmask, prefix", [
    (V4, "255.255.255.0", 24),
    (V4, "255.255.255.255", 32),
    (V4, "255.255.0.0", 16),
    (V4, "0.0.0.0", 0),
    (V4, "24", 24),
    (V4, 24, 24),
    (V4, " 16 ", 16),
    (V6, "64", 64),
    (V6, 128, 128),
    (V6, "1", 1),
])
def test_persistence_netmask(base, netmask, prefix):
    service = svc(base, persistence_timeout=300, persistence_netmask=netmask)
    assert service["persistence_netmask"] == prefix
    assert service["persistence_timeout"] == 300


@pytest.mark.parametrize("netmask", ["\u00b2", "\u0662\u0664", "\uff12\uff14", "2\u2074", "+24", "2_4"],
                         ids=["superscript-2", "arabic-indic-24", "fullwidth-24", "2-superscript-4", "plus", "underscore"])
@pytest.mark.parametrize("base", [V4, V6], ids=["ipv4", "ipv6"])
def test_persistence_netmask_takes_ascii_digits_only(base, netmask):
    """"\u00b2".isdigit() is true and int() takes "\u0662\u0664": neither is a prefix length here."""
    with pytest.raises(IPVSValidationError) as caught:
        svc(base, persistence_timeout=300, persistence_netmask=netmask)
    assert str(caught.value).startswith("persistence_netmask: %r " % netmask)


@pytest.mark.parametrize("value, expected", [
    (80, 80), ("80", 80), (" 80 ", 80), ("+80", 80), (80.0, 80),
    ("\u0668\u0660", None), ("8_0", None), (80.5, None), ("80.0", None), (True, None),
    (float("nan"), None), (float("inf"), None), ("", None), ("-", None), ([80], None),
])
def test_integers_are_plain_ascii_digits_or_integral_numbers(value, expected):
    """int() alone would take 80.5 (as 80), "8_0" and Arabic-Indic digits."""
    if expected is None:
        with pytest.raises(IPVSValidationError, match="^port: .* is not an integer$"):
            svc(port=value)
    else:
        assert svc(port=value)["port"] == expected


def test_a_negative_string_is_out_of_range_not_garbage():
    with pytest.raises(IPVSValidationError, match=r"^port: -1 is out of range \(1..65535\)$"):
        svc(port="-1")


def test_hostmask_is_not_a_netmask():
    with pytest.raises(IPVSValidationError) as caught:
        svc(persistence_timeout=300, persistence_netmask="0.0.0.255")
    assert str(caught.value).startswith("persistence_netmask:")


def test_default_persistence_netmask_is_the_host():
    assert svc(persistence_timeout=300)["persistence_netmask"] == 32
    assert svc(V6, persistence_timeout=300)["persistence_netmask"] == 128


def test_scheduler_flags_use_generic_names_sorted_and_unique():
    service = svc(scheduler="sh", scheduler_flags=["sh-port", "flag-1", "sh-fallback", "flag-2"])
    assert service["scheduler_flags"] == ["flag-1", "flag-2"]
    assert svc(scheduler="mh", scheduler_flags=["mh-port"])["scheduler_flags"] == ["flag-2"]
    assert svc(scheduler="rr", scheduler_flags=["flag-3"])["scheduler_flags"] == ["flag-3"]


@pytest.mark.parametrize("protocol", ["udp", None])
def test_one_packet_allowed_on_udp_and_fwmark(protocol):
    params = dict(V4, protocol="udp", one_packet=True) if protocol else {"fwmark": 3, "one_packet": True}
    assert svc(params)["one_packet"] is True


def test_real_server_defaults_and_port_follows_the_service():
    service = svc({"address": "192.0.2.13", "port": 443}, real_servers=[rs("192.0.2.4")])
    assert service["real_servers"] == [{"address": "192.0.2.4", "port": 443, "weight": 1, "forwarding": "dr",
                                        "upper_threshold": 0, "lower_threshold": 0}]


def test_fwmark_real_server_port_defaults_to_0_and_may_be_given():
    service = svc({"fwmark": 1}, real_servers=[rs("192.0.2.4"), rs("192.0.2.5", port=8080)])
    assert [(r["address"], r["port"]) for r in service["real_servers"]] == [("192.0.2.4", 0), ("192.0.2.5", 8080)]


def test_nat_real_server_may_map_the_port_and_dr_may_repeat_it():
    service = svc(real_servers=[rs("10.0.0.4", port=8080, forwarding="masq"), rs("192.0.2.4", port=80)])
    assert [(r["port"], r["forwarding"]) for r in service["real_servers"]] == [(8080, "nat"), (80, "dr")]


def test_thresholds_accepted_when_consistent():
    real_server = svc(real_servers=[rs("192.0.2.4", upper_threshold=100, lower_threshold=100)])["real_servers"][0]
    assert (real_server["upper_threshold"], real_server["lower_threshold"]) == (100, 100)


def test_real_servers_sorted_numerically_then_by_port():
    service = svc(real_servers=[rs("192.0.2.10"), rs("192.0.2.9", port=81, forwarding="nat"),
                                rs("192.0.2.9", port=80), rs("10.0.0.1")])
    assert [state.real_server_id(r) for r in service["real_servers"]] == [
        "10.0.0.1:80", "192.0.2.9:80", "192.0.2.9:81", "192.0.2.10:80"]


def test_real_servers_none_when_not_managed_and_empty_in_a_table():
    assert svc()["real_servers"] is None
    assert svc(real_servers=[])["real_servers"] == []
    assert state.services_from_params([V4])[0]["real_servers"] == []


def test_real_server_from_params_keeps_live_values_for_unset_options():
    service = svc()
    live = {"address": "192.0.2.4", "port": 80, "weight": 7, "forwarding": "tunnel",
            "upper_threshold": 50, "lower_threshold": 10}
    params = {"address": "192.0.2.4", "port": None, "weight": None, "forwarding": None,
              "upper_threshold": None, "lower_threshold": None}
    assert state.real_server_from_params(params, service, current=live) == live
    assert state.real_server_from_params(dict(params, weight=0), service, current=live)["weight"] == 0
    assert state.real_server_from_params(params, service)["weight"] == 1


def test_sort_real_servers_tolerates_mixed_families_from_the_kernel():
    mixed = [{"address": "2001:db8::4", "port": 80}, {"address": "192.0.2.4", "port": 80}]
    assert [r["address"] for r in state.sort_real_servers(mixed)] == ["192.0.2.4", "2001:db8::4"]


def test_sort_table_orders_by_family_fwmark_protocol_address_port():
    table = state.services_from_params([
        {"address": "2001:db8::1", "port": 80}, {"fwmark": 2}, {"address": "192.0.2.20", "port": 80},
        {"address": "192.0.2.3", "port": 443}, {"address": "192.0.2.3", "port": 80, "protocol": "udp"},
        {"fwmark": 1}, {"address": "192.0.2.3", "port": 80},
    ])
    assert [state.service_id(s) for s in state.sort_table(table)] == [
        "tcp/192.0.2.3:80", "tcp/192.0.2.3:443", "tcp/192.0.2.20:80", "udp/192.0.2.3:80",
        "fwmark/1/ipv4", "fwmark/2/ipv4", "tcp/[2001:db8::1]:80"]


# -------------------------------------------------------------------- diff


def actions(ops):
    return [(op["action"], state.service_id(op["service"]),
             state.real_server_id(op["real_server"]) if "real_server" in op else None) for op in ops]


def live(base=None, real_servers=(), **overrides):
    """A service as dump() returns it: real servers always a list."""
    service = svc(base, real_servers=list(real_servers), **overrides)
    return service


def test_new_service_is_added_before_its_real_servers():
    desired = svc(real_servers=[rs("192.0.2.5"), rs("192.0.2.4")])
    assert actions(state.diff_service(desired, None, purge_real_servers=False)) == [
        ("add_service", "tcp/192.0.2.13:80", None),
        ("add_real_server", "tcp/192.0.2.13:80", "192.0.2.4:80"),
        ("add_real_server", "tcp/192.0.2.13:80", "192.0.2.5:80"),
    ]


def test_no_change_is_an_empty_diff():
    desired = svc(persistence_timeout=60, persistence_netmask="255.255.255.0", real_servers=[rs("192.0.2.4")])
    current = copy.deepcopy(desired)
    assert state.diff_service(desired, current, purge_real_servers=True) == []
    assert state.diff_table([desired], [current], purge=True) == []


def test_changed_settings_give_one_edit_service():
    current = live(real_servers=[rs("192.0.2.4")])
    desired = svc(scheduler="rr", real_servers=[rs("192.0.2.4")])
    ops = state.diff_service(desired, current, purge_real_servers=True)
    assert actions(ops) == [("edit_service", "tcp/192.0.2.13:80", None)]
    assert ops[0]["service"]["scheduler"] == "rr"


@pytest.mark.parametrize("change", [
    {"scheduler_flags": ["flag-1"]}, {"persistence_timeout": 30}, {"one_packet": True, "protocol": "udp"},
])
def test_each_setting_is_compared(change):
    base = dict(V4, protocol=change.get("protocol", "tcp"))
    current = live(base)
    desired = svc(base, **{k: v for k, v in change.items() if k != "protocol"})
    assert [a for a, _svc, _obj in actions(state.diff_service(desired, current, False))] == ["edit_service"]


def test_real_server_adds_and_edits_come_before_deletes():
    current = live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5"), rs("192.0.2.6")])
    desired = svc(real_servers=[rs("192.0.2.7"), rs("192.0.2.4", weight=5), rs("192.0.2.6")])
    ops = state.diff_service(desired, current, purge_real_servers=True)
    assert actions(ops) == [
        ("edit_real_server", "tcp/192.0.2.13:80", "192.0.2.4:80"),
        ("add_real_server", "tcp/192.0.2.13:80", "192.0.2.7:80"),
        ("delete_real_server", "tcp/192.0.2.13:80", "192.0.2.5:80"),
    ]
    assert ops[0]["real_server"]["weight"] == 5


def test_without_purge_unlisted_real_servers_stay():
    current = live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5")])
    desired = svc(real_servers=[rs("192.0.2.4", weight=2)])
    assert actions(state.diff_service(desired, current, purge_real_servers=False)) == [
        ("edit_real_server", "tcp/192.0.2.13:80", "192.0.2.4:80")]


@pytest.mark.parametrize("change", [{"weight": 3}, {"forwarding": "tunnel"}, {"upper_threshold": 9},
                                    {"upper_threshold": 9, "lower_threshold": 3}])
def test_each_real_server_setting_is_compared(change):
    current = live(real_servers=[rs("192.0.2.4")])
    desired = svc(real_servers=[rs("192.0.2.4", **change)])
    assert [a for a, _svc, _obj in actions(state.diff_service(desired, current, True))] == ["edit_real_server"]


def test_real_servers_none_leaves_real_servers_alone():
    current = live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5")])
    desired = svc()
    assert desired["real_servers"] is None
    assert state.diff_service(desired, current, purge_real_servers=True) == []
    assert actions(state.diff_service(svc(scheduler="rr"), current, purge_real_servers=True)) == [
        ("edit_service", "tcp/192.0.2.13:80", None)]


def test_empty_real_servers_with_purge_removes_them_all():
    current = live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5")])
    ops = state.diff_service(svc(real_servers=[]), current, purge_real_servers=True)
    assert [a for a, _svc, _obj in actions(ops)] == ["delete_real_server", "delete_real_server"]


def test_dumped_noise_is_not_part_of_the_model():
    """Counters, rates and connection counts that dump(stats=True) adds never make a change."""
    current = live(real_servers=[rs("192.0.2.4")])
    current["stats"] = {"connections": 12}
    current["rates"] = {"connections_per_second": 1}
    current["real_servers"][0].update(active_connections=3, inactive_connections=4, persistent_connections=0,
                                      stats={"connections": 7}, rates={})
    desired = svc(real_servers=[rs("192.0.2.4")])
    assert state.diff_table([desired], [current]) == []
    assert set(state.settings(current)) == set(state.SERVICE_SETTINGS)
    # HASHED is a kernel bookkeeping bit: no name of the model maps to it.
    assert state.FLAG_HASHED not in state.SCHED_FLAG_BITS.values()
    assert "flags" not in svc()


def test_diff_table_orders_and_purges_last():
    current = [
        live({"address": "192.0.2.99", "port": 80}, real_servers=[rs("192.0.2.4")]),
        live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5")]),
    ]
    desired = state.services_from_params([
        dict(V4, real_servers=[rs("192.0.2.4"), rs("192.0.2.6")]),
        dict(V6, real_servers=[rs("2001:db8::4")]),
    ])
    ops = state.diff_table(desired, current, purge=True)
    assert actions(ops) == [
        ("add_real_server", "tcp/192.0.2.13:80", "192.0.2.6:80"),
        ("delete_real_server", "tcp/192.0.2.13:80", "192.0.2.5:80"),
        ("add_service", "tcp/[2001:db8::13]:80", None),
        ("add_real_server", "tcp/[2001:db8::13]:80", "[2001:db8::4]:80"),
        ("delete_service", "tcp/192.0.2.99:80", None),
    ]
    assert actions(state.diff_table(desired, current, purge=False))[-1][0] != "delete_service"


def test_diff_table_listed_services_own_their_real_servers():
    current = [live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5")])]
    desired = state.services_from_params([V4])
    assert [a for a, _svc, _obj in actions(state.diff_table(desired, current))] == ["delete_real_server"] * 2


LIVE_TABLE = [
    live({"address": "192.0.2.50", "port": 80}),
    live({"address": "192.0.2.50", "port": 443}),
    live({"address": "192.0.2.50", "port": 53, "protocol": "udp"}),
    live({"address": "2001:db8::50", "port": 80}),
    live({"address": "192.0.2.60", "port": 80}),
    live({"fwmark": 5}),
    live({"fwmark": 5, "family": "ipv6"}),
]


def deleted(exclude):
    return sorted(state.service_id(op["service"]) for op in state.diff_table([], LIVE_TABLE, True, exclude))


def test_purge_without_exclude_deletes_everything_unlisted():
    assert len(deleted(None)) == len(LIVE_TABLE)
    assert deleted([]) == deleted(None)


def test_purge_exclude_address_only_protects_every_port_and_protocol():
    assert deleted([{"address": "192.0.2.50"}]) == sorted([
        "tcp/[2001:db8::50]:80", "tcp/192.0.2.60:80", "fwmark/5/ipv4", "fwmark/5/ipv6"])


def test_purge_exclude_ipv6_address_in_another_spelling():
    assert "tcp/[2001:db8::50]:80" not in deleted([{"address": "2001:DB8:0:0::50"}])
    assert state.matches(LIVE_TABLE[3], {"address": "2001:0db8::0050"})


def test_purge_exclude_every_given_field_must_match():
    remaining = deleted([{"address": "192.0.2.50", "port": 443, "protocol": None, "fwmark": None, "family": None}])
    assert "tcp/192.0.2.50:443" not in remaining
    assert "tcp/192.0.2.50:80" in remaining and "udp/192.0.2.50:53" in remaining
    assert "udp/192.0.2.50:53" not in deleted([{"address": "192.0.2.50", "protocol": "udp"}])
    assert "tcp/192.0.2.50:80" in deleted([{"address": "192.0.2.50", "protocol": "udp"}])


def test_purge_exclude_fwmark_and_family():
    assert deleted([{"fwmark": 5, "family": "ipv6"}]).count("fwmark/5/ipv4") == 1
    assert "fwmark/5/ipv6" not in deleted([{"fwmark": 5, "family": "ipv6"}])
    assert "fwmark/5/ipv4" not in deleted([{"fwmark": 5}])
    # an address selector never protects a firewall-mark service
    assert "fwmark/5/ipv4" in deleted([{"address": "192.0.2.50"}])


PREDICTIONS = {
    "from-empty": ([], [dict(V4, real_servers=[rs("192.0.2.4")]), {"fwmark": 1, "real_servers": [rs("192.0.2.5")]}]),
    "edit-everything": (
        [live(real_servers=[rs("192.0.2.4"), rs("192.0.2.5", weight=3)])],
        [dict(V4, scheduler="sh", scheduler_flags=["sh-port"], persistence_timeout=60,
              persistence_netmask="255.255.255.0",
              real_servers=[rs("192.0.2.5", weight=4, forwarding="tunnel"), rs("192.0.2.6")])],
    ),
    "purge-and-replace": (
        [live({"address": "192.0.2.99", "port": 80}, real_servers=[rs("192.0.2.4")]),
         live(V6, real_servers=[rs("2001:db8::4")])],
        [dict(V6, real_servers=[rs("2001:db8::5"), rs("2001:DB8::4", weight=2)])],
    ),
    "to-empty": ([live(real_servers=[rs("192.0.2.4")]), live({"fwmark": 9})], []),
}


@pytest.mark.parametrize("current, desired_params", PREDICTIONS.values(), ids=list(PREDICTIONS))
def test_apply_ops_predicts_the_result(current, desired_params):
    desired = state.services_from_params(copy.deepcopy(desired_params))
    snapshot = copy.deepcopy(current)
    ops = state.diff_table(desired, current, purge=True)
    assert ops
    after = state.apply_ops(current, ops)
    assert current == snapshot, "apply_ops must not modify its input"
    assert state.diff_table(desired, after, purge=True) == []
    assert after == state.sort_table(copy.deepcopy(desired))


def test_apply_ops_of_nothing_is_the_sorted_table():
    table = [live(V6), live()]
    assert state.apply_ops(table, []) == [table[1], table[0]]


# ----------------------------------------------------------------- wording


def test_ids_and_endpoints():
    assert state.service_id(svc()) == "tcp/192.0.2.13:80"
    assert state.service_id(svc(dict(V6, protocol="udp"))) == "udp/[2001:db8::13]:80"
    assert state.service_id(svc({"fwmark": 1, "family": "ipv6"})) == "fwmark/1/ipv6"
    assert state.real_server_id({"address": "2001:db8::4", "port": 0}) == "[2001:db8::4]:0"


def test_describe():
    service = svc(persistence_timeout=300, real_servers=[rs("192.0.2.4", weight=5, forwarding="masq", port=8080)])
    real_server = service["real_servers"][0]
    assert state.describe({"action": "add_service", "service": svc()}) == \
        "add service tcp/192.0.2.13:80 (scheduler wlc)"
    assert state.describe({"action": "edit_service", "service": service}) == \
        "edit service tcp/192.0.2.13:80 (scheduler wlc, persistent 300s)"
    assert state.describe({"action": "delete_service", "service": service}) == "delete service tcp/192.0.2.13:80"
    assert state.describe({"action": "add_real_server", "service": service, "real_server": real_server}) == \
        "add real server 192.0.2.4:8080 in tcp/192.0.2.13:80 (nat, weight 5)"
    assert state.describe({"action": "edit_real_server", "service": service, "real_server": real_server}) == \
        "edit real server 192.0.2.4:8080 in tcp/192.0.2.13:80 (nat, weight 5)"
    assert state.describe({"action": "delete_real_server", "service": service, "real_server": real_server}) == \
        "delete real server 192.0.2.4:8080 from tcp/192.0.2.13:80"


def test_public_drops_empty_key_fields_only():
    fwmark = state.public(svc({"fwmark": 4}))
    assert "address" not in fwmark and "port" not in fwmark and "protocol" not in fwmark
    assert fwmark["fwmark"] == 4 and fwmark["family"] == "ipv4"
    address = state.public(svc())
    assert "fwmark" not in address and address["port"] == 80


@pytest.mark.parametrize("params", [
    {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5}]},
    {"address": "2001:db8::13", "port": 443, "persistence_timeout": 300, "persistence_netmask": "64"},
    {"fwmark": 3, "family": "ipv6", "scheduler": "sh", "scheduler_flags": ["sh-port"]},
])
def test_a_service_as_modules_return_it_is_valid_input(params):
    service = state.service_from_params(params)
    again = state.service_from_params(state.public(service))
    assert again == service
