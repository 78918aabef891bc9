"""The tenants' NetworkPolicies enforced by a real engine (kube-router, lab/platykus_lab/netpol.py),
proved with real TCP connections between network namespaces on this machine.

The policies are the ones the `tenant` module renders and applies to the lab's API server; the
engine is kube-router's network policy controller built from its pin, with its own identity and
RBAC. Until the lab has a real node (issue 22), the pods' network ends are stand-ins: the test
plays the kubelet for a Node of its own (InternalIP on a bridge it creates), binds Pods to it,
gives each a network namespace on that bridge with a TCP server, and records the namespace's
address as the Pod's status.podIP — what kube-router reads to enforce. Everything it creates
(bridge, veths, namespaces, an `outside` namespace for egress_cidrs, a mangle DROP that keeps
these addresses on the machine, sysctls) is removed or restored at the end.

Every check is asserted both ways around a change: the engine stopped and started again, a
tenant's allow_from_ingress and egress_cidrs flipped and restored.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml
from conftest import LAB_INVENTORY, ROOT, run_module, wait_for

sys.path.insert(0, str(ROOT / "lab"))
from platykus_lab import netpol  # noqa: E402

pytestmark = pytest.mark.lab

INGRESS_NAMESPACE = "platykus-ingress"
PORT = 8080
PREFIX = "10.253"  # the stand-in node's addresses: pods 10.253.1.0/24, outside 10.253.2/3.0/24
GATEWAY = f"{PREFIX}.1.1"  # the bridge's address: the node's InternalIP
ALLOWED, DENIED = f"{PREFIX}.2.2", f"{PREFIX}.3.2"  # the outside namespace's two addresses
FORWARD_SYSCTL = Path("/proc/sys/net/ipv4/ip_forward")
SERVER = (
    "import socket,sys,threading\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(16)\n"
    "def serve(c):\n"
    "    c.sendall(('hello from %s\\n' % sys.argv[2]).encode()); c.close()\n"
    "while True:\n"
    "    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()\n"
)
CLIENT = (
    "import socket,sys\n"
    "try:\n"
    "    c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)\n"
    "    print(c.recv(100).decode().strip())\n"
    "except OSError as e:\n"
    "    print('refused: %s' % e)\n"
)
# name -> (namespace, address); the tenants' namespaces are <tenant>-<environment>.
PODS = {
    "a1": ("npa-dev", f"{PREFIX}.1.11"),
    "a2": ("npa-dev", f"{PREFIX}.1.12"),
    "a3": ("npa-prod", f"{PREFIX}.1.13"),
    "b1": ("npb-dev", f"{PREFIX}.1.21"),
    "router": (INGRESS_NAMESPACE, f"{PREFIX}.1.31"),
}


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def _tenants(allow_b_from_ingress: bool = False, a_cidrs: tuple[str, ...] = (f"{PREFIX}.2.0/24",)) -> list[dict]:
    base = yaml.safe_load((LAB_INVENTORY / "tenants/initech.yml").read_text())
    a = copy.deepcopy(base) | {
        "name": "npa",
        "display_name": "NP A",
        "owners": {"admin": ["npa-admins"]},
        "environments": ["dev", "prod"],
        "domains": [],
        "network": {"allow_from_ingress": True, "egress_cidrs": list(a_cidrs)},
    }
    b = copy.deepcopy(base) | {
        "name": "npb",
        "display_name": "NP B",
        "owners": {"admin": ["npb-admins"]},
        "environments": ["dev"],
        "domains": [],
        "network": {"allow_from_ingress": allow_b_from_ingress},
    }
    return [a, b]


def _apply_tenants(lab, tenants: list[dict]) -> None:
    cluster = yaml.safe_load((LAB_INVENTORY / "group_vars/all/cluster.yml").read_text())
    plans = yaml.safe_load((LAB_INVENTORY / "group_vars/all/tenants.yml").read_text())["platykus_tenant_plans"]
    args = {
        "tenants": tenants,
        "plans": plans,
        "platform_namespaces": cluster["platykus_platform_namespaces"],
        "ingress_namespace": INGRESS_NAMESPACE,
        "overcommit": {"cpu": 1.5, "memory": 1.0},
        "kubeconfig": str(lab.kubeconfig),
    }
    status, result = run_module(lab, "tenant", args)
    assert status in ("CHANGED", "SUCCESS"), result


class StandInNode:
    """A Node of the test's own, its bridge, and a network namespace per Pod with a TCP server."""

    def __init__(self, lab):
        self.lab = lab
        tag = f"{zlib.crc32(lab.lab.name.encode()) & 0xFFFF:04x}"
        self.node = f"netpol-{tag}"
        self.bridge = f"pknp{tag}"
        self.outside = f"pknp{tag}-out"
        self.netns = {pod: f"pknp{tag}-{pod}" for pod in PODS}
        self.servers: list[subprocess.Popen] = []
        self.forward = FORWARD_SYSCTL.read_text().strip()

    # -- machine side --------------------------------------------------------------------------
    def create(self) -> None:
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        for i, (pod, (_, address)) in enumerate(PODS.items()):
            ns, host_end = self.netns[pod], f"{self.bridge}v{i}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _sh("ip", "link", "set", host_end, "master", self.bridge, "up")
            _sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", "eth0", "up")
            _sh("ip", "-n", ns, "route", "add", "default", "via", GATEWAY)
            self._serve(ns, pod)
        # The outside: one namespace, two addresses, routed by this machine (ip_forward).
        host_end = f"{self.bridge}o"
        _sh("ip", "netns", "add", self.outside)
        _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", self.outside)
        for third in (2, 3):
            _sh("ip", "addr", "add", f"{PREFIX}.{third}.1/24", "dev", host_end)
            _sh("ip", "-n", self.outside, "addr", "add", f"{PREFIX}.{third}.2/24", "dev", "eth0")
        _sh("ip", "link", "set", host_end, "up")
        _sh("ip", "-n", self.outside, "link", "set", "lo", "up")
        _sh("ip", "-n", self.outside, "link", "set", "eth0", "up")
        _sh("ip", "-n", self.outside, "route", "add", f"{PREFIX}.1.0/24", "via", f"{PREFIX}.2.1")
        self._serve(self.outside, "outside")
        # Nothing from these addresses leaves the machine, whatever the filter table says.
        _sh(*self._keep_local("-I"))
        FORWARD_SYSCTL.write_text("1")

    def _keep_local(self, op: str) -> tuple[str, ...]:
        return (
            "iptables",
            "-w",
            "-t",
            "mangle",
            op,
            "FORWARD",
            "-s",
            f"{PREFIX}.0.0/16",
            "!",
            "-d",
            f"{PREFIX}.0.0/16",
            "-j",
            "DROP",
        )

    def _serve(self, ns: str, name: str) -> None:
        self.servers.append(
            subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, str(PORT), name],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def remove(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait()
        for ns in [*self.netns.values(), self.outside]:
            _sh("ip", "netns", "del", ns, check=False)
        _sh("ip", "link", "del", self.bridge, check=False)
        _sh("ip", "link", "del", f"{self.bridge}o", check=False)
        while _sh(*self._keep_local("-D"), check=False).returncode == 0:
            pass
        FORWARD_SYSCTL.write_text(self.forward)

    # -- API side: the kubelet's part ------------------------------------------------------------
    def register(self) -> None:
        self.lab.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": self.node, "labels": {"platykus.io/node-kind": "netpol-standin"}},
                # Nothing is scheduled here but the test's own Pods (bound by nodeName).
                "spec": {"taints": [{"key": "platykus.io/netpol-standin", "value": "true", "effect": "NoSchedule"}]},
            }
        )
        self._status("node", self.node, {"addresses": [{"type": "InternalIP", "address": GATEWAY}]})

    def bind_pods(self) -> None:
        for pod, (namespace, address) in PODS.items():
            self.lab.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": namespace, "labels": {"app": pod}},
                    "spec": {
                        "nodeName": self.node,
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [
                            {
                                "name": "server",
                                "image": "platykus.local/netpol-standin:1",
                                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "runAsNonRoot": True,
                                    "runAsUser": 10001,
                                    "capabilities": {"drop": ["ALL"]},
                                    "seccompProfile": {"type": "RuntimeDefault"},
                                },
                            }
                        ],
                    },
                }
            )
            running = {"phase": "Running", "hostIP": GATEWAY, "podIP": address, "podIPs": [{"ip": address}]}
            self._status("pod", pod, running, namespace)

    def _status(self, kind: str, name: str, status: dict, namespace: str | None = None) -> None:
        where = ["-n", namespace] if namespace else []
        patch = json.dumps({"status": status})
        self.lab.kubectl("patch", kind, name, *where, "--subresource=status", "--type=merge", "-p", patch)

    def unregister(self) -> None:
        for pod, (namespace, _) in PODS.items():
            self.lab.kubectl("delete", "pod", pod, "-n", namespace, "--force", "--grace-period=0", check=False)
        self.lab.kubectl("delete", "node", self.node, check=False)

    # -- traffic --------------------------------------------------------------------------------
    def connect(self, source: str, address: str) -> str:
        """What a TCP client in the source pod's namespace gets from address:PORT."""
        ns = self.outside if source == "outside" else self.netns[source]
        out = _sh("ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, address, str(PORT))
        return out.stdout.strip()


def _reaches(node: StandInNode, source: str, target: str) -> bool:
    return node.connect(source, PODS[target][1] if target in PODS else target).startswith("hello from")


def _eventually(node: StandInNode, source: str, target: str, reachable: bool) -> None:
    wait_for(
        f"{source} -> {target} {'reachable' if reachable else 'refused'}",
        lambda: _reaches(node, source, target) == reachable,
        timeout=60,
    )


@pytest.fixture(scope="module")
def enforced(lab):
    if not netpol.BRIDGE_SYSCTL.exists():
        pytest.fail("br_netfilter is not loaded: bridged traffic would bypass iptables (modprobe br_netfilter)")
    node = StandInNode(lab)
    created_ingress = lab.kubectl("create", "namespace", INGRESS_NAMESPACE, check=False).returncode == 0
    _apply_tenants(lab, _tenants())
    try:
        node.create()
        node.register()
        node.bind_pods()
        netpol.up(lab.lab, node.node, log=lambda msg: print(msg, file=sys.stderr))
        yield node
    finally:
        netpol.down(lab.lab, log=lambda msg: print(msg, file=sys.stderr))
        node.unregister()
        node.remove()
        for tenant in ("npa", "npb"):
            run_module(
                lab,
                "tenant",
                {"state": "absent", "tenant": tenant, "confirm": tenant, "kubeconfig": str(lab.kubeconfig)},
            )
        if created_ingress:
            lab.kubectl("delete", "namespace", INGRESS_NAMESPACE, "--wait=false", check=False)


def test_another_tenants_pod_is_refused_only_while_the_engine_enforces(lab, enforced):
    _eventually(enforced, "b1", "a1", reachable=False)
    _eventually(enforced, "a1", "b1", reachable=False)
    # The refusal is the engine's: stopped (its rules removed), the same connection passes ...
    netpol.down(lab.lab)
    assert not netpol.chains() and not netpol.ipsets()
    _eventually(enforced, "b1", "a1", reachable=True)
    # ... and started again, it is refused again.
    netpol.up(lab.lab, enforced.node)
    _eventually(enforced, "b1", "a1", reachable=False)


def test_the_same_tenants_pods_pass(lab, enforced):
    _eventually(enforced, "b1", "a1", reachable=False)  # enforcing
    _eventually(enforced, "a2", "a1", reachable=True)  # same namespace
    _eventually(enforced, "a3", "a1", reachable=True)  # the tenant's other environment
    _eventually(enforced, "a1", "a3", reachable=True)


def test_the_ingress_namespace_passes_where_the_tenant_allows_it(lab, enforced):
    _eventually(enforced, "router", "a1", reachable=True)  # npa: allow_from_ingress true
    _eventually(enforced, "router", "b1", reachable=False)  # npb: false
    _apply_tenants(lab, _tenants(allow_b_from_ingress=True))
    _eventually(enforced, "router", "b1", reachable=True)
    _apply_tenants(lab, _tenants())
    _eventually(enforced, "router", "b1", reachable=False)


def test_egress_cidrs_are_honoured(lab, enforced):
    _eventually(enforced, "a1", ALLOWED, reachable=True)  # npa allows 10.253.2.0/24
    _eventually(enforced, "a1", DENIED, reachable=False)
    _eventually(enforced, "b1", ALLOWED, reachable=False)  # npb allows no CIDR
    _apply_tenants(lab, _tenants(a_cidrs=(f"{PREFIX}.2.0/24", f"{PREFIX}.3.0/24")))
    _eventually(enforced, "a1", DENIED, reachable=True)
    _apply_tenants(lab, _tenants())
    _eventually(enforced, "a1", DENIED, reachable=False)


def test_down_leaves_nothing_behind(lab, enforced):
    bridge_before = netpol.BRIDGE_SYSCTL.read_text().strip()
    recorded = lab.lab.state()[netpol.STATE_KEY]["bridge_sysctl"]
    assert netpol.chains() and bridge_before == "1"
    netpol.down(lab.lab)
    assert not netpol.chains() and not netpol.ipsets()
    rules = _sh("iptables", "-w", "-S").stdout
    assert "KUBE-ROUTER" not in rules and "kube-router" not in rules
    assert netpol.BRIDGE_SYSCTL.read_text().strip() == recorded
    assert netpol.status(lab.lab) is None
    netpol.up(lab.lab, enforced.node)  # for the fixture's own teardown
