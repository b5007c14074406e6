# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis strategies for valid IPVS tables, as module parameters.

``tables()`` draws a list of services the way a playbook writes them (IPv4, IPv6
and firewall-mark services; TCP, UDP, SCTP; every scheduler with its flags;
persistence with a netmask given as a prefix or a dotted mask; one-packet
scheduling; real servers with weights, forwarding methods, mapped ports and
thresholds).  Keys, addresses and settings come from small pools, so two tables
drawn one after the other share services and real servers that differ in one
setting or a few: a converge then edits, adds and deletes at once.  Used by the unit suite (against netlink_fake) and by
tests/kernel (against a real kernel): documentation addresses only.
"""

from __future__ import annotations

import copy

from hypothesis import strategies as st

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state

VIPS = {"ipv4": ["192.0.2.13", "192.0.2.14"], "ipv6": ["2001:db8::13", "2001:db8::14"]}
REAL_SERVERS = {"ipv4": ["192.0.2.%d" % n for n in range(4, 9)],
                "ipv6": ["2001:db8::%x" % n for n in range(4, 9)]}
PORTS = [80, 443]
FWMARKS = [1, 2]
FORWARDING = list(state.FORWARDING_CHOICES)
GENERIC_FLAGS = list(state.SCHED_FLAG_BITS)


def service_key(params: dict) -> tuple:
    return (params.get("fwmark"), params.get("family"), params.get("protocol"), params.get("address"),
            params.get("port"))


@st.composite
def real_server(draw, family: str, service_port: int | None, address: str) -> dict:
    forwarding = draw(st.sampled_from(FORWARDING))
    params: dict = {"address": address}
    nat = state.forwarding_name(forwarding) == "nat"
    if service_port is None:  # fwmark service: any port, whatever the forwarding
        params["port"] = draw(st.sampled_from([0, 80, 8080]))
    elif nat:
        params["port"] = draw(st.sampled_from([service_port, 8080]))
    elif draw(st.booleans()):
        params["port"] = service_port
    if nat or draw(st.booleans()):  # left out, it is direct routing
        params["forwarding"] = forwarding
    if draw(st.booleans()):
        params["weight"] = draw(st.sampled_from([0, 1, 5, state.MAX_WEIGHT]))
    if draw(st.booleans()):
        upper = draw(st.sampled_from([100, 200]))
        params["upper_threshold"] = upper
        params["lower_threshold"] = draw(st.sampled_from([0, 50, upper]))
    return params


@st.composite
def service_key_params(draw) -> dict:
    family = draw(st.sampled_from(sorted(VIPS)))
    if draw(st.booleans()):
        return {"fwmark": draw(st.sampled_from(FWMARKS)), "family": family}
    return {"address": draw(st.sampled_from(VIPS[family])), "port": draw(st.sampled_from(PORTS)),
            "protocol": draw(st.sampled_from(list(state.PROTOCOLS)))}


def family_of(params: dict) -> str:
    return params.get("family") or state.family_of(params["address"])


@st.composite
def service(draw, schedulers: tuple = state.SCHEDULERS, key: dict | None = None) -> dict:
    """A service: its key drawn, or ``key`` (the identity fields of another one)."""
    params = dict(key) if key is not None else draw(service_key_params())
    family, port, protocol = family_of(params), params.get("port"), params.get("protocol")
    scheduler = draw(st.sampled_from(list(schedulers)))
    params["scheduler"] = scheduler
    named = [name for name, (owner, _generic) in state.SCHED_FLAG_NAMES.items() if owner == scheduler]
    params["scheduler_flags"] = draw(st.lists(st.sampled_from(GENERIC_FLAGS + named), max_size=3, unique=True))
    if draw(st.booleans()):
        params["persistence_timeout"] = draw(st.sampled_from([60, 300, 86400]))
        if draw(st.booleans()):
            low = 1 if family == "ipv6" else 0
            prefix = draw(st.integers(low, state.full_prefix(family)))
            if family == "ipv4" and draw(st.booleans()):
                params["persistence_netmask"] = ".".join(
                    str((((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF) >> shift) & 0xFF) for shift in (24, 16, 8, 0))
            else:
                params["persistence_netmask"] = draw(st.sampled_from([prefix, str(prefix)]))
    if protocol in (None, "udp"):
        params["one_packet"] = draw(st.booleans())
    addresses = draw(st.lists(st.sampled_from(REAL_SERVERS[family]), max_size=4, unique=True))
    params["real_servers"] = [draw(real_server(family, port, address)) for address in addresses]
    return params


KEY_FIELDS = ("fwmark", "family", "address", "port", "protocol")


@st.composite
def edit_service_setting(draw, target: dict, schedulers: tuple) -> None:
    """Change exactly one setting of ``target`` (module parameters) to another valid value."""
    family, protocol = family_of(target), target.get("protocol")
    choices = ["scheduler", "flag", "persistence"]
    if target.get("persistence_timeout"):
        choices.append("netmask")
    if protocol in (None, "udp"):
        choices.append("one_packet")
    what = draw(st.sampled_from(choices))
    if what == "scheduler":
        others = [name for name in schedulers if name != target["scheduler"]]
        if others:
            target["scheduler"] = draw(st.sampled_from(others))
            target["scheduler_flags"] = [f for f in target["scheduler_flags"] if f in GENERIC_FLAGS]
    elif what == "flag":
        flag = draw(st.sampled_from(GENERIC_FLAGS))
        named = {generic for name, (owner, generic) in state.SCHED_FLAG_NAMES.items()
                 if name in target["scheduler_flags"]}
        if flag in target["scheduler_flags"] or flag in named:
            target["scheduler_flags"] = [f for f in target["scheduler_flags"]
                                         if f != flag and state.SCHED_FLAG_NAMES.get(f, (None, f))[1] != flag]
        else:
            target["scheduler_flags"] = target["scheduler_flags"] + [flag]
    elif what == "persistence":
        timeout = target.get("persistence_timeout") or 0
        target["persistence_timeout"] = draw(st.sampled_from([t for t in (0, 60, 300) if t != timeout]))
        if not target["persistence_timeout"]:
            target.pop("persistence_netmask", None)
    elif what == "netmask":
        now = state.service_from_params(target)["persistence_netmask"]
        low = 1 if family == "ipv6" else 0
        target["persistence_netmask"] = draw(st.sampled_from(
            [n for n in (low, 8, 24, 64, state.full_prefix(family)) if n != now and low <= n <= state.full_prefix(family)]))
    else:
        target["one_packet"] = not target.get("one_packet")


@st.composite
def edit_real_server_setting(draw, rs: dict, service_port: int | None) -> None:
    """Change exactly one setting of real server ``rs`` to another valid value."""
    choices = ["weight", "forwarding", "upper_threshold"]
    if rs.get("upper_threshold"):
        choices += ["lower_threshold", "lower_threshold"]
    what = draw(st.sampled_from(choices))
    if what == "weight":
        weight = rs.get("weight", 1)
        rs["weight"] = draw(st.sampled_from([w for w in (0, 1, 5, state.MAX_WEIGHT) if w != weight]))
    elif what == "forwarding":
        now = state.forwarding_name(rs.get("forwarding", "dr"))
        rs["forwarding"] = draw(st.sampled_from([f for f in FORWARDING if state.forwarding_name(f) != now]))
        if service_port is not None and state.forwarding_name(rs["forwarding"]) != "nat":
            rs["port"] = service_port  # only NAT maps the port
    elif not rs.get("upper_threshold"):
        rs["upper_threshold"] = 100  # the lower threshold stays 0
    elif what == "upper_threshold":
        lower = rs.get("lower_threshold", 0)
        rs["upper_threshold"] = draw(st.sampled_from([u for u in (100, 200, 300) if u != rs["upper_threshold"]
                                                      and u >= lower]))
    else:
        rs["lower_threshold"] = draw(st.sampled_from([v for v in (0, 50, 100) if v != rs.get("lower_threshold", 0)
                                                      and v <= rs["upper_threshold"]]))


def tables(max_services: int = 4, schedulers: tuple = state.SCHEDULERS, min_services: int = 0):
    """A valid desired table: services with distinct keys (and schedulers from ``schedulers``)."""
    return st.lists(service(schedulers), min_size=min_services, max_size=max_services, unique_by=service_key)


@st.composite
def table_pairs(draw, max_services: int = 4, schedulers: tuple = state.SCHEDULERS) -> tuple:
    """(start, desired): two tables drawn apart, or the second a few edits away from the
    first (one setting of a service or a real server, a real server or service added or
    removed), where a converge most easily misses a difference."""
    if draw(st.integers(0, 2)) == 0:
        return draw(tables(max_services, schedulers)), draw(tables(max_services, schedulers))
    start = draw(tables(max_services, schedulers, min_services=1))
    desired = copy.deepcopy(start)
    for _step in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["service setting", "real server setting", "real server setting",
                                     "drop real server", "add real server", "drop service", "add service"]))
        if not desired:
            kind = "add service"
        if kind == "add service":
            new = draw(service(schedulers))
            if all(service_key(new) != service_key(other) for other in desired) and len(desired) < max_services:
                desired.append(new)
            continue
        with_real_servers = [i for i, s in enumerate(desired) if s["real_servers"]]
        if kind in ("real server setting", "drop real server") and with_real_servers:
            index = draw(st.sampled_from(with_real_servers))
        else:
            index = draw(st.integers(0, len(desired) - 1))
        target = desired[index]
        family, port = family_of(target), target.get("port")
        if kind == "drop service":
            del desired[index]
        elif kind == "service setting":
            draw(edit_service_setting(target, schedulers))
        elif kind == "add real server":
            free = [a for a in REAL_SERVERS[family] if a not in {rs["address"] for rs in target["real_servers"]}]
            if free:
                target["real_servers"].append(draw(real_server(family, port, draw(st.sampled_from(free)))))
        elif target["real_servers"]:
            at = draw(st.integers(0, len(target["real_servers"]) - 1))
            if kind == "drop real server":
                del target["real_servers"][at]
            else:
                draw(edit_real_server_setting(target["real_servers"][at], port))
    return start, desired


def canonical(params: list) -> list:
    """The table as the model (and a dump) describes ``params``."""
    return state.sort_table(state.services_from_params(copy.deepcopy(params)))
