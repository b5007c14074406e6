# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters' own part: reading the roles' registered results into the model's plain data."""

from __future__ import annotations

import base64
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.filter.cluster import FilterModule

MODEL = {
    "interface": "eth0",
    "vips": [{"address": "192.0.2.13", "family": "ipv4"}],
    "status_path": "/server-status",
    "status_allow": ["192.0.2.3"],
    "services": [],
    "hosts_by_mac": {"52:54:00:00:00:04": {"host": "web01", "role": "frontend"}},
}
VHOST = "<Location /server-status>\n  Require local\n  Require ip 192.0.2.3\n</Location>\n"
ADDRESSES = json.dumps([{"ifname": "lo", "addr_info": [{"local": "192.0.2.13", "prefixlen": 32}]}])
findings = FilterModule().filters()["frontend_findings"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def slurped(arp_ignore: int) -> list:
    values = {"arp_ignore": arp_ignore, "arp_announce": 2}
    return [{"item": [iface, name], "content": b64("%d\n" % values[name])}
            for iface in ("all", "eth0") for name in ("arp_ignore", "arp_announce")]


def test_registered_reads_are_decoded():
    assert findings(MODEL, slurped(1), ADDRESSES, b64(VHOST)) == []
    assert findings(MODEL, slurped(0), ADDRESSES, b64(VHOST))[0].startswith("effective arp_ignore=0 on eth0")


def test_a_skipped_arp_probe_is_no_finding_and_a_run_one_is():
    arp = {"probes": [], "arp": [{"address": "192.0.2.13", "responders": [{"mac": "52:54:00:00:00:04"}]}]}
    assert findings(MODEL, slurped(1), ADDRESSES, b64(VHOST), {"skipped": True, "changed": False}, "web01") == []
    assert findings(MODEL, slurped(1), ADDRESSES, b64(VHOST), arp, "web01")[0].startswith("web01 (52:54:00:00:00:04)")


def test_unreadable_reads_are_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="frontend_findings: cannot read"):
        findings(MODEL, [{"item": ["all", "arp_ignore"], "content": b64("one")}], ADDRESSES, b64(VHOST))
    with pytest.raises(AnsibleFilterError, match="frontend_findings: cannot read"):
        findings(MODEL, slurped(1), "not json", b64(VHOST))


def test_the_models_are_stored_as_plain_data():
    # Ansible 2.19 warns about (and converts) types it does not store, such as the model's Errors.
    hostvars = {"web01": {}}
    result = FilterModule().filters()["frontend_model"]({}, hostvars, {}, "web01")
    assert result["errors"].__class__ is list and result["errors"]


def test_a_frontend_without_a_web_server_of_the_roles_is_judged_by_the_listening_sockets():
    none = dict(MODEL, web_server="none", http_port=80)
    ss = "LISTEN 0      511          0.0.0.0:80        0.0.0.0:*\n"
    assert findings(none, slurped(1), ADDRESSES, "", None, "web01", ss) == []
    assert findings(none, slurped(1), ADDRESSES, "", None, "web01", "") == [
        "nothing listens on 192.0.2.13:80 (frontend_http_port; frontend_web_server none: the web server is yours to "
        "run, on the VIPs or a wildcard address): clients' requests for it fail"]
    assert findings(none, slurped(1), ADDRESSES, "")[0].startswith("nothing listens on 192.0.2.13:80")
    with pytest.raises(AnsibleFilterError, match="listeners must be the text of ss -ltnH"):
        findings(none, slurped(1), ADDRESSES, "", None, "web01", ["0.0.0.0:80"])


def test_the_drain_plan_reads_the_services_file_as_the_role_slurps_it():
    plan = FilterModule().filters()["drain_plan"]
    live = [{"family": "ipv4", "protocol": "tcp", "address": "192.0.2.14", "port": 80,
             "real_servers": [{"address": "192.0.2.4", "port": 80, "weight": 3}]}]
    text = json.dumps({"services": [{"service": "tcp/192.0.2.14:80", "quiescent": False,
                                     "real_servers": ["192.0.2.4"]}]})
    assert plan(live, text, ["192.0.2.4"])["first_services"] == ["tcp/192.0.2.14:80"]
    assert plan(live, "", ["192.0.2.4"])["first"] == []  # no file: every service quiescent
    with pytest.raises(AnsibleFilterError, match="drain_plan: the services file is not JSON"):
        plan(live, "{services", ["192.0.2.4"])
    with pytest.raises(AnsibleFilterError, match=r"lb_drain_addresses\[0\]"):
        plan(live, text, ["web01"])
