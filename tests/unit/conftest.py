# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the collection importable as ``ansible_collections.lvs.cluster`` for plain pytest.

Under ``ansible-test units`` the repository already sits at
``.../ansible_collections/lvs/cluster``; then that tree's root goes on sys.path.
From a plain clone, ``.cache/collections/ansible_collections/lvs/cluster`` is a
symlink to the repository root (the Makefile makes it too; this creates it when missing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _collections_root() -> Path:
    if REPO_ROOT.parent.name == "lvs" and REPO_ROOT.parent.parent.name == "ansible_collections":
        return REPO_ROOT.parents[2]
    root = REPO_ROOT / ".cache" / "collections"
    link = root / "ansible_collections" / "lvs" / "cluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():  # dangling: the clone moved
            link.unlink()
        os.symlink(REPO_ROOT, link, target_is_directory=True)
    return root


_ROOT = str(_collections_root())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


# Fixtures for the module tests (imported only now: the collection is importable from here on).
import pytest

from ansible_collections.lvs.cluster.tests.unit.plugins.modules import utils

try:
    from ansible_collections.lvs.cluster.tests.unit.plugins.modules import netlink_fake
except ImportError:  # no pyroute2: the tests that need it are skipped
    netlink_fake = None  # type: ignore[assignment]


@pytest.fixture
def harness(monkeypatch):
    """exit_json/fail_json raise AnsibleExitJson/AnsibleFailJson instead of exiting."""
    utils.patch_exit_fail(monkeypatch)


@pytest.fixture
def fake_ipvs(monkeypatch):
    """A factory: ``fake_ipvs(table, **kwargs)`` makes the modules use an in-memory FakeIPVS."""
    def install(table=None, **kwargs):
        return utils.install_fake(monkeypatch, table, **kwargs)
    return install


@pytest.fixture
def fake_kernel(monkeypatch):
    """A factory: ``fake_kernel(table, **kwargs)`` makes the modules run the real netlink
    adapter over an in-memory kernel that decodes every message the adapter encodes."""
    if netlink_fake is None:
        pytest.skip("pyroute2 is not installed")

    def install(table=None, **kwargs):
        return netlink_fake.install_kernel(monkeypatch, table, **kwargs)
    return install
