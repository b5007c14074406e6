# -*- coding: utf-8 -*-
"""The netlink adapter against a real kernel's IPVS (run inside lab/uml-run).

Every test starts from an empty table.  Where ipvsadm can show the result, it is
the independent witness: the adapter never runs it, the tests do.
"""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_common import apply_or_restore
from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import IPVSKernelError

VIP4 = "192.0.2.13"
VIP6 = "2001:db8::13"


def ipvsadm(*args: str) -> str:
    return subprocess.run(["ipvsadm", *args], check=True, capture_output=True, text=True).stdout


def saved() -> list:
    """The table as `ipvsadm -S -n` writes it, one sorted line per object."""
    return sorted(line.strip() for line in ipvsadm("-S", "-n").splitlines() if line.strip())


def converge(ipvs, services: list) -> list:
    ops = state.diff_table(services, ipvs.dump())
    ipvs.apply(ops)
    return ops


def web(**extra) -> dict:
    base = {"address": VIP4, "port": 80,
            "real_servers": [{"address": "192.0.2.%d" % n, "weight": 5} for n in range(4, 8)]}
    base.update(extra)
    return base


# ----------------------------------------------------------- round trips

ROUND_TRIPS = {
    "seed service (wlc, gate, weight 5)": web(),
    "udp one-packet": {"address": VIP4, "port": 53, "protocol": "udp", "one_packet": True,
                       "real_servers": [{"address": "192.0.2.4"}]},
    "sctp persistent /24, nat to another port": {
        "address": VIP4, "port": 38412, "protocol": "sctp", "persistence_timeout": 600,
        "persistence_netmask": "255.255.255.0",
        "real_servers": [{"address": "192.0.2.6", "port": 9000, "forwarding": "masq",
                          "upper_threshold": 100, "lower_threshold": 50}]},
    "ipv6 persistent /64": {"address": VIP6, "port": 443, "persistence_timeout": 300,
                            "persistence_netmask": "64",
                            "real_servers": [{"address": "2001:db8::4"}, {"address": "2001:db8::5", "weight": 3}]},
    "ipv6 full prefix": {"address": VIP6, "port": 80, "persistence_timeout": 30,
                         "real_servers": [{"address": "2001:db8::4"}]},
    "fwmark ipv4 sh-port": {"fwmark": 1, "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"],
                            "real_servers": [{"address": "192.0.2.4", "forwarding": "ipip"}]},
    "fwmark ipv6 persistent": {"fwmark": 2, "family": "ipv6", "persistence_timeout": 120,
                               "persistence_netmask": 48, "real_servers": [{"address": "2001:db8::5"}]},
    "mh with flags": {"address": VIP4, "port": 8443, "scheduler": "mh",
                      "scheduler_flags": ["mh-port"], "real_servers": [{"address": "192.0.2.5", "weight": 0}]},
}


@pytest.mark.parametrize("params", ROUND_TRIPS.values(), ids=list(ROUND_TRIPS))
def test_round_trip(ipvs, params):
    desired = state.services_from_params([params])
    assert converge(ipvs, desired)
    live = ipvs.dump()
    assert live == desired
    assert state.diff_table(desired, live) == []


@pytest.mark.parametrize("scheduler", [s for s in state.SCHEDULERS if s != "twos"])
def test_every_scheduler(ipvs, scheduler):
    desired = state.services_from_params([web(scheduler=scheduler)])
    converge(ipvs, desired)
    assert ipvs.dump()[0]["scheduler"] == scheduler
    assert "-A -t %s:80 -s %s" % (VIP4, scheduler) in saved()


def test_ipvsadm_sees_the_seed_table(ipvs):
    converge(ipvs, state.services_from_params([web()]))
    assert saved() == sorted(["-A -t 192.0.2.13:80 -s wlc"] + [
        "-a -t 192.0.2.13:80 -r 192.0.2.%d:80 -g -w 5" % n for n in range(4, 8)])


def test_ipv6_persistence_prefix_reaches_the_kernel(ipvs):
    converge(ipvs, state.services_from_params([ROUND_TRIPS["ipv6 persistent /64"]]))
    assert "-A -t [2001:db8::13]:443 -s wlc -p 300 -M 64" in saved()


def test_edit_keeps_real_servers_and_masks_hashed_flag(ipvs):
    converge(ipvs, state.services_from_params([web()]))
    desired = state.services_from_params([web(scheduler="rr", persistence_timeout=60)])
    ops = converge(ipvs, desired)
    assert [op["action"] for op in ops] == ["edit_service"]
    assert ipvs.dump() == desired


def test_drift_made_with_ipvsadm_is_seen_and_repaired(ipvs):
    desired = state.services_from_params([web()])
    converge(ipvs, desired)
    ipvsadm("-e", "-t", "192.0.2.13:80", "-r", "192.0.2.5:80", "-g", "-w", "1")
    ipvsadm("-a", "-t", "192.0.2.13:80", "-r", "192.0.2.9:80", "-g", "-w", "2")
    ops = state.diff_table(desired, ipvs.dump())
    assert [(op["action"], op["real_server"]["address"]) for op in ops] == [
        ("edit_real_server", "192.0.2.5"), ("delete_real_server", "192.0.2.9")]
    ipvs.apply(ops)
    assert ipvs.dump() == desired


def test_purge_spares_excluded_services(ipvs):
    ipvsadm("-A", "-t", "192.0.2.50:443")
    ipvsadm("-A", "-u", "192.0.2.51:53")
    ops = state.diff_table(state.services_from_params([web()]), ipvs.dump(), purge=True,
                           exclude=[{"address": "192.0.2.50"}])
    ipvs.apply(ops)
    assert [state.service_id(s) for s in ipvs.dump()] == ["tcp/192.0.2.13:80", "tcp/192.0.2.50:443"]


def test_refused_request_is_named_within_its_batch(ipvs):
    good = state.service_from_params(web(real_servers=[]))
    bad = state.service_from_params(web(port=81, scheduler="twos", real_servers=[]))
    other = state.service_from_params(web(port=82, real_servers=[]))
    ops = [{"action": "add_service", "service": s} for s in (good, bad, other)]
    with pytest.raises(IPVSKernelError) as failure:
        ipvs.apply(ops)
    assert failure.value.op["service"]["port"] == 81
    assert str(failure.value).startswith("scheduler: the kernel has no IPVS scheduler 'twos'")


class Module:
    """The two things apply_or_restore asks of an AnsibleModule."""

    check_mode = False

    def fail_json(self, **result):
        raise RuntimeError(result["msg"])


def test_failed_apply_restores_the_table(ipvs):
    converge(ipvs, state.services_from_params([web()]))
    before = ipvs.dump()
    witness = saved()
    changed = state.service_from_params(web(scheduler="rr", real_servers=[{"address": "192.0.2.9"}]))
    ops = state.diff_table([changed], before, purge=True)
    ops.append({"action": "add_service", "service": state.service_from_params(web(port=81, scheduler="twos"))})
    with pytest.raises(RuntimeError, match="nothing was changed"):
        apply_or_restore(Module(), ipvs, ops, before)
    assert ipvs.dump() == before
    assert saved() == witness


def test_a_value_the_encoder_refuses_changes_nothing_even_in_a_later_batch(ipvs, monkeypatch):
    """fe80::1%eth0 (a zone ID: ipaddress keeps it, inet_pton refuses it) in the last of
    three writes: every request is encoded before the first is sent."""
    monkeypatch.setattr(nl, "BATCH_SIZE", 2)
    converge(ipvs, state.services_from_params([web()]))
    before = ipvs.dump()
    witness = saved()
    ops = state.diff_table(state.services_from_params([web(scheduler="rr", port=8080)]), before, purge=True)
    zoned = dict(state.service_from_params({"address": "2001:db8::13", "port": 80}), address="fe80::1%eth0")
    ops.append({"action": "add_service", "service": zoned})
    assert len(ops) > 4
    with pytest.raises(nl.IPVSEncodeError, match=r"^add service tcp/\[fe80::1%eth0\]:80: pyroute2 cannot encode"):
        ipvs.apply(ops)
    assert saved() == witness
    with pytest.raises(RuntimeError, match="; nothing was changed$"):
        apply_or_restore(Module(), ipvs, ops, before)
    assert ipvs.dump() == before


def test_batches_larger_than_one_write(ipvs):
    services = [web(port=1000 + n) for n in range(150)]  # 750 requests: four writes
    desired = state.services_from_params(services)
    converge(ipvs, desired)
    assert ipvs.dump() == desired
    assert len(saved()) == 750


def test_connection_counts_of_a_missing_real_server_are_none(ipvs):
    desired = state.services_from_params([web()])
    converge(ipvs, desired)
    counts = ipvs.real_server_connections(desired[0], "192.0.2.4", 80)
    assert counts == {"active_connections": 0, "inactive_connections": 0, "persistent_connections": 0}
    assert ipvs.real_server_connections(desired[0], "192.0.2.99", 80) is None
