# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/resources/files/window.py: what a loadgen run saw in a window."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "molecule" / "resources" / "files" / "window.py"
spec = importlib.util.spec_from_file_location("window", SCRIPT)
window = importlib.util.module_from_spec(spec)
spec.loader.exec_module(window)


def rec(t, ok=True, dt=0.01, conn=None, server="web01"):
    return {"t": t, "dt": dt, "ok": ok, "conn": conn, "server": server if ok else "", "error": None if ok else "timeout"}


def test_gap_spans_the_last_success_before_to_the_first_after():
    records = [rec(9.0), rec(9.5), rec(10.0, ok=False, dt=3), rec(10.5, ok=False, dt=3), rec(13.2), rec(13.7)]
    out = window.analyse(records, since=10.0, until=15.0)
    assert out["sent"] == 4 and out["failed"] == 2
    assert out["gap"] == 3.7                      # 9.51 -> 13.21
    assert (out["gap_from"], out["gap_to"]) == (9.51, 13.21)
    assert out["servers"] == {"web01": 2}


def test_no_success_after_the_window_opened_has_no_gap():
    out = window.analyse([rec(9.0), rec(10.2, ok=False)], since=10.0, until=12.0)
    assert out["gap"] is None and out["failed"] == 1


def test_connections_that_answered_before_and_after():
    records = [rec(9.0, conn="0.1"), rec(11.0, conn="0.1"), rec(16.0, conn="0.1"),
               rec(9.0, conn="1.1"), rec(11.0, ok=False, conn="1.1"), rec(16.0, conn="1.2"),
               rec(12.0, conn="2.1"), rec(16.0, conn="2.1")]
    out = window.analyse(records, since=10.0, until=15.0)
    assert out["connections"] == {
        "0.1": {"ok_before": True, "ok_after": True, "failed": 0},
        "1.1": {"ok_before": True, "ok_after": False, "failed": 1},
    }                                             # 2.1 opened inside the window: not listed


def test_a_connection_stalled_through_the_outage_lived_through_it():
    records = [rec(9.0), rec(9.5, conn="0.1"), rec(10.2, ok=False, dt=3), rec(10.5, conn="0.1", dt=3.2), rec(13.9)]
    out = window.analyse(records, since=10.0, until=15.0)
    assert out["gap_to"] == 13.7                  # the stalled request ends the gap
    assert out["connections"]["0.1"] == {"ok_before": True, "ok_after": True, "failed": 0}
