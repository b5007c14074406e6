# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters through which the roles reach the cluster model (plugins/plugin_utils/cluster_model.py).

Each is documented in the YAML file of its name beside this one (ansible-doc -t filter).
"""

from __future__ import annotations

import base64
import json

from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.plugin_utils import cluster_model as model


def _host(hostvars, host):
    if host not in hostvars:
        raise AnsibleFilterError("lvs.cluster: host %r is not in the inventory" % (host,))
    return host


def _stored(result):
    """The model as Ansible stores variables: ``errors`` a plain list (not the model's Errors)."""
    return dict(result, errors=list(result["errors"]))


def director_model(settings, hostvars, groups, host):
    """The lb role's variables (a dict by name) and the inventory, checked; ``errors`` lists what is wrong."""
    return _stored(model.director_model(settings, hostvars, groups, _host(hostvars, host)))


def frontend_model(settings, hostvars, groups, host):
    """The frontend role's variables (a dict by name) and the inventory, checked; ``errors`` lists what is wrong."""
    return _stored(model.frontend_model(settings, hostvars, groups, _host(hostvars, host)))


def ipvs_drift(services, director):
    """What differs between a live table (ipvs_info's services) and a director_model."""
    return model.ipvs_drift(services, director)


def ipvs_foreign(services, director):
    """purge_exclude selectors for the live services (ipvs_info's services) a director_model does not own."""
    return model.ipvs_foreign(services, director)


def handover_table(services, director, drained=None):
    """The table a new checker adopts as it starts: the live one (ipvs_info's services) set to where it would have it."""
    return model.handover_table(services, director, list(drained or []))


def sysctls_retired(text, director):
    """The sysctls the role's file holds that a director_model no longer sets, with the kernel's default."""
    return model.sysctls_retired(text, director)


def real_server_addresses(hostvars, host):
    """The addresses directors have a host of lb_frontend_group at as a real server (IPv4, then IPv6)."""
    try:
        return model.real_server_addresses(hostvars, _host(hostvars, host))
    except model.IPVSValidationError as exc:
        raise AnsibleFilterError(str(exc)) from None


def real_server_entries(services, addresses):
    """The live entries (service, address, port, weight) of the real servers at these addresses."""
    try:
        return model.real_server_entries(services, addresses)
    except model.IPVSValidationError as exc:
        raise AnsibleFilterError(str(exc)) from None


def drain_plan(services, configured, addresses):
    """Which entries a drain quiesces itself first, and which services the checker takes the real servers out of.

    ``configured`` may be the JSON text of the file the lb role writes (empty: no file).
    """
    if isinstance(configured, (str, bytes)):
        try:
            configured = json.loads(configured) if configured.strip() else None
        except ValueError as exc:
            raise AnsibleFilterError("lvs.cluster.drain_plan: the services file is not JSON: %s" % exc) from None
    try:
        return model.drain_plan(services, configured, addresses)
    except model.IPVSValidationError as exc:
        raise AnsibleFilterError(str(exc)) from None


def restore_weights(entries, saved, default_weight):
    """The entries a restore puts back, each with its weight before the drain (or the default)."""
    return model.restore_weights(entries, saved, default_weight)


def endpoint(address, port=0):
    """``192.0.2.4:80``, ``[2001:db8::4]:80``; the address alone (bracketed if IPv6) for port 0."""
    return model.endpoint(address, port)


def dr_findings(result, cluster_model):
    """What lvs.cluster.dr_probe found wrong: real servers failing the DR path, hosts answering ARP for a VIP."""
    return model.dr_findings(result, cluster_model)


def frontend_findings(frontend, sysctls, addresses, vhost, arp=None, host=None, listeners=None):
    """What a frontend's kernel and web server hold that direct routing cannot live with: one message each.

    Takes the role's reads as registered: ``sysctls`` the results of a slurp loop over
    ``[interface, name]`` pairs, ``addresses`` the stdout of ``ip -json address show``,
    ``vhost`` a slurp's base64 content (empty when the role runs no web server),
    ``arp`` lvs.cluster.dr_probe's result (or skipped), ``listeners`` the stdout of
    ``ss -ltnH`` (read when the web server is the user's).
    """
    try:
        values = {tuple(r["item"]): int(base64.b64decode(r["content"])) for r in sysctls}
        links = json.loads(addresses)
        text = base64.b64decode(vhost or "").decode("utf-8", "replace")
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("lvs.cluster.frontend_findings: cannot read the frontend's state: %s" % exc) from None
    if listeners is not None and not isinstance(listeners, str):
        raise AnsibleFilterError("lvs.cluster.frontend_findings: listeners must be the text of ss -ltnH, got %r"
                                 % (listeners,))
    probe = arp if arp and not arp.get("skipped") else None
    return model.frontend_findings(frontend, values, links, text, probe, host, model.tcp_listeners(listeners or ""))


def director_status(info, director, drained=None, probe=None):
    """ipvs_info's result as operators read it: summary lines with health, the drift, dr_probe's findings."""
    return model.director_status(info, director, list(drained or []), probe)


def bgp_findings(text, director):
    """What keeps a scale-out director's VIPs from its BGP peers (vtysh's show bgp neighbors json)."""
    return model.bgp_findings(text, director)


class FilterModule:
    def filters(self):
        return {
            "director_model": director_model,
            "frontend_model": frontend_model,
            "ipvs_drift": ipvs_drift,
            "director_status": director_status,
            "ipvs_foreign": ipvs_foreign,
            "sysctls_retired": sysctls_retired,
            "handover_table": handover_table,
            "real_server_entries": real_server_entries,
            "real_server_addresses": real_server_addresses,
            "drain_plan": drain_plan,
            "restore_weights": restore_weights,
            "endpoint": endpoint,
            "dr_findings": dr_findings,
            "frontend_findings": frontend_findings,
            "bgp_findings": bgp_findings,
        }
