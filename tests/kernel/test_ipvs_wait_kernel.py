# -*- coding: utf-8 -*-
"""ipvs_wait's logic on a real IPVS table (run inside lab/uml-run).

The kernel has only its loopback: the VIP and the real server's address go on lo, a
listener in this process is the real server, and connections from this process
to the VIP go through IPVS (it schedules local clients too), so the real server's
ActiveConn counts real established connections.  A thread plays the owner: it
lowers the weights with ipvsadm and ends the connections while the wait polls.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_wait as waiting

VIP = "192.0.2.113"
REAL = "192.0.2.106"


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def local_cluster(ipvs):
    """Two services on VIP (8080 with weight 5, 8443 with weight 3) to REAL, both on lo,
    and a listener on REAL's side; yields (ipvs, connect) where connect() opens one
    connection through IPVS and returns its two ends."""
    for address in (VIP, REAL):
        run("ip", "address", "add", address + "/32", "dev", "lo")
    ipvs.apply(state.diff_table(state.services_from_params([
        {"address": VIP, "port": 8080, "scheduler": "rr", "real_servers": [{"address": REAL, "weight": 5}]},
        {"address": VIP, "port": 8443, "scheduler": "rr", "real_servers": [{"address": REAL, "weight": 3}]},
    ]), ipvs.dump()))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 8080))
    listener.listen(16)
    opened: list = []

    def connect():
        client = socket.create_connection((VIP, 8080), timeout=5)
        server, _ = listener.accept()
        opened.extend((client, server))
        return client, server

    try:
        yield ipvs, connect
    finally:
        for sock in opened + [listener]:
            sock.close()
        for address in (VIP, REAL):
            subprocess.run(["ip", "address", "del", address + "/32", "dev", "lo"], check=False)


def reader(ipvs):
    return lambda: waiting.entries_of(ipvs.dump(stats=True), [REAL])


def owner(*steps):
    """A thread that runs each (delay, function) in turn."""
    def play():
        for delay, function in steps:
            time.sleep(delay)
            function()
    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def weight(port: int, value: int):
    return lambda: run("ipvsadm", "-e", "-t", "%s:%d" % (VIP, port), "-r", "%s:%d" % (REAL, port),
                       "-g", "-w", str(value))


def close(pair):
    return lambda: [sock.close() for sock in pair]


def test_drain_follows_the_owner_and_the_connections(local_cluster):
    ipvs, connect = local_cluster
    pairs = [connect() for _ in range(3)]
    assert sum(e["active_connections"] for e in reader(ipvs)()) == 3
    thread = owner((0.5, weight(8080, 0)), (0.5, weight(8443, 0)),
                   (0.5, close(pairs[0])), (0.5, close(pairs[1])), (0.5, close(pairs[2])))
    result = waiting.wait(reader(ipvs), "drained", timeout=30, interval=0.1)
    thread.join()
    assert result["reached"] is True
    assert [s["weight0"] for s in result["steps"]][:3] == ["0/2", "1/2", "2/2"]
    assert [s["active"] for s in result["steps"]] == [3, 3, 3, 2, 1, 0]
    assert 2.0 <= result["waited"] < 15
    params = waiting.params_from({"real_servers": [REAL], "state": "drained", "timeout": 30, "interval": 0.1})
    failed, msg = waiting.outcome(params, result)
    assert not failed
    assert msg.startswith("%s: weight 0 on 2 services after " % REAL) and ", no active connection after " in msg


def test_drain_timeout_leaves_the_connections_reported(local_cluster):
    ipvs, connect = local_cluster
    connect()
    connect()
    weight(8080, 0)()
    weight(8443, 0)()
    params = waiting.params_from({"real_servers": [REAL], "state": "drained", "timeout": 1.0, "interval": 0.2})
    result = waiting.wait(reader(ipvs), "drained", params["timeout"], params["interval"])
    assert result["reached"] is False and 1.0 <= result["waited"] < 5
    assert waiting.outcome(params, result) == (False, "%s: weight 0 on 2 services after 0 s, "
                                                      "2 active connections left after 1 s" % REAL)
    assert waiting.weights(result["entries"]) == ["%s:8080:0" % REAL, "%s:8443:0" % REAL]


def test_restore_waits_for_every_entry_above_weight_0(local_cluster):
    ipvs, _ = local_cluster
    weight(8080, 0)()
    weight(8443, 0)()
    thread = owner((0.4, weight(8443, 3)), (0.4, weight(8080, 5)))
    result = waiting.wait(reader(ipvs), "active", timeout=20, interval=0.1)
    thread.join()
    assert result["reached"] is True
    assert [s["weight0"] for s in result["steps"]] == ["2/2", "1/2", "0/2"]
    assert 0.8 <= result["waited"] < 10
