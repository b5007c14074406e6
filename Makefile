# lvs.cluster: every entry point a user or CI needs.  Run as root on Debian 12.
#   make demo    build the seed cluster in the lab and show it serving
#   make test    every test: lint, unit, kernel (UML), integration and molecule (lab over SSH)
#   make bench   IPVS converge benchmark in a UML kernel (figures, not a test)
#   make bench-failover  failover figures of two+ keepalived directors under load
#   make bench-detection how fast each checker takes a failed real server out
#   make bench-small     what one task costs on a director; the idempotent site.yml profiled
#   make bench-scaleout  throughput of 1, 2 and 3 scale-out directors; drains and kills
#   make lab-down  tear the demo lab down
# Each target installs what it needs first (apt packages, .venv).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.cache/collections
LAB := $(PY) $(CURDIR)/lab/lvslab.py
APT_PACKAGES := user-mode-linux uml-utilities systemd-container openssh-server openssh-client \
	kmod ipvsadm iproute2 iputils-arping curl python3 python3-venv patchelf sudo

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_PIPELINING := True
export ANSIBLE_HOST_KEY_CHECKING := False
export ANSIBLE_CALLBACK_RESULT_FORMAT := yaml
export ANSIBLE_NOCOWS := 1
export ANSIBLE_RETRY_FILES_ENABLED := False
export PY_COLORS := 0

.PHONY: help setup demo test test-machine test-uml test-lane-default test-lane-ha lint sanity unit kernel integration bench bench-failover bench-detection bench-scaleout bench-small lab-down clean

help:
	@sed -n '2,9p' Makefile | sed 's/^# *//'

# ------------------------------------------------------------------ set-up

.cache/apt.stamp:
	@mkdir -p .cache
	@missing=$$(for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing" $$missing; \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; \
	  trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
	  apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@touch $@

$(VENV)/.installed: requirements.txt
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(COLLECTIONS)/ansible_collections/lvs/cluster:
	@mkdir -p $(dir $@)
	@ln -sfn $(CURDIR) $@

# The UML kernel the lab boots (lab/uml-kernel says why not Debian 12's).
.cache/uml/linux: lab/uml-kernel .cache/apt.stamp
	lab/uml-kernel .cache/uml

setup: .cache/apt.stamp $(VENV)/.installed $(COLLECTIONS)/ansible_collections/lvs/cluster .cache/uml/linux

# ------------------------------------------------------------------- tests

# Two chains side by side (the machine has two cores, a UML kernel uses one):
# what runs on the machine (lint, unit, the frontend scenario's nspawn hosts)
# and the UML suites (kernel, integration). Each suite's output appears whole
# when it ends. Then the four scenarios with directors in two lanes, each
# ~1.3x slower beside the other than alone (mixed beside ha measured 14.5 and
# 15.9 min against 11.3 and 12.5 alone): default (~21 min alone) then mixed,
# beside ha then scaleout (~13 min alone): lanes of 36-37 and 33-34 min,
# make test 43-45 min in all (two fresh clones, 2026-12-05). Every drill
# bound held with a scenario beside it (default's quiesce within 20 s, ha's
# and scaleout's kill gaps).
test: setup mirror
	$(MAKE) --no-print-directory -j2 --output-sync=target test-machine test-uml
	$(MAKE) --no-print-directory -j2 --output-sync=target test-lane-default test-lane-ha
	@echo "make test: all suites passed"

test-machine:
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory molecule-frontend

test-uml:
	$(MAKE) --no-print-directory kernel
	$(MAKE) --no-print-directory integration

test-lane-default:
	$(MAKE) --no-print-directory molecule-default
	$(MAKE) --no-print-directory molecule-mixed

test-lane-ha:
	$(MAKE) --no-print-directory molecule-ha
	$(MAKE) --no-print-directory molecule-scaleout

lint: setup
	$(VENV)/bin/ruff check plugins tests benchmarks lab .ci
	cd $(COLLECTIONS) && MYPYPATH=. $(VENV)/bin/mypy --config-file $(CURDIR)/mypy.ini -p ansible_collections.lvs.cluster.plugins
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/antsibull-changelog lint
	cd $(COLLECTIONS)/ansible_collections/lvs/cluster && $(VENV)/bin/ansible-lint --offline
	@# The built tarball: what users need, nothing of the lab or the build; installed
	@# into a collections path of its own and used from another directory.
	$(PY) -m pytest -q -p no:cacheprovider tests/packaging
	@# validate-modules (DOCUMENTATION against argument_spec), pylint, pep8, ... on the tarball.
	$(MAKE) --no-print-directory sanity

# ansible-test sanity, no ignore files, on the collection as users get it: the
# built tarball installed as ansible_collections/lvs/cluster (the layout
# ansible-test needs) in a temporary directory outside this clone (inside it,
# ansible-test would take git's file list, where .cache is ignored). The lab and
# the build are not in the tarball, so not in sanity's scope. It runs on this
# virtualenv's Python (Debian 12's 3.11: no other version is installed), and
# makes a virtualenv per test, kept in ~/.ansible/test/venv (first run ~3 min).
# Their pip bootstrap comes from a host these machines cannot reach:
# .ci/ansible-test-get-pip.py stands in, from ansible-test's cache.
sanity: setup
	@pip=$$($(PY) -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages; \
	    print(get_venv_packages(types.SimpleNamespace(version="3"))["pip"])'); \
	cached=$$HOME/.ansible/test/cache/get_pip_$${pip//./_}.py; \
	if [ ! -e "$$cached" ] || grep -q 'lvs.cluster stand-in' "$$cached"; then \
	  mkdir -p "$$(dirname "$$cached")"; cp .ci/ansible-test-get-pip.py "$$cached"; fi
	tmp=$$(mktemp -d /tmp/lvs-cluster-sanity.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	$(VENV)/bin/ansible-galaxy collection build --output-path "$$tmp/dist" . >/dev/null; \
	ANSIBLE_COLLECTIONS_PATH="$$tmp" $(VENV)/bin/ansible-galaxy collection install --no-deps -p "$$tmp" "$$tmp"/dist/*.tar.gz \
	    | grep 'installed successfully'; \
	cd "$$tmp/ansible_collections/lvs/cluster"; \
	env -u ANSIBLE_COLLECTIONS_PATH $(VENV)/bin/ansible-test sanity --local --color no \
	    --python $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

# The netlink adapter against real IPVS: pytest inside a throwaway UML kernel.
kernel: setup
	lab/uml-run --mem 512M $(PY) -m pytest -q -p no:cacheprovider tests/kernel

# The modules as Ansible runs them: ansible-playbook over SSH to a UML director.
integration: setup
	trap '$(LAB) down --name ipvstest' EXIT; \
	$(LAB) up --inventory lab/topologies/ipvs.yml --name ipvstest; \
	ANSIBLE_ROLES_PATH=$(CURDIR)/tests/integration/targets $(LAB) exec --name ipvstest -- $(VENV)/bin/ansible-playbook \
	    -i /run/lvslab/ipvstest/inventory.yml tests/integration/ipvs.yml

bench: setup
	benchmarks/run

# Failover figures: six keepalived directors under load, at VRRPv2 advert_int 1
# and VRRPv3 advert_int 0.1: a quiet minute (false takeovers), 3 clean stops
# and 2 hard kills each (benchmarks/failover; ~20 min, lab "failover", torn
# down after).
bench-failover: setup mirror
	benchmarks/failover

# Detection figures: ldirectord and keepalived at the seed's and at tuned
# settings, Apache killed / link cut / VIP gone from lo, under load
# (benchmarks/detection; ~20 min, lab "detection", torn down after).
bench-detection: setup mirror
	benchmarks/detection

# Scale-out figures: requests/s and packets/s of the tier with 3, 2 and 1
# announcing directors under the same ab load, as ratios; drains and hard
# kills under bench-failover's load (benchmarks/scaleout; ~10 min, lab
# "scaleout", torn down after).
bench-scaleout: setup mirror
	benchmarks/scaleout

# Small runs: ping, command: ipvsadm -Ln, ipvs_info and ipvs_table on the
# director, 10 of each, and the idempotent site.yml twice under profile_tasks
# (benchmarks/small; ~12 min, lab "small", torn down after).
bench-small: setup mirror
	benchmarks/small

# ---------------------------------------------------------------- molecule

.PHONY: mirror molecule molecule-frontend molecule-default molecule-ha molecule-mixed molecule-scaleout

molecule: molecule-frontend molecule-default molecule-mixed molecule-ha molecule-scaleout

# What lab hosts install (they reach no registry): lab/mirror-packages.txt as a
# local apt repository and wheel directory under .cache/mirror/, from this machine.
mirror: setup
	$(PY) lab/mirror

# Molecule scenarios run on the machine; their playbooks that talk to lab hosts
# run in the lab's namespace (molecule/README.md).
molecule-frontend: mirror
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s frontend

# The seed cluster: playbooks/site.yml on lb01 (UML) and web01..web04.
molecule-default: mirror
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s default

# An inventory unlike the seed's: several VIPs, IPv6, a firewall-mark service,
# per-service schedulers and weights, hosts named by DNS names.
molecule-mixed: mirror
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s mixed

# Three directors (keepalived VRRP + checks, sync daemons): one director turned
# HA, rolling updates, an owner switch, failovers and a return, under load.
molecule-ha: mirror
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s ha

# Three directors side by side behind a BGP router (ECMP), four frontends, a
# client outside: flows spread, a director withdrawn and back, one killed.
molecule-scaleout: mirror
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s scaleout

# -------------------------------------------------------------------- demo

# The seed cluster in the lab: lb01 (UML director) in front of web01..web04,
# and client01 asking the VIP; site.yml builds it, demo.yml shows it serving.
demo: setup mirror
	@$(LAB) down --name demo
	$(LAB) up --inventory lab/topologies/seed.yml --name demo
	$(LAB) exec --name demo -- $(VENV)/bin/ansible-playbook -i /run/lvslab/demo/inventory.yml \
	    lab/prepare.yml playbooks/site.yml playbooks/demo.yml
	@echo
	@echo "The demo lab is still up.  Try:"
	@echo "  $(LAB) ssh --name demo client01 curl -s http://192.0.2.13/"
	@echo "  $(LAB) ssh --name demo lb01 ipvsadm -L -n --stats"
	@echo "  $(LAB) ssh --name demo web01 systemctl stop apache2   # then watch lb01 quiesce it"
	@echo "  make lab-down      # tear it down"

lab-down: setup
	$(LAB) down --name demo

clean:
	rm -rf .cache tests/output
