# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VIP addresses of one interface, as a model: validate, plan, describe.

An address the collection puts on an interface carries a mark: the address
protocol (``IFA_PROTO``, Linux >= 5.18) set to ``protocol``.  ``plan`` compares
the desired VIPs with the addresses the kernel holds (plain dicts from the
adapter in ``vip_netlink``) and returns the operations that make the marked
addresses exactly the desired ones, without ever removing an unmarked address.
``converge`` runs read-plan-apply over any adapter object (the netlink one, or
a fake in the unit tests); it does no I/O of its own.

This file has no import beyond the standard library: the roles copy it, with
vip_netlink.py, onto the hosts, where the VIP boot units run the same code.
"""

from __future__ import annotations

import ipaddress

# Address protocols 0-3 are the kernel's (unspec, kernel_lo, kernel_ra, kernel_ll).
PROTOCOL_MIN = 4
PROTOCOL_MAX = 255
DEFAULT_PROTOCOL = 76
# IFA_PROTO exists from Linux 5.18; an IPv4 address takes a new protocol in place
# (RTM_NEWADDR with NLM_F_REPLACE) from 6.4 ("net: ipv4: Allow changing IPv4
# address protocol"); earlier kernels acknowledge the request and ignore the value.
KERNEL_PROTO = (5, 18)
KERNEL_IPV4_REPROTO = (6, 4)
IFNAMSIZ = 16  # interface names and IPv4 labels: at most 15 characters
IFA_F_NODAD = 0x02
# An IPv6 VIP is deprecated (preferred lifetime 0, valid forever): still the
# destination it must be, never picked as a source address. Else source address
# selection prefers the /128 VIP over the host's own /64 address for every
# neighbour on the segment (its match is capped at the prefix length), and a
# director's checks leave from the VIP: the real server answers its own lo.
IFA_F_DEPRECATED = 0x20
FULL_PREFIX = {"ipv4": 32, "ipv6": 128}
STATES = ("present", "absent")


class VipError(Exception):
    """Base of the errors below; ``str()`` is the message for the user."""


class VipValidationError(VipError):
    """Bad input, found before anything is read or changed; the message names the parameter."""


class VipConflictError(VipError):
    """The live addresses stand in the way (an unmarked copy of a VIP); found before any change."""


class VipKernelError(VipError):
    """The kernel refused or failed a request; ``code`` is the errno when there is one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ input


def _quoted(value) -> str:
    """``value`` shown safely in a message (repr escapes newlines and other controls)."""
    return repr(value)


def check_interface(name) -> str:
    if not isinstance(name, str) or not name:
        raise VipValidationError("interface: an interface name is required")
    if len(name) >= IFNAMSIZ or "/" in name or ":" in name or any(c.isspace() for c in name) or name in (".", ".."):
        raise VipValidationError("interface: %s is not an interface name (at most %d characters, no '/', ':' or blanks)"
                                 % (_quoted(name), IFNAMSIZ - 1))
    return name


def check_protocol(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VipValidationError("protocol: %s is not an integer" % _quoted(value))
    if value < PROTOCOL_MIN:
        raise VipValidationError("protocol: %d belongs to the kernel (0 unspec, 1 kernel_lo, 2 kernel_ra, 3 kernel_ll); "
                                 "use %d..%d" % (value, PROTOCOL_MIN, PROTOCOL_MAX))
    if value > PROTOCOL_MAX:
        raise VipValidationError("protocol: %d is out of range (%d..%d)" % (value, PROTOCOL_MIN, PROTOCOL_MAX))
    return value


def canonical_address(value, param: str) -> str:
    """The canonical spelling of one VIP (``ipaddress``'s compressed form), or a VipValidationError naming ``param``."""
    if not isinstance(value, str):
        raise VipValidationError("%s: %s is not a string" % (param, _quoted(value)))
    if value == "":
        raise VipValidationError("%s: an empty string is not an address" % param)
    if "%" in value:
        raise VipValidationError("%s: %s has a zone ID; a VIP takes none" % (param, _quoted(value)))
    if "/" in value:
        raise VipValidationError("%s: %s is a network or has a prefix length; give the address alone "
                                 "(IPv4 VIPs go on as /32, IPv6 as /128)" % (param, _quoted(value)))
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise VipValidationError("%s: %s is not an IPv4 or IPv6 address (names are not resolved)"
                                 % (param, _quoted(value))) from None
    if address.is_multicast or address.is_unspecified:
        raise VipValidationError("%s: %s is %s address, not one a host can hold"
                                 % (param, value, "a multicast" if address.is_multicast else "the unspecified"))
    return address.compressed


def family_of(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def desired_from_params(interface, addresses, state: str = "present") -> list:
    """The wanted VIPs, in list order: address, family, prefixlen, label (IPv4: ``<interface>:<N>``)."""
    check_interface(interface)
    if state not in STATES:
        raise VipValidationError("state: %s is not one of %s" % (_quoted(state), ", ".join(STATES)))
    if addresses is None:
        addresses = []
    if not isinstance(addresses, list):
        raise VipValidationError("addresses: a list of addresses is required")
    if state == "absent" and addresses:
        raise VipValidationError("addresses: must be empty with state=absent, which removes every address "
                                 "carrying the mark on %s" % interface)
    desired = []
    seen: dict[str, int] = {}
    for index, value in enumerate(addresses):
        param = "addresses[%d]" % index
        address = canonical_address(value, param)
        if address in seen:
            raise VipValidationError("%s: %s is listed twice (also addresses[%d])" % (param, address, seen[address]))
        seen[address] = index
        family = family_of(address)
        label = None
        if family == "ipv4":
            label = "%s:%d" % (interface, index + 1)
            if len(label) >= IFNAMSIZ:
                raise VipValidationError("%s: the label %s of %s would be longer than %d characters (the kernel's limit); "
                                         "use a shorter interface name or fewer addresses"
                                         % (param, label, address, IFNAMSIZ - 1))
        desired.append({"address": address, "family": family, "prefixlen": FULL_PREFIX[family],
                        "label": label, "param": param})
    return desired


# ------------------------------------------------------------------ model


def is_ours(entry: dict, protocol: int) -> bool:
    return entry.get("proto", 0) == protocol


def _order(entry: dict) -> tuple:
    return (entry["family"] != "ipv4", int(ipaddress.ip_address(entry["address"])), entry["prefixlen"])


def marked(current: list, protocol: int) -> list:
    """The addresses carrying the mark, IPv4 first, in address order (not the kernel's, which check mode cannot predict)."""
    return sorted((entry for entry in current if is_ours(entry, protocol)), key=_order)


def show(entry: dict) -> str:
    """``192.0.2.13/32 (eth0:1)`` or ``2001:db8::13/128``."""
    text = "%s/%d" % (entry["address"], entry["prefixlen"])
    if entry.get("label") and entry["family"] == "ipv4":
        text += " (%s)" % entry["label"]
    return text


def listing(current: list, protocol: int) -> str:
    """The marked addresses, one a line (the diff's before and after)."""
    return "".join(show(entry) + "\n" for entry in marked(current, protocol))


def _wanted_entry(wanted: dict, protocol: int) -> dict:
    return {"address": wanted["address"], "family": wanted["family"], "prefixlen": wanted["prefixlen"],
            "label": wanted["label"], "proto": protocol,
            # DAD is pointless for a VIP, and a tentative address cannot be used.
            "flags": IFA_F_NODAD | IFA_F_DEPRECATED if wanted["family"] == "ipv6" else 0, "metric": 0}


def adoptable_families(release: tuple) -> set:
    """The families whose unmarked addresses this kernel can mark in place."""
    families = {"ipv6"}
    if tuple(release) >= KERNEL_IPV4_REPROTO:
        families.add("ipv4")
    return families


def plan(desired: list, current: list, interface: str, protocol: int, state: str = "present",
         adoptable: set | frozenset = frozenset({"ipv4", "ipv6"})) -> list:
    """Operations that turn ``current`` into ``desired`` among the addresses marked ``protocol``.

    Each operation is ``{"action": "remove" | "adopt" | "add", "entry": ...}`` (an adopt also
    carries ``previous``, the entry before).  Removals come first, then adoptions, then
    additions.  Raises VipConflictError, naming the parameter, when an unmarked address
    stands in the way: a copy of a VIP with another prefix length, or one the kernel
    cannot mark in place.
    """
    ops_remove: list = []
    ops_adopt: list = []
    ops_add: list = []
    wanted_addresses = {w["address"] for w in desired}
    for entry in current:
        if is_ours(entry, protocol) and entry["address"] not in wanted_addresses:
            ops_remove.append({"action": "remove", "entry": entry})
    for wanted in desired:
        same = [entry for entry in current if entry["address"] == wanted["address"]]
        for entry in same:
            if entry["prefixlen"] == wanted["prefixlen"]:
                continue
            if is_ours(entry, protocol):
                ops_remove.append({"action": "remove", "entry": entry})
            else:
                raise VipConflictError(
                    "%s: %s is on %s as /%d without the mark (protocol %d, not %d): it is not this module's, "
                    "so it stays; remove it by hand or leave %s out" % (
                        wanted["param"], wanted["address"], interface, entry["prefixlen"], entry.get("proto", 0),
                        protocol, wanted["address"]))
        exact = [entry for entry in same if entry["prefixlen"] == wanted["prefixlen"]]
        target = _wanted_entry(wanted, protocol)
        if not exact:
            ops_add.append({"action": "add", "entry": target})
            continue
        entry = exact[0]
        label_ok = wanted["family"] == "ipv6" or entry.get("label") == wanted["label"]
        if is_ours(entry, protocol):
            if not label_ok:
                ops_remove.append({"action": "remove", "entry": entry})
                ops_add.append({"action": "add", "entry": target})
            elif wanted["family"] == "ipv6" and not entry.get("flags", 0) & IFA_F_DEPRECATED:
                ops_adopt.append({"action": "deprecate", "entry": dict(entry, flags=entry.get("flags", 0) | target["flags"]),
                                  "previous": entry})
            continue
        if not label_ok:
            raise VipConflictError(
                "%s: %s is on %s without the mark (protocol %d) and labelled %s, not %s: the kernel cannot change "
                "a label in place and this module removes only what it added; remove it by hand and run again"
                % (wanted["param"], show(entry), interface, entry.get("proto", 0), entry.get("label"), wanted["label"]))
        if wanted["family"] not in adoptable:
            raise VipConflictError(
                "%s: %s is on %s without the mark (protocol %d), and this kernel cannot mark an IPv4 address in place "
                "(Linux >= %d.%d can); remove it by hand (the module adds it back marked) and run again"
                % (wanted["param"], show(entry), interface, entry.get("proto", 0), *KERNEL_IPV4_REPROTO))
        adopted = dict(entry, proto=protocol, flags=entry.get("flags", 0) | target["flags"])
        ops_adopt.append({"action": "adopt", "entry": adopted, "previous": entry})
    return ops_remove + ops_adopt + ops_add


def plan_absent(current: list, protocol: int) -> list:
    return [{"action": "remove", "entry": entry} for entry in marked(current, protocol)]


def apply_ops(current: list, ops: list) -> list:
    """The addresses after ``ops`` (the prediction of check mode)."""
    after = [dict(entry) for entry in current]
    for op in ops:
        key = (op["entry"]["address"], op["entry"]["prefixlen"])
        if op["action"] == "remove":
            after = [entry for entry in after if (entry["address"], entry["prefixlen"]) != key]
        elif op["action"] in ("adopt", "deprecate"):
            after = [dict(op["entry"]) if (entry["address"], entry["prefixlen"]) == key else entry for entry in after]
        else:
            after.append(dict(op["entry"]))
    return after


def inverse(op: dict) -> dict:
    """The operation that undoes ``op``."""
    if op["action"] == "add":
        return {"action": "remove", "entry": op["entry"]}
    if op["action"] == "remove":
        return {"action": "add", "entry": op["entry"]}
    return {"action": op["action"], "entry": op["previous"], "previous": op["entry"]}


def describe(op: dict, interface: str) -> str:
    entry = op["entry"]
    if op["action"] == "add":
        return "add %s to %s (protocol %d)" % (show(entry), interface, entry["proto"])
    if op["action"] == "remove":
        return "remove %s from %s (protocol %d)" % (show(entry), interface, entry.get("proto", 0))
    if op["action"] == "deprecate":
        return "deprecate %s on %s (preferred lifetime 0: never a source address)" % (show(entry), interface)
    return "adopt %s on %s: protocol %d -> %d" % (show(entry), interface, op["previous"].get("proto", 0), entry["proto"])


def check_after(after: list, desired: list, protocol: int, state: str) -> list:
    """What the live addresses lack after a run (the kernel ignored a mark it acknowledged)."""
    problems = []
    ours = {(entry["address"], entry["prefixlen"]): entry for entry in marked(after, protocol)}
    for wanted in desired if state == "present" else []:
        entry = ours.get((wanted["address"], wanted["prefixlen"]))
        if entry is None:
            present = [e for e in after if e["address"] == wanted["address"]]
            problems.append("%s: %s is %s" % (
                wanted["param"], wanted["address"],
                "there without the mark %d (protocol %d)" % (protocol, present[0].get("proto", 0)) if present
                else "missing"))
        elif wanted["family"] == "ipv4" and entry.get("label") != wanted["label"]:
            problems.append("%s: %s has the label %s" % (wanted["param"], wanted["address"], entry.get("label")))
    wanted_keys = {(w["address"], w["prefixlen"]) for w in desired} if state == "present" else set()
    for key, entry in ours.items():
        if key not in wanted_keys:
            problems.append("%s is still there" % show(entry))
    return problems


def summary(before: list, after: list, ops: list, protocol: int) -> dict:
    """The return values: marked addresses after, and what the run added, removed and adopted."""
    before_addresses = {entry["address"] for entry in before}
    after_addresses = {entry["address"] for entry in after}
    return {
        "addresses": [entry["address"] for entry in marked(after, protocol)],
        "added": [op["entry"]["address"] for op in ops
                  if op["action"] == "add" and op["entry"]["address"] not in before_addresses],
        "removed": [op["entry"]["address"] for op in ops
                    if op["action"] == "remove" and op["entry"]["address"] not in after_addresses],
        "adopted": [op["entry"]["address"] for op in ops if op["action"] == "adopt"],
    }


# -------------------------------------------------------------------- run


def _undo(adapter, index: int, done: list) -> str:
    try:
        for op in reversed(done):
            adapter.apply(index, inverse(op))
    except VipKernelError as exc:
        return "undoing the changes already made failed too (%s); check the addresses" % exc
    return "nothing was changed" if done else "nothing had been changed"


def converge(adapter, interface: str, desired: list, protocol: int, state: str = "present", check_mode: bool = False) -> dict:
    """Read, plan and (unless ``check_mode``) apply, over ``adapter``.

    The adapter provides ``kernel_release() -> (major, minor)``, ``index(name) -> int | None``,
    ``dump(index) -> [entry]`` and ``apply(index, op)`` (VipKernelError on a refusal).
    Returns ``ops``, ``before``, ``after`` (entries). Raises VipError subclasses; a kernel
    failure part-way undoes what was done first and says so.
    """
    release = adapter.kernel_release()
    if tuple(release) < KERNEL_PROTO:
        raise VipKernelError("Linux >= %d.%d is needed: older kernels have no address protocol (IFA_PROTO) to mark "
                             "the VIPs with; this one is %d.%d" % (KERNEL_PROTO + tuple(release)[:2]))
    index = adapter.index(interface)
    if index is None:
        raise VipValidationError("interface: this host has no interface %s" % _quoted(interface))
    before = adapter.dump(index)
    if state == "absent":
        ops = plan_absent(before, protocol)
    else:
        ops = plan(desired, before, interface, protocol, state, adoptable_families(release))
    if check_mode or not ops:
        return {"ops": ops, "before": before, "after": apply_ops(before, ops)}
    done: list = []
    for op in ops:
        try:
            adapter.apply(index, op)
        except VipKernelError as exc:
            raise VipKernelError("%s: %s; %s" % (describe(op, interface), exc, _undo(adapter, index, done)), exc.code) from exc
        done.append(op)
    after = adapter.dump(index)
    problems = check_after(after, desired, protocol, state)
    if problems:
        raise VipKernelError("the kernel acknowledged every change, yet %s (a kernel that ignores IFA_PROTO, "
                             "or one that cannot mark an address in place); %s"
                             % ("; ".join(problems), _undo(adapter, index, done)))
    return {"ops": ops, "before": before, "after": after}
