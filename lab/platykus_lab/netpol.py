"""NetworkPolicy enforced on the lab's real nodes: kube-router's network policy controller, built
from its pin (lab/controllers.yml), one per real node.

kube-router runs with its firewall alone, as the firewall-only DaemonSet of its module does
(daemonset/kube-router-firewall-daemonset.yaml): no BGP router, no service proxy, no load
balancer, no CNI configuration. Like that DaemonSet's hostNetwork pod it runs in its node's
network namespace (lab/platykus_lab/node.py: `nsenter --net=/run/netns/<node>`), where the pods'
bridge is, and enforces the NetworkPolicies of the pods whose status.hostIP is the node's IP with
iptables chains (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) and ipsets (KUBE-SRC-*, KUBE-DST-*)
of that namespace, so labs and nodes side by side never touch each other's rules. Its identity is
the ServiceAccount kube-system/kube-router of the upstream manifest, with the ClusterRole that
manifest grants (daemonset/generic-kuberouter.yaml), as a client certificate of the lab CA.

`up` starts it on every real node (after the node is Ready) and restarts it when it is not
healthy or the API server restarted; `down` stops it and removes every chain, jump rule and set
it wrote (before the node's namespace is removed). PLATYKUS_LAB_NETWORK_POLICY=off leaves
NetworkPolicy unenforced.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import yaml

from . import controller_build, controller_run, pki
from . import node as realnode
from .config import LabConfigError, kubeconfig
from .controller_run import ControllerError, Identity
from .health import http_request

NAME = "kube-router"
NAMESPACE = "kube-system"
IDENTITY = Identity(NAMESPACE, "kube-router")
RBAC_MANIFEST = "daemonset/generic-kuberouter.yaml"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
TOP_CHAINS = ("KUBE-ROUTER-INPUT", "KUBE-ROUTER-FORWARD", "KUBE-ROUTER-OUTPUT")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-")
BUILTIN_CHAINS = ("INPUT", "FORWARD", "OUTPUT")
# Its health port, in the node's own network namespace (no other lab's process is there).
HEALTH_PORT = 20244
SWITCH = "PLATYKUS_LAB_NETWORK_POLICY"


def wanted() -> bool:
    return os.environ.get(SWITCH, "on").lower() not in ("off", "0", "false", "no")


def _spec() -> controller_build.BuildSpec:
    return controller_build.load_specs()[NAME]


def rbac_objects(share: Path) -> list[dict]:
    """The upstream manifest's ServiceAccount, ClusterRole and ClusterRoleBinding (a ClusterRole
    is cluster-scoped: the manifest's namespace on it is dropped)."""
    objects = [o for o in controller_run.yaml_objects(share / RBAC_MANIFEST) if o.get("kind") in RBAC_KINDS]
    for obj in objects:
        if obj["kind"].startswith("Cluster"):
            obj["metadata"].pop("namespace", None)
    if {o["kind"] for o in objects} != set(RBAC_KINDS):
        raise LabConfigError(f"{RBAC_MANIFEST} lacks one of {', '.join(RBAC_KINDS)}: the pin changed its manifests")
    return objects


def args(node: str, kubeconfig_path: Path, service_cidr: str) -> list[str]:
    """kube-router's command line: the firewall-only DaemonSet's flags, and nothing else it could touch."""
    return [
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--run-loadbalancer=false",
        "--enable-cni=false",
        "--enable-ipv6=false",
        f"--kubeconfig={kubeconfig_path}",
        f"--hostname-override={node}",
        f"--health-port={HEALTH_PORT}",
        "--metrics-port=0",
        f"--service-cluster-ip-range={service_cidr}",
    ]


# ----------------------------------------------------------------------- a node's network namespace
def _run(netns: str, *cmd: str, check: bool = True) -> str:
    proc = subprocess.run(realnode._in_ns(netns, *cmd), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise ControllerError(f"{' '.join(cmd)} in {netns} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc.stdout


def chains(netns: str) -> set[str]:
    """kube-router's chains in the filter table of a node's namespace."""
    rules = _run(netns, "iptables", "-w", "-t", "filter", "-S")
    return {
        line.split()[1]
        for line in rules.splitlines()
        if line.startswith("-N ") and line.split()[1].startswith(CHAIN_PREFIXES)
    }


def ipsets(netns: str) -> list[str]:
    return [name for name in _run(netns, "ipset", "list", "-n").split() if name.startswith(IPSET_PREFIXES)]


def remove_rules(netns: str) -> list[str]:
    """Delete the jumps from the built-in chains, then kube-router's chains, then its ipsets."""
    removed = []
    for line in _run(netns, "iptables", "-w", "-t", "filter", "-S").splitlines():
        words = shlex.split(line)
        if words[:1] == ["-A"] and words[1] in BUILTIN_CHAINS and "-j" in words:
            if words[words.index("-j") + 1].startswith(CHAIN_PREFIXES):
                _run(netns, "iptables", "-w", "-t", "filter", "-D", *words[1:])
                removed.append(line)
    ours = sorted(chains(netns))
    for chain in ours:
        _run(netns, "iptables", "-w", "-t", "filter", "-F", chain)
    for chain in ours:
        _run(netns, "iptables", "-w", "-t", "filter", "-X", chain)
    removed += [f"chain {c}" for c in ours]
    for name in ipsets(netns):
        _run(netns, "ipset", "destroy", name)
        removed.append(f"ipset {name}")
    return removed


# ---------------------------------------------------------------------------------- lab actions
def _kubeconfig(lab, net: realnode.NodeNet, nodes: realnode.RealNodes) -> Path:
    """The identity's kubeconfig as seen from inside the node: the API server at the machine end
    of the node's link (node.py forwards it), its certificate checked for `localhost`."""
    cert, key = pki.ensure_client(lab.pki_dir, f"controllers/{NAME}", IDENTITY.username, IDENTITY.groups)
    server = f"https://{net.host_ip}:{realnode.NODE_API_PORT}"
    config = kubeconfig(f"platykus-{lab.name}", server, lab.pki_dir / "ca.crt", IDENTITY.username, cert, key)
    config["clusters"][0]["cluster"]["tls-server-name"] = "localhost"
    path = nodes.node_dir(net) / f"{NAME}.kubeconfig"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def problem(nodes: realnode.RealNodes, net: realnode.NodeNet) -> str | None:
    """Why the node's engine is not healthy (its /healthz, then its chains), or None."""
    if not nodes.pid(net, NAME):
        return "not running"
    if not Path(f"/run/netns/{net.netns}").exists():
        return f"its node's network namespace {net.netns} is gone"
    url = f"http://{net.node_ip}:{HEALTH_PORT}/healthz"
    status, body = http_request(url, timeout=5.0)
    if status != 200:
        return f"{url} answered {status or 'nothing'}: {body.decode(errors='replace')[:160]}"
    missing = [c for c in TOP_CHAINS if c not in chains(net.netns)]
    return f"iptables chains {', '.join(missing)} missing in {net.netns}" if missing else None


def up(lab, timeout: float = 60.0, log=print, restart: bool = False) -> list[str]:
    """Start (or keep, or restart) the engine on every real node of the lab; return where it started."""
    from .cluster import SERVICE_CIDR

    nodes = realnode.RealNodes(lab)
    if not wanted():
        down(lab, log)  # switched off: no engine left from an earlier `up`
        return []
    if not nodes.nets():
        return []
    spec = _spec()
    if not controller_build.is_built(spec):
        controller_build.build_one(spec)
    controller_run.kubectl_apply(lab, IDENTITY.objects() + rbac_objects(controller_build.share_dir(spec)))
    started = []
    for net in nodes.nets():
        cmd = [str(controller_build.binary_path(spec)), *args(net.name, _kubeconfig(lab, net, nodes), SERVICE_CIDR)]
        why = "the API server restarted" if restart else None
        if nodes.pid(net, NAME) and not why:
            why = problem(nodes, net)
        if nodes.pid(net, NAME) and why:
            log(f"restarting {net.name} {NAME}: {why}")
            nodes._stop(net, NAME)
        if not nodes.pid(net, NAME):
            nodes._start(net, NAME, cmd)
            started.append(net.name)
    for net in nodes.nets():
        nodes._wait(f"{net.name} {NAME}", lambda n=net: problem(nodes, n) is None, timeout, net, NAME)
    if started:
        log(f"{NAME} {spec.version} enforcing NetworkPolicy on {', '.join(started)}")
    return started


def down(lab, log=print) -> list[str]:
    """Stop the engine on every real node and remove what it wrote there."""
    nodes = realnode.RealNodes(lab)
    stopped = []
    for net in nodes.nets():
        if nodes._stop(net, NAME):
            stopped.append(f"{net.name}-{NAME}")
        if Path(f"/run/netns/{net.netns}").exists():
            removed = remove_rules(net.netns)
            if removed:
                log(f"{net.name}: removed {len(removed)} of {NAME}'s iptables rules, chains and ipsets")
    return stopped


def status(lab) -> dict:
    nodes = realnode.RealNodes(lab)
    if not wanted():
        return {}
    return {
        f"{net.name}-{NAME}": {
            "pid": nodes.pid(net, NAME),
            "log": str(lab.logs / f"{net.name}-{NAME}.log"),
            "ports": {"health": HEALTH_PORT, "node_ip": net.node_ip},
            "problem": problem(nodes, net),
        }
        for net in nodes.nets()
    }
