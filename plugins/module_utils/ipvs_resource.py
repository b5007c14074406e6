# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The states of ipvs_table, after Ansible's network resource modules.

Pure functions, no kernel: which parameters each state takes (``effective_state``),
what ``merged`` makes of a listed service's unset options (``merged_services``) and
the operations each state asks for (``plan``).

| state | listed services | their unlisted real servers | unlisted services |
| --- | --- | --- | --- |
| merged | added, or the options given updated | kept | kept |
| replaced | added or set exactly as listed | removed | kept |
| overridden | added or set exactly as listed | removed | removed, but those purge_exclude protects |
| deleted | removed (with their real servers) | - | kept; all removed but those purge_exclude protects when none are listed |

Without ``state``, ``purge: false`` is ``replaced`` and ``purge: true`` is ``overridden``
(what ipvs_table did before it had states).  ``gathered`` reads the table,
``rendered`` and ``parsed`` need no kernel at all.
"""

from __future__ import annotations

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

STATES = ("merged", "replaced", "overridden", "deleted", "gathered", "rendered", "parsed")
# The states that change the table, and those that read it.
WRITING_STATES = ("merged", "replaced", "overridden", "deleted")
NEEDS_SERVICES = ("merged", "replaced", "overridden", "rendered")
KEY_OPTIONS = ("protocol", "address", "port", "fwmark", "family")


def effective_state(params: dict) -> str:
    """The state a run of ipvs_table means, or IPVSValidationError naming the parameters that conflict.

    ``params`` are the module's: state, services, purge, purge_exclude, running_config.
    """
    given = params.get("state")
    shown = given or "omitted"
    if given is not None and given not in STATES:
        raise IPVSValidationError("state: %r is not one of %s" % (given, ", ".join(STATES)))
    if params.get("purge") and given not in (None, "overridden"):
        raise IPVSValidationError("purge: true conflicts with state: %s (purge: true means state: overridden); "
                                  "give one of them" % given)
    if params.get("running_config") is not None and given != "parsed":
        raise IPVSValidationError("running_config: only state: parsed reads it, not state: %s" % shown)
    if given == "parsed" and params.get("running_config") is None:
        raise IPVSValidationError("running_config: state: parsed needs the text of an ipvsadm -S file")
    services = params.get("services")
    if given in ("gathered", "parsed") and services is not None:
        raise IPVSValidationError("services: state: %s takes none (it returns the table as services)" % given)
    if (given is None or given in NEEDS_SERVICES) and services is None:
        raise IPVSValidationError("services: required with state: %s (only deleted, gathered and parsed need none)"
                                  % shown)
    if params.get("purge_exclude"):
        if given in ("merged", "replaced", "gathered", "rendered", "parsed"):
            raise IPVSValidationError("purge_exclude: state: %s removes no unlisted service, so there is nothing "
                                      "to protect (it applies to state: overridden and deleted)" % given)
        if given == "deleted" and services:
            raise IPVSValidationError("purge_exclude: with state: deleted it protects services from the removal of "
                                      "all; it does not apply when services lists the ones to remove")
    if given is None:
        return "overridden" if params.get("purge") else "replaced"
    return given


def services_to_delete(items: list) -> list:
    """The services ``state: deleted`` lists, validated; an entry with real servers is refused."""
    desired = state.services_from_params(items)
    for index, item in enumerate(items):
        if item.get("real_servers"):
            raise IPVSValidationError(
                "services[%d].real_servers: state: deleted removes whole services; to remove some real servers, "
                "list the service as it should be with state: replaced" % index)
    return desired


def _is_zero(value) -> bool:
    return not isinstance(value, bool) and (value == 0 or (isinstance(value, str) and value.strip() in ("0", "+0", "-0")))


def _merge_real_servers(items, service: dict, live: dict) -> list:
    """Real servers of a merged entry: a live one's unset options take its live values."""
    have = {state.real_server_id(r): r for r in live["real_servers"]}
    merged = []
    for item in items:
        if not isinstance(item, dict):
            merged.append(item)
            continue
        try:
            address = state.canonical_address(item.get("address"), "address")
            port = int(item["port"]) if item.get("port") is not None else (service["port"] or 0)
        except (IPVSValidationError, TypeError, ValueError):
            merged.append(item)  # the validation that follows names what is wrong
            continue
        current = have.get(state.endpoint(address, port))
        if current is None:
            merged.append(item)
            continue
        item = dict(item)
        for name in ("weight", "forwarding"):
            if item.get(name) is None:
                item[name] = current[name]
        if item.get("upper_threshold") is None and item.get("lower_threshold") is None:
            item["upper_threshold"], item["lower_threshold"] = current["upper_threshold"], current["lower_threshold"]
        merged.append(item)
    return merged


def merged_services(items: list, current: list) -> list:
    """The services ``state: merged`` asks for: each entry valid on its own (as for every
    state), then, for a service that is live, each option the entry leaves unset
    (None or absent) takes its live value, and so do those of its real servers.
    Real servers it does not list are kept by ``plan``."""
    state.services_from_params(items)  # every error named as the user wrote the entries
    live = {state.service_key(s): s for s in current}
    merged = []
    for item in items:
        service = state.service_from_params({name: item.get(name) for name in KEY_OPTIONS})
        have = live.get(state.service_key(service))
        if have is None:
            merged.append(item)
            continue
        item = dict(item)
        given_timeout = item.get("persistence_timeout")
        for name in ("scheduler", "scheduler_flags", "one_packet", "persistence_timeout"):
            if item.get(name) is None:
                item[name] = have[name]
        if item.get("persistence_netmask") is None and not (given_timeout is not None and _is_zero(given_timeout)):
            item["persistence_netmask"] = have["persistence_netmask"]
        if isinstance(item.get("real_servers"), list):
            item["real_servers"] = _merge_real_servers(item["real_servers"], service, have)
        merged.append(item)
    return state.services_from_params(merged)


def plan(mode: str, desired: list, current: list, exclude: list | None = None) -> list:
    """The operations ``mode`` (merged, replaced, overridden or deleted) asks for."""
    if mode == "replaced":
        return state.diff_table(desired, current)
    if mode == "overridden":
        return state.diff_table(desired, current, purge=True, exclude=exclude)
    live = {state.service_key(s): s for s in current}
    if mode == "merged":
        ops = []
        for service in desired:
            ops.extend(state.diff_service(service, live.get(state.service_key(service)), purge_real_servers=False))
        return ops
    if mode == "deleted":
        if desired:
            return [{"action": "delete_service", "service": live[state.service_key(s)]}
                    for s in desired if state.service_key(s) in live]
        return [{"action": "delete_service", "service": s} for s in current
                if not any(state.matches(s, selector) for selector in exclude or [])]
    raise ValueError("plan: %r changes nothing" % mode)
