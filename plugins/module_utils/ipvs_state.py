# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure model of the IPVS table: validate, normalise and diff.

Nothing here talks to the kernel. Services and real servers are plain dicts
in one canonical form, produced both from module parameters (``service_from_params``)
and from kernel dumps (by the netlink adapter), so that comparing them is a
dict comparison.  ``diff_service`` and ``diff_table`` turn (desired, current)
into a list of operations; a module reports ``changed`` when that list is not
empty and hands it to the adapter to apply.
"""

from __future__ import annotations

import copy
import functools
import ipaddress

SCHEDULERS = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
)
PROTOCOLS = ("tcp", "udp", "sctp")
FAMILIES = ("ipv4", "ipv6")

# Forwarding methods as the kernel numbers them (IP_VS_CONN_F_*), with the
# names ipvsadm and ldirectord use accepted as synonyms.
FORWARDING = {"nat": 0, "tunnel": 2, "dr": 3}
FORWARDING_ALIASES = {"masq": "nat", "ipip": "tunnel", "gate": "dr", "droute": "dr"}
FORWARDING_CHOICES = ("dr", "nat", "tunnel", "gate", "masq", "ipip", "droute")

# Service flags (IP_VS_SVC_F_*).
FLAG_PERSISTENT = 0x0001
FLAG_HASHED = 0x0002  # set by the kernel on every live service; never compared
FLAG_ONEPACKET = 0x0004
SCHED_FLAG_BITS = {"flag-1": 0x0008, "flag-2": 0x0010, "flag-3": 0x0020}
# Scheduler-specific names for the generic flags, as ipvsadm spells them.
SCHED_FLAG_NAMES = {
    "sh-fallback": ("sh", "flag-1"),
    "sh-port": ("sh", "flag-2"),
    "mh-fallback": ("mh", "flag-1"),
    "mh-port": ("mh", "flag-2"),
}
SCHEDULER_FLAG_CHOICES = tuple(SCHED_FLAG_BITS) + tuple(SCHED_FLAG_NAMES)

# The options of a service in ipvs_table's ``services``, and of a real server: ipvs_table
# leaves them to this model (services_from_params) rather than to Ansible's argument spec.
SERVICE_OPTIONS = ("protocol", "address", "port", "fwmark", "family", "scheduler", "scheduler_flags",
                   "persistence_timeout", "persistence_netmask", "one_packet", "real_servers")
REAL_SERVER_OPTIONS = ("address", "port", "weight", "forwarding", "upper_threshold", "lower_threshold")
# The spellings Ansible's boolean() reads (module_utils.parsing.convert_bool).
_TRUE = frozenset(("y", "yes", "on", "1", "true", "t"))
_FALSE = frozenset(("n", "no", "off", "0", "false", "f"))

MAX_WEIGHT = 2147483647
MAX_FWMARK = 4294967295


class IPVSValidationError(ValueError):
    """Bad input, found before anything reaches the kernel.

    ``str()`` of it is a message that names the offending parameter.
    """


# ---------------------------------------------------------------- identities


@functools.lru_cache(maxsize=4096)
def ip(text: str):
    """``ipaddress.ip_address(text)``, remembered: a table names the same real servers many times."""
    return ipaddress.ip_address(text)


def family_of(address: str) -> str:
    return "ipv6" if ip(address).version == 6 else "ipv4"


def full_prefix(family: str) -> int:
    return 128 if family == "ipv6" else 32


def endpoint(address: str, port: int) -> str:
    """``192.0.2.4:80`` or ``[2001:db8::4]:80``."""
    if ":" in address:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def service_id(service: dict) -> str:
    """A stable, readable name for a service: ``tcp/192.0.2.13:80``, ``fwmark/1/ipv6``."""
    if service.get("fwmark"):
        return "fwmark/%d/%s" % (service["fwmark"], service["family"])
    return "%s/%s" % (service["protocol"], endpoint(service["address"], service["port"]))


def real_server_id(real_server: dict) -> str:
    return endpoint(real_server["address"], real_server["port"])


def service_key(service: dict) -> tuple:
    return (service["family"], service.get("protocol"), service.get("address"),
            service.get("port"), service.get("fwmark"))


# ------------------------------------------------------------ normalisation


def canonical_address(value, param: str) -> str:
    """The address in its compressed canonical form, or IPVSValidationError naming ``param``.

    IPv6 zone IDs (``fe80::1%eth0``) are refused: they are link-local only, and
    ``ipaddress`` accepts any character after the ``%``, newlines included.
    """
    text = str(value).strip()
    if "%" in text:
        raise IPVSValidationError("%s: %r has a zone ID (%%...); give a global address without one" % (param, value))
    try:
        return str(ip(text))
    except ValueError:
        raise IPVSValidationError("%s: %r is not an IPv4 or IPv6 address" % (param, value)) from None


def _ascii_digits(text: str) -> bool:
    """True for ``"24"``; False for ``"²"`` or ``"٢٤"``, which ``str.isdigit()`` and ``int()`` take."""
    return text.isascii() and text.isdigit()


def _integer(value) -> int | None:
    """``value`` as an int when it is one: an int (not a bool), an integral float, or a string
    of ASCII digits with an optional sign.  ``int()`` alone would also take ``5.7`` (as 5),
    ``"1_000"`` and digits of other scripts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if _ascii_digits(digits):
            return int(text)
    return None


def _int_in(value, low: int, high: int, param: str) -> int:
    number = _integer(value)
    if number is None:
        raise IPVSValidationError("%s: %r is not an integer" % (param, value))
    if not low <= number <= high:
        raise IPVSValidationError("%s: %d is out of range (%d..%d)" % (param, number, low, high))
    return number


def _prefix(value, family: str, param: str) -> int:
    """A persistence netmask as a prefix length: ``24``, ``"24"`` or ``"255.255.255.0"`` (IPv4)."""
    text = str(value).strip()
    if _ascii_digits(text):
        return _int_in(int(text), 1 if family == "ipv6" else 0, full_prefix(family), param)
    if family == "ipv6":
        raise IPVSValidationError("%s: %r must be a prefix length (1..128) for an IPv6 service" % (param, value))
    try:
        bits = int(ipaddress.IPv4Address(text))
    except ValueError:
        bits = -1
    prefix = bin(bits).count("1") if bits >= 0 else 0
    if bits != (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF:  # not contiguous ones, e.g. a hostmask
        raise IPVSValidationError("%s: %r is not a netmask or prefix length" % (param, value))
    return prefix


def boolean(value, param: str) -> bool:
    """A bool option as Ansible reads one: a bool, 0/1, or yes/no, on/off, true/false, y/n, t/f, 1/0."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise IPVSValidationError("%s: %r is not a boolean (true/false, yes/no, on/off, 1/0)" % (param, value))


def string_list(value, param: str) -> list:
    """A list of strings as Ansible reads one: a list, or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if not isinstance(value, list):
        raise IPVSValidationError("%s: %r is not a list" % (param, value))
    for item in value:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise IPVSValidationError("%s: %r is not a string" % (param, item))
    return [str(item) for item in value]


def known_options(item: dict, allowed: tuple, where: str) -> None:
    """Refuse options ``item`` has that are not ``allowed``, naming them (``where`` is "services[2].")."""
    unknown = [name for name in item if name not in allowed]
    if unknown:
        raise IPVSValidationError("%s: unsupported parameter%s %s (supported: %s)" % (
            where.rstrip("."), "s" if len(unknown) > 1 else "", ", ".join(sorted(map(str, unknown))),
            ", ".join(sorted(allowed))))


def forwarding_name(value, param: str = "forwarding") -> str:
    name = FORWARDING_ALIASES.get(value, value)
    if name not in FORWARDING:
        raise IPVSValidationError("%s: %r is not one of %s" % (param, value, ", ".join(FORWARDING_CHOICES)))
    return name


def service_from_params(params: dict, where: str = "") -> dict:
    """Validate one service's parameters and return its canonical dict.

    ``params`` uses the module option names.  ``where`` prefixes parameter names in
    error messages (``services[2].`` for a service inside ``ipvs_table``).
    ``real_servers`` is kept as None when the caller does not manage them.
    """
    p = params
    fwmark = p.get("fwmark")
    if fwmark is not None:
        for name in ("address", "port", "protocol"):
            if p.get(name) is not None:
                raise IPVSValidationError(
                    "%sfwmark: a firewall-mark service is keyed by fwmark and family; do not give %s%s"
                    % (where, where, name))
        fwmark = _int_in(fwmark, 1, MAX_FWMARK, where + "fwmark")
        family = p.get("family") or "ipv4"
        if family not in FAMILIES:
            raise IPVSValidationError("%sfamily: %r is not one of ipv4, ipv6" % (where, family))
        service = {"family": family, "protocol": None, "address": None, "port": None, "fwmark": fwmark}
    else:
        if p.get("address") is None:
            raise IPVSValidationError("%saddress: a service needs address and port, or fwmark" % where)
        address = canonical_address(p["address"], where + "address")
        family = family_of(address)
        if p.get("family") not in (None, family):
            raise IPVSValidationError("%sfamily: %s does not match address %s" % (where, p["family"], address))
        if p.get("port") is None:
            raise IPVSValidationError("%sport: an address service needs a port (1..65535)" % where)
        port = _int_in(p["port"], 1, 65535, where + "port")
        protocol = p.get("protocol") or "tcp"
        if protocol not in PROTOCOLS:
            raise IPVSValidationError("%sprotocol: %r is not one of %s" % (where, protocol, ", ".join(PROTOCOLS)))
        service = {"family": family, "protocol": protocol, "address": address, "port": port, "fwmark": None}

    scheduler = p.get("scheduler") or "wlc"
    if scheduler not in SCHEDULERS:
        raise IPVSValidationError("%sscheduler: %r is not one of %s" % (where, scheduler, ", ".join(SCHEDULERS)))
    flags = set()
    for flag in string_list(p.get("scheduler_flags"), where + "scheduler_flags"):
        if flag in SCHED_FLAG_NAMES:
            owner, generic = SCHED_FLAG_NAMES[flag]
            if owner != scheduler:
                raise IPVSValidationError("%sscheduler_flags: %s applies only to scheduler %s, not %s"
                                          % (where, flag, owner, scheduler))
            flag = generic
        if flag not in SCHED_FLAG_BITS:
            raise IPVSValidationError("%sscheduler_flags: %r is not one of %s"
                                      % (where, flag, ", ".join(SCHEDULER_FLAG_CHOICES)))
        flags.add(flag)

    timeout = _int_in(p.get("persistence_timeout") or 0, 0, 2147483, where + "persistence_timeout")
    netmask = full_prefix(family)
    if p.get("persistence_netmask") is not None:
        netmask = _prefix(p["persistence_netmask"], family, where + "persistence_netmask")
        # The full host mask is the default, so a service as the modules return it is valid input.
        if not timeout and netmask != full_prefix(family):
            raise IPVSValidationError("%spersistence_netmask: needs persistence_timeout above 0" % where)

    service.update({
        "scheduler": scheduler,
        "scheduler_flags": sorted(flags),
        "persistence_timeout": timeout,
        "persistence_netmask": netmask,
        "one_packet": boolean(p.get("one_packet"), where + "one_packet"),
        "real_servers": None,
    })
    if service["one_packet"] and service["protocol"] not in (None, "udp"):
        raise IPVSValidationError("%sone_packet: one-packet scheduling applies to UDP (or fwmark) services only"
                                  % where)
    if p.get("real_servers") is not None:
        service["real_servers"] = real_servers_from_params(p["real_servers"], service, where + "real_servers")
    return service


def real_server_from_params(params: dict, service: dict, where: str = "", current: dict | None = None,
                            known: bool = False) -> dict:
    """Validate one real server of ``service``.

    Options left as None take their value from ``current`` (the live real server)
    when one is given, else the kernel's defaults: weight 1, direct routing, no thresholds.
    With ``known``, options other than REAL_SERVER_OPTIONS are refused.
    """
    p = params
    if known:
        known_options(p, REAL_SERVER_OPTIONS, where)
    address = canonical_address(p.get("address"), where + "address") if p.get("address") is not None else None
    if address is None:
        raise IPVSValidationError("%saddress: a real server needs an address" % where)
    if family_of(address) != service["family"]:
        raise IPVSValidationError("%saddress: %s is %s but the service %s is %s; IPVS cannot mix families here"
                                  % (where, address, family_of(address), service_id(service), service["family"]))
    if p.get("port") is not None:
        port = _int_in(p["port"], 0 if service.get("fwmark") else 1, 65535, where + "port")
    else:
        port = service["port"] or 0
    base: dict = current or {"weight": 1, "forwarding": "dr", "upper_threshold": 0, "lower_threshold": 0}

    def pick(name):
        return base[name] if p.get(name) is None else p[name]

    real_server: dict = {
        "address": address,
        "port": port,
        "weight": _int_in(pick("weight"), 0, MAX_WEIGHT, where + "weight"),
        "forwarding": forwarding_name(pick("forwarding"), where + "forwarding"),
        "upper_threshold": _int_in(pick("upper_threshold"), 0, MAX_WEIGHT, where + "upper_threshold"),
        "lower_threshold": _int_in(pick("lower_threshold"), 0, MAX_WEIGHT, where + "lower_threshold"),
    }
    if real_server["lower_threshold"] > real_server["upper_threshold"] and real_server["upper_threshold"]:
        raise IPVSValidationError("%slower_threshold: %d is above upper_threshold %d"
                                  % (where, real_server["lower_threshold"], real_server["upper_threshold"]))
    if real_server["lower_threshold"] and not real_server["upper_threshold"]:
        raise IPVSValidationError("%slower_threshold: needs an upper_threshold" % where)
    if service.get("port") and real_server["forwarding"] != "nat" and port != service["port"]:
        raise IPVSValidationError(
            "%sport: %d differs from the service port %d, which only NAT forwarding can map "
            "(direct routing and tunnelling keep the destination port)" % (where, port, service["port"]))
    return real_server


def _validate_list(items: list, where: str, build, key, name, not_a_dict: str) -> list:
    """Validate each dict of ``items`` with ``build(item, "where[i].")``; refuse one listed twice.

    ``key`` identifies an entry, ``name`` names it in the message; ``not_a_dict`` says
    what an entry must be.
    """
    if not isinstance(items, list):
        raise IPVSValidationError("%s: %r is not a list" % (where, items))
    result = []
    seen: dict = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise IPVSValidationError("%s[%d]: %s" % (where, index, not_a_dict))
        entry = build(item, "%s[%d]." % (where, index))
        if key(entry) in seen:
            raise IPVSValidationError("%s[%d]: %s is listed twice (also at index %d)"
                                      % (where, index, name(entry), seen[key(entry)]))
        seen[key(entry)] = index
        result.append(entry)
    return result


def real_servers_from_params(items: list, service: dict, where: str = "real_servers") -> list:
    return sort_real_servers(_validate_list(
        items, where, lambda item, here: real_server_from_params(item, service, here, known=True),
        real_server_id, real_server_id, "each real server is a dict with at least an address"))


def sort_real_servers(real_servers: list) -> list:
    # IPv4 before IPv6: a tunnel real server may be of the other family than its service.
    def key(real_server):
        address = ip(real_server["address"])
        return (address.version, address, real_server["port"])
    return sorted(real_servers, key=key)


def services_from_params(items: list, where: str = "services") -> list:
    def build(item: dict, here: str) -> dict:
        known_options(item, SERVICE_OPTIONS, here)
        service = service_from_params(item, here)
        if service["real_servers"] is None:
            service["real_servers"] = []
        return service

    return _validate_list(items, where, build, service_key, lambda s: "service " + service_id(s),
                          "each service is a dict")


# -------------------------------------------------------------------- diff

SERVICE_SETTINGS = ("scheduler", "scheduler_flags", "persistence_timeout", "persistence_netmask", "one_packet")
REAL_SERVER_SETTINGS = ("weight", "forwarding", "upper_threshold", "lower_threshold")


def settings(service: dict) -> dict:
    return {name: service[name] for name in SERVICE_SETTINGS}


def _op(action: str, service: dict, real_server: dict | None = None) -> dict:
    op = {"action": action, "service": service}
    if real_server is not None:
        op["real_server"] = real_server
    return op


def diff_real_servers(desired: dict, current: dict | None, purge: bool) -> list:
    """Operations that bring the real servers of one service from current to desired."""
    have = {real_server_id(r): r for r in (current or {}).get("real_servers") or []}
    ops = []
    wanted = set()
    for real_server in desired["real_servers"] or []:
        rid = real_server_id(real_server)
        wanted.add(rid)
        live = have.get(rid)
        if live is None:
            ops.append(_op("add_real_server", desired, real_server))
        elif any(live[name] != real_server[name] for name in REAL_SERVER_SETTINGS):
            ops.append(_op("edit_real_server", desired, real_server))
    if purge:
        for rid, live in have.items():
            if rid not in wanted:
                ops.append(_op("delete_real_server", desired, live))
    return ops


def diff_service(desired: dict, current: dict | None, purge_real_servers: bool) -> list:
    """Operations for one service; ``desired["real_servers"]`` None leaves them alone."""
    ops = []
    if current is None:
        ops.append(_op("add_service", desired))
    elif settings(current) != settings(desired):
        ops.append(_op("edit_service", desired))
    if desired.get("real_servers") is not None:
        ops.extend(diff_real_servers(desired, current, purge_real_servers))
    return ops


def matches(service: dict, selector: dict) -> bool:
    """True when every field the selector gives equals the service's."""
    for name, value in selector.items():
        if value is None:
            continue
        if name == "address":
            if service["address"] is None or ipaddress.ip_address(service["address"]) != ipaddress.ip_address(value):
                return False
        elif service.get(name) != value:
            return False
    return True


def diff_table(desired: list, current: list, purge: bool = False, exclude: list | None = None) -> list:
    """Operations that turn the live table into ``desired``.

    Listed services own their real servers (unlisted ones are removed).  With
    ``purge``, live services that are neither listed nor matched by a selector in
    ``exclude`` are deleted, after every other change.
    """
    live = {service_key(s): s for s in current}
    ops = []
    for service in desired:
        ops.extend(diff_service(service, live.get(service_key(service)), purge_real_servers=True))
    if purge:
        wanted = {service_key(s) for s in desired}
        for key, service in live.items():
            if key in wanted or any(matches(service, sel) for sel in exclude or []):
                continue
            ops.append(_op("delete_service", service))
    return ops


def apply_ops(table: list, ops: list) -> list:
    """The table ``ops`` would leave behind: the predicted ``after`` in check mode."""
    result = {service_key(s): copy.deepcopy(s) for s in table}
    for op in ops:
        key = service_key(op["service"])
        action = op["action"]
        if action == "add_service":
            result[key] = dict(copy.deepcopy(op["service"]), real_servers=[])
        elif action == "edit_service":
            result[key].update(settings(op["service"]))
        elif action == "delete_service":
            result.pop(key, None)
        else:
            real_servers = [r for r in result[key]["real_servers"]
                            if real_server_id(r) != real_server_id(op["real_server"])]
            if action != "delete_real_server":
                real_servers.append(dict(op["real_server"]))
            result[key]["real_servers"] = sort_real_servers(real_servers)
    return sort_table(list(result.values()))


def sort_table(table: list) -> list:
    return sorted(table, key=lambda s: (s["family"], s["fwmark"] or 0, s["protocol"] or "",
                                        ip(s["address"]) if s["address"] else 0, s["port"] or 0))


def describe(op: dict) -> str:
    """One line for an operation, as a person reads it in the module's result."""
    action = op["action"]
    sid = service_id(op["service"])
    if action in ("add_service", "edit_service"):
        svc = op["service"]
        extra = "scheduler %s" % svc["scheduler"]
        if svc["persistence_timeout"]:
            extra += ", persistent %ds" % svc["persistence_timeout"]
        return "%s %s (%s)" % (action.replace("_", " "), sid, extra)
    if action == "delete_service":
        return "delete service %s" % sid
    rs = op["real_server"]
    verb = action.split("_")[0]
    if verb == "delete":
        return "delete real server %s from %s" % (real_server_id(rs), sid)
    return "%s real server %s in %s (%s, weight %d)" % (verb, real_server_id(rs), sid, rs["forwarding"], rs["weight"])


def public(service: dict) -> dict:
    """A service as modules return it: the canonical dict without empty key fields."""
    result = {k: v for k, v in service.items() if not (k in ("protocol", "address", "port", "fwmark") and v is None)}
    return result


_FORWARDING_SHOWN = {"dr": "Route", "nat": "Masq", "tunnel": "Tunnel", "local": "Local"}


def summary_lines(table: list) -> list:
    """The table read with stats as text, one line per service and per real server.

    The facts of ``ipvsadm -L -n --stats --rate``: per service its scheduler,
    persistence, connections and rates; per real server its forwarding,
    weight, active and inactive connections, total connections and rates.
    """
    lines = []
    for service in table:
        if service.get("fwmark"):
            head = "FWM  %d %s" % (service["fwmark"], service["family"])
        else:
            head = "%-4s %s" % (service["protocol"].upper(), endpoint(service["address"], service["port"]))
        stats, rates = service.get("stats", {}), service.get("rates", {})
        extra = " persistent %ds" % service["persistence_timeout"] if service.get("persistence_timeout") else ""
        lines.append("%s %s%s  conns %d (%d/s)  in %d pkts (%d/s)  out %d pkts (%d/s)" % (
            head, service["scheduler"], extra, stats.get("connections", 0), rates.get("connections_per_second", 0),
            stats.get("in_packets", 0), rates.get("in_packets_per_second", 0),
            stats.get("out_packets", 0), rates.get("out_packets_per_second", 0)))
        for rs in service.get("real_servers", []):
            rstats, rrates = rs.get("stats", {}), rs.get("rates", {})
            lines.append("  -> %-22s %-6s weight %-5d active %-5d inactive %-5d conns %d (%d/s)  in %d pkts (%d/s)" % (
                endpoint(rs["address"], rs["port"]), _FORWARDING_SHOWN.get(rs["forwarding"], rs["forwarding"]),
                rs["weight"], rs.get("active_connections", 0), rs.get("inactive_connections", 0),
                rstats.get("connections", 0), rrates.get("connections_per_second", 0),
                rstats.get("in_packets", 0), rrates.get("in_packets_per_second", 0)))
    return lines


# ------------------------------------------------------------- sync daemons
#
# The kernel runs at most one master and one backup connection-synchronisation
# daemon (IP_VS_STATE_MASTER 1, IP_VS_STATE_BACKUP 2).  A running daemon cannot be
# changed: new settings mean stopping it and starting it again.  A daemon is the dict
#   {"role", "interface", "syncid", "mcast_group", "mcast_port", "mcast_ttl", "maxlen"}
# as the adapter dumps it; a desired daemon may have maxlen None ("the kernel picks").

SYNC_ROLES = ("master", "backup")
SYNC_DEFAULT_GROUP = "224.0.0.81"  # IP_VS_SYNC_GROUP
SYNC_DEFAULT_PORT = 8848  # IP_VS_SYNC_PORT
SYNC_SETTINGS = ("interface", "syncid", "mcast_group", "mcast_port", "mcast_ttl", "maxlen")
IFNAME_MAXLEN = 15  # IP_VS_IFNAME_MAXLEN - 1


def sync_header_length(group: str) -> int:
    """IP and UDP header bytes in front of each sync message."""
    return (40 if family_of(group) == "ipv6" else 20) + 8


def sync_maxlen_range(role: str, group: str, mtu: int) -> tuple:
    """The sync message sizes the kernel keeps as given (start_sync_thread clamps others).

    A master sends at most 1500 bytes whatever the interface; a backup takes the
    interface MTU (at least 1500, at most 65535) and needs 1024 bytes at least.
    """
    mtu = 1500 if role == "master" else min(max(mtu, 1500), 65535)
    return (1 if role == "master" else 1024, mtu - sync_header_length(group))


def interface_name(value, param: str = "interface") -> str:
    """A network interface name as the kernel accepts one (no lookup): dev_valid_name()
    counts bytes, and the name travels NUL-terminated, so a NUL would cut it short."""
    name = str(value)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        size = 0
    if (not 0 < size <= IFNAME_MAXLEN or name in (".", "..")
            or any(c in "/:\0" or c.isspace() for c in name)):
        raise IPVSValidationError("%s: %r is not a network interface name (1..%d bytes, no '/', ':', NUL or "
                                  "white space)" % (param, value, IFNAME_MAXLEN))
    return name


def multicast_group(value, param: str = "mcast_group") -> str:
    address = canonical_address(value, param)
    if not ipaddress.ip_address(address).is_multicast:
        raise IPVSValidationError("%s: %s is not a multicast address (224.0.0.0/4 or ff00::/8)" % (param, address))
    return address


def sync_daemon_from_params(params: dict, mtu: int | None = None) -> dict | None:
    """Validate the parameters of ``ipvs_sync_daemon``; return the desired daemon, or None to stop it.

    ``mtu`` is the MTU of ``params["interface"]`` on the host, None when no such
    interface exists; it is only needed (and only looked at) to start a daemon.
    Every option is checked even to stop a daemon, so a typo never passes silently.
    """
    p = params
    role = p.get("role")
    if role not in SYNC_ROLES:
        raise IPVSValidationError("role: %r is not one of %s" % (role, ", ".join(SYNC_ROLES)))
    syncid = _int_in(p.get("syncid") or 0, 0, 255, "syncid")
    group = multicast_group(p["mcast_group"]) if p.get("mcast_group") is not None else SYNC_DEFAULT_GROUP
    port = _int_in(p["mcast_port"], 1, 65535, "mcast_port") if p.get("mcast_port") is not None else SYNC_DEFAULT_PORT
    ttl = _int_in(p["mcast_ttl"], 1, 255, "mcast_ttl") if p.get("mcast_ttl") is not None else 1
    maxlen = _int_in(p["maxlen"], 1, 65535, "maxlen") if p.get("maxlen") is not None else None
    if p.get("interface") is not None:
        interface_name(p["interface"])
    if p.get("state", "started") == "stopped":
        return None
    if p.get("interface") is None:
        raise IPVSValidationError("interface: required to start a %s sync daemon" % role)
    interface = interface_name(p["interface"])
    if mtu is None:
        raise IPVSValidationError("interface: there is no network interface %r on this host" % interface)
    if maxlen is not None:
        low, high = sync_maxlen_range(role, group, mtu)
        if not low <= maxlen <= high:
            raise IPVSValidationError(
                "maxlen: %d is out of range for a %s sync daemon on %s (MTU %d) with an %s group (%d..%d)"
                % (maxlen, role, interface, mtu, family_of(group).replace("ip", "IP"), low, high))
    return {"role": role, "interface": interface, "syncid": syncid, "mcast_group": group,
            "mcast_port": port, "mcast_ttl": ttl, "maxlen": maxlen}


def predict_sync_daemon(desired: dict, mtu: int) -> dict:
    """The daemon as the kernel will report it once started (maxlen filled in)."""
    daemon = dict(desired)
    if daemon["maxlen"] is None:
        daemon["maxlen"] = sync_maxlen_range(daemon["role"], daemon["mcast_group"], mtu)[1]
    return daemon


def sync_daemon_matches(desired: dict, current: dict) -> bool:
    """True when the running daemon has every setting asked for (maxlen only when given)."""
    return all(desired[name] == current[name] for name in SYNC_SETTINGS
               if not (name == "maxlen" and desired[name] is None))


def diff_sync_daemon(desired: dict | None, current: dict | None, role: str) -> list:
    """Operations for the daemon of ``role``: start, stop, or stop then start (a restart)."""
    if desired is None:
        return [{"action": "stop_sync_daemon", "daemon": current}] if current else []
    if current is None:
        return [{"action": "start_sync_daemon", "daemon": desired}]
    if sync_daemon_matches(desired, current):
        return []
    return [{"action": "stop_sync_daemon", "daemon": current}, {"action": "start_sync_daemon", "daemon": desired}]


def sync_daemon_settings(daemon: dict) -> str:
    """``syncid 3, group 233.252.0.1 port 8848, ttl 1`` (and ``maxlen`` when known)."""
    d = daemon
    text = "syncid %d, group %s port %d, ttl %d" % (d["syncid"], d["mcast_group"], d["mcast_port"], d["mcast_ttl"])
    if d.get("maxlen") is not None:
        text += ", maxlen %d" % d["maxlen"]
    return text


def describe_sync_daemon(op: dict) -> str:
    """``start master sync daemon on eth0 (syncid 3, group 233.252.0.1 port 8848, ttl 1)``."""
    d = op["daemon"]
    return "%s %s sync daemon on %s (%s)" % (op["action"].split("_")[0], d["role"], d["interface"],
                                             sync_daemon_settings(d))


# ----------------------------------------------------------------- timeouts
#
# The connection timeouts of `ipvsadm --set`: established TCP, TCP after FIN, UDP.
# The kernel reads 0 as "leave as is" and refuses more than INT_MAX / HZ seconds
# (HZ is at most 1000).

TIMEOUTS = ("tcp", "tcp_fin", "udp")
MAX_TIMEOUT = 2147483


def timeouts_from_params(params: dict) -> dict:
    """The timeouts asked for: a dict of the ones given (others are left as they are)."""
    wanted = {}
    for name in TIMEOUTS:
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, bool) and value == 0:
            raise IPVSValidationError("%s: 0 is out of range (1..%d); the kernel reads 0 as 'leave as is', "
                                      "so omit %s instead" % (name, MAX_TIMEOUT, name))
        wanted[name] = _int_in(value, 1, MAX_TIMEOUT, name)
    return wanted


def diff_timeouts(wanted: dict, current: dict) -> dict:
    """The timeouts to set: those asked for that differ from the kernel's."""
    return {name: value for name, value in wanted.items() if current.get(name) != value}


def describe_timeouts(changes: dict, current: dict) -> list:
    return ["set %s timeout %s -> %d s" % (name.replace("_", " "), current.get(name), changes[name])
            for name in TIMEOUTS if name in changes]
