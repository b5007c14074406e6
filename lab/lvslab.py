#!/usr/bin/env python3
"""lvslab: a real LVS cluster on one machine, for the lvs.cluster collection.

Boots every host of an Ansible YAML inventory in a network namespace of its
own: directors as User-Mode-Linux kernels (they carry IPVS), everything else
as systemd-nspawn containers, all on one bridge. Every lab packet stays in that
namespace, on documentation addresses only (192.0.2.0/24, 2001:db8::/64).

    lvslab.py up --inventory INV.yml [--name NAME] [--timeout SECONDS]
    lvslab.py down [--name NAME]
    lvslab.py status [--name NAME]
    lvslab.py exec [--name NAME] -- CMD...
    lvslab.py ssh [--name NAME] HOST [CMD...]
    lvslab.py kill [--name NAME] HOST      (a UML host: its kernel dies at once)
    lvslab.py link [--name NAME] HOST up|down

A host with `lab_router: true` also sits on a second bridge, br1 (the outside
segment, 192.0.2.224/27 and 2001:db8:1::/64), and forwards between the two;
hosts with `lab_segment: outside` live on br1, behind it (see lab/README.md).

Run as root. Needs Python 3 with PyYAML only.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

LIB = Path(__file__).resolve().parent
SHARE = LIB.parent  # the project: lab hosts see it at this path, wherever it lives
STATE_ROOT = Path("/run/lvslab")
DEFAULT_NAME = "lvslab"

LAB_NET4 = ipaddress.ip_network("192.0.2.0/24")
LAB_NET6 = ipaddress.ip_network("2001:db8::/64")
CONTROLLER4 = "192.0.2.254"
CONTROLLER6 = "2001:db8::fe"
BRIDGE = "br0"
# The outside segment: a second bridge behind the lab's router (lab_router), for
# clients that reach the lab's services through it (scale-out: BGP/ECMP). With
# a router in the lab, this /27 of the lab's /24 is routed, not on br0.
OUTSIDE_BRIDGE = "br1"
OUTSIDE_NET4 = ipaddress.ip_network("192.0.2.224/27")
OUTSIDE_NET6 = ipaddress.ip_network("2001:db8:1::/64")
ROUTER_OUT4 = "192.0.2.225"       # the router's address on br1
ROUTER_OUT6 = "2001:db8:1::1"
ROUTER_IFACE = "host1"            # the router's br1 interface, beside nspawn's host0
OUTSIDE_OCTETS = range(226, 254)  # .225 is the router, .254 the controller (on br0)

UML_MEM = "512M"
# How a UML kernel catches its processes' system calls: seccomp filters where the
# kernel has them (UML 6.16+; `auto` falls back to ptrace otherwise), which starts
# Python ~1.5x faster than ptrace does (lab/uml-run, 5 starts: 2.9-3.1 s vs 4.3-5.0 s).
UML_SYSCALLS = "seccomp=auto"
# Every lab host is also NAME.lab.test, in its namespace (write_hosts_file).
LAB_DOMAIN = "lab.test"
NETNS_HOSTS_MARK = "# lvslab: names of lab"
# The UML kernel and its modules: lab/uml-kernel's (make setup) when there, else Debian's.
UML_DIR = SHARE / ".cache" / "uml"
UML_KERNEL = str(UML_DIR / "linux") if (UML_DIR / "linux").exists() else "linux.uml"
UML_MODULES = str(UML_DIR / "modules") if (UML_DIR / "linux").exists() else "/usr/lib/uml/modules"
NO_GSO = 1500  # bytes: one Ethernet frame
UML_HALT_WAIT = 10.0      # seconds between `uml_mconsole halt` and SIGKILL
NSPAWN_STOP_WAIT = 15.0   # seconds between SIGTERM and SIGKILL
DEFAULT_TIMEOUT = 180.0   # seconds for every host to answer SSH

# Matched whole (fullmatch): with re.match, "$" also matches before a trailing newline.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,40}")

SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
]


class LabError(Exception):
    """A failure to report to the user as one line, without a traceback."""


def log(msg: str) -> None:
    print(msg, flush=True)


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command; raise LabError with its stderr if it fails and check is set."""
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {proc.stderr.strip() or f'exit {proc.returncode}'}")
    return proc


def _raise_file_limit() -> None:
    """A UML kernel holds a host file descriptor for every hostfs file it has
    cached: installing ldirectord's 61 packages passed 20,000 and the director
    failed with "Too many open files".  Give lab hosts room (root may)."""
    want = min(1 << 20, int(Path("/proc/sys/fs/nr_open").read_text()))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        pass  # not root enough: keep the limit we have


# --------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------

@dataclass
class Host:
    name: str
    kind: str        # "uml" or "nspawn"
    addr4: str
    addr6: str
    pid: int = 0
    starttime: int = 0   # /proc/PID/stat field 22: tells a recycled PID apart
    segment: str = "inside"   # lab_segment: "inside" (br0) or "outside" (br1, behind the router)
    router: bool = False      # lab_router: on br0 and br1, forwarding between them

    @property
    def tap(self) -> str:
        return f"tap{self.ip4.rsplit('.', 1)[1]}"

    @property
    def bridge(self) -> str:
        return OUTSIDE_BRIDGE if self.segment == "outside" else BRIDGE

    @property
    def outside_veth(self) -> str:
        """The lab end (on br1) of the router's second wire; one router per lab,
        so a truncated name cannot clash."""
        return f"vo-{self.name}"[:15]

    @property
    def ip4(self) -> str:
        return self.addr4.split("/")[0]

    @property
    def ip6(self) -> str:
        return self.addr6.split("/")[0]


def _walk_groups(groups: dict, inherited: dict, path: list[str], out: dict) -> None:
    """Collect each host's effective variables (group vars, then host vars)
    and group names from an Ansible YAML inventory tree."""
    for gname, group in (groups or {}).items():
        group = group or {}
        gvars = {**inherited, **(group.get("vars") or {})}
        gpath = path + [gname]
        for hname, hvars in (group.get("hosts") or {}).items():
            entry = out.setdefault(hname, {"vars": {}, "groups": set()})
            entry["vars"] = {**entry["vars"], **gvars, **(hvars or {})}
            entry["groups"].update(gpath)
        _walk_groups(group.get("children") or {}, gvars, gpath, out)


def load_inventory(path: Path) -> tuple[dict, list[Host]]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"cannot read inventory {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LabError(f"{path}: not an Ansible YAML inventory (top level is not a mapping)")
    found: dict = {}
    _walk_groups(data, {}, [], found)
    if not found:
        raise LabError(f"{path}: no hosts")

    hosts: list[Host] = []
    seen4: dict[str, str] = {}
    for hname, entry in found.items():
        host = _inventory_host(hname, entry["vars"], entry["groups"])
        if host.ip4 in seen4:
            raise LabError(f"hosts {seen4[host.ip4]} and {hname} share the address {host.ip4}")
        seen4[host.ip4] = hname
        hosts.append(host)
    _check_segments(hosts)
    return data, hosts


def _inventory_host(hname: object, hvars: dict, groups: set) -> Host:
    """One host of the inventory, checked on its own."""
    if not isinstance(hname, str) or not HOST_RE.fullmatch(hname):
        raise LabError(f"host {hname!r}: lab host names are letters, digits and '-'")
    kind = hvars.get("lab_kind") or ("uml" if "directors" in groups else "nspawn")
    if kind not in ("uml", "nspawn"):
        raise LabError(f"host {hname}: lab_kind must be uml or nspawn, not {kind!r}")
    router = hvars.get("lab_router", False)
    if not isinstance(router, bool):
        raise LabError(f"host {hname}: lab_router must be true or false, not {router!r}")
    segment = hvars.get("lab_segment") or "inside"
    if segment not in ("inside", "outside"):
        raise LabError(f"host {hname}: lab_segment must be inside or outside, not {segment!r}")
    if router and segment == "outside":
        raise LabError(f"host {hname}: lab_router and lab_segment: outside exclude each other "
                       "(the router's own address is on br0)")
    if (router or segment == "outside") and kind != "nspawn":
        what = "lab_router" if router else "lab_segment: outside"
        raise LabError(f"host {hname}: {what} needs an nspawn host, not {kind} "
                       "(lab_kind, or the group directors)")
    try:
        addr = ipaddress.ip_address(str(hvars.get("ansible_host", "")))
    except ValueError as exc:
        raise LabError(f"host {hname}: ansible_host must be an address in {LAB_NET4}") from exc
    octet = int(addr) & 0xFF if addr.version == 4 else 0
    if addr not in LAB_NET4 or octet in (0, 254, 255):
        raise LabError(f"host {hname}: ansible_host {addr} is not a host address in "
                       f"{LAB_NET4} (.254 is the controller)")
    if segment == "outside":
        if addr not in OUTSIDE_NET4 or octet not in OUTSIDE_OCTETS:
            raise LabError(f"host {hname}: lab_segment: outside needs an ansible_host in {OUTSIDE_NET4}, "
                           f".226-.253 (.225 is the router), not {addr}")
        return Host(hname, kind, f"{addr}/{OUTSIDE_NET4.prefixlen}",
                    f"{OUTSIDE_NET6.network_address + octet}/64", segment="outside")
    return Host(hname, kind, f"{addr}/24", f"{LAB_NET6.network_address + octet}/64", router=router)


def _check_segments(hosts: list[Host]) -> None:
    """At most one router; outside hosts need it; with it, br0 hosts keep out of its /27."""
    routers = [h.name for h in hosts if h.router]
    if len(routers) > 1:
        raise LabError(f"hosts {', '.join(routers)} all set lab_router: a lab has at most one router")
    for host in hosts:
        if host.segment == "outside" and not routers:
            raise LabError(f"host {host.name}: lab_segment: outside needs a router in the lab "
                           "(a host with lab_router: true)")
        if (host.segment == "inside" and routers
                and ipaddress.ip_address(host.ip4) in OUTSIDE_NET4):
            raise LabError(f"host {host.name}: ansible_host {host.ip4} is in {OUTSIDE_NET4}, the outside "
                           f"segment routed by {routers[0]} (lab_router): use .1-.223, or lab_segment: outside")


def lab_router(hosts: list[Host]) -> Host | None:
    return next((h for h in hosts if h.router), None)


# --------------------------------------------------------------------------
# Per-host files: the router and the outside segment
# --------------------------------------------------------------------------

# Every host's networkd configuration is host-setup's 10-lvslab.network; extra
# routes come as a drop-in for it (networkd applies only the first .network file
# that matches an interface, but all of its drop-ins).
ROUTES_DROPIN = "systemd/network/10-lvslab.network.d/50-lvslab-routes.conf"
ROUTER_NETWORK = "systemd/network/11-lvslab-outside.network"
ROUTER_SYSCTL = "sysctl.d/91-lvslab-router.conf"


def _routes(comment: str, routes: list[tuple[str, str | None]]) -> str:
    """A networkd drop-in with one [Route] per (destination, gateway); no gateway:
    on the link itself."""
    out = [f"# lvslab: {comment}"]
    for dest, gateway in routes:
        out += ["", "[Route]", f"Destination={dest}"]
        out += [f"Gateway={gateway}"] if gateway else ["Scope=link"]
    return "\n".join(out) + "\n"


def host_etc_files(hosts: list[Host]) -> dict[str, dict[str, str]]:
    """Files lvslab adds to each host's /etc (host -> path under /etc -> text):
    host-setup copies LABDIR/hosts/HOST/etc/ over the host's /etc. Empty for a
    lab without a router: such labs are configured as they always were.

    With a router, 192.0.2.224/27 is routed, yet the controller's 192.0.2.254
    lies in it: every host gets a /32 route for the controller too (on br0, or
    via the router from outside), or its replies to Ansible would go astray."""
    router = lab_router(hosts)
    if router is None:
        return {}
    controller = f"{CONTROLLER4}/32"
    files: dict[str, dict[str, str]] = {}
    for host in hosts:
        if host.segment == "outside":
            files[host.name] = {ROUTES_DROPIN: _routes(
                f"the lab (br0) and its controller through the router {router.name}",
                [(str(LAB_NET4), ROUTER_OUT4), (controller, ROUTER_OUT4), (str(LAB_NET6), ROUTER_OUT6)])}
        elif host.router:
            files[host.name] = {
                ROUTES_DROPIN: _routes("the controller is on br0, though inside the outside /27",
                                       [(controller, None)]),
                ROUTER_NETWORK: router_network(),
                ROUTER_SYSCTL: ROUTER_SYSCTL_TEXT,
            }
        else:
            files[host.name] = {ROUTES_DROPIN: _routes(
                f"the outside segment through the router {router.name}; the controller on br0",
                [(str(OUTSIDE_NET4), router.ip4), (str(OUTSIDE_NET6), router.ip6), (controller, None)])}
    return files


def router_network() -> str:
    return f"""# lvslab: the router's leg on the outside segment ({OUTSIDE_BRIDGE})
[Match]
Name={ROUTER_IFACE}

[Network]
LinkLocalAddressing=ipv6
IPv6AcceptRA=no

[Address]
Address={ROUTER_OUT4}/{OUTSIDE_NET4.prefixlen}

[Address]
Address={ROUTER_OUT6}/{OUTSIDE_NET6.prefixlen}
DuplicateAddressDetection=none
"""


# systemd-sysctl runs in an nspawn host with a private network (it needs only
# /proc/sys/net writable). send_redirects and rp_filter count per interface
# too (send_redirects: all OR interface; rp_filter: the larger), and host0 and
# host1 exist before it runs: hence their own lines.
ROUTER_SYSCTL_TEXT = f"""# lvslab: the lab's router, between br0 (host0) and the outside segment (host1)
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
# ECMP next hops chosen by a hash of the layer-4 tuple (ports too), so one
# client's connections spread over the directors that announce a VIP.
net.ipv4.fib_multipath_hash_policy = 1
net.ipv6.fib_multipath_hash_policy = 1
# No ICMP redirects: hosts keep sending through the router what they sent to it.
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.host0.send_redirects = 0
net.ipv4.conf.{ROUTER_IFACE}.send_redirects = 0
net.ipv4.conf.all.rp_filter = 0
net.ipv4.conf.default.rp_filter = 0
net.ipv4.conf.host0.rp_filter = 0
net.ipv4.conf.{ROUTER_IFACE}.rp_filter = 0
"""


def lab_inventory(data: dict, hosts: list[Host], key: Path) -> dict:
    """The input inventory plus the connection variables of every host, and
    `lab_mirror`: the local package mirror (lab/mirror) as every host sees it."""
    out = copy.deepcopy(data)
    for group in out.values():
        if isinstance(group, dict):
            group.setdefault("vars", {}).setdefault("lab_mirror", str(SHARE / ".cache" / "mirror"))
    found: dict = {}
    _walk_groups(data, {}, [], found)
    conn = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    }

    def patch(groups: dict) -> None:
        for group in (groups or {}).values():
            group = group or {}
            for hname in list((group.get("hosts") or {}).keys()):
                hvars = group["hosts"][hname]
                if hvars is None:
                    hvars = group["hosts"][hname] = {}
                hvars.update(conn)
                if "ansible_python_interpreter" not in found[hname]["vars"]:
                    hvars["ansible_python_interpreter"] = "/usr/bin/python3"
            patch(group.get("children") or {})

    patch(out)
    return out


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

def proc_starttime(pid: int) -> int:
    """Start time of PID (clock ticks since boot), 0 if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(host: Host) -> bool:
    return host.pid > 0 and proc_starttime(host.pid) == host.starttime


def wait_gone(host: Host, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(host):
            return True
        time.sleep(0.2)
    return not alive(host)


def kill(host: Host, sig: int) -> None:
    if alive(host):
        try:
            os.kill(host.pid, sig)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------

class Lab:
    def __init__(self, name: str):
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise LabError(f"lab name {name!r}: lowercase letters, digits and '-', at most 20")
        self.name = name
        self.netns = name
        self.dir = STATE_ROOT / name
        self.key = self.dir / "id_ed25519"
        self.state_file = self.dir / "lab.json"
        self.inventory = self.dir / "inventory.yml"

    # ---- state ----------------------------------------------------------

    def host_dir(self, host: Host) -> Path:
        return self.dir / "hosts" / host.name

    def console(self, host: Host) -> Path:
        return self.host_dir(host) / "console.log"

    def mconsole(self, host: Host) -> Path:
        return self.dir / "uml" / self.umid(host) / "mconsole"

    def umid(self, host: Host) -> str:
        return f"{self.name}-{host.name}"

    def save(self, hosts: list[Host]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"name": self.name, "hosts": [asdict(h) for h in hosts]},
                                  indent=2) + "\n")
        tmp.replace(self.state_file)

    def load(self) -> list[Host]:
        try:
            return [Host(**h) for h in json.loads(self.state_file.read_text())["hosts"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise LabError(f"{self.state_file}: unreadable lab state: {exc}") from exc

    def find(self, hostname: str) -> Host:
        for host in self.load():
            if host.name == hostname:
                return host
        raise LabError(f"lab {self.name} has no host {hostname!r} (see `lvslab.py status`)")

    def netns_exists(self) -> bool:
        return Path("/run/netns", self.netns).exists()

    def ns(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *cmd]

    def ssh_cmd(self, host: Host, opts: list[str] | None = None,
                cmd: list[str] | None = None) -> list[str]:
        addr = host.ip4
        return self.ns("ssh", "-i", str(self.key), *SSH_OPTS, *(opts or []),
                       "--", f"root@{addr}", *(cmd or []))

    # ---- up -------------------------------------------------------------

    def up(self, inventory: Path, timeout: float) -> None:
        data, hosts = load_inventory(inventory)
        if self.netns_exists() or self.dir.exists():
            raise LabError(f"lab {self.name} exists already: `lvslab.py down --name {self.name}` first")
        try:
            self._up(inventory, data, hosts, timeout)
        except (LabError, OSError, KeyboardInterrupt) as exc:
            raise LabError(f"{exc or 'interrupted'}\nlab {self.name} is left as it is (console logs in "
                           f"{self.dir}/hosts/); `lvslab.py down --name {self.name}` removes it") from exc

    def _up(self, inventory: Path, data: dict, hosts: list[Host], timeout: float) -> None:
        t0 = time.monotonic()
        log(f"lab {self.name}: {len(hosts)} hosts "
            f"({sum(h.kind == 'uml' for h in hosts)} UML, {sum(h.kind == 'nspawn' for h in hosts)} nspawn)")

        self.dir.mkdir(parents=True, mode=0o700)
        for host in hosts:
            (self.host_dir(host) / "fs").mkdir(parents=True)
        self.save(hosts)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"lvslab-{self.name}",
            "-f", str(self.key))
        self.dir.chmod(0o755)   # lab hosts read the public key and hosts file from here
        self.write_hosts_file(hosts)
        self.write_host_etc_files(hosts)
        self.make_network(hosts)

        for host in hosts:
            self.start_uml(host) if host.kind == "uml" else self.start_nspawn(host)
            self.save(hosts)

        failures = self.wait_ssh(hosts, t0, timeout)
        if failures:
            raise LabError("\n".join(failures))

        self.inventory.write_text(
            f"# lvslab {self.name}: generated from {inventory.resolve()}\n"
            + yaml.safe_dump(lab_inventory(data, hosts, self.key), sort_keys=False))
        log(f"lab {self.name} up in {time.monotonic() - t0:.1f}s; inventory: {self.inventory}")
        log(f"  run: {sys.argv[0]} exec --name {self.name} -- ansible-playbook -i {self.inventory} ...")

    def write_hosts_file(self, hosts: list[Host]) -> None:
        """The lab's names, for its hosts (etc-hosts) and for what runs in its namespace.

        Every host is NAME and NAME.lab.test (a reserved test domain): inventories
        may name hosts by DNS names. `ip netns exec` binds /etc/netns/NETNS/hosts
        over /etc/hosts, so `lvslab.py exec` and everything it runs resolve them.
        """
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 f"{CONTROLLER4}\tcontroller", f"{CONTROLLER6}\tcontroller"]
        for host in hosts:
            # Outside hosts too: their addresses are on br1 (192.0.2.224/27, 2001:db8:1::/64).
            lines.append(f"{host.ip4}\t{host.name} {host.name}.{LAB_DOMAIN}")
            lines.append(f"{host.ip6}\t{host.name}")
        text = "\n".join(lines) + "\n"
        (self.dir / "etc-hosts").write_text(text)
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "hosts").write_text(f"{NETNS_HOSTS_MARK} {self.name}\n" + text)

    def write_host_etc_files(self, hosts: list[Host]) -> None:
        """LABDIR/hosts/HOST/etc/: what host-setup adds to the host's /etc (host_etc_files)."""
        for hostname, files in host_etc_files(hosts).items():
            for rel, text in files.items():
                path = self.dir / "hosts" / hostname / "etc" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)

    @property
    def netns_etc(self) -> Path:
        return Path("/etc/netns", self.netns)

    def remove_netns_etc(self) -> None:
        """/etc/netns/NETNS, when the hosts file in it is this lab's (and nothing else is there)."""
        hosts = self.netns_etc / "hosts"
        try:
            if not hosts.read_text().startswith(f"{NETNS_HOSTS_MARK} {self.name}\n"):
                return
        except OSError:
            return
        hosts.unlink()
        try:
            self.netns_etc.rmdir()
        except OSError:
            pass   # something else lives there

    def make_network(self, hosts: list[Host]) -> None:
        log(f"  network namespace {self.netns}: bridge {BRIDGE}, controller {CONTROLLER4}, {CONTROLLER6}")
        run("ip", "netns", "add", self.netns)
        ipn = ["ip", "-n", self.netns]
        run(*ipn, "link", "set", "lo", "up")
        self.make_bridge(BRIDGE)
        for key, value in (("net.ipv4.conf.all.rp_filter", "0"),
                           ("net.ipv4.conf.default.rp_filter", "0"),
                           ("net.ipv6.conf.all.accept_dad", "0"),
                           ("net.ipv6.conf.default.accept_dad", "0")):
            run(*self.ns("sysctl", "-q", "-w", f"{key}={value}"))
        run(*ipn, "link", "set", BRIDGE, "up")
        run(*ipn, "addr", "add", f"{CONTROLLER4}/24", "dev", BRIDGE)
        run(*ipn, "addr", "add", f"{CONTROLLER6}/64", "dev", BRIDGE, "nodad")
        router = lab_router(hosts)
        if router is not None:
            # The outside segment: a bridge without an address of the controller's;
            # the controller reaches it, as br0's hosts do, through the router.
            log(f"  outside segment: bridge {OUTSIDE_BRIDGE}, {OUTSIDE_NET4} and {OUTSIDE_NET6} "
                f"through {router.name}")
            self.make_bridge(OUTSIDE_BRIDGE)
            run(*ipn, "link", "set", OUTSIDE_BRIDGE, "up")
            run(*ipn, "route", "add", str(OUTSIDE_NET4), "via", router.ip4, "dev", BRIDGE)
            run(*ipn, "-6", "route", "add", str(OUTSIDE_NET6), "via", router.ip6, "dev", BRIDGE)

    def make_bridge(self, name: str) -> None:
        # No IGMP snooping: the lab has no querier, and the IPVS sync daemons'
        # multicast must reach every director whatever the bridge learnt.
        # No GSO towards UML hosts: their vector tap driver drops 64 KiB segments, and TCP
        # into a UML host then crawls through retransmissions (seen: 70 % of bytes resent).
        run("ip", "-n", self.netns, "link", "add", name, "type", "bridge", "mcast_snooping", "0")
        run("ip", "-n", self.netns, "link", "set", name, "gso_max_size", str(NO_GSO))

    def _spawn(self, host: Host, cmd: list[str]) -> None:
        with open(self.console(host), "wb") as console:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_raise_file_limit)
        host.pid = proc.pid
        # The start time is the fork's: it stays the same through the execs of
        # `ip netns exec` and what it runs, and tells a recycled PID apart.
        host.starttime = proc_starttime(proc.pid)
        (self.host_dir(host) / "pid").write_text(f"{host.pid}\n")

    def start_uml(self, host: Host) -> None:
        run("ip", "-n", self.netns, "tuntap", "add", "dev", host.tap, "mode", "tap")
        run("ip", "-n", self.netns, "link", "set", host.tap, "gso_max_size", str(NO_GSO), "gso_max_segs", "1",
            "master", BRIDGE, "up")
        (self.dir / "uml").mkdir(exist_ok=True)
        self._spawn(host, self.ns(
            UML_KERNEL, f"umid={self.umid(host)}", f"uml_dir={self.dir / 'uml'}",
            f"mem={UML_MEM}", UML_SYSCALLS, "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
            f"init={LIB / 'uml-init'}",
            f"lab.dir={self.dir}", f"lab.host={host.name}", f"lab.share={SHARE}", f"lab.modules={UML_MODULES}",
            f"lab.ip4={host.addr4}", f"lab.ip6={host.addr6}",
            f"vec0:transport=tap,ifname={host.tap}", "con=null", "con0=null,fd:1",
            "systemd.show_status=0", "systemd.journald.forward_to_console=1"))

    def start_nspawn(self, host: Host) -> None:
        extra = []
        if host.router:
            # The router's second wire: a veth pair made here, one end on br1, the
            # other handed to systemd-nspawn (--network-interface), which moves it
            # into the container as it is, named host1 (one router per lab: the
            # name is free in the namespace). --network-veth-extra would make the
            # pair too, but only as the container starts, with no bridge to join.
            ipn = ["ip", "-n", self.netns]
            run(*ipn, "link", "add", host.outside_veth, "type", "veth", "peer", "name", ROUTER_IFACE)
            run(*ipn, "link", "set", host.outside_veth, "master", OUTSIDE_BRIDGE, "up")
            extra = [ROUTER_IFACE]
        self._spawn(host, self.ns(
            "unshare", "-m", "--propagation", "private",
            "sh", str(LIB / "nspawn-init"), str(self.dir), host.name, host.addr4, host.addr6, str(SHARE),
            host.bridge, *extra))

    def probe(self, host: Host, timeout: int = 2) -> bool:
        cmd = self.ssh_cmd(host, ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}"], ["true"])
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout + 10).returncode == 0

    def wait_ssh(self, hosts: list[Host], t0: float, timeout: float) -> list[str]:
        """Wait, in parallel, for every host to answer SSH; one line per host."""
        failures: list[str] = []
        lock = threading.Lock()

        def watch(host: Host) -> None:
            start = time.monotonic()
            while True:
                if not alive(host):
                    why = f"{host.name}: the {host.kind} host exited while booting"
                    break
                try:
                    if self.probe(host):
                        with lock:
                            log(f"  {host.name:<16} {host.kind:<6} {host.ip4:<15} "
                                f"ssh up after {time.monotonic() - start:5.1f}s")
                        return
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - t0 > timeout:
                    why = f"{host.name}: no SSH answer after {timeout:.0f}s"
                    break
                time.sleep(0.5)
            with lock:
                failures.append(f"{why}; console log: {self.console(host)}")
                log(f"  {host.name:<16} FAILED ({why})")

        threads = [threading.Thread(target=watch, args=(h,), daemon=True) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return failures

    # ---- down -----------------------------------------------------------

    def check_owned(self) -> None:
        """Refuse a network namespace this lab did not make: `up` writes the state file
        before it adds the namespace, so a namespace without one is someone else's."""
        if not self.netns_exists():
            return
        if not self.state_file.exists():
            raise LabError(f"network namespace {self.netns} has no lab state file {self.state_file}: "
                           f"lvslab.py did not create it, so it is left as it is (nothing was stopped "
                           f"or removed). If it is yours: `ip netns pids {self.netns}`, `ip netns del {self.netns}`")
        try:
            owner = json.loads(self.state_file.read_text()).get("name")
        except (OSError, ValueError, AttributeError) as exc:
            raise LabError(f"{self.state_file}: unreadable lab state ({exc}); namespace {self.netns} "
                           "is left as it is") from exc
        if owner != self.name:
            raise LabError(f"{self.state_file} belongs to lab {owner!r}, not {self.name!r}; "
                           f"namespace {self.netns} is left as it is")

    def down(self) -> None:
        t0 = time.monotonic()
        self.check_owned()
        hosts = self.load()
        if not hosts and not self.netns_exists() and not self.dir.exists():
            log(f"lab {self.name}: nothing to tear down")
            return
        # Ask every host to stop, then wait for all of them at once.
        halts = []
        for host in hosts:
            if not alive(host):
                continue
            if host.kind == "uml":
                # mconsole may never answer once the kernel is gone: hence the timeout,
                # and the helper is ended as soon as its host is.
                halts.append(subprocess.Popen(
                    ["timeout", "5", "uml_mconsole", str(self.mconsole(host)), "halt"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            else:
                kill(host, signal.SIGTERM)
        for host in hosts:
            wait = UML_HALT_WAIT if host.kind == "uml" else NSPAWN_STOP_WAIT
            if not wait_gone(host, wait):
                log(f"  {host.name}: still running, SIGKILL to {host.pid}")
                kill(host, signal.SIGKILL)
                wait_gone(host, 5)
        for halt in halts:
            if halt.poll() is None:
                halt.terminate()
            halt.wait()
        # Whatever is left in the lab's own namespace (UML helper processes,
        # shells of `lvslab.py exec`) belongs to this lab.
        if self.netns_exists():
            for _ in range(3):
                pids = run("ip", "netns", "pids", self.netns, check=False).stdout.split()
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                time.sleep(0.5)
            run("ip", "netns", "del", self.netns, check=False)
        self.remove_netns_etc()
        self.unmount_all()
        self.remove_cgroups()
        if self.dir.exists():
            self.remove_state_dir()
        log(f"lab {self.name} down in {time.monotonic() - t0:.1f}s")

    def kill_host(self, hostname: str) -> None:
        """Pull the plug on one host: SIGKILL to its process group, no shutdown at all."""
        host = self.find(hostname)
        if host.kind != "uml":
            # SIGKILL to systemd-nspawn would orphan the container, not stop it.
            raise LabError(f"{host.name} is an nspawn container; kill is for UML hosts")
        if not alive(host):
            raise LabError(f"{host.name} is not running")
        t0 = time.monotonic()
        try:
            os.killpg(host.pid, signal.SIGKILL)   # the kernel and its helper processes
        except ProcessLookupError:
            pass
        if not wait_gone(host, 5):
            raise LabError(f"{host.name} (pid {host.pid}) survived SIGKILL")
        log(f"{host.name} killed in {time.monotonic() - t0:.2f}s (pid {host.pid}); `lvslab.py down` cleans up")

    def mounts_below(self) -> list[str]:
        prefix = str(self.dir) + "/"
        targets = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefix):
                targets.append(target)
        return targets

    def unmount_all(self) -> None:
        """Mounts are made in private mount namespaces and vanish with them;
        this catches any that leaked into the machine's namespace."""
        for target in sorted(self.mounts_below(), key=len, reverse=True):
            run("umount", "-l", target, check=False)

    def remove_cgroups(self) -> None:
        """nspawn-init puts each container in /lvslab/NAME/HOST of the unified
        hierarchy; remove the (empty) cgroups depth first."""
        for base in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            root = base / "lvslab" / self.name
            if not (base / "cgroup.procs").exists() or not root.is_dir():
                continue
            for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError as exc:
                    log(f"  cannot remove cgroup {dirpath}: {exc.strerror}")
            try:
                (base / "lvslab").rmdir()
            except OSError:
                pass   # another lab still has cgroups there

    def remove_state_dir(self) -> None:
        left = self.mounts_below()
        if left:
            raise LabError(f"not removing {self.dir}: still mounted: {', '.join(left)}")
        shutil.rmtree(self.dir)
        try:
            STATE_ROOT.rmdir()
        except OSError:
            pass   # other labs are up

    # ---- link -----------------------------------------------------------

    def links_of(self, host: Host) -> list[str]:
        """The host's ends of its wires on the bridges: a UML host's tap, or the
        veth systemd-nspawn makes for a container (vb-MACHINE, the machine
        name being the host name); the router has its br1 veth too."""
        names = [host.tap if host.kind == "uml" else f"vb-{host.name}"]
        if len(names[0]) > 15:
            raise LabError(f"{host.name}: nspawn names its veth with a hash when vb-{host.name} "
                           "is longer than 15 characters; link needs a shorter host name")
        if host.router:
            names.append(host.outside_veth)
        for name in names:
            proc = run("ip", "-n", self.netns, "-json", "link", "show", "dev", name, check=False)
            if proc.returncode != 0:
                raise LabError(f"{host.name}: no link {name} in namespace {self.netns} (is the host up?)")
        return names

    def link(self, hostname: str, state: str) -> None:
        """Cut a host's network (link down) or mend it (up), as a pulled cable
        would: the host keeps running and sees its carrier go, every packet to
        or from it is lost, nothing is closed cleanly. The router loses (or
        gets back) both its wires, br0's and br1's."""
        host = self.find(hostname)
        for name in self.links_of(host):
            run("ip", "-n", self.netns, "link", "set", "dev", name, state)
            info = json.loads(run("ip", "-n", self.netns, "-json", "link", "show", "dev", name).stdout)[0]
            now_up = "UP" in info.get("flags", [])
            if now_up != (state == "up"):
                raise LabError(f"{host.name}: {name} is still {'up' if now_up else 'down'}")
            log(f"{host.name}: {name} {state}")

    # ---- status ---------------------------------------------------------

    def status(self) -> int:
        hosts = self.load()
        if not hosts and not self.netns_exists():
            log(f"lab {self.name}: down")
            return 1
        log(f"lab {self.name}: namespace {'present' if self.netns_exists() else 'MISSING'}, "
            f"state {self.dir}")
        answers: dict[str, bool] = {}

        def check(host: Host) -> None:
            try:
                answers[host.name] = alive(host) and self.netns_exists() and self.probe(host, 1)
            except subprocess.TimeoutExpired:
                answers[host.name] = False

        threads = [threading.Thread(target=check, args=(h,)) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ok = True
        for host in hosts:
            state = "running" if alive(host) else "stopped"
            ssh = "ssh ok" if answers[host.name] else "no ssh"
            ok &= answers[host.name]
            role = " (router)" if host.router else " (outside)" if host.segment == "outside" else ""
            log(f"  {host.name:<16} {host.kind:<6} {host.addr4:<17} {host.addr6:<18} "
                f"pid {host.pid:<7} {state:<8} {ssh}{role}")
        if self.inventory.exists():
            log(f"  inventory: {self.inventory}")
        return 0 if ok else 1


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lvslab.py", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--name", default=os.environ.get("LVSLAB_NAME", DEFAULT_NAME),
                       help="lab name: namespace, state dir /run/lvslab/NAME (default: %(default)s)")
        return p

    p = add("up", "boot every host of an inventory")
    p.add_argument("--inventory", "-i", required=True, type=Path, help="Ansible YAML inventory")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds for all hosts to answer SSH (default: %(default)s)")
    add("down", "stop every host and remove the lab")
    add("status", "show the lab's hosts")
    p = add("exec", "run a command in the lab's network namespace")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD...")
    p = add("kill", "power one host off abruptly (SIGKILL to its kernel or container, no shutdown)")
    p.add_argument("host")
    p = add("ssh", "ssh into a lab host from the lab's namespace")
    p.add_argument("host")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run on HOST")
    p = add("link", "cut a host's network (down) or mend it (up)")
    p.add_argument("host")
    p.add_argument("state", choices=["up", "down"])
    args = parser.parse_args(argv)

    if os.geteuid() != 0:
        print("lvslab.py: run as root", file=sys.stderr)
        return 2
    try:
        lab = Lab(args.name)
        if args.command == "up":
            lab.up(args.inventory, args.timeout)
        elif args.command == "down":
            lab.down()
        elif args.command == "status":
            return lab.status()
        elif args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                raise LabError("exec: no command given")
            if not lab.netns_exists():
                raise LabError(f"lab {lab.name} is not up")
            os.environ.update(LVSLAB_NAME=lab.name, LVSLAB_INVENTORY=str(lab.inventory))
            # Ansible's SSH master sockets are keyed by address, and every lab uses the
            # same addresses: keep this lab's apart, or a run can reach another lab's host.
            os.environ.setdefault("ANSIBLE_SSH_CONTROL_PATH_DIR", str(lab.dir / "cp"))
            os.execvp("ip", lab.ns(*cmd))
        elif args.command == "kill":
            lab.kill_host(args.host)
        elif args.command == "link":
            lab.link(args.host, args.state)
        elif args.command == "ssh":
            host = lab.find(args.host)
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            os.execvp("ip", lab.ssh_cmd(host, cmd=cmd))
    except LabError as exc:
        print(f"lvslab.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
