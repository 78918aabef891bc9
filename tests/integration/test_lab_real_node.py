"""A lab's real node (kubelet + containerd + kube-proxy in a network namespace of its own): it
registers Ready as itself, runs a pod from an image built here, serves it through a ClusterIP
Service to another pod, answers `kubectl logs` and `exec`, and `down` leaves the machine as it was.

Its own lab (no platform controllers, one kwok node): `down` is part of what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import LabHandle, session_lab_name, wait_for

from platykus_lab import images, node
from platykus_lab.cluster import Lab
from platykus_lab.config import bin_dir, node_pools_from_inventory

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a real node needs root")

KUBELET_SYSCTLS = [name.replace("/", ".") for name in node.KUBELET_SYSCTLS]
TOLERATE = {
    "tolerations": [{"key": node.REAL_NODE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {node.REAL_NODE_LABEL: node.REAL_NODE_LABEL_VALUE},
}


def _lines(*cmd: str) -> set[str]:
    return set(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines())


def machine() -> dict[str, set[str] | dict[str, str]]:
    """What a lab may change on the machine, as comparable sets."""

    def rules(tool: str) -> set[str]:
        # Packet counters change all the time; chains and rules do not.
        return {line.split(" [")[0] for line in _lines(tool) if not line.startswith("#")}

    return {
        "sysctls": {name: Path("/proc/sys", name.replace(".", "/")).read_text().strip() for name in KUBELET_SYSCTLS},
        "links": {line.split(":")[1].strip().split("@")[0] for line in _lines("ip", "-o", "link", "show")},
        "netns": {line.split()[0] for line in _lines("ip", "netns", "list") if line},
        "routes": _lines("ip", "route", "show"),
        "iptables": rules("iptables-save"),
        "ip6tables": rules("ip6tables-save"),
        "mounts": {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()},
    }


@pytest.fixture(scope="module")
def before() -> dict:
    return machine()


@pytest.fixture(scope="module")
def node_lab(before, tmp_path_factory) -> LabHandle:
    binaries = bin_dir()
    if not (binaries / "kubelet").exists():
        pytest.fail(f"lab binaries missing in {binaries}: run `bin/platykus-lab build` (scripts/test.sh does)")
    inventory = tmp_path_factory.mktemp("inventory")
    (inventory / "group_vars").mkdir()
    pools = [
        {
            "name": "sim",
            "count": 1,
            "instance_type": "m5.large",
            "zones": ["us-east-1a"],
            "capacity": {"cpu": "2", "memory": "8Gi"},
        }
    ]
    (inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"platykus_lab_node_pools": pools, "platykus_lab_real_nodes": 1})
    )
    lab = Lab.named(session_lab_name("-realnode"), binaries=binaries)
    saved = {key: os.environ.get(key) for key in ("PLATYKUS_LAB_CONTROLLERS", "PLATYKUS_LAB_REAL_NODES")}
    os.environ["PLATYKUS_LAB_CONTROLLERS"] = "none"
    os.environ.pop("PLATYKUS_LAB_REAL_NODES", None)
    try:
        result = lab.up(
            node_pools_from_inventory(inventory), inventory=inventory, log=lambda m: print(m, file=sys.stderr)
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    handle = LabHandle(lab=lab, kubeconfig=Path(result["kubeconfig"]))
    yield handle
    lab.down(purge=True, log=lambda m: print(m, file=sys.stderr))  # again, if a test failed before the last one


@pytest.fixture(scope="module")
def labecho(node_lab) -> str:
    """The lab's test program as an image, built here and imported into the real node."""
    archive = images.program_archive("labecho")
    loaded = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / "bin" / "platykus-lab"), "image", "load", "--name", node_lab.lab.name,
         "--home", str(node_lab.lab.home), str(archive)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    name = images.program_image_name("labecho")
    assert name in images.list_images(node_lab.lab)
    return name


def test_real_node_is_ready_as_itself_tainted_and_labelled(node_lab):
    real = node_lab.get_json("node", "real-0")
    assert Lab.node_ready(real)
    info = real["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://") and info["kubeletVersion"] == "v1.34.4"
    assert real["metadata"]["labels"][node.REAL_NODE_LABEL] == node.REAL_NODE_LABEL_VALUE
    assert {"key": node.REAL_NODE_TAINT_KEY, "value": "true", "effect": "NoSchedule"} in real["spec"]["taints"]
    [net] = node.RealNodes(node_lab.lab).nets()
    assert {"type": "InternalIP", "address": net.node_ip} in real["status"]["addresses"]
    # Its own identity: the Node authorizer lets real-0 read itself, not the kwok node.
    as_node = ["--as=system:node:real-0", "--as-group=system:nodes"]
    assert node_lab.kubectl("auth", "can-i", "get", "nodes/real-0", *as_node, check=False).stdout.strip() == "yes"
    assert (
        node_lab.kubectl("auth", "can-i", "get", "nodes/sim-0", *as_node, check=False).stdout.strip().startswith("no")
    )
    assert (
        node_lab.kubectl("auth", "can-i", "list", "secrets", "-A", *as_node, check=False)
        .stdout.strip()
        .startswith("no")
    )
    status = node_lab.lab.status()
    assert status["ready"], status["problems"]
    assert {f"real-0-{c}" for c in node.COMPONENTS} <= set(status["controllers"])


def test_pods_without_the_toleration_stay_on_kwok(node_lab):
    node_lab.kubectl("run", "sim", "--image=registry.invalid/sim:1", "--restart=Never")
    pod = wait_for("pod sim scheduled", lambda: node_lab.get_json("pod", "sim")["spec"].get("nodeName"), timeout=60)
    assert pod == "sim-0"


def test_pod_serves_through_its_service_to_another_pod_with_logs_and_exec(node_lab, labecho):
    container = {"image": labecho, "imagePullPolicy": "IfNotPresent"}
    node_lab.apply(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "echo", "namespace": "default"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "echo"}},
                    "template": {
                        "metadata": {"labels": {"app": "echo"}},
                        "spec": {**TOLERATE, "containers": [{"name": "echo", **container, "args": ["serve", ":8080"]}]},
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "echo", "namespace": "default"},
                "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client", "namespace": "default"},
                "spec": {**TOLERATE, "containers": [{"name": "client", **container, "args": ["serve", ":9090"]}]},
            },
        ]
    )
    node_lab.kubectl("rollout", "status", "deployment/echo", "--timeout=120s")
    node_lab.kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
    pod = node_lab.get_json("pods", "-l", "app=echo")["items"][0]
    assert pod["spec"]["nodeName"] == "real-0"
    cluster_ip = node_lab.get_json("service", "echo")["spec"]["clusterIP"]
    # kube-proxy's rules in the node's namespace take the ClusterIP to the pod, from another pod.
    answer = wait_for(
        "the Service to answer the client pod",
        lambda: (r := node_lab.kubectl("exec", "client", "--", "/labecho", "get", f"http://{cluster_ip}/", check=False)).returncode == 0 and r.stdout,
        timeout=60,
    )  # fmt: skip
    assert answer.strip() == f"labecho on {pod['metadata']['name']}"
    client_ip = node_lab.get_json("pod", "client")["status"]["podIP"]
    logs = node_lab.kubectl("logs", "deployment/echo").stdout
    assert "labecho serving on :8080" in logs and f"request GET / from {client_ip}:" in logs


def test_nothing_leaves_the_machine_from_a_pod(node_lab):
    [net] = node.RealNodes(node_lab.lab).nets()
    forward = _lines("iptables", "-S", "FORWARD")
    assert any(f"-i {net.host_if} " in rule and rule.endswith("-j DROP") for rule in forward), forward
    assert any(f"-o {net.host_if} " in rule and rule.endswith("-j DROP") for rule in forward), forward
    # The first FORWARD rules of the machine are the lab's drops, above anything added later.
    first = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout.splitlines()[1:3]
    assert all(net.host_if in rule and "DROP" in rule for rule in first), first


def test_down_leaves_the_machine_as_it_was(node_lab, before):
    [net] = node.RealNodes(node_lab.lab).nets()
    during = machine()
    assert net.host_if in during["links"] and net.netns in during["netns"]
    node_lab.lab.down(purge=True, log=lambda m: print(m, file=sys.stderr))
    after = machine()
    ours = (net.host_if, net.chain, net.netns, net.pod_cidr, str(net.link), str(node_lab.lab.home), "/run/platykus-lab")
    for key in ("links", "netns", "routes", "iptables", "ip6tables", "mounts"):
        # Other engineers' labs may change the machine meanwhile: what matters is that ours is gone.
        left = {item for item in after[key] - before[key] if any(name in item for name in ours)}
        assert not left, (key, left)
        assert not {item for item in after[key] if any(name in item for name in ours)}, key
    others = node._pids_with_args(b"--pod-infra-container-image=platykus.local/")
    if not others:  # another lab's kubelet keeps the kubelet's sysctls until that lab goes down
        assert after["sysctls"] == before["sysctls"], json.dumps([before["sysctls"], during["sysctls"]])
    assert not Path(node_lab.lab.home).exists()
