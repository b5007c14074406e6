# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting on the live IPVS table until some real servers are drained or back.

A real server is named by its address: every entry of that address, in every
service and on any port, counts.  The states waited for:

``drained``      every entry at weight 0 and none with an active connection;
``weight_zero``  every entry at weight 0 (its owner quiesced it; connections may be left);
``active``       every entry at a weight above 0 (its owner put it back);
``absent``       no entry at all (an owner that removes a failed real server did).

Given ``services`` (ids as ``ipvs_state.service_id`` writes them), only entries in
those services count, and each of them must hold one for the first three.  None of
the first three holds while the addresses are in no service at all.  ``wait()``
polls a reader (the adapter's dump) with an injected clock, so that the tests
need no sleeping, and keeps a short list of the steps where something changed;
``outcome()`` says whether the wait failed and the line a person reads.
"""

from __future__ import annotations

import math
import re
import time

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state

STATES = ("drained", "weight_zero", "active", "absent")
SERVICE_ID = re.compile(r"^(?:(?P<protocol>[a-z]+)/(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:/\[\]]+)):(?P<port>\d+)"
                        r"|fwmark/(?P<fwmark>\d+)/(?P<family>ipv4|ipv6))$")


def service_ref(value, where: str) -> str:
    """A service id (``tcp/192.0.2.13:80``, ``tcp/[2001:db8::13]:80``, ``fwmark/21/ipv4``), canonical,
    or IPVSValidationError naming ``where``."""
    match = SERVICE_ID.match(value) if isinstance(value, str) else None
    if not match:
        raise state.IPVSValidationError(
            "%s: %r is not a service as PROTOCOL/ADDRESS:PORT ([ADDRESS] for IPv6) or fwmark/MARK/FAMILY"
            % (where, value))
    if match["fwmark"]:
        mark = int(match["fwmark"])
        if not 1 <= mark <= state.MAX_FWMARK:
            raise state.IPVSValidationError("%s: firewall mark %d is not in 1..%d" % (where, mark, state.MAX_FWMARK))
        return state.service_id({"fwmark": mark, "family": match["family"]})
    if match["protocol"] not in state.PROTOCOLS:
        raise state.IPVSValidationError("%s: protocol %r is not one of %s"
                                        % (where, match["protocol"], ", ".join(state.PROTOCOLS)))
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise state.IPVSValidationError("%s: port %d is not in 1..65535" % (where, port))
    address = state.canonical_address(match["v6"] or match["v4"], where)
    if bool(match["v6"]) != (":" in address):
        raise state.IPVSValidationError("%s: %r brackets an IPv6 address only" % (where, value))
    return state.service_id({"protocol": match["protocol"], "address": address, "port": port})


def params_from(params: dict) -> dict:
    """The checked options (real_servers, state, timeout, interval, fail_on_timeout, label, hint),
    or IPVSValidationError naming the option."""
    addresses = params.get("real_servers")
    if not isinstance(addresses, list) or not addresses:
        raise state.IPVSValidationError("real_servers: give at least one address")
    wanted: list = []
    for index, value in enumerate(addresses):
        address = state.canonical_address(value, "real_servers[%d]" % index)
        if address not in wanted:
            wanted.append(address)
    what = params.get("state") or "drained"
    if what not in STATES:
        raise state.IPVSValidationError("state: %r is not one of %s" % (what, ", ".join(STATES)))
    numbers = {}
    for name, low_ok in (("timeout", True), ("interval", False)):
        value = params.get(name)
        try:
            number = float(value if value is not None else "")
        except (TypeError, ValueError):
            raise state.IPVSValidationError("%s: %r is not a number of seconds" % (name, value)) from None
        if not math.isfinite(number) or number < 0 or (number == 0 and not low_ok):
            raise state.IPVSValidationError("%s: %r must be a finite number of seconds %s" % (
                name, value, "of 0 or more" if low_ok else "above 0"))
        numbers[name] = number
    services = params.get("services")
    if services is not None and not isinstance(services, list):
        raise state.IPVSValidationError("services: give a list of services, got %r" % (services,))
    refs: list = []
    for index, value in enumerate(services or []):
        ref = service_ref(value, "services[%d]" % index)
        if ref not in refs:
            refs.append(ref)
    fail = params.get("fail_on_timeout")
    return {"addresses": wanted, "state": what, "services": refs, "timeout": numbers["timeout"],
            "interval": numbers["interval"], "fail_on_timeout": None if fail is None else bool(fail),
            "label": params.get("label") or "", "hint": params.get("hint") or ""}


def entries_of(table: list, addresses: list, services: list | None = None) -> list:
    """Every entry of the addresses in a table dumped with stats (in ``services`` only, when
    given): service (its id), address, port, weight, active and inactive connections, in
    table order."""
    wanted = set(addresses)
    return [{"service": state.service_id(service), "address": rs["address"], "port": rs["port"],
             "weight": rs["weight"], "active_connections": rs.get("active_connections") or 0,
             "inactive_connections": rs.get("inactive_connections") or 0}
            for service in table if not services or state.service_id(service) in services
            for rs in service.get("real_servers") or [] if rs["address"] in wanted]


def missing(entries: list, services: list | None) -> list:
    """The ``services`` with no entry among ``entries``."""
    held = {e["service"] for e in entries}
    return [ref for ref in services or [] if ref not in held]


def weight_done(what: str, entries: list, services: list | None = None) -> bool:
    """The weight part of ``what``: every entry at 0 (drained, weight_zero) or above 0 (active),
    with one in each of ``services``; no entry at all (absent)."""
    if what == "absent":
        return not entries
    if not entries or missing(entries, services):
        return False
    if what == "active":
        return all(e["weight"] > 0 for e in entries)
    return all(e["weight"] == 0 for e in entries)


def done(what: str, entries: list, services: list | None = None) -> bool:
    """Whether ``what`` holds for the entries (never for none, but absent)."""
    if not weight_done(what, entries, services):
        return False
    return what != "drained" or all(e["active_connections"] == 0 for e in entries)


def active_connections(entries: list) -> int:
    return sum(e["active_connections"] for e in entries)


def progress(entries: list) -> dict:
    """What a step shows: entries at weight 0 out of all, and active connections."""
    return {"weight0": "%d/%d" % (sum(1 for e in entries if e["weight"] == 0), len(entries)),
            "active": active_connections(entries)}


def wait(read, what: str, timeout: float, interval: float, clock=None, sleep=None, services=None) -> dict:
    """Read the entries (``read()``) until ``what`` holds (with ``services``, see ``done``) or
    ``timeout`` seconds pass.

    Returns reached, waited, entries (the last read), steps (the reads where the
    weights or the active connections changed, the first one always) and
    weight_after (seconds until the weight part held, from the last read on where it
    held throughout; None when it does not hold at the end).
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    steps: list = []
    weight_after = None
    while True:
        entries = read()
        elapsed = clock() - start
        shown = progress(entries)
        if not steps or {k: v for k, v in steps[-1].items() if k != "t"} != shown:
            steps.append(dict(t=round(elapsed, 1), **shown))
        if not weight_done(what, entries, services):
            weight_after = None
        elif weight_after is None:
            weight_after = elapsed
        if done(what, entries, services) or elapsed >= timeout:
            return {"reached": done(what, entries, services), "waited": round(elapsed, 2), "entries": entries,
                    "steps": steps, "weight_after": weight_after}
        sleep(min(interval, max(timeout - elapsed, 0)))


def _seconds(value: float) -> str:
    return ("%.1f" % value).rstrip("0").rstrip(".") if value != int(value) else "%d" % value


def _services(entries: list) -> str:
    count = len({e["service"] for e in entries})
    return "%d service%s" % (count, "" if count == 1 else "s")


def weights(entries: list) -> list:
    """The entries as ``address:port:weight``."""
    return ["%s:%d:%d" % (e["address"], e["port"], e["weight"]) for e in entries]


def outcome(params: dict, result: dict) -> tuple:
    """(failed, msg) for a finished wait: one line a person reads.

    Addresses in no service (in none of ``services``, when given) always fail, but for
    ``absent``; so does a service of ``services`` that never held one (the owner did not
    put it back).  At the timeout, ``fail_on_timeout`` decides;
    unset, weights not as asked fail (the owner did not act) and the active
    connections left on a drained real server are only reported.
    """
    fail = params["fail_on_timeout"]
    who = ", ".join(params["addresses"])
    head = "%s: %s" % (params["label"], who) if params["label"] else who
    hint = " (%s)" % params["hint"] if params["hint"] else ""
    what, entries = params["state"], result["entries"]
    waited = _seconds(result["waited"])
    listed = ", ".join(weights(entries))
    if what == "absent":
        count = len(params["services"])
        scope = "%d service%s" % (count, "" if count == 1 else "s") if count else "every service"
        if result["weight_after"] is not None:
            return False, "%s: out of %s after %s s" % (head, scope, _seconds(round(result["weight_after"], 1)))
        return (fail is not False, "%s is still in %s after %s s%s: %s" % (
            head, _services(entries), waited, hint, listed))
    if not entries:
        where = ("in none of " + ", ".join(params["services"]) if params["services"]
                 else "in no service of the IPVS table")
        return True, "%s is %s (after %s s)" % (head, where, waited)
    absent = missing(entries, params["services"])
    if absent:
        return True, "%s is not in %s after %s s%s: %s" % (head, ", ".join(absent), waited, hint, listed)
    if result["weight_after"] is None:
        if what == "active":
            zero = [e for e in entries if e["weight"] == 0]
            return (fail is not False, "%s is still at weight 0 in %s of %s after %s s%s: %s" % (
                head, _services(zero), _services(entries), waited, hint, listed))
        return (fail is not False,
                "%s still has a weight above 0 after %s s%s: %s" % (head, waited, hint, listed))
    weight = "%s: weight %s on %s after %s s" % (
        head, "above 0" if what == "active" else "0", _services(entries), _seconds(round(result["weight_after"], 1)))
    if what != "drained":
        return False, weight
    left = active_connections(entries)
    if not left:
        return False, "%s, no active connection after %s s" % (weight, waited)
    return (fail is True, "%s, %d active connection%s left after %s s" % (
        weight, left, "" if left == 1 else "s", waited))
