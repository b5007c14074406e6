# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind of failure ends in fail_json, and the table (or daemon) is as it was.

The modules run the real netlink adapter over ``netlink_fake.FakeKernel``: every
message is encoded with pyroute2 for real, so the encoder's refusals show up here
as they do on a host.  Kinds tried: a kernel refusal, the encoder's OSError (an
address the model let through), a socket error on a write or on reading the
acknowledgements, and anything else raised while the kernel works through a batch.
Batches are two requests long, so a failure lands after earlier batches went through.
"""

from __future__ import annotations

import copy
import errno
import ipaddress
import os

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.modules import (
    ipvs_info,
    ipvs_real_server,
    ipvs_service,
    ipvs_sync_daemon,
    ipvs_table,
    ipvs_timeouts,
)
from ansible_collections.lvs.cluster.tests.unit.plugins.modules.utils import exits, fails, live_table

pytestmark = [pytest.mark.usefixtures("harness"),
              pytest.mark.skipif(not nl.HAS_PYROUTE2, reason="pyroute2 is not installed")]

WEB = {"address": "192.0.2.13", "port": 80, "scheduler": "wlc",
       "real_servers": [{"address": "192.0.2.%d" % n, "weight": 5} for n in (4, 5, 6)]}
DNS = {"address": "192.0.2.13", "port": 53, "protocol": "udp", "real_servers": [{"address": "192.0.2.4"}]}
WEB6 = {"address": "2001:db8::13", "port": 80, "real_servers": [{"address": "2001:db8::4"}]}
BEFORE = [WEB, DNS, WEB6]

# The desired table: WEB on another scheduler, re-weighted, one real server swapped; DNS
# gone; WEB6 kept; a new service: 8 operations, four batches of two.
DESIRED = [dict(WEB, scheduler="rr", real_servers=[{"address": "192.0.2.%d" % n, "weight": 3} for n in (4, 5, 7)]),
           WEB6, {"address": "192.0.2.14", "port": 443, "real_servers": [{"address": "192.0.2.8"}]}]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(nl, "BATCH_SIZE", 2)


@pytest.fixture
def zone_ids(monkeypatch):
    """The model as it was before it refused zone IDs: ipaddress keeps "%eth0", inet_pton does not.

    Stands for any value the model accepts and pyroute2's encoder refuses.
    """
    def canonical_address(value, param):
        try:
            return str(ipaddress.ip_address(str(value).strip()))
        except ValueError:
            raise state.IPVSValidationError("%s: %r is not an IPv4 or IPv6 address" % (param, value)) from None

    monkeypatch.setattr(state, "canonical_address", canonical_address)


def table_args(services=None):
    return {"services": copy.deepcopy(DESIRED if services is None else services), "purge": True}


def enobufs():
    return OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS))


# --------------------------------------------------------------- ipvs_table

FAULTS = {
    # kind: (kernel arguments, fault to inject or None, words the message carries)
    "kernel refusal": ({"refuse": lambda op: errno.EINVAL if op.get("real_server", {}).get("address") == "192.0.2.8"
                        else 0}, None, "add real server 192.0.2.8:443 of service tcp/192.0.2.14:443: Invalid argument"),
    "socket error on a write": ({}, ("send", 3, enobufs), "No buffer space available"),
    "socket error on the acknowledgements": ({}, ("receive", 2, lambda: OSError(errno.ECONNRESET, "reset")),
                                             "reset"),
    "anything raised while the kernel works": ({}, ("request", 5, lambda: RuntimeError("boom")), "RuntimeError: boom"),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_a_failure_of_any_kind_restores_the_table(fake_kernel, kind):
    kernel_args, fault, words = FAULTS[kind]
    kernel = fake_kernel(live_table(BEFORE), **kernel_args)
    if fault:
        kernel.fail_on(fault[0], fault[1], fault[2]())
    result = fails(ipvs_table.main, table_args())
    assert words in result["msg"]
    assert kernel.carried_out, "the failure came after some changes were made"
    assert "; nothing was changed" in result["msg"]
    assert kernel.table() == live_table(BEFORE)
    assert len(result["operations"]) == 8
    assert all(sock.closed for sock in kernel.sockets)


def test_the_restore_undoes_exactly_what_went_through(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("send", 3, enobufs())
    result = fails(ipvs_table.main, table_args())
    done = len(kernel.carried_out) // 2  # as many changes, then as many undone
    assert done == 4  # two batches of two went through
    assert result["msg"] == ("sending 2 IPVS requests (delete real server 192.0.2.6:80 of service "
                             "tcp/192.0.2.13:80 first) failed: No buffer space available; nothing was changed: the 4 changes made "
                             "before the failure were undone")


def test_a_socket_failure_is_repaired_through_a_new_socket(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("send", 2, enobufs())
    fails(ipvs_table.main, table_args())
    assert [sock.broken for sock in kernel.sockets] == [True, False]
    assert kernel.table() == live_table(BEFORE)


def test_an_address_the_encoder_refuses_changes_nothing(fake_kernel, zone_ids):
    """inet_pton() refuses "fe80::1%eth0": OSError, not a netlink error, and in the last batch."""
    kernel = fake_kernel(live_table(BEFORE))
    desired = DESIRED + [{"address": "fe80::1%eth0", "port": 80}]
    result = fails(ipvs_table.main, table_args(desired))
    assert result["msg"].startswith("add service tcp/[fe80::1%eth0]:80: pyroute2 cannot encode the request (")
    assert result["msg"].endswith("; nothing was changed")
    assert kernel.carried_out == []  # every request is encoded before the first is sent
    assert kernel.table() == live_table(BEFORE)
    assert "exception" not in result


def test_a_failing_restore_says_so(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("send", 3, enobufs())
    kernel.fail_on("dump", 5, OSError(errno.EIO, os.strerror(errno.EIO)))  # the restore's read
    result = fails(ipvs_table.main, table_args())
    assert "; restoring the table failed too (dumping the IPVS table failed: Input/output error)" in result["msg"]
    assert result["msg"].endswith("check it with lvs.cluster.ipvs_info")


def test_an_unexpected_exception_keeps_its_traceback_for_verbose_runs(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("request", 1, KeyError("surprise"))
    result = fails(ipvs_table.main, table_args())
    assert "KeyError: 'surprise'" in result["msg"]
    assert "Traceback" in result["exception"]
    assert kernel.table() == live_table(BEFORE)


def test_reading_the_table_back_fails_cleanly_and_says_the_changes_were_made(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("dump", 5, OSError(errno.EIO, os.strerror(errno.EIO)))  # after the 4 reads of "before"
    result = fails(ipvs_table.main, table_args())
    assert result["msg"] == "dumping the IPVS table failed: Input/output error (after the 8 changes were made)"
    assert kernel.table() == live_table(DESIRED)


# ------------------------------------------------------- the other modules


def test_ipvs_service_restores_on_a_socket_error(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("receive", 2, enobufs())
    args = dict(DESIRED[0], purge_real_servers=True)
    result = fails(ipvs_service.main, args)
    assert result["msg"].endswith("were undone")
    assert kernel.table() == live_table(BEFORE)


def test_ipvs_service_reports_an_address_the_encoder_refuses(fake_kernel, zone_ids):
    kernel = fake_kernel(live_table(BEFORE))
    result = fails(ipvs_service.main, dict(WEB, address="fe80::13%eth0",
                                           real_servers=[{"address": "2001:db8::9"}, {"address": "fe80::4%eth0"}]))
    assert "pyroute2 cannot encode the request" in result["msg"]
    assert kernel.carried_out == [] and kernel.table() == live_table(BEFORE)


def test_ipvs_service_refuses_a_non_ascii_netmask_before_touching_anything(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    result = fails(ipvs_service.main, dict(WEB, persistence_timeout=60, persistence_netmask="\u00b2"))
    assert result["msg"].startswith("persistence_netmask: '\u00b2' is not a netmask or prefix length")
    assert kernel.requests == []


def test_ipvs_real_server_restores_on_anything_raised(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("request", 1, RuntimeError("boom"))
    result = fails(ipvs_real_server.main, {"service": {"address": "192.0.2.13", "port": 80},
                                           "address": "192.0.2.4", "weight": 9})
    assert "RuntimeError: boom" in result["msg"]
    assert kernel.table() == live_table(BEFORE)


def test_a_drain_whose_polls_fail_ends_in_fail_json(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE), active=[3])
    kernel.fail_on("dump", 5, OSError(errno.EIO, os.strerror(errno.EIO)))  # the first poll
    result = fails(ipvs_real_server.main, {"service": {"address": "192.0.2.13", "port": 80},
                                           "address": "192.0.2.4", "state": "drained", "drain_timeout": 5})
    assert result["msg"].startswith("dumping the real servers of tcp/192.0.2.13:80 failed: Input/output error")
    web = next(s for s in kernel.table() if (s["address"], s["port"]) == ("192.0.2.13", 80))
    assert web["real_servers"][0]["weight"] == 0  # the quiesce itself was made


def test_ipvs_info_fails_cleanly_on_a_socket_error(fake_kernel):
    kernel = fake_kernel(live_table(BEFORE))
    kernel.fail_on("dump", 1, OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS)))
    assert fails(ipvs_info.main, {})["msg"] == "dumping the IPVS table failed: No buffer space available"


def test_ipvs_timeouts_fails_cleanly_on_a_socket_error(fake_kernel):
    kernel = fake_kernel()
    kernel.fail_on("send", 1, enobufs())
    result = fails(ipvs_timeouts.main, {"tcp": 60})
    assert result["msg"] == "setting the IPVS timeouts tcp=60 failed: No buffer space available"
    assert kernel.timeout_values["tcp"] == 900


def test_no_ipvs_in_the_kernel_is_named(fake_kernel):
    fake_kernel(no_ipvs=True)
    assert fails(ipvs_info.main, {})["msg"].startswith("the kernel has no IPVS (generic netlink family IPVS not found")


# ------------------------------------------------------------ sync daemon

RUNNING = {"role": "master", "interface": "eth0", "syncid": 7, "mcast_group": "233.252.0.81",
           "mcast_port": 8848, "mcast_ttl": 1, "maxlen": 1472}
RESTART = {"role": "master", "interface": "eth0", "syncid": 8, "mcast_group": "233.252.0.81"}
NEW = dict(RUNNING, syncid=8)


def test_a_restart_whose_start_the_encoder_refuses_stops_nothing(fake_kernel, zone_ids):
    """The exact case: ff02::1%eth0 passes the model, inet_pton() refuses it after the stop went out."""
    kernel = fake_kernel(daemons=[RUNNING])
    result = fails(ipvs_sync_daemon.main, dict(RESTART, mcast_group="ff02::1%eth0"))
    assert result["msg"].startswith("start master sync daemon on eth0 (syncid 8, group ff02::1%eth0 port 8848, "
                                    "ttl 1): pyroute2 cannot encode the request (")
    assert result["msg"].endswith("; nothing was changed: the master sync daemon runs as before")
    assert kernel.carried_out == []
    assert kernel.sync_daemons() == [RUNNING]


def test_a_refused_start_brings_the_old_daemon_back(fake_kernel):
    kernel = fake_kernel(daemons=[RUNNING], refuse_daemon=lambda op: errno.EADDRNOTAVAIL
                         if op["action"] == "start_sync_daemon" and op["daemon"]["syncid"] == 8 else 0)
    result = fails(ipvs_sync_daemon.main, RESTART)
    assert result["msg"].endswith("; the old master sync daemon runs again as before")
    assert kernel.sync_daemons() == [RUNNING]


def test_a_socket_error_on_the_start_brings_the_old_daemon_back(fake_kernel):
    kernel = fake_kernel(daemons=[RUNNING])
    kernel.fail_on("send", 2, enobufs())  # the stop went out, the start did not
    result = fails(ipvs_sync_daemon.main, RESTART)
    assert result["msg"].startswith("start master sync daemon on eth0 (syncid 8, group 233.252.0.81 port 8848, "
                                    "ttl 1) failed: No buffer space available")
    assert result["msg"].endswith("; the old master sync daemon runs again as before")
    assert kernel.sync_daemons() == [RUNNING]


def test_a_start_whose_answer_is_lost_reports_the_new_daemon(fake_kernel):
    kernel = fake_kernel(daemons=[RUNNING])
    kernel.fail_on("receive", 2, OSError(errno.ECONNRESET, "reset"))  # the start went through
    result = fails(ipvs_sync_daemon.main, RESTART)
    assert result["msg"].endswith("; the new master sync daemon runs (syncid 8, group 233.252.0.81 port 8848, ttl 1, "
                                  "maxlen 1472)")
    assert kernel.sync_daemons() == [NEW]


def test_when_neither_can_start_the_failure_says_none_runs(fake_kernel):
    kernel = fake_kernel(daemons=[RUNNING], refuse_daemon=lambda op: errno.ENODEV
                         if op["action"] == "start_sync_daemon" else 0)
    result = fails(ipvs_sync_daemon.main, RESTART)
    assert result["msg"].endswith("; no master sync daemon runs now: the old one was stopped and starting it again "
                                  "failed too (interface: the kernel finds no interface 'eth0': No such device)")
    assert kernel.sync_daemons() == []


def test_a_plain_start_that_fails_changes_nothing(fake_kernel):
    kernel = fake_kernel()
    kernel.fail_on("send", 1, enobufs())
    result = fails(ipvs_sync_daemon.main, RESTART)
    assert result["msg"].endswith("; nothing was changed: no master sync daemon runs")
    assert kernel.sync_daemons() == []


def test_a_stop_without_acknowledgement_still_restarts(fake_kernel, monkeypatch):
    """kthread_stop() -EINTR: netlink sends no acknowledgement; the daemons are read instead."""
    monkeypatch.setattr(nl, "STOP_ACK_TIMEOUT", 0.05)
    kernel = fake_kernel(daemons=[RUNNING], stop_without_ack=True)
    result = exits(ipvs_sync_daemon.main, RESTART)
    assert result["daemon"] == NEW and kernel.sync_daemons() == [NEW]
