# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The textfile metrics of lvs-cluster-metrics.service: the text format, the file, the loop's exits."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_metrics as metrics
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table
from ansible_collections.lvs.cluster.tests.unit.plugins.modules import utils, wire_fake


def counters(base: int) -> dict:
    return {"connections": base, "in_packets": base * 10, "out_packets": 0, "in_bytes": base * 1000, "out_bytes": 0}


def real_server(address: str, weight: int, base: int) -> dict:
    return {"address": address, "port": 80, "weight": weight, "active_connections": base,
            "inactive_connections": base + 1, "stats": counters(base)}


TABLE = [
    {"family": "ipv4", "protocol": "tcp", "address": "192.0.2.13", "port": 80, "fwmark": None,
     "stats": counters(7), "real_servers": [real_server("192.0.2.4", 5, 3), real_server("192.0.2.5", 0, 4)]},
    {"family": "ipv6", "protocol": "tcp", "address": "2001:db8::13", "port": 80, "fwmark": None,
     "stats": counters(2), "real_servers": [real_server("2001:db8::4", 5, 2)]},
    {"family": "ipv4", "protocol": None, "address": None, "port": None, "fwmark": 21,
     "stats": counters(1), "real_servers": []},
]

# A sample line of the text format: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? -?[0-9.]+$')


def samples(text: str) -> dict:
    """{metric with its labels: value} of every sample line."""
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


def test_render_names_every_service_and_real_server_as_the_collection_does():
    found = samples(metrics.render(TABLE, 1700000000.5))
    assert found["lvs_cluster_ipvs_up"] == "1"
    assert found["lvs_cluster_ipvs_read_timestamp_seconds"] == "1700000000.500"
    assert found['lvs_cluster_service_connections_total{service="tcp/192.0.2.13:80"}'] == "7"
    assert found['lvs_cluster_service_incoming_bytes_total{service="tcp/[2001:db8::13]:80"}'] == "2000"
    assert found['lvs_cluster_service_incoming_packets_total{service="fwmark/21/ipv4"}'] == "10"
    server = '{service="tcp/192.0.2.13:80",real_server="192.0.2.5:80"}'
    assert found["lvs_cluster_real_server_connections_total" + server] == "4"
    assert found["lvs_cluster_real_server_weight" + server] == "0"
    assert found["lvs_cluster_real_server_active_connections" + server] == "4"
    assert found["lvs_cluster_real_server_inactive_connections" + server] == "5"
    assert found['lvs_cluster_real_server_incoming_packets_total{service="tcp/[2001:db8::13]:80",'
                 'real_server="[2001:db8::4]:80"}'] == "20"
    # 3 services x 5 counters, 3 real servers x (5 counters + 3 gauges), the up and timestamp gauges
    assert len(found) == 15 + 24 + 2


def test_render_is_the_text_format_each_metric_declared_once_before_its_samples():
    text = metrics.render(TABLE, 0)
    assert text.endswith("\n")
    declared: list = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split(" ")
            assert kind in ("counter", "gauge") and name not in declared
            assert kind == "counter" or not name.endswith("_total")
            declared.append(name)
        elif not line.startswith("# HELP "):
            assert SAMPLE.match(line), line
            assert line.split("{")[0].split(" ")[0] == declared[-1]


def test_an_unreadable_table_leaves_only_the_up_gauge_at_zero():
    assert samples(metrics.render(None, 0)) == {"lvs_cluster_ipvs_up": "0"}


def test_label_values_are_escaped():
    assert metrics.sample("x", {"a": 'q"b\\n\nl'}, 1) == 'lvs_cluster_x{a="q\\"b\\\\n\\nl"} 1'


def test_write_replaces_the_file_whole_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "lvs_cluster.prom"
    target.write_text("old\n")
    metrics.write(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(tmp_path) == ["lvs_cluster.prom"]


def test_once_reads_the_kernel_table_through_netlink(tmp_path, monkeypatch, harness):
    kernel = wire_fake.WireKernel()
    monkeypatch.setattr(nl, "open_table_socket", kernel.socket)
    outcome, _result = utils.run_module(ipvs_table.main, {"services": [
        {"address": "192.0.2.13", "port": 80, "real_servers": [{"address": "192.0.2.4", "weight": 5}]}]})
    assert outcome == "exit"
    target = tmp_path / "lvs_cluster.prom"
    assert metrics.main(["--output", str(target), "--once"]) == 0
    found = samples(target.read_text())
    assert found["lvs_cluster_ipvs_up"] == "1"
    assert found['lvs_cluster_service_connections_total{service="tcp/192.0.2.13:80"}'] == "0"
    assert found['lvs_cluster_real_server_weight{service="tcp/192.0.2.13:80",real_server="192.0.2.4:80"}'] == "5"


def test_once_without_ipvs_writes_the_up_gauge_and_fails(tmp_path, monkeypatch, capsys):
    def no_socket():
        raise OSError(93, "Protocol not supported")
    monkeypatch.setattr(nl, "open_table_socket", no_socket)
    target = tmp_path / "lvs_cluster.prom"
    assert metrics.main(["--output", str(target), "--once"]) == 1
    assert samples(target.read_text()) == {"lvs_cluster_ipvs_up": "0"}
    assert "lvs-cluster-metrics: cannot open a netlink socket" in capsys.readouterr().err


def test_an_unwritable_output_fails_naming_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(metrics.netlink, "read_table", lambda *args, **kwargs: None)
    target = tmp_path / "missing" / "lvs_cluster.prom"
    assert metrics.main(["--output", str(target), "--once"]) == 1
    assert "cannot write %s" % target in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "0.5", "3601", "often", "nan"])
def test_a_bad_interval_is_refused(value, capsys):
    with pytest.raises(SystemExit) as exited:
        metrics.main(["--output", "x", "--interval", value])
    assert exited.value.code == 2
    assert "--interval" in capsys.readouterr().err
