"""NetworkPolicy enforced on the lab: kube-router's network policy controller, built from its pin.

kube-router (lab/controllers.yml, v2.1.0, the only version the Go module proxy serves) runs with
its firewall alone, as its upstream firewall-only DaemonSet does (daemonset/kube-router-firewall-
daemonset.yaml): no BGP router, no service proxy, no load balancer, no CNI configuration. It is a
lab process on the host's network namespace (a DaemonSet pod with hostNetwork), for one node:
it enforces the NetworkPolicies of the pods whose status.hostIP is that node's InternalIP, with
iptables chains (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) and ipsets (KUBE-SRC-*, KUBE-DST-*).
Its identity is the ServiceAccount kube-system/kube-router of the upstream manifest, with the
ClusterRole that manifest grants (generic-kuberouter.yaml), as a client certificate of the lab CA.

Those chains and sets belong to the network namespace, not to a lab: kube-router deletes every
KUBE-POD-FW-/KUBE-NWPLCY- chain and KUBE-SRC-/KUBE-DST- set it did not write. Two engines in
one network namespace would undo each other's rules, so one lab on the machine at a time runs it
(a machine-wide owner file, refused with the owner's name otherwise); `stop` removes every chain,
jump rule and set it wrote and restores the sysctl it needs (net.bridge.bridge-nf-call-iptables).

    python -m platykus_lab.netpol up --name LAB --node NODE | down --name LAB | status --name LAB
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from . import controllers
from .config import LabConfigError, bin_dir, free_port
from .controllers import Context, ControllerError, Identity, Runner, http_check

NAME = "kube-router"
NAMESPACE = "kube-system"
IDENTITY = Identity(NAMESPACE, "kube-router")
STATE_KEY = "netpol"
RBAC_MANIFEST = "daemonset/generic-kuberouter.yaml"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-")
BUILTIN_CHAINS = ("INPUT", "FORWARD", "OUTPUT")
# Bridged pod-to-pod traffic reaches iptables only with this on (br_netfilter).
BRIDGE_SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
OWNER_FILE = Path("/run/platykus/netpol-owner.json")


def _spec():
    return controllers.load_specs()[NAME]


def rbac_objects(share: Path) -> list[dict]:
    """The upstream manifest's ServiceAccount, ClusterRole and ClusterRoleBinding (a ClusterRole
    is cluster-scoped: the manifest's namespace on it is dropped)."""
    objects = [o for o in controllers.yaml_objects(share / RBAC_MANIFEST) if o.get("kind") in RBAC_KINDS]
    for obj in objects:
        if obj["kind"].startswith("Cluster"):
            obj["metadata"].pop("namespace", None)
    if {o["kind"] for o in objects} != set(RBAC_KINDS):
        raise LabConfigError(f"{RBAC_MANIFEST} lacks one of {', '.join(RBAC_KINDS)}: the pin changed its manifests")
    return objects


def _args(ctx: Context) -> list[str]:
    from .cluster import SERVICE_CIDR

    return [
        # The firewall-only DaemonSet's three flags, and nothing else kube-router could touch.
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--run-loadbalancer=false",
        "--enable-cni=false",
        "--enable-ipv6=false",
        f"--kubeconfig={ctx.kubeconfig}",
        f"--hostname-override={_node(ctx)}",
        f"--health-port={ctx.own['health']}",
        "--metrics-port=0",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
    ]


def _node(ctx: Context) -> str:
    return ctx.lab.state()[STATE_KEY]["node"]


def _env(ctx: Context) -> dict[str, str]:
    # kube-router finds its Node by NODE_NAME first (the DaemonSet sets it from spec.nodeName).
    return {"NODE_NAME": _node(ctx)}


_healthz = http_check("health", "/healthz")


def _health(ctx: Context) -> str | None:
    """Its /healthz (every controller's heartbeat fresh), and its chains in place."""
    problem = _healthz(ctx)
    if problem:
        return problem
    missing = [c for c in ("KUBE-ROUTER-INPUT", "KUBE-ROUTER-FORWARD", "KUBE-ROUTER-OUTPUT") if c not in chains()]
    return f"iptables chains {', '.join(missing)} missing" if missing else None


def _objects(ctx: Context) -> list[dict]:
    return rbac_objects(ctx.share)


RUNNER = Runner(
    name=NAME,
    identity=IDENTITY,
    ports=("health",),
    args=_args,
    health=_health,
    env=_env,
    objects=_objects,
)


# ------------------------------------------------------------------------------ machine state
def _iptables(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ControllerError(f"iptables {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def chains() -> set[str]:
    """kube-router's chains in the filter table."""
    return {
        line.split()[1]
        for line in _iptables("-t", "filter", "-S").splitlines()
        if line.startswith("-N ") and line.split()[1].startswith(CHAIN_PREFIXES)
    }


def ipsets() -> list[str]:
    proc = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True)
    return [name for name in proc.stdout.split() if name.startswith(IPSET_PREFIXES)]


def remove_rules() -> list[str]:
    """Delete the jump rules from the built-in chains, then kube-router's chains, then its ipsets;
    return what was removed."""
    removed = []
    for line in _iptables("-t", "filter", "-S").splitlines():
        words = shlex.split(line)
        if words[:1] == ["-A"] and words[1] in BUILTIN_CHAINS and "-j" in words:
            if words[words.index("-j") + 1].startswith(CHAIN_PREFIXES):
                _iptables("-t", "filter", "-D", *words[1:])
                removed.append(line)
    ours = sorted(chains())
    for chain in ours:
        _iptables("-t", "filter", "-F", chain)
    for chain in ours:
        _iptables("-t", "filter", "-X", chain)
    removed += [f"chain {c}" for c in ours]
    for name in ipsets():
        subprocess.run(["ipset", "destroy", name], capture_output=True, text=True)
        removed.append(f"ipset {name}")
    return removed


def _owner() -> dict:
    try:
        return json.loads(OWNER_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _claim(lab) -> None:
    """Make this lab the machine's one policy engine owner, or say which lab is."""
    owner = _owner()
    if owner and owner.get("home") != str(lab.home) and Path(owner.get("home", "/nonexistent")).exists():
        pid_file = Path(owner["home"]) / "run" / f"{NAME}.pid"
        alive = pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists()
        if alive:
            raise ControllerError(
                f"lab {owner.get('lab')!r} runs the machine's NetworkPolicy engine (its iptables chains and "
                f"ipsets are per network namespace, not per lab): `python -m platykus_lab.netpol down --name "
                f"{owner.get('lab')}` first"
            )
    OWNER_FILE.parent.mkdir(parents=True, exist_ok=True)
    OWNER_FILE.write_text(json.dumps({"lab": lab.name, "home": str(lab.home)}))


# ---------------------------------------------------------------------------------- lab actions
def _context(lab) -> Context:
    state = lab.state()
    record = state[STATE_KEY]
    ports = {NAME: {"health": record["health_port"]}}
    server = f"https://127.0.0.1:{state['ports']['apiserver']}"
    kube = controllers.identity_kubeconfig(lab, NAME, IDENTITY, server)
    return Context(lab, _spec(), ports, state["ports"], kube)


def up(lab, node: str | None = None, timeout: float = 60.0, log=print) -> bool:
    """Enforce NetworkPolicy for `node` (or the node recorded by an earlier `up`); start or restart
    kube-router when it is not running healthy with today's command line. Returns whether it started."""
    state = lab.state()
    record = dict(state.get(STATE_KEY) or {})
    if node is None and "node" not in record:
        raise LabConfigError("netpol up: name the node whose pods it enforces (--node), e.g. real-0")
    if node and node != record.get("node"):
        record["node"] = node
    if "bridge_sysctl" not in record:
        record["bridge_sysctl"] = BRIDGE_SYSCTL.read_text().strip() if BRIDGE_SYSCTL.exists() else None
    if not record.get("health_port") or not (
        controllers.pid(lab, NAME) or controllers.port_is_free(record["health_port"])
    ):
        record["health_port"] = free_port()
    _claim(lab)
    state[STATE_KEY] = record
    lab._save_state(state)
    if BRIDGE_SYSCTL.exists():
        BRIDGE_SYSCTL.write_text("1")
    spec = _spec()
    if not controllers.is_built(spec):
        controllers.build_one(spec)
    ctx = _context(lab)
    status, _ = lab.api(f"/api/v1/nodes/{record['node']}")
    if status != 200:
        raise ControllerError(f"netpol: node {record['node']!r} is not registered (HTTP {status}); start it first")
    controllers._CHILDREN.pop(NAME, None)
    return controllers._ensure_running(ctx, RUNNER, timeout, log, api_restarted=False)


def enabled(lab) -> bool:
    return bool(lab.state().get(STATE_KEY))


def down(lab, log=print) -> list[str]:
    """Stop kube-router and remove every rule and set it wrote; restore the bridge sysctl."""
    state = lab.state()
    record = state.get(STATE_KEY)
    if not record:
        return []
    stopped = controllers._stop_pid(lab, NAME)
    removed = []
    if _owner().get("home") in (str(lab.home), None):
        removed = remove_rules()
        OWNER_FILE.unlink(missing_ok=True)
    if record.get("bridge_sysctl") is not None and BRIDGE_SYSCTL.exists():
        BRIDGE_SYSCTL.write_text(record["bridge_sysctl"])
    state.pop(STATE_KEY, None)
    started = state.get(controllers.STARTED_KEY) or {}
    started.pop(NAME, None)
    lab._save_state(state)
    if stopped or removed:
        log(f"netpol: stopped {NAME}, removed {len(removed)} iptables rules, chains and ipsets")
    return [NAME] if stopped else []


def status(lab) -> dict | None:
    record = lab.state().get(STATE_KEY)
    if not record:
        return None
    running = controllers.pid(lab, NAME)
    ctx = Context(lab, _spec(), {NAME: {"health": record["health_port"]}}, lab.state()["ports"], None)
    return {
        "node": record["node"],
        "pid": running,
        "ports": {"health": record["health_port"]},
        "log": str(lab.logs / f"{NAME}.log"),
        "problem": RUNNER.health(ctx) if running else "not running",
    }


def main(argv: list[str] | None = None) -> int:
    from .cluster import Lab

    parser = argparse.ArgumentParser(prog="python -m platykus_lab.netpol", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--name", default=os.environ.get("PLATYKUS_LAB_NAME", "default"))
    parser.add_argument("--node", help="the node whose pods' NetworkPolicies it enforces (up)")
    args = parser.parse_args(argv)
    lab = Lab.named(args.name, binaries=bin_dir())
    if args.action == "up":
        up(lab, args.node)
    elif args.action == "down":
        down(lab)
    else:
        print(json.dumps(status(lab), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
