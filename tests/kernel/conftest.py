# -*- coding: utf-8 -*-
"""Kernel tests need a kernel with IPVS and root: run them with `make kernel`,
which boots a throwaway user-mode-linux kernel (lab/uml-run) for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".cache" / "collections"))

from ansible_collections.lvs.cluster.plugins.module_utils.ipvs_netlink import IPVSNetlink  # noqa: E402


def pytest_configure(config):
    if not os.path.exists("/proc/net/ip_vs") or os.geteuid() != 0:
        pytest.exit("kernel tests need root and a kernel with IPVS: run `make kernel`", returncode=4)


@pytest.fixture
def ipvs():
    subprocess.run(["ipvsadm", "-C"], check=True)
    with IPVSNetlink() as adapter:
        yield adapter
    subprocess.run(["ipvsadm", "-C"], check=True)


def pytest_report_header(config):
    release = os.uname().release
    with open("/proc/net/ip_vs") as table:
        version = table.readline().strip()
    return "kernel under test: %s %s; %s" % (os.uname().sysname, release, version)
