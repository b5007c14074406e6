# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import errno

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import (
    exits,
    fails,
    live_table,
)

pytestmark = pytest.mark.usefixtures("harness")

main = ipvs_table.main

HTTP = {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5},
                                                              {"address": "192.0.2.5", "weight": 5}]}
HTTP6 = {"address": "2001:db8::13", "port": 80, "real_servers": [{"address": "2001:db8::4"}]}
KEEPALIVED = [{"address": "192.0.2.50", "port": 80, "real_servers": [{"address": "192.0.2.8"}]},
              {"address": "192.0.2.50", "port": 443}, {"address": "2001:db8::50", "port": 443}]
STRAY = {"address": "192.0.2.13", "port": 53, "protocol": "udp", "real_servers": [{"address": "192.0.2.4"}]}

CURRENT = [dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": 1}, {"address": "192.0.2.6"}]), STRAY]
CURRENT += KEEPALIVED
DESIRED = {"services": [HTTP, HTTP6], "purge": True,
           "purge_exclude": [{"address": "192.0.2.50"}, {"address": "2001:DB8:0::50"}]}


def test_converge_orders_operations_and_purges_last(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    result = exits(main, DESIRED, diff=True)
    assert result["operations"] == [
        "edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 5)",
        "add real server 192.0.2.5:80 in tcp/192.0.2.13:80 (dr, weight 5)",
        "delete real server 192.0.2.6:80 from tcp/192.0.2.13:80",
        "add service tcp/[2001:db8::13]:80 (scheduler wlc)",
        "add real server [2001:db8::4]:80 in tcp/[2001:db8::13]:80 (dr, weight 1)",
        "delete service udp/192.0.2.13:53",
    ]
    assert len(fake.applied) == 1
    assert fake.table() == live_table([HTTP, HTTP6] + KEEPALIVED)
    assert result["services"] == [state.public(s) for s in live_table([HTTP, HTTP6])]


def test_diff_shows_touched_services_only(fake_ipvs):
    fake_ipvs(live_table(CURRENT))
    diff = exits(main, DESIRED, diff=True)["diff"]
    assert set(diff["before"]) == {"tcp/192.0.2.13:80", "udp/192.0.2.13:53"}
    assert set(diff["after"]) == {"tcp/192.0.2.13:80", "tcp/[2001:db8::13]:80"}
    assert diff["after"]["tcp/192.0.2.13:80"] == state.public(live_table([HTTP])[0])


def test_check_mode_predicts_the_real_run(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    checked = exits(main, DESIRED, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert fake.applied == []
    assert fake.table() == live_table(CURRENT)
    real = exits(main, DESIRED, diff=True)
    for name in ("operations", "services", "diff"):
        assert checked[name] == real[name], name


def test_second_run_and_second_check_change_nothing(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    exits(main, DESIRED)
    assert exits(main, DESIRED, check_mode=True)["changed"] is False
    again = exits(main, DESIRED, diff=True)
    assert again["changed"] is False and again["operations"] == []
    assert again["diff"] == {"before": {}, "after": {}}
    assert len(fake.applied) == 1


def test_the_diff_comes_in_diff_mode_only(fake_ipvs):
    fake_ipvs(live_table(CURRENT))
    result = exits(main, DESIRED, check_mode=True)
    assert result["changed"] is True and "diff" not in result


def test_without_purge_unlisted_services_stay(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    exits(main, {"services": [HTTP]})
    assert not any(op["action"] == "delete_service" for op in fake.writes)
    assert len(fake.table()) == len(CURRENT)


def test_purge_exclude_protects_selected_services_only(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    exits(main, {"services": [], "purge": True, "purge_exclude": [{"address": "192.0.2.50", "port": 443}]})
    assert [state.service_id(s) for s in fake.table()] == ["tcp/192.0.2.50:443"]


BAD = [
    ("duplicate", {"services": [HTTP, dict(HTTP, real_servers=[])]}, "services[1]"),
    ("nested-weight", {"services": [dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": -2}])]},
     "services[0].real_servers[0].weight"),
    ("nested-family", {"services": [HTTP, dict(HTTP6, real_servers=[{"address": "192.0.2.4"}])]},
     "services[1].real_servers[0].address"),
    ("port", {"services": [dict(HTTP, port=65536)]}, "services[0].port"),
    ("fwmark-0", {"services": [{"fwmark": 0}]}, "services[0].fwmark"),
    ("exclude-address", {"services": [HTTP], "purge": True, "purge_exclude": [{"address": "192.0.2.500"}]},
     "purge_exclude[0].address"),
    # What Ansible's argument spec refused before ipvs_table left the entries to the model:
    ("unknown-service-option", {"services": [HTTP, dict(HTTP6, schedular="rr")]},
     "services[1]: unsupported parameter schedular (supported: address, family, fwmark, one_packet, "),
    ("unknown-real-server-option", {"services": [dict(HTTP, real_servers=[{"address": "192.0.2.4", "wieght": 5}])]},
     "services[0].real_servers[0]: unsupported parameter wieght (supported: address, forwarding, lower_threshold, "),
    ("real-server-not-a-dict", {"services": [dict(HTTP, real_servers=["192.0.2.4"])]},
     "services[0].real_servers[0]: each real server is a dict"),
    ("real-servers-not-a-list", {"services": [dict(HTTP, real_servers="192.0.2.4")]},
     "services[0].real_servers: '192.0.2.4' is not a list"),
    ("real-server-address-required", {"services": [dict(HTTP, real_servers=[{"weight": 5}])]},
     "services[0].real_servers[0].address: a real server needs an address"),
    ("weight-not-an-int", {"services": [dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": "heavy"}])]},
     "services[0].real_servers[0].weight: 'heavy' is not an integer"),
    ("one-packet-not-a-bool", {"services": [dict(HTTP, protocol="udp", one_packet="maybe")]},
     "services[0].one_packet: 'maybe' is not a boolean"),
    ("flags-not-a-list", {"services": [dict(HTTP, scheduler="sh", scheduler_flags={"sh-port": True})]},
     "services[0].scheduler_flags: {'sh-port': True} is not a list"),
    ("flag-choice", {"services": [dict(HTTP, scheduler="sh", scheduler_flags="sh-port,sh-fast")]},
     "services[0].scheduler_flags: 'sh-fast' is not one of"),
    ("scheduler-choice", {"services": [dict(HTTP, scheduler="fastest")]}, "services[0].scheduler: 'fastest'"),
    ("forwarding-choice", {"services": [dict(HTTP, real_servers=[{"address": "192.0.2.4", "forwarding": "fast"}])]},
     "services[0].real_servers[0].forwarding: 'fast' is not one of"),
]


@pytest.mark.parametrize("args, param", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_naming_the_parameter(fake_ipvs, args, param):
    fake = fake_ipvs(live_table(CURRENT))
    result = fails(main, args)
    assert param in result["msg"]
    assert fake.applied == []


def refuse_address(address, code=errno.EINVAL):
    return lambda op: code if op.get("real_server", {}).get("address") == address else 0


def test_kernel_refusal_midway_restores_every_touched_service(fake_ipvs):
    """The batch edits, creates and deletes around the refused op; all of it is undone."""
    original = live_table(CURRENT)
    fake = fake_ipvs(copy.deepcopy(original), refuse=refuse_address("192.0.2.5"))
    result = fails(main, DESIRED)
    assert result["msg"] == ("add real server 192.0.2.5:80 of service tcp/192.0.2.13:80: Invalid argument; "
                             "nothing was changed: the 5 changes made before the failure were undone")
    assert len(result["operations"]) == 6
    assert fake.table() == original


def test_failed_restore_is_reported(fake_ipvs):
    calls = []

    def refuse(op):
        calls.append(op["action"])
        if op.get("real_server", {}).get("address") == "192.0.2.5":
            return errno.EINVAL
        return errno.EPERM if len(calls) > 6 else 0  # everything in the restore

    fake = fake_ipvs(live_table(CURRENT), refuse=refuse)
    result = fails(main, DESIRED)
    assert result["msg"].startswith("add real server 192.0.2.5:80 of service tcp/192.0.2.13:80: Invalid argument; "
                                    "restoring the table failed too (")
    assert "lvs.cluster.ipvs_info" in result["msg"]
    assert len(fake.applied) == 2


def test_entries_take_the_values_ansible_would_have_converted(fake_ipvs):
    """Strings for integers and booleans, a comma-separated string for a list, None for a default."""
    fake = fake_ipvs([])
    service = {"address": "192.0.2.53", "port": "53", "protocol": "udp", "one_packet": "yes", "scheduler": "sh",
               "scheduler_flags": "sh-port,sh-fallback", "persistence_timeout": None,
               "real_servers": [{"address": "192.0.2.4", "weight": "7", "forwarding": None, "port": None}]}
    exits(main, {"services": [service]})
    live = fake.table()[0]
    assert (live["port"], live["one_packet"], live["scheduler_flags"], live["persistence_timeout"]) == \
        (53, True, ["flag-1", "flag-2"], 0)
    assert live["real_servers"] == [{"address": "192.0.2.4", "port": 53, "weight": 7, "forwarding": "dr",
                                     "upper_threshold": 0, "lower_threshold": 0}]
    again = exits(main, {"services": [dict(service, one_packet=True, scheduler_flags=["sh-fallback", "sh-port"],
                                           port=53)]})
    assert again["changed"] is False


def test_the_documented_entry_options_are_what_the_model_applies():
    """ipvs_table leaves its entries to ipvs_state: the documentation must still describe
    common.service_spec() (type, default, choices, elements, required) option for option."""
    import yaml

    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common

    documented = yaml.safe_load(ipvs_table.DOCUMENTATION)["options"]["services"]["suboptions"]
    spec = common.service_spec()
    spec["real_servers"]["default"] = []
    assert set(documented) == set(spec) == set(state.SERVICE_OPTIONS)
    assert set(documented["real_servers"]["suboptions"]) == set(spec["real_servers"]["options"]) == \
        set(state.REAL_SERVER_OPTIONS)

    def same(doc: dict, option: dict, name: str) -> None:
        for key in ("type", "default", "choices", "elements", "required"):
            assert doc.get(key, False if key == "required" else None) == \
                option.get(key, False if key == "required" else None), (name, key)

    for name, option in spec.items():
        same(documented[name], option, name)
    for name, option in spec["real_servers"]["options"].items():
        same(documented["real_servers"]["suboptions"][name], option, "real_servers." + name)


def test_a_listed_service_that_needs_no_change_is_not_in_the_diff(fake_ipvs):
    fake_ipvs(live_table([HTTP]))
    diff = exits(main, {"services": [HTTP, HTTP6]}, diff=True)["diff"]
    assert diff["before"] == {}
    assert set(diff["after"]) == {"tcp/[2001:db8::13]:80"}


# ------------------------------------------------------------------ states

def test_the_documented_states_are_the_model_s():
    import yaml

    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_resource as resource

    assert yaml.safe_load(ipvs_table.DOCUMENTATION)["options"]["state"]["choices"] == list(resource.STATES)


def converge_twice(fake, args):
    """Check mode, run, check mode, run: return the first run's result after asserting the rest."""
    before, writes = fake.table(), len(fake.writes)
    checked = exits(main, args, check_mode=True, diff=True)
    assert fake.table() == before and len(fake.writes) == writes
    real = exits(main, args, diff=True)
    for name in ("changed", "operations", "services", "diff"):
        assert checked[name] == real[name], name
    assert exits(main, args, check_mode=True)["changed"] is False
    again = exits(main, args)
    assert again["changed"] is False and again["operations"] == []
    return real


def test_state_replaced_is_the_default_and_overridden_is_purge(fake_ipvs):
    for args, same in (({"services": [HTTP, HTTP6], "state": "replaced"}, {"services": [HTTP, HTTP6]}),
                       (dict(DESIRED, purge=False, state="overridden"), DESIRED),
                       (dict(DESIRED, state="overridden"), DESIRED)):
        fake = fake_ipvs(live_table(CURRENT))
        first = exits(main, args)
        fake_ipvs(live_table(CURRENT))
        second = exits(main, same)
        assert second.pop("invocation") != first.pop("invocation")  # the arguments as given
        assert second == first
        assert fake.table() != live_table(CURRENT)


def test_state_merged_keeps_unlisted_real_servers_and_unset_options(fake_ipvs):
    live = [dict(HTTP, scheduler="rr", persistence_timeout=60,
                 real_servers=[{"address": "192.0.2.4", "weight": 5, "forwarding": "nat", "port": 8080},
                               {"address": "192.0.2.5", "weight": 5}])] + KEEPALIVED
    fake = fake_ipvs(live_table(live))
    args = {"state": "merged", "services": [
        {"address": "192.0.2.13", "port": 80,
         "real_servers": [{"address": "192.0.2.5", "weight": 0}, {"address": "192.0.2.6"}]},
        {"address": "192.0.2.14", "port": 80}]}
    result = converge_twice(fake, args)
    assert result["operations"] == [
        "edit real server 192.0.2.5:80 in tcp/192.0.2.13:80 (dr, weight 0)",
        "add real server 192.0.2.6:80 in tcp/192.0.2.13:80 (dr, weight 1)",
        "add service tcp/192.0.2.14:80 (scheduler wlc)",
    ]
    http = fake.table()[0]
    assert (http["scheduler"], http["persistence_timeout"]) == ("rr", 60)
    assert [(r["address"], r["port"], r["weight"], r["forwarding"]) for r in http["real_servers"]] == [
        ("192.0.2.4", 8080, 5, "nat"), ("192.0.2.5", 80, 0, "dr"), ("192.0.2.6", 80, 1, "dr")]
    assert len(fake.table()) == len(live) + 1


def test_state_deleted_removes_listed_services(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    stray = {k: v for k, v in STRAY.items() if k != "real_servers"}
    args = {"state": "deleted", "services": [stray, {"address": "192.0.2.99", "port": 80}]}
    result = converge_twice(fake, args)
    assert result["operations"] == ["delete service udp/192.0.2.13:53"]
    assert result["services"] == []
    assert set(result["diff"]["before"]) == {"udp/192.0.2.13:53"} and result["diff"]["after"] == {}
    assert fake.table() == live_table([s for s in CURRENT if s is not STRAY])


def test_state_deleted_without_services_removes_all_but_the_protected(fake_ipvs):
    fake = fake_ipvs(live_table(CURRENT))
    result = converge_twice(fake, {"state": "deleted", "purge_exclude": [{"address": "192.0.2.50"}]})
    assert result["operations"] == ["delete service tcp/192.0.2.13:80", "delete service udp/192.0.2.13:53",
                                    "delete service tcp/[2001:db8::50]:443"]
    assert fake.table() == live_table(KEEPALIVED[:2])
    converge_twice(fake, {"state": "deleted"})
    assert fake.table() == []


def test_state_gathered_returns_the_table_as_services_input(fake_ipvs):
    current = CURRENT + [{"fwmark": 3, "family": "ipv6", "scheduler": "mh", "scheduler_flags": ["mh-port"],
                          "real_servers": [{"address": "2001:db8::4", "port": 0, "forwarding": "tunnel"}]}]
    fake = fake_ipvs(live_table(current))
    result = exits(main, {"state": "gathered"}, check_mode=True, diff=True)
    assert result["changed"] is False and "diff" not in result and fake.applied == []
    gathered = result["gathered"]
    assert gathered[0] == {"address": "192.0.2.13", "port": 80,
                           "real_servers": [{"address": "192.0.2.4"}, {"address": "192.0.2.6"}]}
    assert {"fwmark": 3, "family": "ipv6", "scheduler": "mh", "scheduler_flags": ["mh-port"],
            "real_servers": [{"address": "2001:db8::4", "forwarding": "tunnel"}]} in gathered
    assert exits(main, {"state": "overridden", "services": gathered})["changed"] is False
    other = fake_ipvs([])  # another director
    exits(main, {"state": "overridden", "services": gathered})
    assert other.table() == live_table(current)


def test_states_rendered_and_parsed_need_no_kernel(fake_ipvs, monkeypatch):
    from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_common as common

    fake = fake_ipvs(live_table(CURRENT))
    monkeypatch.setattr(common, "HAS_PYROUTE2", False)
    rendered = exits(main, {"state": "rendered", "services": [HTTP, STRAY]})
    assert rendered.pop("invocation")["module_args"]["services"] == [HTTP, STRAY]
    assert rendered == {"changed": False, "rendered": [
        "-A -t 192.0.2.13:80 -s wlc",
        "-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 5",
        "-a -t 192.0.2.13:80 -r 192.0.2.5:80 -g -w 5",
        "-A -u 192.0.2.13:53 -s wlc",
        "-a -u 192.0.2.13:53 -r 192.0.2.4:53 -g -w 1",
    ]}
    parsed = exits(main, {"state": "parsed", "running_config": "\n".join(rendered["rendered"])})
    assert parsed["changed"] is False
    assert parsed["parsed"] == [{"address": "192.0.2.13", "port": 80, "real_servers": HTTP["real_servers"]},
                                {"protocol": "udp", "address": "192.0.2.13", "port": 53,
                                 "real_servers": [{"address": "192.0.2.4"}]}]
    assert fake.opened == 0 and fake.dumps == 0


STATE_BAD = [
    ("purge-with-merged", {"state": "merged", "services": [HTTP], "purge": True}, "purge: true conflicts with state: merged"),
    ("no-services", {"purge": True}, "services: required with state: omitted"),
    ("services-with-gathered", {"state": "gathered", "services": [HTTP]}, "services: state: gathered takes none"),
    ("config-without-parsed", {"state": "rendered", "services": [HTTP], "running_config": "-A -f 1"},
     "running_config: only state: parsed reads it, not state: rendered"),
    ("parsed-bad-line", {"state": "parsed", "running_config": "-A -t 192.0.2.13:80\n-a -t 192.0.2.13:80 -r 192.0.2.4 -w x"},
     "running_config: line 2 (-a -t 192.0.2.13:80 -r 192.0.2.4 -w x): weight: 'x' is not an integer"),
    ("rendered-heavy", {"state": "rendered", "services": [dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": 70000}])]},
     "services[0].real_servers: 192.0.2.4:80 has weight 70000"),
    ("deleted-real-servers", {"state": "deleted", "services": [HTTP]}, "services[0].real_servers: state: deleted"),
    ("deleted-bad-entry", {"state": "deleted", "services": [{"address": "192.0.2.13", "port": 0}]}, "services[0].port"),
    ("merged-bad-entry", {"state": "merged", "services": [dict(HTTP, scheduler="fast")]}, "services[0].scheduler"),
    ("exclude-with-replaced", {"state": "replaced", "services": [], "purge_exclude": [{"port": 80}]},
     "purge_exclude: state: replaced"),
]


@pytest.mark.parametrize("args, message", [c[1:] for c in STATE_BAD], ids=[c[0] for c in STATE_BAD])
def test_bad_state_input_fails_before_the_kernel(fake_ipvs, args, message):
    fake = fake_ipvs(live_table(CURRENT))
    result = fails(main, args)
    assert result["msg"].startswith(message), result["msg"]
    assert fake.opened == 0 and fake.applied == []


def test_invocation_echoes_a_short_services_list(fake_ipvs):
    fake_ipvs(live_table(CURRENT))
    result = exits(main, DESIRED)
    assert result["invocation"]["module_args"]["services"] == [HTTP, HTTP6]
    assert result["invocation"]["module_args"]["purge"] is True


@pytest.mark.parametrize("extra", [{}, {"state": "rendered"}])
def test_invocation_gives_a_long_services_list_as_its_size(fake_ipvs, extra):
    fake_ipvs([])
    services = [{"address": "192.0.2.13", "port": port} for port in range(1, ipvs_table.ECHO_LIMIT + 2)]
    result = exits(main, dict({"services": services}, **extra))
    assert result["invocation"]["module_args"]["services"] == "%d services (a list above %d is not echoed)" % (
        ipvs_table.ECHO_LIMIT + 1, ipvs_table.ECHO_LIMIT)
    assert result.get("rendered") or len(result["services"]) == ipvs_table.ECHO_LIMIT + 1
