"""Real nodes of a lab: containerd + runc + CNI + kubelet + kube-proxy, each node in a network
namespace of its own, beside the kwok nodes.

Why a network namespace per node: kube-proxy and the kubelet own fixed iptables chains
(KUBE-SERVICES, KUBE-FIREWALL, ...); two labs' nodes in the machine's namespace would overwrite
each other's rules. In its own namespace a node's bridge, pod routes, iptables rules and
`net.*` sysctls are its own, and `down` removes them with the namespace. The machine keeps:
- a veth pair `plk<slot>n<i>` (machine side) <-> `eth0` (node side), on the link 10.252.<slot>.<4i>/30:
  the machine's end .<4i+1>, the node IP .<4i+2>;
- a route for the node's pod range 10.<248+i>.<slot>.0/24 via the node IP;
- the API server reached from the node at <machine end>:6443, DNAT'ed to 127.0.0.1:<lab's port>
  (route_localnet on that veth only), so the API server keeps listening on 127.0.0.1 only;
- FORWARD DROP for everything from or to the veth: nothing a pod sends leaves the machine.
The slot (0-249) is allocated per lab and recorded in its state.json, so labs run side by side.
The kubelet sets three kernel sysctls of the machine (not per namespace); the values before the
first lab's kubelet are recorded in /run/platykus-lab/host.json and restored by the last `down`.

Scheduling: a real node carries the taint `platykus.io/real-node=true:NoSchedule` and the label
`platykus.io/node-kind=real`, so every workload keeps landing on kwok nodes (its images do not
exist here) unless it tolerates the taint and selects the label (docs/platform-services.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import pki
from .config import LabConfigError, kubeconfig, state_root
from .health import http_request

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
RUNC = "/usr/sbin/runc"
CNI_BIN_DIR = Path("/usr/lib/cni")
# iproute2 (ip), procps (sysctl) and util-linux (nsenter) are on most machines; listed so a bare one gets them.
DEBIAN_PACKAGES = (
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "ipset",
    "conntrack",
    "iproute2",
    "procps",
    "util-linux",
)
# What a real node needs from those packages (checked before anything is changed).
REQUIRED_FILES = (
    CONTAINERD,
    CTR,
    "/usr/bin/containerd-shim-runc-v2",
    *(str(CNI_BIN_DIR / p) for p in ("bridge", "host-local", "portmap", "loopback")),
)

REAL_NODE_TAINT_KEY = "platykus.io/real-node"
REAL_NODE_LABEL = "platykus.io/node-kind"
REAL_NODE_LABEL_VALUE = "real"
REAL_NODE_INSTANCE_TYPE = "m5.large"
NODE_PREFIX = "real"
MAX_NODES = 4
SLOTS = 250
# The port the node dials the API server at (machine end of its veth); DNAT'ed to the lab's port.
NODE_API_PORT = 6443
KUBELET_PORT, KUBELET_HEALTHZ_PORT, PROXY_HEALTHZ_PORT = 10250, 10248, 10256
COMPONENTS = ("containerd", "kubelet", "kube-proxy")
# How long `up` lets a running kubelet's or kube-proxy's failing health check recover before restarting it.
PROBE_GRACE_SECONDS = 10.0
# Kernel sysctls the kubelet sets on the machine (not namespaced): restored by the last `down`.
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
# Raised (never lowered) by `up`: every kubelet, containerd and API server holds inotify instances,
# and a machine with several labs exhausts the default 128 ("inotify_init: too many open files").
RAISED_SYSCTLS = {"fs/inotify/max_user_instances": 1024}
HOST_SYSCTLS = (*KUBELET_SYSCTLS, *RAISED_SYSCTLS)
# Directories the kubelet and containerd create whatever their configuration says.
HOST_DIRS = ("/var/log/containers", "/run/containerd")
RUN_DIR = Path("/run/platykus-lab")
HOST_RECORD = RUN_DIR / "host.json"
# Held while a lab allocates a slot, records or restores the machine, and starts its kubelets.
HOST_LOCK = Path("/run/lock/platykus-lab-nodes.lock")
STATE_KEY = "real_nodes"


class NodeError(RuntimeError):
    """A real node could not be set up, started or removed; the message says which and why."""


# --------------------------------------------------------------------------------- pure parts
@dataclass(frozen=True)
class NodeNet:
    """Names and addresses of real node ``index`` of the lab holding ``slot``."""

    slot: int
    index: int

    @property
    def name(self) -> str:
        return f"{NODE_PREFIX}-{self.index}"

    @property
    def host_if(self) -> str:
        return f"plk{self.slot}n{self.index}"

    @property
    def netns(self) -> str:
        return f"platykus-{self.host_if}"

    @property
    def link(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(f"10.252.{self.slot}.{4 * self.index}/30")

    @property
    def host_ip(self) -> str:
        return str(self.link.network_address + 1)

    @property
    def node_ip(self) -> str:
        return str(self.link.network_address + 2)

    @property
    def pod_cidr(self) -> str:
        return f"10.{248 + self.index}.{self.slot}.0/24"

    @property
    def chain(self) -> str:
        return f"PLATYKUS-{self.host_if.upper()}"

    @property
    def cgroup_root(self) -> str:
        return f"/platykus-{self.host_if}"


def nets(slot: int, count: int) -> list[NodeNet]:
    return [NodeNet(slot, index) for index in range(count)]


def preferred_slot(home: Path) -> int:
    """Where a lab's slot search starts: from its state folder, so a lab tends to keep its slot."""
    return int(hashlib.sha256(str(home).encode()).hexdigest(), 16) % SLOTS


def allocate_slot(home: Path, taken: set[int]) -> int:
    start = preferred_slot(home)
    for step in range(SLOTS):
        slot = (start + step) % SLOTS
        if slot not in taken:
            return slot
    raise NodeError(f"all {SLOTS} real-node slots are taken by other labs; `platykus-lab down` one of them")


def parse_real_nodes(raw: object, source: str = "platykus_lab_real_nodes") -> int:
    if raw is None:
        return 1
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_NODES:
        raise LabConfigError(f"{source}: {raw!r} must be a whole number from 0 to {MAX_NODES} (0: kwok nodes only)")
    return raw


def real_nodes_from_inventory(inventory: Path | None) -> int:
    """`platykus_lab_real_nodes` of an inventory (default 1); env PLATYKUS_LAB_REAL_NODES overrides."""
    env = os.environ.get("PLATYKUS_LAB_REAL_NODES")
    if env is not None:
        return parse_real_nodes(env, "PLATYKUS_LAB_REAL_NODES")
    if inventory is None:
        return 1
    group_vars = inventory / "group_vars" / "all"
    files = sorted(group_vars.glob("*.yml")) if group_vars.is_dir() else [inventory / "group_vars" / "all.yml"]
    for path in files:
        if path.exists():
            data = yaml.safe_load(path.read_text()) or {}
            if "platykus_lab_real_nodes" in data:
                return parse_real_nodes(data["platykus_lab_real_nodes"], f"{path}: platykus_lab_real_nodes")
    return 1


def node_labels() -> dict[str, str]:
    """A real node's labels: its kind, and the EKS-style labels the platform's cost and scheduling
    read from every node (a priced 2-vCPU instance type; the kubelet may set these under NodeRestriction)."""
    return {
        REAL_NODE_LABEL: REAL_NODE_LABEL_VALUE,
        "type": REAL_NODE_LABEL_VALUE,
        "node.kubernetes.io/instance-type": REAL_NODE_INSTANCE_TYPE,
        "topology.kubernetes.io/zone": "us-east-1a",
        "topology.kubernetes.io/region": "us-east-1",
        "karpenter.sh/capacity-type": "on-demand",
        "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "platykus.io/node-pool": REAL_NODE_LABEL_VALUE,
    }


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def containerd_config(paths: dict[str, Path], sandbox_image: str) -> str:
    """containerd 1.6's config.toml (version 2) for one node: its own root, state, socket and CNI."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    sections = {
        "": {"version": 2, "root": paths["root"], "state": paths["state"], "oom_score": 0},
        "grpc": {"address": paths["socket"]},
        "ttrpc": {"address": str(paths["socket"]) + ".ttrpc"},
        "debug": {"address": "", "level": "warn"},
        "metrics": {"address": ""},
        'plugins."io.containerd.internal.v1.opt"': {"path": paths["opt"]},
        cri: {
            "sandbox_image": sandbox_image,
            # The VM withholds CAP_SYS_RESOURCE: without this, runc fails writing oom_score_adj.
            "restrict_oom_score_adj": True,
            # Pod network namespaces are mounted under the node's state, not /run/netns.
            "netns_mounts_under_state_dir": True,
            "enable_selinux": False,
            "disable_apparmor": True,
            "max_container_log_line_size": 16384,
        },
        f"{cri}.containerd": {"snapshotter": "overlayfs", "default_runtime_name": "runc"},
        f"{cri}.containerd.runtimes.runc": {"runtime_type": "io.containerd.runc.v2"},
        f"{cri}.containerd.runtimes.runc.options": {
            "SystemdCgroup": False,
            "BinaryName": RUNC,
            "Root": paths["runc"],
        },
        f"{cri}.cni": {"bin_dir": str(CNI_BIN_DIR), "conf_dir": paths["cni_conf"], "max_conf_num": 1},
    }
    lines = []
    for section, values in sections.items():
        if section:
            lines.append(f"\n[{section}]")
        lines += [
            f"  {key} = {_toml(value)}" if section else f"{key} = {_toml(value)}" for key, value in values.items()
        ]
    return "\n".join(lines) + "\n"


def cni_config(net: NodeNet, ipam_dir: Path) -> dict:
    """The node's CNI network: a bridge (the pods' gateway) with host-local IPs, and portmap."""
    return {
        "cniVersion": "1.0.0",
        "name": "platykus",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": net.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(net: NodeNet, paths: dict[str, Path], files: dict[str, Path]) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": net.node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": net.node_ip,
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(files["ca_cert"])},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(files["serving_cert"]),
        "tlsPrivateKeyFile": str(files["serving_key"]),
        # cgroup v1 here, no systemd: cgroupfs, under a root of this node's own.
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": net.cgroup_root,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{paths['socket']}",
        "podLogsDir": str(paths["pod_logs"]),
        "volumePluginDir": str(paths["volume_plugins"]),
        "resolvConf": str(paths["resolv_conf"]),
        "clusterDomain": "cluster.local",
        "maxPods": 60,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        # A shared lab machine: evict only when the disk or memory is nearly exhausted.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "registerWithTaints": [{"key": REAL_NODE_TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
        "shutdownGracePeriod": "0s",
    }


def kube_proxy_config(net: NodeNet, kubeconfig_path: Path) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig_path)},
        "mode": "iptables",
        "hostnameOverride": net.name,
        "bindAddress": net.node_ip,
        "clusterCIDR": net.pod_cidr,
        "healthzBindAddress": f"{net.node_ip}:{PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": "127.0.0.1:10249",
        # NodePorts on the node IP only: the lab's own ports overlap the NodePort range.
        "nodePortAddresses": [f"{net.node_ip}/32"],
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
        # Leave nf_conntrack_max and the conntrack timeouts as they are.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


# ----------------------------------------------------------------------------- machine helpers
def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise NodeError(f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc


def _in_ns(netns: str, *cmd: str) -> list[str]:
    # nsenter switches the network namespace only (not mounts, as `ip netns exec` would), then execs.
    return ["nsenter", f"--net=/run/netns/{netns}", "--", *cmd]


def _rule(tool: str, table: str, chain: str, spec: list[str], insert: bool = True) -> None:
    """Insert (or append) a rule unless it is there already."""
    if _sh(tool, "-w", "-t", table, "-C", chain, *spec, check=False).returncode == 0:
        return
    _sh(tool, "-w", "-t", table, "-I" if insert else "-A", chain, *(["1"] if insert else []), *spec)


def _delete_rule(tool: str, table: str, chain: str, spec: list[str]) -> None:
    while _sh(tool, "-w", "-t", table, "-D", chain, *spec, check=False).returncode == 0:
        pass


def _forward_drops(net: NodeNet, comment: str) -> list[list[str]]:
    return [
        ["-i", net.host_if, "-m", "comment", "--comment", comment, "-j", "DROP"],
        ["-o", net.host_if, "-m", "comment", "--comment", comment, "-j", "DROP"],
    ]


def _api_jump(net: NodeNet, comment: str) -> list[str]:
    return ["-i", net.host_if, "-m", "comment", "--comment", comment, "-j", net.chain]


def _write_if_changed(path: Path, text: str, mode: int | None = None) -> None:
    """Rewrite a file only when its content changes: kube-proxy exits when its config file is written."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    if mode is not None:
        path.chmod(mode)


def _read_sysctl(name: str) -> str:
    return Path("/proc/sys", name).read_text().strip()


def _write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", name).write_text(value)


def _mounts_under(prefixes: list[str]) -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == p or point.startswith(p.rstrip("/") + "/") for p in prefixes):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def _cgroup_dirs(root: str) -> list[Path]:
    """The node's cgroup directories in every hierarchy, children before their parents (the order
    rmdir needs). os.walk skips a directory that vanishes while it is read: the kubelet and
    containerd remove pod cgroups while ``down`` runs."""
    base = Path("/sys/fs/cgroup")
    dirs = []
    for controller in sorted(base.iterdir()):
        top = controller / root.lstrip("/")
        dirs += [Path(directory) for directory, _subdirs, _files in os.walk(top, topdown=False)]
    return dirs


@contextlib.contextmanager
def host_lock():
    """One lab at a time changes what labs share: slots, the host record, the kubelet's sysctls."""
    HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(HOST_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------- the nodes
class RealNodes:
    """The real nodes of one lab (a cluster.Lab): set up, start, check, stop and remove them."""

    def __init__(self, lab) -> None:
        self.lab = lab

    # -- state -------------------------------------------------------------------------------------
    def record(self) -> dict:
        return dict(self.lab.state().get(STATE_KEY) or {})

    def _save_record(self, record: dict | None) -> None:
        state = self.lab.state()
        if record is None:
            state.pop(STATE_KEY, None)
        else:
            state[STATE_KEY] = record
        self.lab._save_state(state)

    def nets(self) -> list[NodeNet]:
        record = self.record()
        return nets(record["slot"], record.get("count", 0)) if "slot" in record else []

    def node_dir(self, net: NodeNet) -> Path:
        return self.lab.home / "nodes" / net.name

    def run_dir(self, net: NodeNet) -> Path:
        # Short: a unix socket path has at most 107 bytes, and a lab's home may be deep.
        return RUN_DIR / net.host_if

    def paths(self, net: NodeNet) -> dict[str, Path]:
        base, run = self.node_dir(net), self.run_dir(net)
        return {
            "base": base,
            "root": base / "containerd" / "root",
            "state": run / "state",
            "socket": run / "containerd.sock",
            "opt": base / "containerd" / "opt",
            "runc": run / "runc",
            "cni_conf": base / "cni" / "net.d",
            "ipam": base / "cni" / "ipam",
            "containerd_config": base / "containerd" / "config.toml",
            "kubelet_root": base / "kubelet",
            "kubelet_config": base / "kubelet-config.yaml",
            "kube_proxy_config": base / "kube-proxy-config.yaml",
            "pod_logs": base / "pod-logs",
            "volume_plugins": base / "volume-plugins",
            "resolv_conf": base / "resolv.conf",
            "kubelet_kubeconfig": base / "kubelet.kubeconfig",
            "proxy_kubeconfig": base / "kube-proxy.kubeconfig",
        }

    def _taken_slots(self) -> set[int]:
        taken = set()
        root = state_root()
        for state_file in root.glob("*/state.json") if root.is_dir() else []:
            if state_file.parent.resolve() == self.lab.home:
                continue
            try:
                record = json.loads(state_file.read_text()).get(STATE_KEY) or {}
            except (OSError, json.JSONDecodeError):
                continue
            if "slot" in record:
                taken.add(int(record["slot"]))
        # Labs with a home elsewhere: their veths name their slot.
        for line in _sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith("plk") and "n" in name[3:]:
                digits = name[3:].split("n")[0]
                if digits.isdigit():
                    taken.add(int(digits))
        own = self.record().get("slot")
        if own is not None:
            taken.discard(int(own))
        return taken

    # -- processes ---------------------------------------------------------------------------------
    def _key(self, net: NodeNet, component: str) -> str:
        return f"{net.name}-{component}"

    def pid(self, net: NodeNet, component: str) -> int | None:
        proc = self.lab._procs.get(self._key(net, component))
        if proc is not None and proc.poll() is None:
            return proc.pid  # ours; it may still be nsenter, about to exec the component
        pid_file = self.lab.run / f"{self._key(net, component)}.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (ValueError, OSError):
            return None
        if not cmdline[0].endswith(component.encode()) or str(self.node_dir(net)).encode() not in b" ".join(cmdline):
            return None
        return None if stat == "Z" else pid

    def _start(self, net: NodeNet, component: str, cmd: list[str]) -> None:
        if self.pid(net, component):
            return
        self.lab.logs.mkdir(parents=True, exist_ok=True)
        self.lab.run.mkdir(parents=True, exist_ok=True)
        key = self._key(net, component)
        with open(self.lab.logs / f"{key}.log", "ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {component}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                _in_ns(net.netns, *cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.node_dir(net),
            )
        self.lab._procs[key] = proc  # reaped by the lab's object while it lives
        (self.lab.run / f"{key}.pid").write_text(str(proc.pid))

    def _stop(self, net: NodeNet, component: str, timeout: float = 15.0) -> bool:
        pid = self.pid(net, component)
        pid_file = self.lab.run / f"{self._key(net, component)}.pid"
        if not pid:
            pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(net, component):
            self._reap(net, component)
            time.sleep(0.1)
        if self.pid(net, component):
            os.kill(pid, signal.SIGKILL)
            while self.pid(net, component):
                self._reap(net, component)
                time.sleep(0.05)
        self._reap(net, component)
        pid_file.unlink(missing_ok=True)
        return True

    def _reap(self, net: NodeNet, component: str) -> None:
        proc = self.lab._procs.get(self._key(net, component))
        if proc is not None and proc.poll() is not None:
            self.lab._procs.pop(self._key(net, component), None)

    # -- health ------------------------------------------------------------------------------------
    def problem(self, net: NodeNet, component: str) -> str | None:
        if not self.pid(net, component):
            return "not running"
        if component == "containerd":
            proc = _sh(CTR, "-a", str(self.paths(net)["socket"]), "version", check=False)
            return None if proc.returncode == 0 else f"ctr version: {proc.stderr.strip()[-200:]}"
        port = KUBELET_HEALTHZ_PORT if component == "kubelet" else PROXY_HEALTHZ_PORT
        url = f"http://{net.node_ip}:{port}/healthz"
        status, body = http_request(url, timeout=5.0)
        return None if status == 200 else f"{url} answered {status or 'nothing'}: {body.decode(errors='replace')[:160]}"

    def status(self) -> dict:
        out = {}
        for net in self.nets():
            for component in COMPONENTS:
                problem = self.problem(net, component)
                out[self._key(net, component)] = {
                    "pid": self.pid(net, component),
                    "log": str(self.lab.logs / f"{self._key(net, component)}.log"),
                    "ports": {"node_ip": net.node_ip} if component != "containerd" else {},
                    "problem": problem,
                }
        return out

    def _wait(self, what: str, check, timeout: float, net: NodeNet, component: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not self.pid(net, component):
                log_path = self.lab.logs / f"{self._key(net, component)}.log"
                tail = log_path.read_text(errors="replace").splitlines()[-8:] if log_path.exists() else []
                raise NodeError(
                    f"{component} of {net.name} exited while waiting for {what}; see {log_path}:\n  "
                    + "\n  ".join(tail)
                )
            time.sleep(0.3)
        raise NodeError(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {self.lab.logs}")

    # -- up ----------------------------------------------------------------------------------------
    def up(self, count: int, api_port: int, timeout: float, log, restart: bool = False) -> list[str]:
        """Bring ``count`` real nodes to Ready (removing nodes beyond it); return their names."""
        with host_lock():
            return self._up(count, api_port, timeout, log, restart)

    def _up(self, count: int, api_port: int, timeout: float, log, restart: bool) -> list[str]:
        record = self.record()
        if count == 0:
            if record:
                names = [net.name for net in self.nets()]
                self._down(log)
                for name in names:
                    self.lab.api(f"/api/v1/nodes/{name}", method="DELETE")
            return []
        missing = [path for path in REQUIRED_FILES if not Path(path).exists()]
        if missing or not shutil.which("iptables") or not shutil.which("nsenter"):
            raise NodeError(
                f"a real node needs {', '.join(missing) or 'iptables and nsenter'}: run scripts/setup.sh "
                f"(Debian packages {' '.join(DEBIAN_PACKAGES)}) or set platykus_lab_real_nodes: 0"
            )
        if os.geteuid() != 0:
            raise NodeError(
                "a real node needs root (network namespaces, iptables, mounts); set platykus_lab_real_nodes: 0"
            )
        from . import images

        for net in self.nets()[count:]:
            self._remove(net, log)
            self.lab.api(f"/api/v1/nodes/{net.name}", method="DELETE")  # no longer in the inventory
        if "slot" not in record:
            record = {"slot": allocate_slot(self.lab.home, self._taken_slots())}
        record["count"] = count
        self._save_record(record)
        self._record_host()
        pause = images.pause_archive()
        files = pki.ensure_pki(self.lab.pki_dir)
        started = time.monotonic()
        for net in nets(record["slot"], count):
            self._setup_network(net, api_port)
            self._write_files(net, files, images.pause_image_name())
        for net in nets(record["slot"], count):
            if restart:
                self._stop(net, "kube-proxy")
                self._stop(net, "kubelet")
            paths = self.paths(net)
            if self.problem(net, "containerd"):
                self._stop(net, "containerd")
                self._start(net, "containerd", [CONTAINERD, "--config", str(paths["containerd_config"])])
            self._wait("containerd", lambda n=net: self.problem(n, "containerd") is None, timeout, net, "containerd")
            images.import_archive(CTR, paths["socket"], pause)
            for component in ("kubelet", "kube-proxy"):
                if self.pid(net, component) and self.problem(net, component):
                    # A busy machine answers a health check late: a grace period, as for the control plane.
                    deadline = time.monotonic() + PROBE_GRACE_SECONDS
                    while (problem := self.problem(net, component)) and time.monotonic() < deadline:
                        time.sleep(1.0)
                    if problem:
                        log(f"restarting {net.name} {component}: {problem}")
                        self._stop(net, component)
                if not self.pid(net, component):
                    self._start(net, component, self._command(net, component))
        for net in nets(record["slot"], count):
            for component in ("kubelet", "kube-proxy"):
                self._wait(
                    f"{net.name} {component}",
                    lambda n=net, c=component: self.problem(n, c) is None,
                    timeout,
                    net,
                    component,
                )
            self._wait(f"node {net.name} Ready", lambda n=net: self._node_ready(n.name), timeout, net, "kubelet")
            # kube-proxy inserts its jumps at the top of the node's FORWARD: keep the DROPs first on the machine.
            self._ensure_forward_drops(net)
        names = [net.name for net in nets(record["slot"], count)]
        log(f"real nodes {', '.join(names)} Ready after {time.monotonic() - started:.1f}s")
        return names

    def _node_ready(self, name: str) -> bool:
        status, body = self.lab.api(f"/api/v1/nodes/{name}")
        return status == 200 and self.lab.node_ready(json.loads(body))

    def _command(self, net: NodeNet, component: str) -> list[str]:
        paths = self.paths(net)
        binary = str(self.lab.binaries / component)
        if component == "kubelet":
            from . import images

            return [
                binary,
                f"--config={paths['kubelet_config']}",
                f"--kubeconfig={paths['kubelet_kubeconfig']}",
                f"--root-dir={paths['kubelet_root']}",
                f"--hostname-override={net.name}",
                f"--node-ip={net.node_ip}",
                f"--pod-infra-container-image={images.pause_image_name()}",
                "--node-labels=" + ",".join(f"{k}={v}" for k, v in node_labels().items()),
                "--v=1",
            ]
        return [binary, f"--config={paths['kube_proxy_config']}", "--v=1"]

    def _record_host(self) -> None:
        """Before the first lab's kubelet: the machine's sysctls and which directories existed."""
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        record = json.loads(HOST_RECORD.read_text()) if HOST_RECORD.exists() else {}
        if not record:
            record["dirs_existed"] = {path: Path(path).exists() for path in HOST_DIRS}
        sysctls = record.setdefault("sysctls", {})
        for name in HOST_SYSCTLS:
            sysctls.setdefault(name, _read_sysctl(name))
        HOST_RECORD.write_text(json.dumps(record, indent=2))
        for name, value in RAISED_SYSCTLS.items():
            if int(_read_sysctl(name)) < value:
                _write_sysctl(name, str(value))

    def _setup_network(self, net: NodeNet, api_port: int) -> None:
        comment = f"platykus-lab {self.lab.name} {net.name}"
        if not Path(f"/run/netns/{net.netns}").exists():
            _sh("ip", "netns", "add", net.netns)
        if _sh("ip", "link", "show", net.host_if, check=False).returncode != 0:
            peer = f"{net.host_if}p"
            _sh("ip", "link", "add", net.host_if, "type", "veth", "peer", "name", peer, "netns", net.netns)
            _sh("ip", "-n", net.netns, "link", "set", peer, "name", "eth0")
            _write_sysctl(f"net/ipv6/conf/{net.host_if}/disable_ipv6", "1")
            _sh("ip", "addr", "add", f"{net.host_ip}/30", "dev", net.host_if)
            _sh("ip", "link", "set", net.host_if, "up")
            _sh("ip", "-n", net.netns, "addr", "add", f"{net.node_ip}/30", "dev", "eth0")
            _sh("ip", "-n", net.netns, "link", "set", "lo", "up")
            _sh("ip", "-n", net.netns, "link", "set", "eth0", "up")
            _sh("ip", "-n", net.netns, "route", "replace", "default", "via", net.host_ip)
        _sh("ip", "route", "replace", net.pod_cidr, "via", net.node_ip, "dev", net.host_if)
        _write_sysctl(f"net/ipv4/conf/{net.host_if}/route_localnet", "1")
        # Inside the node's namespace: forward between pods and Services; bridged traffic through iptables.
        settings = ["net.ipv4.ip_forward=1"]
        if Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
            settings.append("net.bridge.bridge-nf-call-iptables=1")
        _sh(*_in_ns(net.netns, "sysctl", "-q", "-w", *settings))
        # The API server from the node: <machine end>:6443 -> 127.0.0.1:<the lab's port>.
        if _sh("iptables", "-w", "-t", "nat", "-L", net.chain, "-n", check=False).returncode != 0:
            _sh("iptables", "-w", "-t", "nat", "-N", net.chain)
        _sh("iptables", "-w", "-t", "nat", "-F", net.chain)
        _sh(
            "iptables", "-w", "-t", "nat", "-A", net.chain, "-d", net.host_ip, "-p", "tcp",
            "--dport", str(NODE_API_PORT), "-j", "DNAT", "--to-destination", f"127.0.0.1:{api_port}",
        )  # fmt: skip
        _rule("iptables", "nat", "PREROUTING", _api_jump(net, comment))
        self._ensure_forward_drops(net)
        for root in _cgroup_roots(net):
            root.mkdir(exist_ok=True)
            if root.parent.name == "cpuset":
                for name in ("cpuset.cpus", "cpuset.mems"):
                    if not (root / name).read_text().strip():
                        (root / name).write_text((root.parent / name).read_text())

    def _ensure_forward_drops(self, net: NodeNet) -> None:
        comment = f"platykus-lab {self.lab.name} {net.name}"
        for tool in ("iptables", "ip6tables"):
            for spec in _forward_drops(net, comment):
                # Always first: delete and re-insert, so no rule added later sits above it.
                _delete_rule(tool, "filter", "FORWARD", spec)
                _sh(tool, "-w", "-t", "filter", "-I", "FORWARD", "1", *spec)

    def _write_files(self, net: NodeNet, files: dict[str, Path], sandbox_image: str) -> None:
        paths = self.paths(net)
        for key in ("root", "state", "opt", "runc", "cni_conf", "ipam", "kubelet_root", "pod_logs", "volume_plugins"):
            paths[key].mkdir(parents=True, exist_ok=True)
        paths["containerd_config"].parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(paths["containerd_config"], containerd_config(paths, sandbox_image))
        _write_if_changed(
            paths["cni_conf"] / "10-platykus.conflist", json.dumps(cni_config(net, paths["ipam"]), indent=2)
        )
        # No cluster DNS yet: pods get a resolver that answers nothing rather than the machine's.
        _write_if_changed(paths["resolv_conf"], "nameserver 127.0.0.1\noptions ndots:1\n")
        pki_dir = self.lab.pki_dir
        client_cert, client_key = pki.ensure_client(
            pki_dir, f"node-{net.name}", f"system:node:{net.name}", ("system:nodes",)
        )
        serving_cert, serving_key = pki.ensure_server(
            pki_dir, f"node-{net.name}-serving", net.name, dns_names=(net.name,), ip_addresses=(net.node_ip,)
        )
        proxy_cert, proxy_key = pki.ensure_client(pki_dir, "kube-proxy", "system:kube-proxy")
        server = f"https://{net.host_ip}:{NODE_API_PORT}"
        for path, user, cert, key in (
            (paths["kubelet_kubeconfig"], f"system:node:{net.name}", client_cert, client_key),
            (paths["proxy_kubeconfig"], "system:kube-proxy", proxy_cert, proxy_key),
        ):
            config = kubeconfig(f"platykus-{self.lab.name}", server, files["ca_cert"], user, cert, key)
            # The API server's certificate names localhost, not the veth's address.
            config["clusters"][0]["cluster"]["tls-server-name"] = "localhost"
            _write_if_changed(path, yaml.safe_dump(config, sort_keys=False), 0o600)
        kubelet_files = {**files, "serving_cert": serving_cert, "serving_key": serving_key}
        _write_if_changed(
            paths["kubelet_config"], yaml.safe_dump(kubelet_config(net, paths, kubelet_files), sort_keys=False)
        )
        _write_if_changed(
            paths["kube_proxy_config"],
            yaml.safe_dump(kube_proxy_config(net, paths["proxy_kubeconfig"]), sort_keys=False),
        )

    # -- down --------------------------------------------------------------------------------------
    def down(self, log=print) -> list[str]:
        """Stop and remove every real node of the lab; restore the machine as `up` found it."""
        if not self.record():
            return []
        with host_lock():
            return self._down(log)

    def _down(self, log) -> list[str]:
        stopped = []
        for net in self.nets():
            stopped += self._remove(net, log)
        if self.record():
            self._save_record(None)
        self._restore_host()
        return stopped

    def _remove(self, net: NodeNet, log) -> list[str]:
        stopped = [self._key(net, c) for c in ("kube-proxy", "kubelet") if self._stop(net, c)]
        # The pods' processes (in the node's cgroups), then their shims, then containerd.
        for _ in range(50):
            pids = _cgroup_pids(net.cgroup_root)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        socket = str(self.paths(net)["socket"]).encode()
        for pid in _pids_with_args(socket):
            if pid != self.pid(net, "containerd"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._stop(net, "containerd"):
            stopped.append(self._key(net, "containerd"))
        for point in _mounts_under([str(self.node_dir(net)), str(self.run_dir(net))]):
            if _sh("umount", point, check=False).returncode != 0:
                _sh("umount", "-l", point, check=False)
        for directory in _cgroup_dirs(net.cgroup_root):
            try:
                directory.rmdir()
            except OSError:
                pass
        comment = f"platykus-lab {self.lab.name} {net.name}"
        for tool in ("iptables", "ip6tables"):
            for spec in _forward_drops(net, comment):
                _delete_rule(tool, "filter", "FORWARD", spec)
        _delete_rule("iptables", "nat", "PREROUTING", _api_jump(net, comment))
        _sh("iptables", "-w", "-t", "nat", "-F", net.chain, check=False)
        _sh("iptables", "-w", "-t", "nat", "-X", net.chain, check=False)
        _sh("ip", "link", "del", net.host_if, check=False)  # its route goes with it
        if Path(f"/run/netns/{net.netns}").exists():
            _sh("ip", "netns", "del", net.netns, check=False)
        shutil.rmtree(self.run_dir(net), ignore_errors=True)
        # What containerd and the kubelet leave on the machine: the log symlinks into this node.
        logs = Path("/var/log/containers")
        for link in logs.glob("*.log") if logs.is_dir() else []:
            if link.is_symlink() and str(os.readlink(link)).startswith(str(self.node_dir(net))):
                link.unlink()
        return stopped

    def _restore_host(self) -> None:
        """The last lab with real nodes restores the machine's sysctls and removes created directories."""
        if not HOST_RECORD.exists() or _pids_with_args(b"--pod-infra-container-image=platykus.local/"):
            return
        record = json.loads(HOST_RECORD.read_text())
        for name, value in record.get("sysctls", {}).items():
            if _read_sysctl(name) != value:
                _write_sysctl(name, value)
        for path, existed in record.get("dirs_existed", {}).items():
            directory = Path(path)
            if not existed and directory.is_dir():
                # Only what is empty of anything but empty directories (shim socket folders).
                for sub in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if sub.is_dir():
                        try:
                            sub.rmdir()
                        except OSError:
                            pass
                try:
                    directory.rmdir()
                except OSError:
                    pass
        HOST_RECORD.unlink()
        try:
            RUN_DIR.rmdir()
        except OSError:
            pass


def _cgroup_roots(net: NodeNet) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    roots = []
    for controller in sorted(base.iterdir()):
        # The v1 hierarchies the kubelet uses (cgroup2's "unified" holds nothing here).
        if controller.name in ("unified",) or not (controller / "cgroup.procs").exists():
            continue
        roots.append(controller / net.cgroup_root.lstrip("/"))
    return roots


def _cgroup_pids(root: str) -> list[int]:
    pids = set()
    for directory in _cgroup_dirs(root):
        try:
            pids |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
        except OSError:
            continue
    return sorted(pids)


def _pids_with_args(needle: bytes) -> list[int]:
    """Processes whose command line contains ``needle``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in entry.joinpath("cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def running_sockets(lab) -> list[Path]:
    """The containerd sockets of the lab's running real nodes."""
    nodes = RealNodes(lab)
    return [nodes.paths(net)["socket"] for net in nodes.nets() if nodes.pid(net, "containerd")]


def main(argv: list[str] | None = None) -> int:
    import sys

    args = argv if argv is not None else sys.argv[1:]
    if args == ["--debian-packages"]:
        print("\n".join(DEBIAN_PACKAGES))
        return 0
    print("usage: python -m platykus_lab.node --debian-packages", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
