# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipvsadm rules text and the short services form: render, parse, compact."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_text as text
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_state import IPVSValidationError

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from ansible_collections.lvs.cluster.tests.unit.plugins.module_utils.ipvs_tables import (  # noqa: E402
    canonical,
    tables,
)

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# What ipvsadm 1.31 writes for `ipvsadm -S -n` (print_service_entry with FMT_RULE): the
# service lines carry -s always, -p/-M/-o/-b when set; real server lines -r, the
# forwarding switch and -w, tunnels with --tun-type ipip; no thresholds.  The first
# three lines are those tests/integration saw on a real kernel.
SAVED = """\
-A -u 192.0.2.13:53 -s wlc -o
-A --sctp-service 192.0.2.13:38412 -s wlc -p 60 -M 255.255.255.0
-A -f 4 -s rr -o
-A -t 192.0.2.13:80 -s wlc
-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 5
-a -t 192.0.2.13:80 -r 192.0.2.5:80 -g -w 0
-A -t [2001:db8::13]:443 -s sh -p 300 -M 64 -b sh-fallback,sh-port
-a -t [2001:db8::13]:443 -r [2001:db8::4]:443 -i -w 1 --tun-type ipip
-A -f 1 -6 -s mh -b mh-port
-a -f 1 -6 -r [2001:db8::5]:0 -g -w 2
-a -f 4 -r 192.0.2.6:8080 -m -w 3
"""

SAVED_COMPACT = [
    {"protocol": "udp", "address": "192.0.2.13", "port": 53, "one_packet": True, "real_servers": []},
    {"protocol": "sctp", "address": "192.0.2.13", "port": 38412, "persistence_timeout": 60, "persistence_netmask": 24,
     "real_servers": []},
    {"fwmark": 4, "scheduler": "rr", "one_packet": True,
     "real_servers": [{"address": "192.0.2.6", "port": 8080, "weight": 3, "forwarding": "nat"}]},
    {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5},
                                                           {"address": "192.0.2.5", "weight": 0}]},
    {"address": "2001:db8::13", "port": 443, "scheduler": "sh", "scheduler_flags": ["sh-fallback", "sh-port"],
     "persistence_timeout": 300, "persistence_netmask": 64,
     "real_servers": [{"address": "2001:db8::4", "forwarding": "tunnel"}]},
    {"fwmark": 1, "family": "ipv6", "scheduler": "mh", "scheduler_flags": ["mh-port"],
     "real_servers": [{"address": "2001:db8::5", "weight": 2}]},
]


def test_an_ipvsadm_save_file_reads_as_the_short_services():
    parsed = text.parse(SAVED)
    assert [text.compact(s) for s in parsed] == SAVED_COMPACT
    assert parsed == state.services_from_params(copy.deepcopy(SAVED_COMPACT))


def test_rendering_writes_ipvsadm_save_syntax():
    """The same table rendered: the lines ipvsadm -S -n writes, except that a tunnel is plain -i
    (ipip, ipvsadm -R's default) and services keep their order."""
    lines = text.render(text.parse(SAVED))
    expected = [line.replace(" --tun-type ipip", "") for line in SAVED.splitlines()]
    expected.remove("-a -f 4 -r 192.0.2.6:8080 -m -w 3")
    expected.insert(3, "-a -f 4 -r 192.0.2.6:8080 -m -w 3")
    assert lines == expected


def test_rendering_adds_thresholds_and_flag_names_of_the_scheduler():
    table = state.services_from_params([
        {"address": "192.0.2.13", "port": 80, "scheduler": "sh", "scheduler_flags": ["flag-2", "flag-3"],
         "real_servers": [{"address": "192.0.2.4", "upper_threshold": 100, "lower_threshold": 50}]},
        {"fwmark": 7, "family": "ipv6", "scheduler_flags": ["flag-1"], "persistence_timeout": 30}])
    assert text.render(table) == [
        "-A -t 192.0.2.13:80 -s sh -b sh-port,flag-3",
        "-a -t 192.0.2.13:80 -r 192.0.2.4:80 -g -w 1 -x 100 -y 50",
        "-A -f 7 -6 -s wlc -p 30 -b flag-1",
    ]


def test_rendering_refuses_a_weight_ipvsadm_cannot_restore():
    table = state.services_from_params([{"address": "192.0.2.13", "port": 80},
                                        {"address": "192.0.2.14", "port": 80,
                                         "real_servers": [{"address": "192.0.2.4", "weight": 65536}]}])
    with pytest.raises(IPVSValidationError, match=r"^services\[1\]\.real_servers: 192\.0\.2\.4:80 has weight 65536"):
        text.render(table)
    table[1]["real_servers"][0]["weight"] = 65535
    assert text.render(table)[-1] == "-a -t 192.0.2.14:80 -r 192.0.2.4:80 -g -w 65535"


def test_what_ipvsadm_reads_beyond_its_own_output():
    rules = """
    # restored at boot
    ipvsadm -C
    -A -t 192.0.2.99:80
    ipvsadm -C
    ipvsadm --add-service --tcp-service=192.0.2.13:http --scheduler=rr --persistent
    /sbin/ipvsadm -a -t 192.0.2.13:80 -r 192.0.2.4:8080 -g
    -a -t 192.0.2.13:80 -r 192.0.2.5 --masquerading --weight 4
    """
    parsed = text.parse(rules)
    assert [text.compact(s) for s in parsed] == [
        {"address": "192.0.2.13", "port": 80, "scheduler": "rr", "persistence_timeout": 300,
         "real_servers": [{"address": "192.0.2.4"}, {"address": "192.0.2.5", "weight": 4, "forwarding": "nat"}]}]


BAD_LINES = [
    ("host-name", "-A -t web.example.net:80", 1, "host names are not resolved"),
    ("twice", "-A -t 192.0.2.13:80\n-A -t 192.0.2.13:80 -s rr", 2, "service tcp/192.0.2.13:80 is added twice"),
    ("server-twice", "-A -t 192.0.2.13:80\n-a -t 192.0.2.13:80 -r 192.0.2.4\n-a -t 192.0.2.13:80 -r 192.0.2.4:80",
     3, "real server 192.0.2.4:80 is added twice"),
    ("no-service-first", "\n-a -t 192.0.2.13:80 -r 192.0.2.4", 2, "no -A line before it"),
    ("edit", "-E -t 192.0.2.13:80 -s rr", 1, "-E does not describe a table"),
    ("no-command", "-t 192.0.2.13:80 -s rr", 1, "neither -A"),
    ("unknown-option", "-A -t 192.0.2.13:80 --frobnicate", 1, "--frobnicate is not an option"),
    ("scheduler", "-A -t 192.0.2.13:80 -s fastest", 1, "scheduler: 'fastest' is not one of"),
    ("port-0", "-A -t 192.0.2.13 -s wlc", 1, "port: an address service needs a port"),
    ("port-name", "-A -t 192.0.2.13:nosuchservice", 1, "port 'nosuchservice' is neither a number"),
    ("timeout-0", "-A -t 192.0.2.13:80 -p 0", 1, "-p 0: the timeout is a number of seconds above 0"),
    ("netmask-without-p", "-A -t 192.0.2.13:80 -M 255.255.255.0", 1, "-M needs -p"),
    ("v6-dotted-mask", "-A -t [2001:db8::13]:80 -p 60 -M 255.255.0.0", 1, "must be a prefix length"),
    ("6-on-address", "-A -t 192.0.2.13:80 -6", 1, "-6 applies to a firewall-mark service"),
    ("server-option-on-A", "-A -t 192.0.2.13:80 -w 5", 1, "-A takes no real server options (weight)"),
    ("service-option-on-a", "-A -f 1\n-a -f 1 -r 192.0.2.4 -s rr", 2, "-a takes no service settings (scheduler)"),
    ("no-real-server", "-A -f 1\n-a -f 1 -w 3", 2, "-a needs a real server (-r)"),
    ("gue", "-A -f 1\n-a -f 1 -r 192.0.2.4 -i --tun-type gue", 2, "only ipip tunnels"),
    ("flag-of-other-scheduler", "-A -t 192.0.2.13:80 -s wlc -b sh-port", 1, "sh-port applies only to scheduler sh"),
    ("ops-on-tcp", "-A -t 192.0.2.13:80 -o", 1, "one_packet: one-packet scheduling applies to UDP"),
    ("weight", "-A -f 1\n-a -f 1 -r 192.0.2.4 -w heavy", 2, "weight: 'heavy' is not an integer"),
    ("family-mix", "-A -f 1\n-a -f 1 -r 2001:db8::4", 2, "IPVS cannot mix families"),
    ("given-twice", "-A -t 192.0.2.13:80 -s rr -s wlc", 1, "scheduler is given twice"),
    ("missing-value", "-A -t 192.0.2.13:80 -s", 1, "-s needs a value"),
    ("quote", '-A -t "192.0.2.13:80', 1, "No closing quotation"),
    ("pe", "-A -u 192.0.2.13:5060 -p 60 --pe sip", 1, "--pe"),
]


@pytest.mark.parametrize("rules, number, reason", [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES])
def test_a_bad_line_is_named_by_number_and_text(rules, number, reason):
    line = rules.splitlines()[number - 1]
    with pytest.raises(IPVSValidationError) as info:
        text.parse(rules)
    message = str(info.value)
    assert message.startswith("running_config: line %d (%s): " % (number, line)), message
    assert reason in message


def test_running_config_must_be_text():
    with pytest.raises(IPVSValidationError, match="^running_config: 42 is not text"):
        text.parse(42)  # type: ignore[arg-type]


@FAST
@given(table=tables(max_services=5))
def test_parse_reads_back_what_render_writes(table):
    wanted = canonical(table)
    too_heavy = [i for i, s in enumerate(wanted) if any(r["weight"] > text.IPVSADM_MAX_WEIGHT for r in s["real_servers"])]
    if too_heavy:
        with pytest.raises(IPVSValidationError, match=r"^services\[%d\]\.real_servers: " % too_heavy[0]):
            text.render(wanted)
        for service in wanted:
            for real_server in service["real_servers"]:
                real_server["weight"] = min(real_server["weight"], text.IPVSADM_MAX_WEIGHT)
    assert text.parse("\n".join(text.render(wanted))) == wanted


@FAST
@given(table=tables(max_services=5))
def test_the_short_form_means_exactly_the_table(table):
    wanted = canonical(table)
    short = [text.compact(s) for s in wanted]
    assert state.services_from_params(copy.deepcopy(short)) == wanted
    for entry, service in zip(short, wanted):  # nothing at its default is spelled out
        assert entry.get("scheduler") != "wlc" and entry.get("protocol") != "tcp"
        assert "persistence_netmask" not in entry or entry["persistence_netmask"] != state.full_prefix(service["family"])
        for real_server in entry["real_servers"]:
            assert real_server.get("weight", 2) != 1 and real_server.get("forwarding") != "dr"
