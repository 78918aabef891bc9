"""The tenants' NetworkPolicies enforced on the lab's real node by a real engine (kube-router's
network policy controller, lab/platykus_lab/netpol.py), proved with real connections between
real pods (the lab's `labecho` image: `labecho serve :8080`, `labecho get URL` through
`kubectl exec`).

The policies are the ones the `tenant` module renders and applies; the engine runs in the node's
network namespace with its own identity and its upstream manifest's RBAC. For `egress_cidrs` the
test makes an `outside` network namespace with two addresses, linked to the node's namespace by a
veth pair of its own (removed at the end), so nothing leaves the machine.

Every check is asserted both ways around a change: the engine stopped and started again, a
tenant's allow_from_ingress and egress_cidrs flipped and restored.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
import zlib

import pytest
import yaml
from conftest import LAB_INVENTORY, ROOT, SHARED_VARS, run_module, wait_for

sys.path.insert(0, str(ROOT / "lab"))
from platykus_lab import images, netpol  # noqa: E402
from platykus_lab import node as realnode  # noqa: E402

pytestmark = pytest.mark.lab

INGRESS_NAMESPACE = "platykus-ingress"
PORT = 8080
PORT = 8080
PREFIX = "10.253"  # the outside namespace: 10.253.2.2 (allowed to tenant npa) and 10.253.3.2
ALLOWED, DENIED = f"{PREFIX}.2.2", f"{PREFIX}.3.2"
# name -> namespace; the tenants' namespaces are <tenant>-<environment>.
PODS = {
    "a1": "npa-dev",
    "a2": "npa-dev",
    "a3": "npa-prod",
    "b1": "npb-dev",
    "router": INGRESS_NAMESPACE,
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
    plans = yaml.safe_load((SHARED_VARS / "tenants.yml").read_text())["platykus_tenant_plans"]
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


class RealPods:
    """labecho pods on the lab's real node, and an outside namespace linked to that node."""

    def __init__(self, lab):
        self.lab = lab
        self.net = realnode.RealNodes(lab.lab).nets()[0]
        tag = f"{zlib.crc32(lab.lab.name.encode()) & 0xFFFF:04x}"
        self.outside, self.link = f"pknp{tag}-out", f"pknp{tag}o"
        self.image = images.program_image_name("labecho")
        self.ips: dict[str, str] = {}

    def start(self) -> None:
        images.load(self.lab.lab, images.program_archive("labecho"))
        for pod, namespace in PODS.items():
            self.lab.apply(self._pod(pod, namespace))
        for pod, namespace in PODS.items():
            self.lab.kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "-n", namespace, "--timeout=120s")
            self.ips[pod] = self.lab.get_json("pod", pod, "-n", namespace)["status"]["podIP"]
        # The outside: its own namespace, two addresses, a veth pair to the node's namespace.
        node_ns = self.net.netns
        _sh("ip", "netns", "add", self.outside)
        _sh("ip", "link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.outside)
        _sh("ip", "link", "set", self.link, "netns", node_ns)
        for third in (2, 3):
            _sh("ip", "-n", node_ns, "addr", "add", f"{PREFIX}.{third}.1/24", "dev", self.link)
            _sh("ip", "-n", self.outside, "addr", "add", f"{PREFIX}.{third}.2/24", "dev", "eth0")
        _sh("ip", "-n", node_ns, "link", "set", self.link, "up")
        _sh("ip", "-n", self.outside, "link", "set", "lo", "up")
        _sh("ip", "-n", self.outside, "link", "set", "eth0", "up")
        _sh("ip", "-n", self.outside, "route", "add", self.net.pod_cidr, "via", f"{PREFIX}.2.1")
        self.server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.outside,
                sys.executable,
                "-m",
                "http.server",
                str(PORT),
                "--directory",
                tempfile.mkdtemp(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _pod(self, name: str, namespace: str) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {
                "nodeSelector": {realnode.REAL_NODE_LABEL: realnode.REAL_NODE_LABEL_VALUE},
                "tolerations": [{"key": realnode.REAL_NODE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "labecho",
                        "image": self.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["serve", f":{PORT}"],
                        "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
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

    def stop(self) -> None:
        if getattr(self, "server", None):
            self.server.kill()
            self.server.wait()
        _sh("ip", "netns", "del", self.outside, check=False)  # its veth pair goes with it
        for pod, namespace in PODS.items():
            self.lab.kubectl("delete", "pod", pod, "-n", namespace, "--wait=true", "--timeout=60s", check=False)

    def connect(self, source: str, address: str) -> str:
        """What `labecho get` in the source pod gets from address:PORT (empty when refused)."""
        out = self.lab.kubectl(
            "exec", source, "-n", PODS[source], "--", "/labecho", "get", f"http://{address}:{PORT}/", check=False
        )
        return out.stdout.strip() if out.returncode == 0 else ""


def _reaches(pods: RealPods, source: str, target: str) -> bool:
    return bool(pods.connect(source, pods.ips.get(target, target)))


def _eventually(pods: RealPods, source: str, target: str, reachable: bool) -> None:
    wait_for(
        f"{source} -> {target} {'reachable' if reachable else 'refused'}",
        lambda: _reaches(pods, source, target) == reachable,
        timeout=60,
    )


@pytest.fixture(scope="module")
def enforced(lab):
    if not realnode.RealNodes(lab.lab).nets() or not netpol.status(lab.lab):
        pytest.fail("the lab has no real node running kube-router: platykus_lab_real_nodes >= 1 and NetworkPolicy on")
    pods = RealPods(lab)
    created_ingress = lab.kubectl("create", "namespace", INGRESS_NAMESPACE, check=False).returncode == 0
    _apply_tenants(lab, _tenants())
    try:
        pods.start()
        yield pods
    finally:
        pods.stop()
        netpol.up(lab.lab, log=lambda msg: print(msg, file=sys.stderr))  # running, whatever a test left
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
    assert not netpol.chains(enforced.net.netns) and not netpol.ipsets(enforced.net.netns)
    _eventually(enforced, "b1", "a1", reachable=True)
    # ... and started again, it is refused again.
    netpol.up(lab.lab)
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


def test_down_removes_every_rule_chain_and_set_it_wrote(lab, enforced):
    netns = enforced.net.netns
    assert netpol.TOP_CHAINS[0] in netpol.chains(netns) and netpol.ipsets(netns)
    netpol.down(lab.lab)
    assert not netpol.chains(netns) and not netpol.ipsets(netns)
    rules = _sh("nsenter", f"--net=/run/netns/{netns}", "--", "iptables", "-w", "-S").stdout
    assert "KUBE-ROUTER" not in rules and "kube-router" not in rules
    assert netpol.status(lab.lab)[f"{enforced.net.name}-{netpol.NAME}"]["problem"] == "not running"
    # `up` (as the lab's own `platykus-lab up` does) brings it back and the policies hold again.
    assert netpol.up(lab.lab) == [enforced.net.name]
    _eventually(enforced, "b1", "a1", reachable=False)
