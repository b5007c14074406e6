# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipvs_table's states: which parameters each takes, merged's live values, each state's operations."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_resource as resource
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

HTTP = {"address": "192.0.2.13", "port": 80}
LIVE = state.services_from_params([
    dict(HTTP, scheduler="sh", scheduler_flags=["sh-port"], persistence_timeout=300, persistence_netmask=24,
         real_servers=[{"address": "192.0.2.4", "weight": 5, "upper_threshold": 100, "lower_threshold": 50},
                       {"address": "192.0.2.5", "weight": 5}]),
    {"protocol": "udp", "address": "192.0.2.13", "port": 53, "real_servers": [{"address": "192.0.2.4"}]},
    {"address": "192.0.2.50", "port": 443},
])


def params(**kwargs):
    base = {"state": None, "services": None, "purge": False, "purge_exclude": [], "running_config": None}
    base.update(kwargs)
    return base


GOOD = [
    (params(services=[]), "replaced"),
    (params(services=[], purge=True), "overridden"),
    (params(services=[], purge=True, state="overridden"), "overridden"),
    (params(services=[], purge_exclude=[{"port": 1}]), "replaced"),  # accepted before states, and still
    (params(state="merged", services=[HTTP]), "merged"),
    (params(state="deleted"), "deleted"),
    (params(state="deleted", services=[]), "deleted"),
    (params(state="deleted", purge_exclude=[{"address": "192.0.2.50"}]), "deleted"),
    (params(state="gathered"), "gathered"),
    (params(state="rendered", services=[HTTP]), "rendered"),
    (params(state="parsed", running_config=""), "parsed"),
]


@pytest.mark.parametrize("given, effective", GOOD)
def test_effective_state(given, effective):
    assert resource.effective_state(given) == effective


BAD = [
    (params(state="merged", services=[], purge=True), "purge: true conflicts with state: merged"),
    (params(state="deleted", purge=True), "purge: true conflicts with state: deleted"),
    (params(state="gathered", purge=True), "purge: true conflicts with state: gathered"),
    (params(services=[], running_config="-A -f 1"), "running_config: only state: parsed reads it, not state: omitted"),
    (params(state="gathered", running_config="-A -f 1"), "running_config: only state: parsed"),
    (params(state="parsed"), "running_config: state: parsed needs"),
    (params(state="parsed", running_config="", services=[]), "services: state: parsed takes none"),
    (params(state="gathered", services=[HTTP]), "services: state: gathered takes none"),
    (params(), "services: required with state: omitted"),
    (params(state="merged"), "services: required with state: merged"),
    (params(state="replaced"), "services: required with state: replaced"),
    (params(state="overridden"), "services: required with state: overridden"),
    (params(state="rendered"), "services: required with state: rendered"),
    (params(state="replaced", services=[], purge_exclude=[{"port": 1}]), "purge_exclude: state: replaced removes no"),
    (params(state="gathered", purge_exclude=[{"port": 1}]), "purge_exclude: state: gathered"),
    (params(state="deleted", services=[HTTP], purge_exclude=[{"port": 1}]), "purge_exclude: with state: deleted"),
    (params(state="absent", services=[]), "state: 'absent' is not one of"),
]


@pytest.mark.parametrize("given, message", BAD, ids=[b[1][:40] for b in BAD])
def test_conflicting_parameters_are_refused_naming_them(given, message):
    with pytest.raises(IPVSValidationError) as info:
        resource.effective_state(given)
    assert str(info.value).startswith(message), str(info.value)


def test_merged_fills_unset_options_from_the_live_service():
    desired = resource.merged_services([dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": 7},
                                                                 {"address": "192.0.2.6"}])], LIVE)
    service = desired[0]
    assert (service["scheduler"], service["scheduler_flags"], service["persistence_timeout"],
            service["persistence_netmask"]) == ("sh", ["flag-2"], 300, 24)
    assert service["real_servers"] == [
        {"address": "192.0.2.4", "port": 80, "weight": 7, "forwarding": "dr", "upper_threshold": 100,
         "lower_threshold": 50},
        {"address": "192.0.2.6", "port": 80, "weight": 1, "forwarding": "dr", "upper_threshold": 0,
         "lower_threshold": 0},
    ]
    ops = resource.plan("merged", desired, LIVE)
    assert [state.describe(op) for op in ops] == [
        "edit real server 192.0.2.4:80 in tcp/192.0.2.13:80 (dr, weight 7)",
        "add real server 192.0.2.6:80 in tcp/192.0.2.13:80 (dr, weight 1)",
    ]


def test_merged_sets_what_an_entry_gives():
    desired = resource.merged_services([dict(HTTP, scheduler="rr", persistence_timeout=0,
                                             real_servers=[{"address": "192.0.2.4", "upper_threshold": 0}])], LIVE)
    service = desired[0]
    assert (service["scheduler"], service["persistence_timeout"], service["persistence_netmask"]) == ("rr", 0, 32)
    assert service["real_servers"][0]["upper_threshold"] == service["real_servers"][0]["lower_threshold"] == 0
    assert service["real_servers"][0]["weight"] == 5
    assert [op["action"] for op in resource.plan("merged", desired, LIVE)] == ["edit_service", "edit_real_server"]


def test_merged_adds_a_new_service_with_the_defaults():
    new = {"address": "192.0.2.14", "port": 80}
    assert resource.merged_services([new], LIVE) == state.services_from_params([new])


def test_merged_names_a_bad_entry_as_written():
    with pytest.raises(IPVSValidationError, match=r"^services\[1\]\.real_servers\[0\]\.weight: -1 is out of range"):
        resource.merged_services([HTTP, dict(HTTP, port=81, real_servers=[{"address": "192.0.2.4", "weight": -1}])],
                                 LIVE)


def keys(ops):
    return [(op["action"], state.service_id(op["service"])) for op in ops]


def test_replaced_and_overridden_set_listed_services_exactly():
    desired = state.services_from_params([dict(HTTP, real_servers=[{"address": "192.0.2.4", "weight": 5}])])
    replaced = resource.plan("replaced", desired, LIVE)
    assert keys(replaced) == [("edit_service", "tcp/192.0.2.13:80"), ("edit_real_server", "tcp/192.0.2.13:80"),
                              ("delete_real_server", "tcp/192.0.2.13:80")]
    overridden = resource.plan("overridden", desired, LIVE, exclude=[{"port": 443}])
    assert overridden == replaced + [{"action": "delete_service", "service": LIVE[1]}]


def test_deleted_removes_listed_services_or_all_but_the_protected():
    listed = state.services_from_params([{"protocol": "udp", "address": "192.0.2.13", "port": 53},
                                         {"address": "192.0.2.99", "port": 80}])
    assert resource.plan("deleted", listed, LIVE) == [{"action": "delete_service", "service": LIVE[1]}]
    assert keys(resource.plan("deleted", [], LIVE, exclude=[{"address": "192.0.2.50"}])) == [
        ("delete_service", "tcp/192.0.2.13:80"), ("delete_service", "udp/192.0.2.13:53")]
    assert len(resource.plan("deleted", [], LIVE)) == 3


def test_deleted_refuses_real_servers_in_an_entry():
    assert resource.services_to_delete([dict(HTTP, scheduler="rr", real_servers=[])]) == \
        state.services_from_params([dict(HTTP, scheduler="rr")])
    with pytest.raises(IPVSValidationError, match=r"^services\[0\]\.real_servers: state: deleted removes whole"):
        resource.services_to_delete([dict(HTTP, real_servers=[{"address": "192.0.2.4"}])])
