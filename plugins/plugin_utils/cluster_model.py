# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' model of the cluster: role variables and inventory in, checked configuration out.

The lb and frontend roles reach this through the collection's filters
(plugins/filter/cluster.py); nothing here touches a host.  Every value that reaches
a file, a unit or a module is checked here, before the role changes anything, and
every error names the variable (``lb_services[2].port: ...``).  The IPVS side of the
model (schedulers, forwarding, limits, service keys, real server rules) is
``module_utils/ipvs_state``, shared with the modules, so there is one of each.

``director_model`` turns the lb role's variables into the services the templates
present and the table ``lvs.cluster.ipvs_table`` applies; ``ipvs_drift`` compares
that with a live table read by ``lvs.cluster.ipvs_info``; ``director_status``
adds health and the ``ipvsadm -L -n --stats --rate`` summary; ``frontend_model``
does for the frontend role what ``director_model`` does for the lb role.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import socket
from collections.abc import Mapping
from typing import NoReturn

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

# The table owners the lb role knows (lb_healthcheck): each has its folder of tasks
# under roles/lb/tasks/owners/ and its vars file under roles/lb/vars/owners/.
OWNERS = ("ldirectord", "keepalived", "none")
# Forwarding as ldirectord and keepalived spell it, by the kernel's name.
LDIRECTORD_FORWARDING = {"dr": "gate", "nat": "masq", "tunnel": "ipip"}
KEEPALIVED_FORWARDING = {"dr": "DR", "nat": "NAT", "tunnel": "TUN"}
# ldirectord's named check types (a positive number: connect checks with a
# negotiate check every Nth time) and keepalived's checks as the role names them.
LDIRECTORD_CHECKTYPES = ("connect", "negotiate", "ping", "off", "on", "external", "external-perl")
KEEPALIVED_CHECKS = ("http_get", "tcp", "none")
# ldirectord's `service` names (its negotiate checks).
LDIRECTORD_SERVICES = ("dns", "ftp", "http", "https", "http_proxy", "imap", "imaps", "ldap", "mysql", "nntp",
                       "none", "oracle", "pgsql", "pop", "pops", "radius", "sip", "simpletcp", "smtp", "submission")
SYSLOG_FACILITIES = ("auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
                     "user", "uucp") + tuple("local%d" % n for n in range(8))
WELL_KNOWN_SERVICES = {80: "http", 443: "https"}
# The scheduler flags by the names keepalived and ldirectord (ipvsadm) take: the
# scheduler's own name where it has one (mh-port), else the generic (flag-2).
FLAG_NAMES = {(scheduler, generic): name for name, (scheduler, generic) in state.SCHED_FLAG_NAMES.items()}
# AS numbers (RFC 6793: four octets) and BGP timers as FRR takes them.
MAX_ASN = 4294967295
# What serves the frontends' pages (frontend_web_server): the role's Apache, or
# a server the user runs, which the role leaves alone and only checks listens.
WEB_SERVERS = ("apache", "none")

# What may reach a configuration file or a unit: no quote, space or control
# character in a path, one printable line in a free-text field.
_PATH = re.compile(r"/[A-Za-z0-9._+@/-]*\Z")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*\Z")
_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+\Z")
_HUNDREDTHS = re.compile(r"[0-9]+(\.[0-9]{1,2})?\Z")


class Errors(list):
    """The messages of every problem found, each naming its variable."""

    def check(self, build, *args, **kwargs):
        """``build(*args)``, or None with its IPVSValidationError recorded."""
        try:
            return build(*args, **kwargs)
        except IPVSValidationError as exc:
            self.append(str(exc))
            return None


def fail(message: str) -> NoReturn:
    raise IPVSValidationError(message)


# ------------------------------------------------------------- plain values


def whole(value, low: int, high: int | None, name: str) -> int:
    """A whole number from an int or a string of ASCII digits, in [low, high]."""
    text = str(value).strip()
    if isinstance(value, bool) or not _DIGITS.match(text):
        fail("%s: %r is not a whole number" % (name, value))
    number = int(text)
    if number < low or (high is not None and number > high):
        fail("%s: %d is out of range (%d..%s)" % (name, number, low, high if high is not None else "any"))
    return number


def hundredths(value, low: str, high: str, name: str, why: str = "") -> float:
    """Seconds in hundredths (``"0.5"``, ``1``, ``"0.25"``) from ``low`` to ``high``."""
    text = str(value).strip()
    if isinstance(value, bool) or not _HUNDREDTHS.match(text) or not float(low) <= float(text) <= float(high):
        fail("%s: %s is not a number of seconds from %s to %s in hundredths%s" % (name, text, low, high, why))
    return float(text)


def flag(value, name: str) -> bool:
    try:
        return boolean(value, strict=True)
    except TypeError:
        fail("%s: %r is not a boolean" % (name, value))


def line(value, name: str, allow_empty: bool = True) -> str:
    """One line of printable text: no newline or other control character."""
    if isinstance(value, (list, dict)):
        fail("%s: %r is not a string" % (name, value))
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        fail("%s: %r has a newline or another control character" % (name, value))
    if not allow_empty and not text.strip():
        fail("%s: is empty" % name)
    return text


def lines(value, name: str) -> list:
    """A list of verbatim configuration lines, each one line."""
    if value is None:
        return []
    if not isinstance(value, list):
        fail("%s: %r is not a list of lines" % (name, value))
    return [line(item, "%s[%d]" % (name, index)) for index, item in enumerate(value)]


def quotable(value, name: str) -> str:
    """A line that goes between double quotes (ldirectord request/receive, keepalived notify)."""
    text = line(value, name)
    if '"' in text or "\\" in text:
        fail("%s: %r has a double quote or backslash, which the daemon's quoting cannot carry" % (name, value))
    return text


def path(value, name: str, allow_empty: bool = False) -> str:
    """An absolute path of letters, digits and ._+@/- (no spaces, quotes or control characters)."""
    text = "" if value is None else str(value)
    if allow_empty and text == "":
        return text
    if not _PATH.match(text) or "/../" in text + "/":
        fail("%s: %r is not an absolute path of letters, digits and ._+@/- (no spaces or quotes)" % (name, value))
    return text


def url_path(value, name: str) -> str:
    text = line(value, name)
    if not _URL_PATH.match(text):
        fail("%s: %r is not a URL path (starting with /, no spaces or quotes)" % (name, value))
    return text


def hostname(value, name: str) -> str:
    text = "" if value is None else str(value)
    if not _HOSTNAME.match(text):
        fail("%s: %r is not a host name (letters, digits, dots and hyphens)" % (name, value))
    return text


def address(value, name: str, family: str | None = None) -> str:
    """A canonical IPv4/IPv6 address (no network, name or zone ID), of ``family`` when given."""
    result = state.canonical_address(value, name)
    if family is not None and state.family_of(result) != family:
        fail("%s: %s is not an %s address" % (name, result, family.replace("ip", "IP")))
    return result


def network(value, name: str) -> str:
    """An address or a network (``192.0.2.0/24``), canonical."""
    text = str(value).strip()
    if "%" in text:
        fail("%s: %r has a zone ID (%%...)" % (name, value))
    try:
        return str(ipaddress.ip_network(text, strict=False)) if "/" in text else str(ipaddress.ip_address(text))
    except ValueError:
        fail("%s: %r is not an address or a network" % (name, value))


def port(value, name: str, low: int = 1) -> int:
    return whole(value, low, 65535, name)


def choice(value, choices, name: str) -> str:
    if value not in choices:
        fail("%s: %r is not one of %s" % (name, value, ", ".join(choices)))
    return value


def fallback_server(value, name: str) -> str:
    """ldirectord's fallback: ``address[:port] [gate|masq|ipip]`` (IPv6 in brackets)."""
    text = line(value, name).strip()
    match = re.fullmatch(r"(\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+))(:(?P<port>[0-9]+))?( (?P<fwd>gate|masq|ipip))?", text)
    if not match:
        fail("%s: %r is not \"address[:port] [gate|masq|ipip]\" (IPv6 in brackets)" % (name, value))
    address(match["v6"] or match["v4"], name)
    if match["port"]:
        port(match["port"], name)
    return text


def sorry_server(value, name: str) -> str:
    """keepalived's sorry_server: ``address`` or ``address port``."""
    parts = line(value, name).split()
    if len(parts) not in (1, 2):
        fail("%s: %r is not \"address\" or \"address port\"" % (name, value))
    result = address(parts[0], name)
    if len(parts) == 2:
        result += " %d" % port(parts[1], name)
    return result


def as_list(value, name: str) -> list:
    if not isinstance(value, list):
        fail("%s: %r is not a list" % (name, value))
    return value


# ------------------------------------------------------------- host addresses


def interface_facts(facts: Mapping, interface: str) -> Mapping:
    return facts.get(interface.replace("-", "_").replace(":", "_")) or {}


def interface_networks(ifacts: Mapping, skip: set) -> list:
    """The networks an interface is attached to (host routes and ``skip`` addresses left out)."""
    result = []
    v4 = ([ifacts["ipv4"]] if ifacts.get("ipv4") else []) + list(ifacts.get("ipv4_secondaries") or [])
    for entry in v4:
        if entry.get("address") and entry.get("netmask") and entry["address"] not in skip:
            result.append(ipaddress.ip_interface("%s/%s" % (entry["address"], entry["netmask"])))
    for entry in ifacts.get("ipv6") or []:
        if entry.get("scope") != "link" and entry.get("address") and entry.get("prefix") and entry["address"] not in skip:
            result.append(ipaddress.ip_interface("%s/%s" % (entry["address"], entry["prefix"])))
    return [i for i in result if i.network.prefixlen < i.max_prefixlen]


def interface_addresses(ifacts: Mapping, family: str) -> list:
    if family == "ipv4":
        entries = ([ifacts["ipv4"]] if ifacts.get("ipv4") else []) + list(ifacts.get("ipv4_secondaries") or [])
    else:
        entries = [e for e in ifacts.get("ipv6") or [] if e.get("scope") != "link"]
    return [str(ipaddress.ip_address(e["address"])) for e in entries if e.get("address")]


def host_addresses(hv: Mapping, family: str, skip: set) -> list:
    """Every address of ``family`` in a host's facts, lo and link-local left out."""
    facts = hv.get("ansible_facts") or {}
    result: list = []
    for name in facts.get("interfaces") or []:
        if name != "lo":
            result.extend(a for a in interface_addresses(interface_facts(facts, name), family) if a not in skip)
    return result


def literal(value, family: str | None = None) -> str | None:
    """``value`` as a canonical address (of ``family`` when given), or None when it is a name or another family."""
    text = "" if value is None else str(value).strip()
    if "%" in text:
        return None
    try:
        result = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(result) if family is None or state.family_of(str(result)) == family else None


ADDRESS_VARS = {"ipv4": "lvs_address", "ipv6": "lvs_address6"}


def segment_address(host: str, hv: Mapping, family: str, segment: list, skip: set) -> str | None:
    """The address ``host`` has on the LVS segment, in ``family``; None when nothing tells.

    In this order: its ``lvs_address``/``lvs_address6`` host variable (as given: the
    caller may check it against the segment); its ``ansible_host`` when that is an
    address in the segment; an address of its facts in the segment; with no segment
    known, ``ansible_host`` when an address, else the address that name resolves to
    (when the host's facts hold it), else its facts' default address, else its only
    address.
    """
    var = ADDRESS_VARS[family]
    if hv.get(var) not in (None, ""):
        return address(hv[var], "%s (host %s)" % (var, host), family)
    given = literal(hv.get("ansible_host"), family)
    found = ([given] if given else []) + host_addresses(hv, family, skip)
    if segment:
        for candidate in found:
            if any(ipaddress.ip_address(candidate) in net for net in segment):
                return candidate
        return None
    if given:
        return given
    named = resolve(hv.get("ansible_host"), family)
    if named and (named in found or not hv.get("ansible_facts")):
        return named
    default = literal(((hv.get("ansible_facts") or {}).get("default_" + family) or {}).get("address"), family)
    if default:
        return default
    return found[0] if len(found) == 1 else None


def resolve(name, family: str) -> str | None:
    """The address a host name resolves to on the controller (where Ansible connects from), or None."""
    text = "" if name is None else str(name).strip()
    if not text or literal(text, family) or not _HOSTNAME.match(text):
        return None
    try:
        infos = socket.getaddrinfo(text, None, socket.AF_INET6 if family == "ipv6" else socket.AF_INET)
    except (OSError, UnicodeError):
        return None
    return literal(infos[0][4][0], family) if infos else None


def segment_of(networks: list, family: str) -> list:
    return [i.network for i in networks if (i.version == 6) == (family == "ipv6")]


def describe_segment(segment: list) -> str:
    return ", ".join(str(n) for n in segment) or "none known"


# ------------------------------------------------------------------ directors


def director_model(settings: Mapping, hostvars: Mapping, groups: Mapping, host: str) -> dict:
    """The lb role's variables and the inventory, checked and worked out.

    ``settings`` holds the role's variables by name (``lb_*``); ``hostvars`` and
    ``groups`` are Ansible's; ``host`` is the director.  Returns
    ``{"errors": [...]}`` plus, when there are none, everything the role's tasks and
    templates need (see the lb role's vars/main.yml).
    """
    errors = Errors()
    s = settings
    hv = hostvars[host]
    facts = hv.get("ansible_facts") or {}
    owner = s.get("lb_healthcheck")
    if owner not in OWNERS:
        errors.append("lb_healthcheck: %s is not supported; choose one of %s" % (owner, ", ".join(OWNERS)))
        return {"errors": errors}

    own4 = segment_address(host, hv, "ipv4", [], set())
    iface = errors.check(_interface, "lb_interface", s.get("lb_interface") or "", facts, own4, hv.get("ansible_host"))
    if iface is None:
        return {"errors": errors}
    ifacts = interface_facts(facts, iface)

    vips = errors.check(_vips, s.get("lb_vips"), "lb_vips")
    if vips is None:
        return {"errors": errors}
    vip_set = {v["address"] for v in vips}
    networks = interface_networks(ifacts, vip_set)
    own = {a for a in [own4, literal(hv.get("lvs_address6"), "ipv6")] + interface_addresses(ifacts, "ipv4")[:1] if a}
    taken = sorted(vip_set & own)
    if taken:
        errors.append("lb_vips: %s is this director's own address on %s; a VIP must be an address of its own"
                      % (", ".join(taken), iface))
    spread = errors.check(scaleout, s)
    # Announced by BGP, a VIP is routed to the director: it may be any address.
    outside = [v["address"] for v in vips
               if not spread and not any(ipaddress.ip_address(v["address"]) in i.network for i in networks)]
    if outside:
        errors.append("lb_vips: %s not in any subnet of %s (%s); a VIP must be on the segment the director's "
                      "interface is attached to" % (", ".join(outside), iface, ", ".join(str(i) for i in networks)))
    own6 = segment_address(host, hv, "ipv6", segment_of(networks, "ipv6"), vip_set)

    general = errors.check(_director_settings, s)
    services = errors.check(_services, s, owner, vips, networks, hostvars, groups, vip_set)
    want_ha = errors.check(flag, s.get("lb_ha"), "lb_ha")
    ha = errors.check(_ha, s, hostvars, groups, host, own4) if want_ha and not spread else None
    if want_ha and spread:
        errors.append("lb_scaleout: cannot be combined with lb_ha; VRRP gives each VIP to one director, "
                      "scale-out announces it from every director by BGP")
    bgp = errors.check(_bgp, s, own4, own6, vips, services or []) if spread else None
    prober = errors.check(_dr_prober, s, services or [])
    sysctls = errors.check(_sysctls, s, ha, spread)
    if errors or general is None or services is None:
        return {"errors": errors}
    if bgp is not None:
        bgp["announcer"]["protocol"] = general["vip_protocol"]

    model = {
        "errors": errors,
        "owner": owner,
        "other_owners": [name for name in OWNERS if name != owner],
        "interface": iface,
        "address": own4,
        "address6": own6,
        "vips": vips,
        "services": services,
        "table": [_table_entry(svc) for svc in services],
        # Under none the drain sets weight 0 itself: a drained real server stays, as if quiescent.
        "drain_services": [{"service": state.service_id(_table_entry(svc)),
                            "quiescent": svc["quiescent"] or owner == "none",
                            "real_servers": sorted({rs["address"] for rs in svc["real_servers"]})}
                           for svc in services],
        "kernel_modules": ["ip_vs"] + sorted({"ip_vs_" + svc["scheduler"] for svc in services}),
        "sysctls": sysctls,
        "drain_switches": {rs["address"]: "drain_" + re.sub("[^0-9A-Za-z]", "_", rs["address"])
                           for svc in services for rs in svc["real_servers"]},
        "ha": ha,
        "bgp": bgp,
        "dr_checks": [dict(svc["dr_check"], real_servers=[rs["address"] for rs in svc["real_servers"]])
                      for svc in services if svc["dr_check"]],
        "dr_prober": prober,
        "dr_probes": _dr_probes(services),
        "arp_vips": [v["address"] for v in vips if v["family"] == "ipv4"],
        "hosts_by_mac": _hosts_by_mac(hostvars, {"frontend": list(groups.get(s.get("lb_frontend_group")) or []),
                                                 "director": list(groups.get(s.get("lb_ha_group")) or []) + [host]}),
    }
    model.update(general)
    return model


def _interface_carrying(facts: Mapping, own4: str | None) -> str | None:
    """The interface of the facts that carries the IPv4 address ``own4``, or None."""
    for name in facts.get("interfaces") or []:
        if own4 and own4 in interface_addresses(interface_facts(facts, name), "ipv4"):
            return name
    return None


def _interface(var: str, wanted: str, facts: Mapping, own4: str | None, ansible_host) -> str:
    """The interface ``var`` names, else the one carrying the host's own IPv4 address."""
    interfaces = list(facts.get("interfaces") or [])
    if wanted:
        state.interface_name(wanted, var)
        if wanted not in interfaces:
            fail("%s: interface %s does not exist on this host (it has %s)" % (var, wanted, ", ".join(interfaces)))
        return wanted
    carrying = _interface_carrying(facts, own4)
    if carrying:
        return carrying
    fail("%s: no interface carries this host's address %s (ansible_host %s); set %s, or lvs_address for the host"
         % (var, own4 or "(unknown)", ansible_host if ansible_host is not None else "(unset)", var))


def _vips(value, name: str) -> list:
    """The VIPs in list order: address, family, prefix and (IPv4) the alias label's number."""
    if not isinstance(value, list) or not value:
        fail("%s: %r must be a non-empty list of distinct IPv4/IPv6 addresses (not networks or names)" % (name, value))
    result: list = []
    for index, item in enumerate(value):
        vip = address(item, "%s[%d]" % (name, index))
        if vip in [v["address"] for v in result]:
            fail("%s[%d]: %s is listed twice" % (name, index, vip))
        family = state.family_of(vip)
        result.append({"address": vip, "family": family, "prefix": state.full_prefix(family), "index": index + 1})
    return result


def _director_settings(s: Mapping) -> dict:
    """The role's global settings that reach files and units, checked."""
    logfile = line(s.get("lb_ldirectord_logfile"), "lb_ldirectord_logfile", allow_empty=False)
    if logfile not in SYSLOG_FACILITIES:
        path(logfile, "lb_ldirectord_logfile")
    fallback = s.get("lb_ldirectord_fallback") or ""
    pip_packages = [line(item, "lb_pip_packages[%d]" % index, allow_empty=False)
                    for index, item in enumerate(as_list(s.get("lb_pip_packages"), "lb_pip_packages"))]
    if not pip_packages:
        fail("lb_pip_packages: is empty; the director's modules need pyroute2")
    return {
        "checkinterval": whole(s.get("lb_ldirectord_checkinterval"), 1, None, "lb_ldirectord_checkinterval"),
        "verify_timeout": whole(s.get("lb_verify_timeout"), 0, None, "lb_verify_timeout"),
        "verify_weights": flag(s.get("lb_verify_weights"), "lb_verify_weights"),
        "purge": flag(s.get("lb_purge"), "lb_purge"),
        "logfile": logfile,
        "fallback": fallback_server(fallback, "lb_ldirectord_fallback") if fallback else "",
        "maintenancedir": path(s.get("lb_ldirectord_maintenancedir"), "lb_ldirectord_maintenancedir", allow_empty=True),
        "ldirectord_lines": lines(s.get("lb_ldirectord_extra_lines"), "lb_ldirectord_extra_lines"),
        "keepalived_lines": lines(s.get("lb_keepalived_global_lines"), "lb_keepalived_global_lines"),
        "drain_dir": path(s.get("lb_keepalived_drain_dir"), "lb_keepalived_drain_dir"),
        "venv": path(s.get("lb_venv"), "lb_venv"),
        "files": {name: path(s.get(name), name) for name in
                  ("lb_ldirectord_config", "lb_keepalived_config", "lb_sysctl_file", "lb_modules_file")},
        "apt_repository": line(s.get("lb_apt_repository"), "lb_apt_repository"),
        "pip_packages": pip_packages,
        "metrics": _metrics(s) if flag(s.get("lb_metrics"), "lb_metrics") else None,
        "package_guard": flag(s.get("lb_package_guard"), "lb_package_guard"),
        # The mark of the addresses and routes the role adds (0-3 are the kernel's).
        "vip_protocol": whole(s.get("lb_vip_protocol"), 4, 255, "lb_vip_protocol"),
    }


def _metrics(s: Mapping) -> dict:
    """Where node_exporter listens (its --web.listen-address) and how often the per-service
    counters are written, for lb_metrics."""
    where = s.get("lb_metrics_address") or ""
    host = endpoint(address(where, "lb_metrics_address")) if where else ""
    return {
        "listen": "%s:%d" % (host, port(s.get("lb_metrics_port"), "lb_metrics_port")),
        "interval": whole(s.get("lb_metrics_interval"), 1, 3600, "lb_metrics_interval"),
    }


# Per-service settings: the role default each one falls back to.
SERVICE_DEFAULTS = {
    "port": "lb_port", "protocol": "lb_protocol", "scheduler": "lb_scheduler", "persistence": "lb_persistence",
    "forwarding": "lb_forwarding", "weight": "lb_weight", "checktype": "lb_checktype",
    "request": "lb_check_request", "receive": "lb_check_receive", "negotiatetimeout": "lb_negotiatetimeout",
    "quiescent": "lb_quiescent", "failurecount": "lb_failurecount", "check": "lb_keepalived_check",
    "status_code": "lb_keepalived_status_code", "delay_loop": "lb_keepalived_delay_loop",
    "connect_timeout": "lb_keepalived_connect_timeout", "retry": "lb_keepalived_retry",
    "delay_before_retry": "lb_keepalived_delay_before_retry", "dr_check": "lb_dr_check",
    "scheduler_flags": "lb_scheduler_flags",
}
SERVICE_KEYS = set(SERVICE_DEFAULTS) | {
    "address", "fwmark", "family", "persistence_netmask", "real_servers", "checkport", "checktimeout",
    "fallback", "service", "extra_lines", "digest", "quorum", "hysteresis", "sorry_server", "alpha", "omega",
    "keepalived_lines", "dr_check_address"}


def _services(s: Mapping, owner: str, vips: list, networks: list, hostvars: Mapping, groups: Mapping,
              vip_set: set) -> list:
    items = s.get("lb_services")
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        fail("lb_services: must be a list of mappings, got %r" % (items,))
    errors = Errors()
    result: list = []
    for index, item in enumerate(items):
        svc = errors.check(_service, index, item, s, owner, vips, networks, hostvars, groups, vip_set)
        if svc is None:
            continue
        clash = [other for other in result if other["key"] == svc["key"]]
        if clash:
            errors.append("lb_services[%d]: service %s is listed more than once (also lb_services[%d])"
                          % (index, svc["key"], clash[0]["index"]))
        result.append(svc)
    if errors:
        fail("; ".join(errors))
    return result


def _service(index: int, item: Mapping, s: Mapping, owner: str, vips: list, networks: list,
             hostvars: Mapping, groups: Mapping, vip_set: set) -> dict:
    name = "lb_services[%d]" % index

    def get(key):
        value = item.get(key)
        return s.get(SERVICE_DEFAULTS[key]) if value is None and key in SERVICE_DEFAULTS else value

    unknown = sorted(set(item) - SERVICE_KEYS)
    if unknown:
        fail("%s: unknown key %s (known: %s)" % (name, ", ".join(unknown), ", ".join(sorted(SERVICE_KEYS))))
    fwmark = item.get("fwmark")
    given = item.get("address")
    family = item.get("family")
    if family is not None:
        choice(family, state.FAMILIES, name + ".family")
    if given is not None:
        given = address(given, name + ".address")
        if given not in vip_set:
            fail("%s.address: %s is not one of lb_vips %s" % (name, given, ", ".join(v["address"] for v in vips)))
        if family not in (None, state.family_of(given)):
            fail("%s.family: %s does not match address %s" % (name, family, given))
        family = state.family_of(given)
    family = family or "ipv4"
    svc_port = port(get("port"), name + ".port")
    protocols = state.PROTOCOLS if owner == "none" else ("tcp", "udp")
    protocol = get("protocol")
    if protocol not in protocols:
        fail("%s.protocol: %s is not one of %s%s" % (name, protocol, ", ".join(protocols),
                                                     "" if owner == "none" else " (%s has no sctp)" % owner))
    spread = scaleout(s)
    scheduler = get("scheduler") or ("mh" if spread else "wlc")
    if spread and scheduler != "mh":
        fail("%s.scheduler: %s; scale-out (lb_scaleout) needs mh, consistent hashing, so that a flow the router "
             "moves to another director reaches the same real server (set lb_scheduler: mh, or leave it empty)"
             % (name, scheduler))
    params = {"scheduler": scheduler, "scheduler_flags": get("scheduler_flags"),
              "persistence_timeout": whole(get("persistence"), 0, None, name + ".persistence"),
              "persistence_netmask": item.get("persistence_netmask")}
    if fwmark is not None:
        if given is not None:
            fail("%s.address: a firewall-mark service is keyed by fwmark and family; do not give an address" % name)
        params.update(fwmark=whole(fwmark, 1, state.MAX_FWMARK, name + ".fwmark"), family=family)
    else:
        if given is None:
            given = next((v["address"] for v in vips if v["family"] == family), None)
            if given is None:
                fail("%s.address: no address given and lb_vips has no %s VIP" % (name, family))
        params.update(address=given, port=svc_port, protocol=protocol)
    try:
        ipvs = state.service_from_params(params, name + ".")
    except IPVSValidationError as exc:
        fail(str(exc).replace(name + ".persistence_timeout", name + ".persistence"))
    key = state.service_id(ipvs)

    forwarding = state.forwarding_name(get("forwarding"), name + ".forwarding")
    weight = whole(get("weight"), 0, state.MAX_WEIGHT, name + ".weight")
    segment = segment_of(networks, family)
    real_servers = _real_servers(name, item, ipvs, forwarding, weight, s, segment, hostvars, groups, vip_set)

    svc = {
        "index": index, "name": name, "key": key, "family": family, "fwmark": ipvs["fwmark"],
        "address": ipvs["address"], "port": svc_port, "protocol": ipvs["protocol"],
        "scheduler": ipvs["scheduler"], "persistence": ipvs["persistence_timeout"],
        "scheduler_flags": ipvs["scheduler_flags"],
        "scheduler_flag_names": [FLAG_NAMES.get((ipvs["scheduler"], f), f) for f in ipvs["scheduler_flags"]],
        "persistence_netmask": None, "persistence_prefix": ipvs["persistence_netmask"],
        "forwarding": forwarding, "lvs_method": KEEPALIVED_FORWARDING[forwarding],
        "real_servers": real_servers,
    }
    if item.get("persistence_netmask") is not None:
        prefix = ipvs["persistence_netmask"]
        svc["persistence_netmask"] = (str(ipaddress.IPv4Network("0.0.0.0/%d" % prefix).netmask)
                                      if family == "ipv4" else str(prefix))
    svc.update(_checks(name, item, get, owner, svc))
    svc["dr_check"] = _dr_check(name, item, get, owner, svc, vips)
    return svc


def _real_servers(name: str, item: Mapping, ipvs: dict, forwarding: str, weight: int, s: Mapping,
                  segment: list, hostvars: Mapping, groups: Mapping, vip_set: set) -> list:
    family = ipvs["family"]
    rport = 0 if ipvs["fwmark"] else ipvs["port"]
    explicit = item.get("real_servers")
    entries = []
    if explicit is not None:
        for index, rs in enumerate(as_list(explicit, name + ".real_servers")):
            if not isinstance(rs, Mapping):
                fail("%s.real_servers[%d]: each real server is a mapping with at least an address" % (name, index))
            entries.append(({"address": rs.get("address"), "port": rs.get("port", rport),
                             "weight": rs.get("weight", weight), "forwarding": rs.get("forwarding", forwarding)},
                            None))
        if not entries:
            fail("%s.real_servers: the list is empty" % name)
    else:
        group = s.get("lb_frontend_group")
        hosts = list(groups.get(group) or [])
        if not hosts:
            fail("%s.real_servers: none listed, and the inventory group lb_frontend_group (%s) is empty or missing"
                 % (name, group))
        for host in hosts:
            found = segment_address(host, hostvars[host], family, segment, vip_set)
            if found is None:
                fail("%s.real_servers: host %s of group %s has no %s address on the director's segment (%s): set "
                     "its %s host variable, or gather its facts" % (name, host, group, family.replace("ip", "IP"),
                                                                    describe_segment(segment), ADDRESS_VARS[family]))
            entries.append(({"address": found, "port": rport, "weight": weight, "forwarding": forwarding}, host))
    result = []
    seen: dict = {}
    for index, (params, host) in enumerate(entries):
        where = "%s.real_servers[%d]%s." % (name, index, " (host %s)" % host if host else "")
        rs = state.real_server_from_params(params, ipvs, where)
        if rs["address"] in vip_set:
            fail("%saddress: %s is a VIP, not a real server" % (where, rs["address"]))
        if rs["forwarding"] == "dr" and segment and not any(ipaddress.ip_address(rs["address"]) in n for n in segment):
            fail("%saddress: %s is not on the director's segment (%s): direct routing reaches real servers on "
                 "the same link only" % (where, rs["address"], describe_segment(segment)))
        rid = state.real_server_id(rs)
        if rid in seen:
            fail("%s.real_servers: %s is listed twice (%s and %s)" % (name, rid, seen[rid], where.rstrip(".")))
        seen[rid] = where.rstrip(".")
        rs["ldirectord"] = LDIRECTORD_FORWARDING[rs["forwarding"]]
        rs["keepalived"] = KEEPALIVED_FORWARDING[rs["forwarding"]]
        rs["host"] = host
        result.append(rs)
    return result


def _checks(name: str, item: Mapping, get, owner: str, svc: dict) -> dict:
    """The health-check settings of one service, checked for its owner only."""
    checks = {
        "quiescent": flag(get("quiescent"), name + ".quiescent"),
        "request": get("request"), "receive": get("receive"), "checkport": None,
        "extra_lines": lines(item.get("extra_lines"), name + ".extra_lines"),
        "keepalived_lines": lines(item.get("keepalived_lines"), name + ".keepalived_lines"),
    }
    if item.get("checkport") is not None:
        checks["checkport"] = port(item["checkport"], name + ".checkport")
    elif svc["fwmark"]:
        checks["checkport"] = svc["port"]
    if owner == "ldirectord":
        checktype = str(get("checktype"))
        if not ((_DIGITS.match(checktype) and int(checktype) > 0) or checktype in LDIRECTORD_CHECKTYPES):
            fail("%s.checktype: %s is not a positive number or one of %s"
                 % (name, checktype, ", ".join(LDIRECTORD_CHECKTYPES)))
        service = item.get("service")
        if service is None and svc["fwmark"]:
            service = WELL_KNOWN_SERVICES.get(svc["port"])
        checks.update({
            "checktype": checktype,
            "request": quotable(get("request"), name + ".request"),
            "receive": quotable(get("receive"), name + ".receive"),
            "negotiatetimeout": whole(get("negotiatetimeout"), 1, None, name + ".negotiatetimeout"),
            "failurecount": whole(get("failurecount"), 0, None, name + ".failurecount"),
            "checktimeout": (whole(item["checktimeout"], 1, None, name + ".checktimeout")
                             if item.get("checktimeout") is not None else None),
            "fallback": fallback_server(item["fallback"], name + ".fallback") if item.get("fallback") else None,
            "service": choice(service, LDIRECTORD_SERVICES, name + ".service") if service is not None else None,
        })
    elif owner == "keepalived":
        digest = item.get("digest")
        if digest is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", str(digest)):
            fail("%s.digest: %s is not an MD5 digest (32 hex digits, as genhash prints)" % (name, digest))
        optional = {}
        for field in ("quorum", "hysteresis"):
            optional[field] = (whole(item[field], 0, None, "%s.%s" % (name, field))
                               if item.get(field) is not None else None)
        checks.update(optional)
        check = choice(get("check"), KEEPALIVED_CHECKS, name + ".check")
        # keepalived reads no page text unless told (its url block's regex): only the
        # service's own receive asks for it, not lb_check_receive (ldirectord's default).
        regex = item.get("receive")
        if regex is not None and regex != "":
            regex = quotable(regex, name + ".receive")
            if check != "http_get":
                fail("%s.receive: only check http_get reads the page (this service's check is %s)" % (name, check))
            try:
                re.compile(regex)
            except re.error as exc:
                fail("%s.receive: %r is not a regular expression: %s" % (name, regex, exc))
        checks.update({
            "check": check,
            "regex": regex or None,
            "request": url_path(get("request"), name + ".request"),
            "status_code": whole(get("status_code"), 100, 599, name + ".status_code"),
            "digest": str(digest).lower() if digest is not None else None,
            "delay_loop": whole(get("delay_loop"), 1, None, name + ".delay_loop"),
            "connect_timeout": whole(get("connect_timeout"), 1, None, name + ".connect_timeout"),
            "retry": whole(get("retry"), 0, None, name + ".retry"),
            "delay_before_retry": whole(get("delay_before_retry"), 0, None, name + ".delay_before_retry"),
            "sorry_server": sorry_server(item["sorry_server"], name + ".sorry_server")
            if item.get("sorry_server") is not None else None,
            "alpha": flag(item.get("alpha", False), name + ".alpha"),
            "omega": flag(item.get("omega", False), name + ".omega"),
        })
    return checks


def _dr_check(name: str, item: Mapping, get, owner: str, svc: dict, vips: list) -> dict | None:
    """The DR-path probe of one service (plugins/module_utils/dr_probe.py), or None.

    The probe sends the check to the VIP through each real server's MAC, the way
    clients' requests arrive, so a real server without the VIP on its lo fails
    it.  It stands in for ldirectord's check (``checktype = external``) and joins
    keepalived's (``MISC_CHECK``) for TCP services whose real servers are all
    reached by direct routing.  ``dr_check`` (lb_dr_check) on a service where it
    cannot work is an error; the role's default turns it on where it can.
    """
    explicit = item.get("dr_check") is not None
    wanted = flag(get("dr_check"), name + ".dr_check")
    given = item.get("dr_check_address")
    if given is not None and not svc["fwmark"]:
        fail("%s.dr_check_address: only a firewall-mark service needs it (the probe uses %s)" % (name, svc["address"]))
    if not wanted:
        return None
    if owner == "ldirectord":
        checktype = svc["checktype"]
        # As ldirectord itself: no service given, the virtual port names it (not checkport).
        service = svc["service"] or WELL_KNOWN_SERVICES.get(svc["port"])
        mode = None if checktype in ("on", "off", "external", "external-perl") else (
            "http" if service == "http" and checktype not in ("connect", "ping") else "connect")
        why = "checktype %s" % checktype
    elif owner == "keepalived":
        mode = {"http_get": "http", "tcp": "connect"}.get(svc["check"])
        why = "check %s" % svc["check"]
    else:
        mode, why = None, "lb_healthcheck none (no checker runs it)"
    others = sorted({rs["forwarding"] for rs in svc["real_servers"]} - {"dr"})
    if svc["protocol"] != "tcp" and not svc["fwmark"]:
        mode, why = None, "protocol %s" % svc["protocol"]
    elif others:
        mode, why = None, "real servers forwarded by %s" % ", ".join(others)
    if mode is None:
        if explicit:
            fail("%s.dr_check: the DR-path probe does not fit this service (%s); set it to false" % (name, why))
        return None
    if svc["fwmark"]:
        family_vips = [v["address"] for v in vips if v["family"] == svc["family"]]
        probe_address = address(given, name + ".dr_check_address", svc["family"]) if given is not None else (
            family_vips[0] if family_vips else None)
        if probe_address is None or probe_address not in family_vips:
            fail("%s.dr_check_address: %s is not one of the %s VIPs in lb_vips (%s)" % (
                name, probe_address, svc["family"], ", ".join(family_vips) or "none"))
    else:
        probe_address = svc["address"]
    timeout = svc["negotiatetimeout"] if owner == "ldirectord" else svc["connect_timeout"]
    if owner == "ldirectord" and svc["checktimeout"] is not None:
        timeout = svc["checktimeout"]
    return {
        "virtual": str(svc["fwmark"]) if svc["fwmark"] else svc["address"],
        "port": 0 if svc["fwmark"] else svc["port"],
        "address": probe_address,
        "probe_port": svc["checkport"] or svc["port"],
        "mode": mode,
        "request": url_path(svc["request"], name + ".request") if mode == "http" else None,
        "host": ("[%s]" % probe_address) if svc["family"] == "ipv6" else probe_address,
        "status": svc.get("status_code", 200),
        "receive": (svc["receive"] if owner == "ldirectord" else svc["regex"]) if mode == "http" else None,
        "timeout": timeout,
        # The checker's own limit: the probe's, and the interpreter's start.
        "command_timeout": timeout + 2,
    }


def _dr_prober(s: Mapping, services: list) -> dict:
    """How often lvs-cluster-dr-prober.service probes each real server (lb_dr_check_interval), and
    the age in whole seconds up to which the checkers' wrapper takes its verdict: a failing probe
    writes only after its timeout, and file times count in seconds."""
    interval = hundredths(s.get("lb_dr_check_interval"), "0.1", "60", "lb_dr_check_interval")
    slowest = max([interval] + [svc["dr_check"]["timeout"] for svc in services if svc["dr_check"]])
    return {"interval": interval, "fresh": math.ceil(slowest) + 2}


def real_server_addresses(hostvars: Mapping, host: str) -> list:
    """The addresses directors have ``host`` at as a real server of lb_frontend_group: what a
    drain of that host names (playbooks/rolling_update.yml).

    Its IPv4 address by the director model's rule (``lvs_address``; its ``ansible_host`` when an
    address; else from its facts), then its IPv6 address on the segment of the interface
    carrying the IPv4 one (``lvs_address6``; else from its facts), when it has one. A host named
    by a DNS name needs its network facts.
    """
    hv = hostvars[host]
    facts = hv.get("ansible_facts") or {}
    own4 = segment_address(host, hv, "ipv4", [], set())
    if own4 is None:
        fail("host %s: no IPv4 address tells where directors have it as a real server: set its lvs_address "
             "host variable, or gather its facts" % host)
    iface = _interface_carrying(facts, own4)
    segment6 = segment_of(interface_networks(interface_facts(facts, iface), set()), "ipv6") if iface else []
    given6 = hv.get("lvs_address6") not in (None, "")
    own6 = segment_address(host, hv, "ipv6", segment6, set()) if segment6 or given6 else None
    return [own4] + ([own6] if own6 else [])


def _dr_probes(services: list) -> list:
    """What ``lvs.cluster.dr_probe`` sends: each DR-checked service to each of its real servers."""
    probes: list = []
    for svc in services:
        check = svc["dr_check"]
        if check:
            probe = {"address": check["address"], "port": check["probe_port"], "mode": check["mode"],
                     "host": check["host"], "status": check["status"]}
            probe.update((key, check[key]) for key in ("request", "receive") if check[key] is not None)
            probes.extend(dict(probe, real_server=rs["address"]) for rs in svc["real_servers"])
    return probes


def _hosts_by_mac(hostvars: Mapping, roles: Mapping) -> dict:
    """Every MAC address the facts of the cluster's hosts show: {mac: {host, role}}."""
    result: dict = {}
    for role, hosts in roles.items():
        for host in hosts:
            facts = (hostvars.get(host) or {}).get("ansible_facts") or {}
            for name in facts.get("interfaces") or []:
                mac = str(interface_facts(facts, name).get("macaddress") or "").lower()
                if name != "lo" and mac and mac != "00:00:00:00:00:00":
                    result.setdefault(mac, {"host": host, "role": role})
    return result


def dr_findings(result: Mapping, model: Mapping) -> list:
    """What ``lvs.cluster.dr_probe`` found wrong, each with the host it concerns.

    A real server that fails the DR-path probe (it would not answer clients'
    requests for the VIP), and a host other than a director that answers ARP for a
    VIP (it takes the clients' traffic). Each finding is
    ``{kind: dr|arp, host, vip, message}``; ``host`` is None for a MAC address no
    host's facts show.
    """
    hosts = {rs["address"]: rs["host"] for svc in model.get("services") or [] for rs in svc["real_servers"]}
    macs = dict(model.get("hosts_by_mac") or {})
    findings = []
    for probe in result.get("probes") or []:
        if probe.get("real_mac"):
            macs.setdefault(str(probe["real_mac"]).lower(), {"host": hosts.get(probe["real_server"]), "role": "frontend"})
        if not probe.get("ok"):
            host = hosts.get(probe["real_server"])
            findings.append({"kind": "dr", "host": host, "vip": probe["address"], "message": (
                "%s (%s) fails the DR-path check for %s: %s" % (
                    host or "real server", probe["real_server"], endpoint(probe["address"], probe["port"]),
                    probe.get("reason")))})
    for entry in result.get("arp") or []:
        for responder in entry.get("responders") or []:
            mac = str(responder.get("mac") or "").lower()
            known = macs.get(mac) or {"host": None, "role": None}
            if known["role"] == "director":
                continue
            findings.append({"kind": "arp", "host": known["host"], "vip": entry["address"], "message": (
                "%s (%s) answers ARP for VIP %s: clients' traffic for it goes there, not to the director "
                "(a real server needs arp_ignore >= 1 and the VIP on lo only)" % (
                    known["host"] or "a host no inventory facts show", mac, entry["address"]))})
    return findings


def frontend_findings(model: Mapping, sysctls: Mapping, addresses: list, vhost: str, arp: Mapping | None = None,
                      host: str | None = None, listeners: list | None = None) -> list:
    """What a frontend's kernel and web server hold that direct routing cannot live with.

    ``sysctls`` maps ``(interface, name)`` (``all`` and the model's interface;
    ``arp_ignore``, ``arp_announce``) to the values read from /proc; the kernel
    uses the larger of ``all`` and the interface's. ``addresses`` is ``ip -json
    address show``; ``vhost`` the virtual host's text (its status page's access
    list is judged when the role runs Apache). ``listeners`` (``tcp_listeners``
    of ``ss -ltnH``) is judged when the web server is the user's
    (``frontend_web_server: none``): each VIP:frontend_http_port nothing listens
    on is a finding. ``arp`` is ``lvs.cluster.dr_probe``'s result from a director
    on the segment: ``host`` (this frontend) answering ARP for a VIP is a finding.
    Returns one message per problem; an empty list is a frontend safe to forward to.
    """
    iface = model["interface"]
    findings = []

    def effective(name: str) -> int:
        return max(int(sysctls.get(("all", name), 0)), int(sysctls.get((iface, name), 0)))

    if effective("arp_ignore") < 1:
        findings.append("effective arp_ignore=%d on %s (needs >= 1, frontend_arp_ignore): this host answers ARP "
                        "for the VIPs on lo" % (effective("arp_ignore"), iface))
    if effective("arp_announce") != 2:
        findings.append("effective arp_announce=%d on %s (needs 2, frontend_arp_announce): this host may announce "
                        "a VIP as its ARP source" % (effective("arp_announce"), iface))

    vips = [v["address"] for v in model["vips"]]
    on_lo, elsewhere = set(), set()
    for link in addresses:
        for info in link.get("addr_info") or []:
            local = literal(info.get("local"))
            if local not in vips:
                continue
            if link.get("ifname") != "lo":
                elsewhere.add("%s on %s" % (local, link.get("ifname")))
            elif info.get("prefixlen") in (32, 128):
                on_lo.add(local)
    missing = [v for v in vips if v not in on_lo]
    if missing:
        findings.append("VIPs not on lo as /32 or /128: %s (the kernel would drop the clients' packets "
                        "for them)" % ", ".join(missing))
    if elsewhere:
        findings.append("VIPs also on another interface, which answers ARP for them: %s" % ", ".join(sorted(elsewhere)))

    if model.get("web_server", "apache") == "apache":
        findings.extend(_status_findings(model, vhost))
    else:
        findings.extend(_listener_findings(model, listeners or []))
    if arp:
        findings.extend(f["message"] for f in dr_findings(arp, model) if f["kind"] == "arp" and f["host"] == host)
    return findings


def _status_findings(model: Mapping, vhost: str) -> list:
    """The status page's <Location> grants exactly the model's status_allow (``Require ip``), and the
    host itself (``Require local``), nobody else."""
    path = model["status_path"]
    match = re.search(r"<Location\s+%s\s*>(.*?)</Location>" % re.escape(path), vhost, re.S)
    if match is None:
        return ["the virtual host has no <Location %s> block: the status page is not restricted" % path]
    requires = [line.split() for line in match.group(1).splitlines() if line.split()[:1] == ["Require"]]
    granted = [word for words in requires if words[1:2] == ["ip"] for word in words[2:]]
    others = [" ".join(words) for words in requires if words[1:2] not in (["ip"], ["local"])]
    findings = []
    if set(granted) != set(model["status_allow"]) or others:
        findings.append("%s is readable by %s, expected exactly %s (the directors' addresses on the segment and "
                        "frontend_status_allow_extra)" % (path, ", ".join(granted + others) or "nobody",
                                                          ", ".join(model["status_allow"])))
    return findings


def tcp_listeners(text: str) -> list:
    """The listening TCP sockets in ``ss -ltnH`` output: ``{address, port, device}`` each.

    ``address`` is canonical, ``0.0.0.0`` or ``::`` for the wildcards of one family,
    ``*`` for an IPv6 wildcard that takes IPv4 too (IPV6_V6ONLY off), an IPv4-mapped
    address as IPv4; ``device`` the interface a socket is bound to (``addr%dev``),
    else None. Lines that are not a socket (none in ss's own output) are left out:
    they can only make a finding, never hide one.
    """
    result = []
    for row in str(text or "").splitlines():
        fields = row.split()
        if len(fields) < 5 or ":" not in fields[3]:
            continue
        local, port_text = fields[3].rsplit(":", 1)
        local, device = (local.split("%", 1) + [""])[:2]
        if not _DIGITS.match(port_text):
            continue
        if local != "*":
            try:
                ip = ipaddress.ip_address(local[1:-1] if local.startswith("[") and local.endswith("]") else local)
            except ValueError:
                continue
            mapped = getattr(ip, "ipv4_mapped", None)
            local = str(mapped or ip)
        result.append({"address": local, "port": int(port_text), "device": device or None})
    return result


def _listener_findings(model: Mapping, listeners: list) -> list:
    """Each VIP:frontend_http_port no listening socket takes: the web server is the user's
    (``frontend_web_server: none``), so the role only checks it is there for the VIPs.

    A socket takes a VIP's connections when it is bound to that VIP, to its family's
    wildcard (``0.0.0.0``, ``::``) or to ``*`` (IPv6 taking IPv4 too), on no device or on
    the interface the clients' packets arrive on."""
    port_ = model["http_port"]
    findings = []
    for vip in model["vips"]:
        wildcards = {"*", vip["address"], "0.0.0.0" if vip["family"] == "ipv4" else "::"}
        if not any(sock["port"] == port_ and sock["address"] in wildcards
                   and sock["device"] in (None, model["interface"]) for sock in listeners):
            findings.append("nothing listens on %s (frontend_http_port; frontend_web_server none: the web server is "
                            "yours to run, on the VIPs or a wildcard address): clients' requests for it fail"
                            % endpoint(vip["address"], port_))
    return findings


def endpoint(address, port=0) -> str:
    """``192.0.2.4:80``, ``[2001:db8::4]:80``; the address alone (bracketed if IPv6) for port 0."""
    text = str(address)
    host = "[%s]" % text if ":" in text else text
    return "%s:%d" % (host, int(port)) if port and int(port) else host


def _table_entry(svc: dict) -> dict:
    """One service as ``lvs.cluster.ipvs_table`` takes it."""
    entry: dict = ({"fwmark": svc["fwmark"], "family": svc["family"]} if svc["fwmark"] else
                   {"address": svc["address"], "port": svc["port"], "protocol": svc["protocol"]})
    entry.update(scheduler=svc["scheduler"], scheduler_flags=svc["scheduler_flags"],
                 persistence_timeout=svc["persistence"])
    if svc["persistence_netmask"] is not None:
        entry["persistence_netmask"] = str(svc["persistence_prefix"])
    entry["real_servers"] = [dict({"address": rs["address"], "weight": rs["weight"], "forwarding": rs["forwarding"]},
                                  **({"port": rs["port"]} if rs["port"] else {}))
                             for rs in svc["real_servers"]]
    return entry


def _ha(s: Mapping, hostvars: Mapping, groups: Mapping, host: str, own4: str | None) -> dict:
    """lb_ha: the VRRP instance and sync daemons, checked across every director of lb_ha_group."""
    group = s.get("lb_ha_group")
    peers = list(groups.get(group) or [])
    if len(peers) < 2:
        fail("lb_ha: HA needs two or more directors in the inventory group lb_ha_group (%s), found %s"
             % (group, ", ".join(peers) or "none"))
    if host not in peers:
        fail("lb_ha_group: this director (%s) is not in group %s" % (host, group))
    off = [h for h in peers if h != host and not flag(hostvars[h].get("lb_ha", False), "lb_ha (host %s)" % h)]
    if off:
        fail("lb_ha: only some directors of %s set it; %s do not (set lb_ha in the group's inventory variables)"
             % (group, ", ".join(off)))
    priorities = {}
    for place, h in enumerate(peers):
        given = s.get("lb_vrrp_priority") if h == host else hostvars[h].get("lb_vrrp_priority", "")
        given = "" if given is None else str(given)
        priorities[h] = whole(given, 1, 254, "lb_vrrp_priority (%s)" % h) if given else 150 - 10 * place
        if not 1 <= priorities[h] <= 254:
            fail("lb_vrrp_priority: %s (%s, from its place in %s) is not from 1 to 254; set it" % (priorities[h], h, group))
    preempt = flag(s.get("lb_vrrp_preempt"), "lb_vrrp_preempt")
    if preempt and len(set(priorities.values())) != len(priorities):
        fail("lb_vrrp_priority: with lb_vrrp_preempt the directors need distinct priorities, got %s"
             % ", ".join("%s=%d" % item for item in priorities.items()))
    version = whole(s.get("lb_vrrp_version"), 2, 3, "lb_vrrp_version")
    advert = str(s.get("lb_vrrp_advert_int")).strip()
    if version == 2 and not (_DIGITS.match(advert) and 1 <= int(advert) <= 255):
        fail("lb_vrrp_advert_int: %s is not a whole number of seconds from 1 to 255, as VRRPv2 carries it "
             "(lb_vrrp_version: 3 takes hundredths of a second)" % advert)
    if version == 3:
        hundredths(advert, "0.01", "40.95", "lb_vrrp_advert_int", ", as VRRPv3 carries it")
    notify = s.get("lb_vrrp_notify") or ""
    unicast = flag(s.get("lb_vrrp_unicast"), "lb_vrrp_unicast")
    peer_addresses = []
    if unicast:
        if own4 is None:
            fail("lb_vrrp_unicast: this director (%s) has no IPv4 address to send adverts from; set lvs_address" % host)
        for h in peers:
            if h != host:
                found = segment_address(h, hostvars[h], "ipv4", [], set())
                if found is None:
                    fail("lb_vrrp_unicast: director %s has no IPv4 address to send adverts to; set its lvs_address "
                         "(or an address as ansible_host, or gather its facts)" % h)
                peer_addresses.append(found)
    router_id = whole(s.get("lb_vrrp_router_id"), 1, 255, "lb_vrrp_router_id")
    result = {
        "instance": "LVS_%d" % router_id,
        "router_id": router_id,
        "priorities": priorities,
        "priority": priorities[host],
        "version": version,
        "advert_int": advert,
        "preempt": preempt,
        "preempt_delay": whole(s.get("lb_vrrp_preempt_delay"), 0, 1000, "lb_vrrp_preempt_delay"),
        "unicast": unicast,
        "unicast_src": own4,
        "peers": peer_addresses,
        # How long a director turning HA waits for another to be elected and take
        # the VIPs (turn_ha.yml): three adverts missed, skew, keepalived's start.
        "takeover_wait": math.ceil(3 * float(advert)) + 10,
        "garp": {field: whole(s.get("lb_vrrp_garp_master_" + field), 0, None, "lb_vrrp_garp_master_" + field)
                 for field in ("delay", "repeat", "refresh")},
        "notify": path(notify, "lb_vrrp_notify") if notify else "",
        "sync": None,
    }
    if flag(s.get("lb_sync_daemon"), "lb_sync_daemon"):
        group_address = s.get("lb_sync_mcast_group") or ""
        result["sync"] = {
            "syncid": whole(s.get("lb_sync_id"), 0, 255, "lb_sync_id"),
            "mcast_group": state.multicast_group(group_address, "lb_sync_mcast_group") if group_address else "",
            "mcast_port": port(s.get("lb_sync_mcast_port"), "lb_sync_mcast_port"),
            "mcast_ttl": whole(s.get("lb_sync_mcast_ttl"), 1, 255, "lb_sync_mcast_ttl"),
            "refresh_period": whole(s.get("lb_sync_refresh_period"), 0, 3600, "lb_sync_refresh_period"),
            "retries": whole(s.get("lb_sync_retries"), 0, 3, "lb_sync_retries"),
        }
    return result


def scaleout(s: Mapping) -> bool:
    """lb_scaleout: every director announces the VIPs by BGP (``_bgp``)."""
    return flag(s.get("lb_scaleout"), "lb_scaleout")


BGP_PEER_KEYS = ("address", "asn", "bfd")


def _bgp(s: Mapping, own4: str | None, own6: str | None, vips: list, services: list) -> dict:
    """lb_scaleout: the BGP speaker's settings (FRR's bgpd) and what it announces.

    Each VIP is announced to the peers of its family while the director can serve it:
    ``announcer.vips`` lists, per VIP, the services of the table whose live real servers
    count for it (its own, else the firewall-mark services of its family), for the
    announcer (module_utils/vip_announce.py).
    """
    asn = s.get("lb_bgp_asn")
    if asn in (None, ""):
        fail("lb_bgp_asn: scale-out (lb_scaleout) needs the director's AS number")
    asn = whole(asn, 1, MAX_ASN, "lb_bgp_asn")
    router_id = s.get("lb_bgp_router_id") or own4
    if not router_id:
        fail("lb_bgp_router_id: this director has no IPv4 address to take it from; set it (a dotted quad)")
    router_id = address(router_id, "lb_bgp_router_id", "ipv4")
    keepalive = whole(s.get("lb_bgp_keepalive"), 1, 21845, "lb_bgp_keepalive")
    hold = whole(s.get("lb_bgp_hold_time"), 3, 65535, "lb_bgp_hold_time")
    if hold < 3 * keepalive:
        fail("lb_bgp_hold_time: %d is less than 3 x lb_bgp_keepalive (%d); a peer would drop the session "
             "between two keepalives" % (hold, keepalive))
    default_bfd = flag(s.get("lb_bgp_bfd"), "lb_bgp_bfd")
    items = s.get("lb_bgp_peers")
    if not isinstance(items, list) or not items or not all(isinstance(i, Mapping) for i in items):
        fail("lb_bgp_peers: scale-out needs a non-empty list of peers ({address, asn}), got %r" % (items,))
    own = {a for a in (own4, own6) if a}
    peers: list = []
    for index, item in enumerate(items):
        name = "lb_bgp_peers[%d]" % index
        unknown = sorted(set(item) - set(BGP_PEER_KEYS))
        if unknown:
            fail("%s: unknown key %s (known: %s)" % (name, ", ".join(map(str, unknown)), ", ".join(BGP_PEER_KEYS)))
        if item.get("address") is None or item.get("asn") is None:
            fail("%s: needs address and asn" % name)
        peer = address(item["address"], name + ".address")
        if peer in own or peer in {v["address"] for v in vips}:
            fail("%s.address: %s is this director's own address or a VIP" % (name, peer))
        if peer in [p["address"] for p in peers]:
            fail("%s.address: %s is listed twice" % (name, peer))
        peers.append({"address": peer, "family": state.family_of(peer),
                      "asn": whole(item["asn"], 1, MAX_ASN, name + ".asn"),
                      "bfd": flag(item.get("bfd", default_bfd), name + ".bfd")})
    families = {}
    for family in state.FAMILIES:
        listed = [v["address"] for v in vips if v["family"] == family]
        if listed and not any(p["family"] == family for p in peers):
            fail("lb_bgp_peers: no %s peer to announce %s to (a VIP goes to the peers of its family)"
                 % (family.replace("ip", "IP"), ", ".join(listed)))
        families[family] = listed
    announce = []
    for vip in vips:
        own_services = [svc["key"] for svc in services if svc["address"] == vip["address"]]
        marked = [svc["key"] for svc in services if svc["fwmark"] and svc["family"] == vip["family"]]
        announce.append({"address": vip["address"], "family": vip["family"], "services": own_services or marked})
    return {
        "asn": asn,
        "router_id": router_id,
        "keepalive": keepalive,
        "hold_time": hold,
        "bfd": {"interval": whole(s.get("lb_bfd_interval"), 10, 60000, "lb_bfd_interval"),
                "multiplier": whole(s.get("lb_bfd_multiplier"), 2, 255, "lb_bfd_multiplier")},
        "peers": peers,
        "families": families,
        # lvs-cluster-announce's configuration (module_utils/vip_announce.py); director_model adds
        # the routes' mark (lb_vip_protocol, a general setting).
        "announcer": {"interval": whole(s.get("lb_bgp_announce_interval"), 1, 60, "lb_bgp_announce_interval"),
                      "vips": announce},
    }


def _sysctls(s: Mapping, ha: Mapping | None, scaleout: bool | None = False) -> dict:
    """The director's sysctls, by full name."""
    vs: dict[str, int | str] = {
        # Drop connections to removed real servers, and persistence templates
        # of quiesced ones, so clients move on.
        "expire_nodest_conn": 1,
        "expire_quiescent_template": 1,
        "conntrack": int(flag(s.get("lb_conntrack"), "lb_conntrack")),
    }
    sync = (ha or {}).get("sync")
    if sync:
        # The master sends a connection at each state change and, while it
        # carries packets, again once sync_refresh_period seconds have passed
        # (sync_threshold's period 0: not every 50th packet), so a backup that
        # returns with an empty table learns the established connections within
        # that time. Period 0 restores the kernel's default, every 50 packets.
        refresh = sync["refresh_period"]
        vs.update(sync_threshold="3 0" if refresh else "3 50", sync_refresh_period=refresh,
                  sync_retries=sync["retries"])
    sysctls: dict[str, int | str] = {"net.ipv4.vs." + key: value for key, value in vs.items()}
    if scaleout:
        # The router moves flows between directors when one joins or leaves;
        # the director a flow moves to schedules it from its next packet, not
        # only from a SYN, and mh sends it to the same real server.
        sysctls.update({"net.ipv4.vs.sloppy_tcp": 1, "net.ipv4.vs.sloppy_sctp": 1})
        # The VIPs are local routes: without these the director would answer
        # ARP for them on its segment (a local route is local to ARP too), and
        # neighbours would bypass the routers.
        sysctls.update({"net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.all.arp_announce": 2})
    return sysctls


# The kernel's value of every sysctl _sysctls may set: what a key the role set
# and no longer sets goes back to.
SYSCTL_DEFAULTS: dict[str, int | str] = {
    "net.ipv4.vs.expire_nodest_conn": 0, "net.ipv4.vs.expire_quiescent_template": 0,
    "net.ipv4.vs.conntrack": 0, "net.ipv4.vs.sync_threshold": "3 50", "net.ipv4.vs.sync_refresh_period": 0,
    "net.ipv4.vs.sync_retries": 0, "net.ipv4.vs.sloppy_tcp": 0, "net.ipv4.vs.sloppy_sctp": 0,
    "net.ipv4.conf.all.arp_ignore": 0, "net.ipv4.conf.all.arp_announce": 0,
}


def sysctls_retired(text: str, model: Mapping) -> list:
    """The sysctls the role's file (``text``, lb_sysctl_file) holds that the model no longer sets.

    [{name, value}]: value is the kernel's default to set again, or None for a
    key the role does not know (it only leaves the file). Those of a mode left
    behind (sloppy_tcp and the ARP keys of scale-out, the sync daemons' of HA).
    """
    wanted = model.get("sysctls") or {}
    retired: list[dict] = []
    for raw in (text or "").splitlines():
        entry = raw.strip()
        if not entry or entry[0] in "#;" or "=" not in entry:
            continue
        name = entry.split("=", 1)[0].strip().lstrip("-").replace("/", ".")
        if name not in wanted and name not in (r["name"] for r in retired):
            retired.append({"name": name, "value": SYSCTL_DEFAULTS.get(name)})
    return retired


# ---------------------------------------------------------------- live table


def _live_index(live: list) -> dict:
    return {state.service_id(dict({"protocol": None, "address": None, "port": None, "fwmark": None}, **svc)): svc
            for svc in live or []}


def ipvs_foreign(live: list, model: Mapping) -> list:
    """``purge_exclude`` selectors for the live services the role does not own.

    The role owns the address services on its VIPs and the firewall-mark services
    it lists; everything else in the table (other addresses, other marks) is
    another tool's and stays.
    """
    vips = {v["address"] for v in model["vips"]}
    marks = {(svc["fwmark"], svc["family"]) for svc in model["services"] if svc["fwmark"]}
    result = []
    for svc in live or []:
        if svc.get("fwmark"):
            if (svc["fwmark"], svc["family"]) not in marks:
                result.append({"fwmark": svc["fwmark"], "family": svc["family"]})
        elif svc.get("address") not in vips:
            result.append({"address": svc["address"], "port": svc["port"], "protocol": svc["protocol"]})
    return result


def ipvs_drift(live: list, model: Mapping) -> dict:
    """What differs between the live table (``lvs.cluster.ipvs_info``'s ``services``) and the model.

    ``problems``: services or real servers missing, scheduler, persistence or
    forwarding that differ, weights (every weight under owner none or with
    ``lb_verify_weights``; under a checker a weight above 0 other than the configured
    one), real servers the model does not list; with ``lb_purge`` under none,
    services on the VIPs the model does not list.  ``quiesced``: real servers at weight 0.
    ``dead``: services of the model with no live real server above weight 0 (when
    the model gives any of them a weight above 0). ``missing``: services of the model
    not in the table at all.
    """
    owner = model["owner"]
    index = _live_index(live)
    problems: list = []
    quiesced: list = []
    dead: list = []
    missing: list = []
    for svc in model["services"]:
        where = "%s %s" % (svc["name"], svc["key"])
        current = index.get(svc["key"])
        if current is None:
            problems.append("%s: not in the IPVS table" % where)
            dead.append(svc["key"])
            missing.append(svc["key"])
            continue
        if current["scheduler"] != svc["scheduler"]:
            problems.append("%s: scheduler %s, expected %s" % (where, current["scheduler"], svc["scheduler"]))
        elif sorted(current.get("scheduler_flags") or []) != svc["scheduler_flags"]:
            have_flags = ",".join(current.get("scheduler_flags") or []) or "none"
            problems.append("%s: scheduler flags %s, expected %s"
                            % (where, have_flags, ",".join(svc["scheduler_flags"]) or "none"))
        if int(current.get("persistence_timeout") or 0) != svc["persistence"]:
            problems.append("%s: persistence %s, expected %s" % (where, current.get("persistence_timeout"),
                                                                 svc["persistence"]))
        have = {state.real_server_id(r): r for r in current.get("real_servers") or []}
        for rs in svc["real_servers"]:
            rid = state.real_server_id(rs)
            live_rs = have.pop(rid, None)
            if live_rs is None:
                problems.append("%s: real server %s missing" % (where, rid))
            elif live_rs["forwarding"] != rs["forwarding"]:
                problems.append("%s: real server %s forwards by %s, expected %s"
                                % (where, rid, live_rs["forwarding"], rs["forwarding"]))
            elif live_rs["weight"] != rs["weight"] and (
                    owner == "none" or model["verify_weights"] or live_rs["weight"] > 0):
                problems.append("%s: real server %s has weight %d, expected %d"
                                % (where, rid, live_rs["weight"], rs["weight"]))
        if have:
            problems.append("%s: unlisted real servers %s" % (where, ", ".join(sorted(have))))
        live_servers = current.get("real_servers") or []
        quiesced.extend("%s -> %s" % (svc["key"], state.real_server_id(r)) for r in live_servers if r["weight"] == 0)
        if any(rs["weight"] > 0 for rs in svc["real_servers"]) and not any(r["weight"] > 0 for r in live_servers):
            dead.append(svc["key"])
    if owner == "none" and model["purge"]:
        vips = {v["address"] for v in model["vips"]}
        wanted = {svc["key"] for svc in model["services"]}
        extra = [key for key, svc in index.items() if svc.get("address") in vips and key not in wanted]
        if extra:
            problems.append("services on lb_vips that lb_services does not list: %s" % ", ".join(sorted(extra)))
    return {"problems": problems, "quiesced": quiesced, "dead": dead, "missing": missing,
            "settled": not problems and not quiesced}


def _is_drained(rs: Mapping, drained: set) -> bool:
    """Whether a drain record (``ADDRESS`` or ``ADDRESS:PORT``: ldirectord's maintenance files,
    keepalived's drain switches) names this real server."""
    return rs["address"] in drained or "%s:%s" % (rs["address"], rs["port"]) in drained


def handover_table(live: list, model: Mapping, drained: list) -> list:
    """The table, as ``lvs.cluster.ipvs_table`` takes it, that a new checker adopts as it starts.

    A change of owner kills the old checker so that it leaves the table as it is (a stop
    empties it: ldirectord's cleanstop, keepalived's release of its services). The new one
    adds what is missing and keeps what it finds: keepalived neither edits a service it
    finds nor corrects the weight of a real server it holds up; ldirectord takes a real
    server at weight 0 as down until its first check. So, before it starts, the table is
    set to where the new owner would have it: every service as configured, each real
    server up (at its weight) or down (weight 0 where the service is quiescent, absent
    where not). Down are the real servers drained by the new owner's record (``drained``,
    names as ``director_status`` takes them); under keepalived, those of a service with
    ``alpha`` (checked before trusted); under ldirectord, those the live table does not
    serve (missing or at weight 0).
    """
    owner = model["owner"]
    index = _live_index(live)
    names = set(drained)
    result: list = []
    for svc, entry in zip(model["services"], model["table"]):
        have = {state.real_server_id(rs): rs for rs in (index.get(svc["key"]) or {}).get("real_servers") or []}
        servers: list = []
        for rs, wanted in zip(svc["real_servers"], entry["real_servers"]):
            rid = state.real_server_id(rs)
            if _is_drained(rs, names):
                up = False
            elif owner == "ldirectord":
                up = have.get(rid, {}).get("weight", 0) > 0
            else:
                up = not svc.get("alpha", False)
            if up or svc["quiescent"]:
                servers.append(dict(wanted, weight=wanted["weight"] if up else 0))
        result.append(dict(entry, real_servers=servers))
    return result


def real_server_entries(live: list, addresses: list) -> list:
    """Every live entry of the real servers at ``addresses``: its service (as the modules
    name one), address, port and weight; what a drain under owner none works on."""
    wanted = {address(a, "lb_drain_addresses[%d]" % i) for i, a in enumerate(addresses)}
    result: list = []
    for svc in live or []:
        key = ({"fwmark": svc["fwmark"], "family": svc["family"]} if svc.get("fwmark") else
               {"protocol": svc["protocol"], "address": svc["address"], "port": svc["port"]})
        result.extend({"service": key, "address": rs["address"], "port": rs["port"], "weight": rs["weight"]}
                      for rs in svc.get("real_servers") or [] if rs["address"] in wanted)
    return result


def drain_plan(live: list, configured: Mapping | None, addresses: list) -> dict:
    """How a drain through a health checker goes for the real servers at ``addresses``.

    ``configured`` is what the lb role wrote on the director at apply (``{"services":
    drain_services}``): each service as its checker runs it, quiescent or not, with its real
    servers; None (no such file) counts every service as quiescent. A checker keeps a
    failed real server at weight 0 in a quiescent service, and removes it from the others
    (ldirectord quiescent = no, keepalived without inhibit_on_failure), which would cut
    its connections: there the drain sets the weight to 0 itself first (``first``, the
    live entries as ``real_server_entries``) and waits for the connections. Returns
    ``first``, and the ids of the services the checker then takes the addresses out of
    (``removed``), keeps at weight 0 (``kept``), and puts them back in on a restore
    (``all``); and ``waits``, by drain state, what ``lvs.cluster.ipvs_wait`` waits for once
    the checker was asked, in order (``state``, and ``services`` when not every one).
    """
    wanted = {address(a, "lb_drain_addresses[%d]" % i) for i, a in enumerate(addresses)}
    services = [svc for svc in (configured or {}).get("services") or []
                if wanted & set(svc.get("real_servers") or [])]
    every = [svc["service"] for svc in services]
    removed = [svc["service"] for svc in services if not svc.get("quiescent", True)]
    kept = [ref for ref in every if ref not in removed]
    first = [entry for entry in real_server_entries(live, sorted(wanted))
             if state.service_id(entry["service"]) in removed]
    waits: dict
    if not removed:
        waits = {"drained": [{"state": "drained"}], "active": [{"state": "active"}]}
    else:
        # the checker's act first (out of those services), then the drain of the quiescent ones
        drained = [{"state": "absent", "services": removed}]
        if kept:
            drained.append({"state": "drained", "services": kept})
        waits = {"drained": drained, "active": [{"state": "active", "services": every}]}
    return {
        "first": first,
        "first_services": list(dict.fromkeys(state.service_id(entry["service"]) for entry in first)),
        "removed": removed,
        "kept": kept,
        "all": every,
        "waits": waits,
    }


def restore_weights(entries: list, saved: list | None, default_weight: int) -> list:
    """The weights a restore puts back, as ``entries`` (``real_server_entries``) with their weight.

    An entry gets the weight ``saved`` (the entries as they were before the drain) holds for
    the same service, address and port; without one, it keeps a weight above 0, and one at 0
    gets ``default_weight`` (the director's lb_weight).
    """
    def key(entry: dict) -> tuple:
        return state.service_id(entry["service"]), state.real_server_id(entry)

    kept = {key(e): e["weight"] for e in saved or []}
    result: list = []
    for entry in entries:
        weight = kept.get(key(entry))
        if weight is None:
            weight = entry["weight"] if entry["weight"] > 0 else int(default_weight)
        result.append(dict(entry, weight=weight))
    return result


BGP_FAMILIES = {"ipv4": "ipv4Unicast", "ipv6": "ipv6Unicast"}


def bgp_findings(text: str, model: Mapping) -> list:
    """What keeps a scale-out director's VIPs from the routers, from ``vtysh -c 'show bgp neighbors json'``.

    Every peer of ``model["bgp"]`` must be Established, with BFD up where asked, and
    have been sent one route per VIP of its family that has services (the announcer
    announces those while a real server can serve them: call this once the table is
    settled).  Returns one message per problem, naming the peer.
    """
    bgp = model.get("bgp")
    if not bgp:
        return []
    try:
        neighbors = json.loads(text)
    except ValueError:
        return ["bgpd did not answer (is FRR running with bgpd?): %s" % " ".join(str(text).split())[:200]]
    if not isinstance(neighbors, Mapping):
        return ["bgpd's answer is not a set of neighbours: %s" % " ".join(str(text).split())[:200]]
    wanted = {family: sum(1 for item in bgp["announcer"]["vips"] if item["family"] == family and item["services"])
              for family in BGP_FAMILIES}
    findings = []
    for peer in bgp["peers"]:
        where = "BGP peer %s (AS %d)" % (peer["address"], peer["asn"])
        info = neighbors.get(peer["address"])
        if not isinstance(info, Mapping):
            findings.append("%s: not configured in bgpd" % where)
            continue
        if info.get("bgpState") != "Established":
            findings.append("%s: session %s, not Established" % (where, info.get("bgpState", "unknown")))
            continue
        if peer["bfd"] and (info.get("peerBfdInfo") or {}).get("status") != "Up":
            findings.append("%s: BFD %s, not Up" % (where, (info.get("peerBfdInfo") or {}).get("status", "absent")))
        sent = ((info.get("addressFamilyInfo") or {}).get(BGP_FAMILIES[peer["family"]]) or {}).get("sentPrefixCounter", 0)
        if sent != wanted[peer["family"]]:
            findings.append("%s: %d of the %d %s VIPs announced"
                            % (where, sent, wanted[peer["family"]], peer["family"].replace("ip", "IP")))
    return findings


def director_status(info: Mapping, model: Mapping, drained: list, probe: Mapping | None = None) -> dict:
    """The director's table as operators read it: summary lines with health, the drift, the findings.

    ``info`` is ``lvs.cluster.ipvs_info``'s result (``services`` and ``summary``);
    ``drained`` names the real servers taken out by a drain (the basenames of the
    files in ldirectord's maintenance directory, or of keepalived's drain switches
    that hold a non-zero number: ``ADDRESS`` or ``ADDRESS:PORT``); ``probe`` is
    ``lvs.cluster.dr_probe``'s result, whose ``dr_findings`` become ``findings``.
    """
    owner = model["owner"]
    names = set(drained)
    lines, health = [], {}
    summary = list(info.get("summary") or [])
    position = 0
    for svc in info.get("services") or []:
        lines.append(summary[position])
        position += 1
        for rs in svc.get("real_servers") or []:
            rid = state.real_server_id(rs)
            if rs["weight"] > 0:
                verdict = "up"
            elif owner == "none" or _is_drained(rs, names):
                verdict = "drained"
            else:
                verdict = "down"
            health[rid] = verdict
            lines.append("%s  %s" % (summary[position], verdict))
            position += 1
    drift = ipvs_drift(info.get("services") or [], model)
    findings = [f["message"] for f in dr_findings(probe, model)] if probe else []
    return {"owner": owner, "summary": lines, "health": health, "drift": drift["problems"], "findings": findings}


# ------------------------------------------------------------------ frontends


def frontend_model(settings: Mapping, hostvars: Mapping, groups: Mapping, host: str) -> dict:
    """The frontend role's variables and the inventory, checked and worked out.

    Returns ``{"errors": [...]}`` plus, when there are none: ``interface``, ``address``
    and ``address6`` (the frontend's own on the segment), ``vips`` (as for a
    director, labels ``lo:N``), ``listen`` (the virtual host's addresses),
    ``status_allow`` (who may read the status page: every director's IPv4 and, when
    an IPv6 VIP is served, IPv6 address on the segment, plus
    ``frontend_status_allow_extra``; empty when the web server is the user's),
    ``web_server`` (``frontend_web_server``: ``apache`` or ``none``).
    """
    errors = Errors()
    s = settings
    hv = hostvars[host]
    facts = hv.get("ansible_facts") or {}
    own4 = segment_address(host, hv, "ipv4", [], set())
    iface = errors.check(_interface, "frontend_interface", s.get("frontend_interface") or "", facts, own4,
                         hv.get("ansible_host"))
    vips = errors.check(_vips, s.get("frontend_vips"), "frontend_vips")
    if iface is None or vips is None:
        return {"errors": errors}
    ifacts = interface_facts(facts, iface)
    vip_set = {v["address"] for v in vips}
    own = set(interface_addresses(ifacts, "ipv4")) | set(interface_addresses(ifacts, "ipv6")) | {own4}
    if vip_set & own:
        errors.append("frontend_vips: %s must be distinct IPv4/IPv6 addresses, none of them one of this host's own "
                      "addresses on %s (%s)" % (", ".join(v["address"] for v in vips), iface,
                                                ", ".join(sorted(a for a in own if a))))
    networks = interface_networks(ifacts, vip_set)
    own6 = segment_address(host, hv, "ipv6", segment_of(networks, "ipv6"), vip_set)
    families = {v["family"] for v in vips}
    if "ipv6" in families and own6 is None:
        errors.append("frontend_vips: an IPv6 VIP is served, but this host has no IPv6 address on %s (%s) for the "
                      "directors' checks: set lvs_address6" % (iface, describe_segment(segment_of(networks, "ipv6"))))
    general = errors.check(_frontend_settings, s)
    # Only the role's Apache has a status page for the directors to read.
    allow = (errors.check(_status_allow, s, hostvars, groups, families, networks, vip_set)
             if general is None or general["web_server"] == "apache" else [])
    if errors or allow is None or general is None:
        return {"errors": errors}
    model = {
        "errors": errors,
        "interface": iface,
        "address": own4,
        "address6": own6,
        "vips": vips,
        "listen": [a for a in [own4, own6] if a] + [v["address"] for v in vips],
        "status_allow": allow,
        "arp_vips": [v["address"] for v in vips if v["family"] == "ipv4"],
        "arp_witness": _arp_witness(hostvars, groups.get(s.get("frontend_director_group")) or [], networks),
        "hosts_by_mac": _hosts_by_mac(hostvars, {"frontend": [host],
                                                 "director": list(groups.get(s.get("frontend_director_group")) or [])}),
    }
    model.update(general)
    return model


def _arp_witness(hostvars: Mapping, directors: list, networks: list) -> dict | None:
    """The first director whose facts show an interface on this frontend's IPv4 segment: it
    asks who answers ARP for the VIPs, as a client on the segment would.

    Only devices count: facts also list address labels (``eth0:3``, a director's VIP
    alias, shows up as ``eth0_3``), which carry no ``device`` key and name no device
    a packet socket could bind to."""
    segment = segment_of(networks, "ipv4")
    for director in directors:
        facts = (hostvars.get(director) or {}).get("ansible_facts") or {}
        for name in facts.get("interfaces") or []:
            ifacts = interface_facts(facts, name)
            device = ifacts.get("device")
            addresses = interface_addresses(ifacts, "ipv4")
            if device and device != "lo" and any(ipaddress.ip_address(a) in n for a in addresses for n in segment):
                return {"host": director, "interface": device}
    return None


def _status_allow(s: Mapping, hostvars: Mapping, groups: Mapping, families: set, networks: list,
                  vip_set: set) -> list:
    group = s.get("frontend_director_group")
    allow = []
    for director in groups.get(group) or []:
        for family in sorted(families | {"ipv4"}):
            found = segment_address(director, hostvars[director], family, segment_of(networks, family), vip_set)
            if found is None:
                fail("frontend_status_allow_extra: director %s (group %s) has no %s address on this frontend's "
                     "segment (%s) for its checks: set its %s host variable, or gather its facts (playbooks/site.yml "
                     "does)" % (director, group, family.replace("ip", "IP"),
                                describe_segment(segment_of(networks, family)), ADDRESS_VARS[family]))
            allow.append(found)
    extra = as_list(s.get("frontend_status_allow_extra") or [], "frontend_status_allow_extra")
    allow.extend(network(item, "frontend_status_allow_extra[%d]" % index) for index, item in enumerate(extra))
    return list(dict.fromkeys(allow))


def _frontend_settings(s: Mapping) -> dict:
    status_path = url_path(s.get("frontend_status_path"), "frontend_status_path")
    if "?" in status_path or "%" in status_path:
        fail("frontend_status_path: %r is not a plain path (no ? or %%)" % status_path)
    return {
        "web_server": choice(s.get("frontend_web_server"), WEB_SERVERS, "frontend_web_server"),
        "http_port": port(s.get("frontend_http_port"), "frontend_http_port"),
        "server_name": hostname(s.get("frontend_server_name"), "frontend_server_name"),
        "document_root": path(s.get("frontend_document_root"), "frontend_document_root"),
        "status_path": status_path,
        "vhost_lines": lines(s.get("frontend_vhost_extra"), "frontend_vhost_extra"),
        "sysctl_file": path(s.get("frontend_sysctl_file"), "frontend_sysctl_file"),
        "apt_repository": line(s.get("frontend_apt_repository"), "frontend_apt_repository"),
        "vip_protocol": whole(s.get("frontend_vip_protocol"), 4, 255, "frontend_vip_protocol"),
    }
