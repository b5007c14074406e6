# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/scaleout_table.py: the figures of make bench-scaleout."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "scaleout_table.py"
spec = importlib.util.spec_from_file_location("scaleout_table", SCRIPT)
table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(table)

# ab -q -l -r -s 3 -t 20 -n 1000000 -c 32 (Debian 12's apache2-utils), its report.
AB = """This is ApacheBench, Version 2.3 <$Revision: 1913912 $>
Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/
Licensed to The Apache Software Foundation, http://www.apache.org/

Benchmarking 192.0.2.13 (be patient).....done


Server Software:        Apache/2.4.62
Server Hostname:        192.0.2.13
Server Port:            80

Document Path:          /
Document Length:        Variable

Concurrency Level:      32
Time taken for tests:   20.002 seconds
Complete requests:      {complete}
Failed requests:        {failed}
Total transferred:      6936330 bytes
HTML transferred:       147060 bytes
Requests per second:    {rps:.2f} [#/sec] (mean)
Time per request:       26.113 [ms] (mean)
Time per request:       0.816 [ms] (mean, across all concurrent requests)
Transfer rate:          338.67 [Kbytes/sec] received

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    9  41.2      3    1034
Processing:     1   17  12.4     15     222
Waiting:        1   16  12.3     14     221
Total:          2   26  43.4     18    1052

Percentage of the requests served within a certain time (ms)
  50%     18
  66%     22
  75%     25
  80%     27
  90%     34
  95%     43
  99%    102
 100%   1052 (longest request)
"""


def report(complete, rps, failed=0):
    return AB.format(complete=complete, rps=rps, failed=failed)


def row(directors, complete, rps, packets):
    counters = {"lb0%d" % (i + 1): {"connections": str(complete // directors), "in_packets": str(p)}
                for i, p in enumerate(packets)}
    return {"directors": directors, "concurrency": 32, "seconds": 20, "ab": report(complete, rps), "counters": counters,
            "bfd_down": 0}


def test_ab_report_figures():
    assert table.parse_ab(report(24510, 1225.44, failed=3)) == {
        "complete": 24510, "failed": 3, "rps": 1225.44, "seconds": 20.002, "p50": 18, "p99": 102}
    assert table.parse_ab("apr_socket_connect(): Connection refused (111)") == {}


def test_throughput_ratios_are_to_one_director():
    rows = [row(3, 50000, 2500.0, [60000, 60000, 60000]), row(1, 20000, 1000.0, [100000])]
    lines = table.throughput(rows)
    assert lines[0].split()[:5] == ["1", "1000", "1.00", "5000", "1.00"]
    assert lines[1].split()[:5] == ["3", "2500", "2.50", "8999", "1.80"]   # over ab's 20.002 s
    assert lines[1].split()[8:] == ["0", "lb01", "16666", "lb02", "16666", "lb03", "16666"]


def test_fault_rows_by_kind():
    rows = [{"kind": "drain", "gap": 0.1, "failed": 0, "idle_after": 5.2},
            {"kind": "drain", "gap": 0.3, "failed": 0, "idle_after": 6.0},
            {"kind": "hard kill", "gap": None, "failed": 2, "idle_after": None}]
    drain, kill = table.faults(rows)
    assert drain.split() == ["drain", "2", "0.20", "0.10-0.30", "0/0", "5.6"]
    assert kill.split() == ["hard", "kill", "1", "-", "-", "2", "-"]


def test_main_prints_both_tables(tmp_path, capsys):
    out = tmp_path / "rows"
    rows = [row(1, 20000, 1000.0, [100000]), {"kind": "drain", "gap": 0.1, "failed": 0, "idle_after": 5}]
    out.write_text("\n".join(json.dumps(r) for r in rows))
    assert table.main(str(out)) == 0
    text = capsys.readouterr().out
    assert "Throughput of the tier" in text and "Faults under load" in text
    assert '"rps": 1000.0' in text          # the raw rows carry ab's figures, not its report
