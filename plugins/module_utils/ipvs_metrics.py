# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live IPVS table's counters per service and per real server, for Prometheus.

node_exporter's IPVS collector reads /proc/net/ip_vs and /proc/net/ip_vs_stats:
the director's totals, and each real server's weight and connection counts, but no
service's or real server's own traffic.  This fills the gap through node_exporter's
textfile collector: ``render(table)`` turns a table dumped with its counters
(``IPVSNetlink.dump(stats=True)``) into Prometheus' text format, labelled with the
collection's own names (``service="tcp/192.0.2.13:80"``, ``real_server=
"192.0.2.21:80"``, as ipvs_info and the drift reports name them); ``main`` writes it
to a file every few seconds, replacing the file whole so that a scrape never reads
half of it.  The lb role runs it as lvs-cluster-metrics.service (``lb_metrics``):

    python -c '...ipvs_metrics.main()' --output FILE [--interval SECONDS] [--once]

When the table cannot be read, the file holds only ``lvs_cluster_ipvs_up 0``:
counters that stopped moving are never presented as live ones.  Needs root
(the IPVS netlink family is CAP_NET_ADMIN) and the standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_netlink as netlink
from ansible_collections.lvs.cluster.plugins.module_utils import ipvs_state as state

PROGRAM = "lvs-cluster-metrics"
PREFIX = "lvs_cluster_"

# The kernel's counters (ipvs_wire.STATS_NAMES): key, metric name, what it counts.
COUNTERS = (
    ("connections", "connections_total", "Connections scheduled"),
    ("in_packets", "incoming_packets_total", "Packets from clients forwarded"),
    ("out_packets", "outgoing_packets_total",
     "Packets from real servers forwarded back (0 with direct routing: real servers answer clients themselves)"),
    ("in_bytes", "incoming_bytes_total", "Bytes from clients forwarded"),
    ("out_bytes", "outgoing_bytes_total",
     "Bytes from real servers forwarded back (0 with direct routing)"),
)
# A real server's gauges: key, metric name, what it shows.
GAUGES = (
    ("weight", "weight", "Weight of the real server in the service (0: quiesced)"),
    ("active_connections", "active_connections", "Established connections to the real server"),
    ("inactive_connections", "inactive_connections", "Connections to the real server in any other state"),
)


def escape(value: str) -> str:
    """A label value as the text format writes it (backslash, double quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(name: str, labels: dict, value) -> str:
    text = ",".join('%s="%s"' % (key, escape(str(item))) for key, item in labels.items())
    return "%s%s{%s} %s" % (PREFIX, name, text, value) if text else "%s%s %s" % (PREFIX, name, value)


def family(name: str, kind: str, text: str, samples: list) -> list:
    """The HELP and TYPE lines of a metric, then its samples."""
    return ["# HELP %s%s %s." % (PREFIX, name, text), "# TYPE %s%s %s" % (PREFIX, name, kind)] + samples


def render(table: list | None, now: float) -> str:
    """The metrics of a table dumped with ``stats`` (None: it could not be read), read at ``now``."""
    lines = family("ipvs_up", "gauge", "Whether the IPVS table could be read (1) or not (0)",
                   [sample("ipvs_up", {}, 0 if table is None else 1)])
    if table is None:
        return "\n".join(lines) + "\n"
    lines += family("ipvs_read_timestamp_seconds", "gauge", "When the IPVS table was read (Unix time)",
                    [sample("ipvs_read_timestamp_seconds", {}, "%.3f" % now)])
    services = [(state.service_id(service), service) for service in table]
    for key, name, text in COUNTERS:
        lines += family("service_" + name, "counter", text + ", by IPVS service",
                        [sample("service_" + name, {"service": sid}, service["stats"][key])
                         for sid, service in services])
    servers = [({"service": sid, "real_server": state.real_server_id(rs)}, rs)
               for sid, service in services for rs in service["real_servers"]]
    for key, name, text in COUNTERS:
        lines += family("real_server_" + name, "counter", text + ", by real server of an IPVS service",
                        [sample("real_server_" + name, labels, rs["stats"][key]) for labels, rs in servers])
    for key, name, text in GAUGES:
        lines += family("real_server_" + name, "gauge", text,
                        [sample("real_server_" + name, labels, rs[key]) for labels, rs in servers])
    return "\n".join(lines) + "\n"


def write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` at once (a new file renamed over it), mode 0644."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("%r is not a number of seconds from 1 to 3600" % value)
    return seconds


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Write the IPVS table's counters per service and real server for node_exporter's "
                    "textfile collector.")
    parser.add_argument("--output", required=True, help="the .prom file to (re)write")
    parser.add_argument("--interval", type=interval, default=15.0, help="seconds between writes (1-3600)")
    parser.add_argument("--once", action="store_true", help="write once and exit (1 if the table was unreadable)")
    args = parser.parse_args(argv)
    while True:
        table = netlink.read_table(PROGRAM, stats=True)
        try:
            write(args.output, render(table, time.time()))
        except OSError as exc:
            sys.stderr.write("%s: cannot write %s: %s\n" % (PROGRAM, args.output, exc.strerror))
            return 1
        if args.once:
            return 0 if table is not None else 1
        time.sleep(args.interval)
