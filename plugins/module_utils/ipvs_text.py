# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS table as text and as short input: ``ipvsadm -R`` lines, ``ipvsadm -S`` files.

Pure functions, no kernel and no ipvsadm: ``render`` writes the rules ``ipvsadm -R``
reads for a list of canonical services (ipvs_state's form), ``parse`` reads the
text ``ipvsadm -S`` / ``ipvsadm -Sn`` writes (or a rules file in that syntax) back
into canonical services, and ``compact`` turns a canonical service into the shortest
``ipvs_table`` ``services`` entry that means exactly it (defaults left out).
For every valid table ``parse(render(t)) == t``.

The syntax is ipvsadm 1.31's (ipvsadm.c: print_service_entry for -S, parse_options
for -R): ``-A -t|-u|--sctp-service ADDR:PORT`` or ``-A -f MARK [-6]``, then ``-s``,
``-p TIMEOUT`` with ``-M`` (a dotted mask for IPv4, a prefix length for IPv6),
``-o`` and ``-b`` (``sh-port``, ``mh-fallback``, ``flag-3``...); ``-a SERVICE -r
ADDR:PORT -g|-i|-m -w WEIGHT [-x UPPER] [-y LOWER]``.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

# ipvsadm's own limits where they are narrower than the kernel's (ipvsadm.c, parse_options).
IPVSADM_MAX_WEIGHT = 65535
IPVSADM_DEFAULT_PERSISTENCE = 300  # -p without a timeout (IPVS_SVC_PERSISTENT_TIMEOUT)

_SERVICE_OPTIONS = {"-t": "tcp", "--tcp-service": "tcp", "-u": "udp", "--udp-service": "udp",
                    "--sctp-service": "sctp"}
_SERVICE_SWITCH = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
_FORWARDING_SWITCHES = {"-g": "dr", "--gatewaying": "dr", "-m": "nat", "--masquerading": "nat",
                        "-i": "tunnel", "--ipip": "tunnel"}
_FORWARDING_SWITCH = {"dr": "-g", "nat": "-m", "tunnel": "-i"}
# Options that take a value, by their long and short names.
_VALUED = {"-s": "scheduler", "--scheduler": "scheduler", "-M": "netmask", "--netmask": "netmask",
           "-b": "flags", "--sched-flags": "flags", "-r": "server", "--real-server": "server",
           "-w": "weight", "--weight": "weight", "-x": "upper", "--u-threshold": "upper",
           "-y": "lower", "--l-threshold": "lower", "-f": "fwmark", "--fwmark-service": "fwmark",
           "--tun-type": "tun_type", "--pe": "pe"}
_SWITCHES = {"-6": "ipv6", "--ipv6": "ipv6", "-o": "ops", "--ops": "ops"}
_COMMANDS = {"-A": "add_service", "--add-service": "add_service", "-a": "add_server", "--add-server": "add_server"}
# ipvsadm commands that change or read a table rather than describe one.
_OTHER_COMMANDS = ("-E", "--edit-service", "-D", "--delete-service", "-e", "--edit-server", "-d", "--delete-server",
                   "-Z", "--zero", "-L", "-l", "--list", "-S", "--save", "-R", "--restore", "--set",
                   "--start-daemon", "--stop-daemon")


# ------------------------------------------------------------------ compact


def scheduler_flag_names(service: dict) -> list:
    """The service's scheduler flags as ipvsadm names them: ``sh-port`` for flag-2 of sh."""
    named = {generic: name for name, (owner, generic) in state.SCHED_FLAG_NAMES.items()
             if owner == service["scheduler"]}
    return [named.get(flag, flag) for flag in sorted(service["scheduler_flags"])]


def compact_real_server(real_server: dict, service: dict) -> dict:
    result: dict = {"address": real_server["address"]}
    if real_server["port"] != (service["port"] or 0):
        result["port"] = real_server["port"]
    if real_server["weight"] != 1:
        result["weight"] = real_server["weight"]
    if real_server["forwarding"] != "dr":
        result["forwarding"] = real_server["forwarding"]
    for name in ("upper_threshold", "lower_threshold"):
        if real_server[name]:
            result[name] = real_server[name]
    return result


def compact(service: dict) -> dict:
    """The shortest ``services`` entry that ``services_from_params`` reads back as ``service``.

    Options at their default (tcp, ipv4 for a firewall mark, wlc, no flags, no
    persistence, the full persistence mask, one_packet false; a real server's own
    service port, weight 1, direct routing, no thresholds) are left out;
    ``real_servers`` is always there, empty or not.
    """
    result: dict = {}
    if service["fwmark"]:
        result["fwmark"] = service["fwmark"]
        if service["family"] != "ipv4":
            result["family"] = service["family"]
    else:
        if service["protocol"] != "tcp":
            result["protocol"] = service["protocol"]
        result["address"] = service["address"]
        result["port"] = service["port"]
    if service["scheduler"] != "wlc":
        result["scheduler"] = service["scheduler"]
    if service["scheduler_flags"]:
        result["scheduler_flags"] = scheduler_flag_names(service)
    if service["persistence_timeout"]:
        result["persistence_timeout"] = service["persistence_timeout"]
    if service["persistence_netmask"] != state.full_prefix(service["family"]):
        result["persistence_netmask"] = service["persistence_netmask"]
    if service["one_packet"]:
        result["one_packet"] = True
    result["real_servers"] = [compact_real_server(r, service) for r in service.get("real_servers") or []]
    return result


# ------------------------------------------------------------------- render


def _service_switch(service: dict) -> str:
    if service["fwmark"]:
        return "-f %d -6" % service["fwmark"] if service["family"] == "ipv6" else "-f %d" % service["fwmark"]
    return "%s %s" % (_SERVICE_SWITCH[service["protocol"]], state.endpoint(service["address"], service["port"]))


def _netmask_text(service: dict) -> str:
    prefix = service["persistence_netmask"]
    if service["family"] == "ipv6":
        return str(prefix)
    return str(ipaddress.IPv4Network("0.0.0.0/%d" % prefix).netmask)


def render(table: list, where: str = "services") -> list:
    """The ``ipvsadm -R`` lines for canonical services, in their order (``ipvsadm -S -n``'s syntax).

    ``where`` names the list in errors: a weight above 65535, which the kernel takes
    and ipvsadm refuses, fails naming ``services[i].real_servers``.
    """
    lines = []
    for index, service in enumerate(table):
        switch = _service_switch(service)
        line = "-A %s -s %s" % (switch, service["scheduler"])
        if service["persistence_timeout"]:
            line += " -p %d" % service["persistence_timeout"]
            if service["persistence_netmask"] != state.full_prefix(service["family"]):
                line += " -M %s" % _netmask_text(service)
        if service["one_packet"]:
            line += " -o"
        if service["scheduler_flags"]:
            line += " -b %s" % ",".join(scheduler_flag_names(service))
        lines.append(line)
        for real_server in service.get("real_servers") or []:
            if real_server["weight"] > IPVSADM_MAX_WEIGHT:
                raise IPVSValidationError(
                    "%s[%d].real_servers: %s has weight %d; ipvsadm -R takes 0..%d (the kernel takes more: "
                    "apply such a table with ipvs_table instead)"
                    % (where, index, state.real_server_id(real_server), real_server["weight"], IPVSADM_MAX_WEIGHT))
            line = "-a %s -r %s %s -w %d" % (switch, state.endpoint(real_server["address"], real_server["port"]),
                                             _FORWARDING_SWITCH[real_server["forwarding"]], real_server["weight"])
            if real_server["upper_threshold"]:
                line += " -x %d" % real_server["upper_threshold"]
            if real_server["lower_threshold"]:
                line += " -y %d" % real_server["lower_threshold"]
            lines.append(line)
    return lines


# -------------------------------------------------------------------- parse


class _LineError(Exception):
    """A problem with one line, without the line's number and text (parse adds them)."""


def _port(text: str, protocol: str | None) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    try:  # a service name, as ipvsadm -S (without -n) writes it: /etc/services, no network
        return socket.getservbyname(text, protocol or "tcp")
    except (OSError, UnicodeError):
        raise _LineError("port %r is neither a number nor a service name of /etc/services" % text) from None


def _address(text: str) -> str:
    try:
        return str(state.ip(text))
    except ValueError:
        raise _LineError("%r is not an IP address: host names are not resolved; save the table with "
                         "ipvsadm -S -n" % text) from None


def _endpoint(text: str, protocol: str | None) -> tuple:
    """``192.0.2.4:80``, ``[2001:db8::4]:80``, ``192.0.2.4`` -> (address, port or None)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _LineError("%r is not [IPv6 address]:port" % text)
        return _address(host), _port(rest[1:], protocol) if rest[1:] else None
    if text.count(":") > 1:  # a bare IPv6 address
        return _address(text), None
    host, _sep, port = text.partition(":")
    return _address(host), _port(port, protocol) if port else None


def _options(tokens: list) -> dict:
    """The options of one line: command, service, and the values of the rest."""
    found: dict = {}

    def put(name, value):
        if name in found:
            raise _LineError("%s is given twice" % name)
        found[name] = value

    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        option, equals, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if option in _COMMANDS:
            put("command", _COMMANDS[option])
        elif option in _OTHER_COMMANDS:
            raise _LineError("%s does not describe a table: a rules file here has -A and -a lines (and -C)" % option)
        elif option in _SERVICE_OPTIONS or option in _VALUED:
            if equals:
                value = inline
            elif index < len(tokens):
                value = tokens[index]
                index += 1
            else:
                raise _LineError("%s needs a value" % option)
            if option in _SERVICE_OPTIONS:
                put("service", (_SERVICE_OPTIONS[option], value))
            elif _VALUED[option] == "fwmark":
                put("service", ("fwmark", value))
            else:
                put(_VALUED[option], value)
        elif option in ("-p", "--persistent"):  # the timeout is optional (popt's OPTIONAL argument)
            if equals:
                put("persistent", inline)
            elif index < len(tokens) and not tokens[index].startswith("-"):
                put("persistent", tokens[index])
                index += 1
            else:
                put("persistent", str(IPVSADM_DEFAULT_PERSISTENCE))
        elif option in _FORWARDING_SWITCHES:
            put("forwarding", _FORWARDING_SWITCHES[option])
        elif option in _SWITCHES:
            put(_SWITCHES[option], True)
        else:
            raise _LineError("%s is not an option lvs.cluster reads (a rules file has -A and -a lines: -t, -u, "
                             "--sctp-service, -f, -6, -s, -p, -M, -o, -b, -r, -g, -i, -m, -w, -x, -y)" % token)
    return found


def _service_key_params(found: dict) -> dict:
    if "service" not in found:
        raise _LineError("no virtual service (-t, -u, --sctp-service or -f)")
    kind, value = found["service"]
    if kind == "fwmark":
        return {"fwmark": value, "family": "ipv6" if found.get("ipv6") else "ipv4"}
    if found.get("ipv6"):
        raise _LineError("-6 applies to a firewall-mark service (-f) only")
    address, port = _endpoint(value, kind)
    return {"protocol": kind, "address": address, "port": port}


def _service(found: dict) -> dict:
    extra = [name for name in ("server", "forwarding", "weight", "upper", "lower", "tun_type") if name in found]
    if extra:
        raise _LineError("-A takes no real server options (%s)" % ", ".join(extra))
    if "pe" in found:
        raise _LineError("persistence engines (--pe) are not supported")
    params = _service_key_params(found)
    params.update({
        "scheduler": found.get("scheduler"),
        "scheduler_flags": found["flags"].split(",") if "flags" in found else [],
        "persistence_timeout": found.get("persistent") or 0,
        "persistence_netmask": found.get("netmask"),
        "one_packet": bool(found.get("ops")),
    })
    if found.get("netmask") is not None and "persistent" not in found:
        raise _LineError("-M needs -p (persistence)")
    if "persistent" in found and not (found["persistent"].isascii() and found["persistent"].isdigit()
                                      and int(found["persistent"]) >= 1):
        raise _LineError("-p %s: the timeout is a number of seconds above 0" % found["persistent"])
    return state.service_from_params(params)


def _real_server(found: dict, service: dict) -> dict:
    extra = [name for name in ("scheduler", "persistent", "netmask", "flags", "ops", "pe") if name in found]
    if extra:
        raise _LineError("-a takes no service settings (%s)" % ", ".join(extra))
    if "server" not in found:
        raise _LineError("-a needs a real server (-r)")
    if found.get("tun_type") not in (None, "ipip"):
        raise _LineError("--tun-type %s: only ipip tunnels are supported" % found["tun_type"])
    if "tun_type" in found and found.get("forwarding") != "tunnel":
        raise _LineError("--tun-type applies to tunnelled real servers (-i) only")
    address, port = _endpoint(found["server"], service["protocol"])
    forwarding = found.get("forwarding", "dr")
    if service["port"] and forwarding != "nat":
        port = service["port"]  # ipvsadm does the same: only masquerading maps the port
    params = {"address": address, "port": port, "forwarding": forwarding, "weight": found.get("weight"),
              "upper_threshold": found.get("upper"), "lower_threshold": found.get("lower")}
    return state.real_server_from_params(params, service)


def parse(text: str, param: str = "running_config") -> list:
    """Canonical services from ``ipvsadm -S`` output (or any ``ipvsadm -R`` rules of -A and -a lines).

    Blank lines and ``#`` comments are skipped, a leading ``ipvsadm`` is allowed, and
    ``-C`` (clear) forgets the services read so far.  Every error names
    ``param``, the line number and the line.  Services come in the order of their -A
    lines, each one's real servers sorted as the model sorts them.
    """
    if not isinstance(text, str):
        raise IPVSValidationError("%s: %r is not text" % (param, text))
    services: dict = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            try:
                tokens = shlex.split(line)
            except ValueError as exc:
                raise _LineError(str(exc)) from None
            if tokens and tokens[0] in ("ipvsadm", "/sbin/ipvsadm", "/usr/sbin/ipvsadm"):
                tokens = tokens[1:]
            if tokens in (["-C"], ["--clear"]):
                services.clear()
                continue
            found = _options(tokens)
            if "command" not in found:
                raise _LineError("neither -A (a service) nor -a (a real server); other commands do not "
                                 "describe a table")
            if found["command"] == "add_service":
                service = _service(found)
                key = state.service_key(service)
                if key in services:
                    raise _LineError("service %s is added twice" % state.service_id(service))
                services[key] = dict(service, real_servers=[])
            else:
                key_params = _service_key_params(found)
                key = state.service_key(state.service_from_params(key_params))
                if key not in services:
                    raise _LineError("no -A line before it adds service %s"
                                     % state.service_id(state.service_from_params(key_params)))
                service = services[key]
                real_server = _real_server(found, service)
                rid = state.real_server_id(real_server)
                if any(state.real_server_id(r) == rid for r in service["real_servers"]):
                    raise _LineError("real server %s is added twice to %s" % (rid, state.service_id(service)))
                service["real_servers"].append(real_server)
        except (_LineError, IPVSValidationError) as exc:
            raise IPVSValidationError("%s: line %d (%s): %s" % (param, number, line, exc)) from None
    result = list(services.values())
    for service in result:
        service["real_servers"] = state.sort_real_servers(service["real_servers"])
    return result
