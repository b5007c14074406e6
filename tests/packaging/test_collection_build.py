# -*- coding: utf-8 -*-
# Copyright: lvs.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a user of the built collection gets: `ansible-galaxy collection build`,
the tarball's file list, and the tarball installed and used from elsewhere.

Run by `make lint` (needs the repository's .venv, no root, no network). Not
shipped in the tarball (galaxy.yml build_ignore), since it builds it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())

# Every file under these directories of the repository is what the collection is.
SHIPPED_TREES = ("plugins", "roles", "playbooks", "meta")
# And these single files.
SHIPPED_FILES = ("README.md", "LICENSE", "CHANGELOG.rst", "changelogs/changelog.yaml", "changelogs/config.yaml",
                 "tests/unit/requirements.txt", "MANIFEST.json", "FILES.json")
# What no user needs: the lab, the build, developer tooling.
FORBIDDEN_TOP = {"lab", "molecule", "benchmarks", "Makefile", "requirements.txt", "ruff.toml",
                 "mypy.ini", "galaxy.yml"}
FORBIDDEN_PREFIXES = ("tests/output", "tests/kernel", "tests/packaging", "tests/unit/resources", "tests/unit/lab",
                      "tests/unit/benchmarks", "tests/integration/ipvs.yml", "changelogs/fragments")
# Developers' pins that must not reach an execution environment.
DEV_PACKAGES = {"ansible-lint", "yamllint", "ruff", "mypy", "pytest", "molecule", "antsibull-changelog",
                "voluptuous", "antsibull-docs-parser", "ansible", "ansible-core"}
MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py"))
PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def repo_files(tree: str) -> set[str]:
    return {str(p.relative_to(REPO)) for p in (REPO / tree).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([str(BIN / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path", str(out)], cwd=out)
    built = list(out.glob("*.tar.gz"))
    assert [p.name for p in built] == [f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"]
    return built[0]


@pytest.fixture(scope="module")
def members(tarball) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The tarball installed into a collections path of its own; an environment that sees only it."""
    root = tmp_path_factory.mktemp("collections")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(root), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(elsewhere / ".tmp"),
               HOME=str(elsewhere))
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(root), str(tarball)],
        cwd=elsewhere, env=env)
    return elsewhere, env


def test_tarball_holds_what_users_need(members):
    needed = set(SHIPPED_FILES)
    for tree in SHIPPED_TREES:
        needed |= repo_files(tree)
    missing = sorted(needed - set(members))
    assert not missing, f"missing from the tarball: {missing}"


def test_tarball_holds_nothing_of_the_lab_or_the_build(members):
    bad = sorted(name for name in members
                 if name.split("/")[0] in FORBIDDEN_TOP
                 or name.startswith(FORBIDDEN_PREFIXES)
                 or any(part.startswith(".") for part in name.split("/"))
                 or "__pycache__" in name.split("/")
                 or name.endswith((".pyc", ".tar.gz")))
    assert not bad, f"developer files in the tarball: {bad}"


def test_licence_is_the_full_gpl3(members, tarball):
    with tarfile.open(tarball) as tar:
        handle = tar.extractfile(members["LICENSE"])
        assert handle is not None
        text = handle.read().decode()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 600


def test_manifest_metadata_is_true(members, tarball):
    with tarfile.open(tarball) as tar:
        handle = tar.extractfile(members["MANIFEST.json"])
        assert handle is not None
        info = json.load(handle)["collection_info"]
    assert info["version"] == GALAXY["version"]
    assert info["license"] == ["GPL-3.0-or-later"]
    # A URL field points at something real or is left out.
    for field in ("repository", "documentation", "homepage", "issues"):
        value = info.get(field)
        assert value is None or not re.search(r"example\.(invalid|com|org)|localhost", value), (field, value)
    assert set(info["dependencies"]) == {"ansible.posix", "community.general"}


def test_execution_environment_lists_runtime_requirements_only(members, tarball):
    with tarfile.open(tarball) as tar:
        handle = tar.extractfile(members["meta/execution-environment.yml"])
        assert handle is not None
        ee = yaml.safe_load(handle)
        python_file = ee["dependencies"]["python"]
        assert python_file in members, f"{python_file} (meta/execution-environment.yml) is not in the tarball"
        handle = tar.extractfile(members[python_file])
        assert handle is not None
        lines = handle.read().decode().splitlines()
    names = {re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower()
             for line in lines if line.strip() and not line.lstrip().startswith("#")}
    assert "pyroute2" in names
    assert not names & DEV_PACKAGES, f"developer pins in {python_file}: {sorted(names & DEV_PACKAGES)}"


def test_installed_collection_documents_its_modules_and_tests(installed):
    cwd, env = installed
    listing = run([str(BIN / "ansible-doc"), "-l", "lvs.cluster", "--json"], cwd=cwd, env=env)
    assert sorted(name.split(".")[-1] for name in json.loads(listing)) == MODULES
    doc = json.loads(run([str(BIN / "ansible-doc"), "--json", "lvs.cluster.ipvs_table"], cwd=cwd, env=env))
    entry = doc["lvs.cluster.ipvs_table"]
    # Read from the installed copy, not from the repository.
    assert entry["doc"]["filename"].startswith(env["ANSIBLE_COLLECTIONS_PATH"])
    assert "services" in entry["doc"]["options"]
    tests = json.loads(run([str(BIN / "ansible-doc"), "-t", "test", "-l", "lvs.cluster", "--json"], cwd=cwd, env=env))
    assert sorted(tests) == ["lvs.cluster.ip_address", "lvs.cluster.ip_in_networks",
                             "lvs.cluster.ipv4_address", "lvs.cluster.ipv6_address"]
    shown_all = json.loads(run([str(BIN / "ansible-doc"), "-t", "test", "--json", *tests], cwd=cwd, env=env))
    for name in tests:
        shown = shown_all[name]
        assert shown["doc"]["short_description"] and shown["doc"]["options"]["_input"], name
        assert shown["examples"] and shown["return"]["_value"]["type"] == "boolean", name
    roles = run([str(BIN / "ansible-doc"), "-t", "role", "-l", "lvs.cluster"], cwd=cwd, env=env)
    assert re.search(r"^lvs\.cluster\.frontend\b", roles, re.M) and re.search(r"^lvs\.cluster\.lb\b", roles, re.M)


def test_installed_playbooks_pass_a_syntax_check(installed):
    cwd, env = installed
    playbooks = [f"lvs.cluster.{name}" for name in PLAYBOOKS]
    assert "lvs.cluster.site" in playbooks
    out = run([str(BIN / "ansible-playbook"), "--syntax-check", *playbooks], cwd=cwd, env=env)
    assert out.count("playbook: ") == len(playbooks), out
