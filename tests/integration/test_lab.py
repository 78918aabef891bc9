"""What must hold on the lab: the real API server's authorization, admission and controllers."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from platykus_lab.cluster import COMPONENTS, Lab
from platykus_lab.config import node_pools_from_inventory, parse_node_pools

from conftest import LAB_INVENTORY

pytestmark = pytest.mark.lab


def _wait(check, timeout=60.0, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def namespace(lab):
    name = f"t-{uuid.uuid4().hex[:8]}"
    lab.kubectl("create", "namespace", name)
    yield name
    lab.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _pod(name, **spec_overrides):
    container = {"name": "app", "image": "registry.invalid/app:1", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}}
    container.update(spec_overrides.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec_overrides}}


def test_simulated_nodes_are_ready_with_inventory_labels(lab):
    nodes = lab.get_json("nodes")["items"]
    assert len(nodes) == 5
    for node in nodes:
        assert Lab.node_ready(node), node["metadata"]["name"]
    by_type = {}
    for node in nodes:
        labels = node["metadata"]["labels"]
        by_type.setdefault(labels["node.kubernetes.io/instance-type"], set()).add(labels["karpenter.sh/capacity-type"])
    assert by_type == {"m5.xlarge": {"on-demand"}, "m5.2xlarge": {"spot"}}


def test_unprivileged_user_is_denied_by_rbac(lab, namespace):
    denied = lab.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, "--as=alice", check=False)
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    allowed = lab.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, check=False)
    assert allowed.stdout.strip() == "yes"


def test_node_authorizer_limits_nodes(lab):
    as_node = ["--as=system:node:general-0", "--as-group=system:nodes"]
    assert lab.kubectl("auth", "can-i", "get", "nodes/general-0", *as_node, check=False).stdout.strip() == "yes"
    # Node,RBAC: a kubelet reads its own Node object only.
    assert lab.kubectl("auth", "can-i", "get", "nodes/general-1", *as_node, check=False).stdout.strip().startswith("no")
    assert lab.kubectl("auth", "can-i", "list", "secrets", "-A", *as_node, check=False).stdout.strip().startswith("no")


def test_resource_quota_rejects_pod_over_quota(lab, namespace):
    lab.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": namespace}, "spec": {"hard": {"pods": "1", "requests.cpu": "150m"}}})
    # The controller manager fills in quota usage: admission only counts once status exists.
    _wait(lambda: lab.get_json("resourcequota", "q", "-n", namespace).get("status", {}).get("hard"), what="quota status")
    lab.apply(_pod("first"), "-n", namespace)
    rejected = lab.apply(_pod("second"), "-n", namespace, check=False)
    assert rejected.returncode != 0
    assert "exceeded quota" in rejected.stderr
    used = _wait(lambda: lab.get_json("resourcequota", "q", "-n", namespace)["status"].get("used", {}).get("pods") == "1", what="quota usage")
    assert used


def test_limit_ranger_fills_in_defaults(lab, namespace):
    lab.apply({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": namespace}, "spec": {"limits": [{"type": "Container", "default": {"cpu": "300m", "memory": "128Mi"}, "defaultRequest": {"cpu": "200m", "memory": "96Mi"}}]}})
    pod = _pod("bare", container={"resources": {}})
    lab.apply(pod, "-n", namespace)
    resources = lab.get_json("pod", "bare", "-n", namespace)["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "300m", "memory": "128Mi"}, "requests": {"cpu": "200m", "memory": "96Mi"}}


def test_pod_security_rejects_privileged_pod(lab, namespace):
    lab.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    privileged = _pod("priv", container={"securityContext": {"privileged": True}})
    rejected = lab.apply(privileged, "-n", namespace, check=False)
    assert rejected.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in rejected.stderr
    restricted_ok = _pod(
        "ok",
        container={"securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}},
    )
    lab.apply(restricted_ok, "-n", namespace)


def test_deployment_pods_run_on_simulated_nodes(lab, namespace):
    lab.kubectl("create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=4", "-n", namespace)

    def running():
        pods = lab.get_json("pods", "-n", namespace, "-l", "app=web")["items"]
        ok = [p for p in pods if p["status"].get("phase") == "Running" and p["spec"].get("nodeName")]
        return ok if len(ok) == 4 else None

    pods = _wait(running, what="4 Running pods")
    nodes = {n["metadata"]["name"] for n in lab.get_json("nodes")["items"]}
    assert {p["spec"]["nodeName"] for p in pods} <= nodes
    owners = {p["metadata"]["ownerReferences"][0]["kind"] for p in pods}
    assert owners == {"ReplicaSet"}
    deployment = _wait(lambda: (d := lab.get_json("deployment", "web", "-n", namespace)).get("status", {}).get("readyReplicas") == 4 and d, what="deployment ready")
    assert deployment["status"]["availableReplicas"] == 4


def test_service_account_tokens_authenticate(lab, namespace):
    lab.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = lab.kubectl("create", "token", "robot", "-n", namespace, "--duration=10m").stdout.strip()
    server = lab.lab.status()["server"]
    whoami = lab.kubectl(
        "auth", "whoami", "-o", "json", "--kubeconfig=/dev/null", f"--server={server}",
        f"--certificate-authority={lab.lab.pki_dir / 'ca.crt'}", f"--token={token}",
    )
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{namespace}:robot"
    bogus = lab.kubectl("get", "pods", "--kubeconfig=/dev/null", f"--server={server}", f"--certificate-authority={lab.lab.pki_dir / 'ca.crt'}", "--token=not-a-token", check=False)
    assert bogus.returncode != 0 and "Unauthorized" in bogus.stderr


def test_namespace_deletion_completes(lab):
    name = f"gone-{uuid.uuid4().hex[:6]}"
    lab.kubectl("create", "namespace", name)
    lab.kubectl("create", "configmap", "c", "-n", name, "--from-literal=a=b")
    lab.kubectl("create", "deployment", "d", "--image=registry.invalid/x:1", "-n", name)
    lab.kubectl("delete", "namespace", name, "--timeout=90s")
    assert lab.kubectl("get", "namespace", name, check=False).returncode != 0


def test_up_is_idempotent(lab):
    before = {c: lab.lab.pid(c) for c in COMPONENTS}
    again = lab.lab.up(node_pools_from_inventory(LAB_INVENTORY), log=lambda _m: None)
    assert {c: lab.lab.pid(c) for c in COMPONENTS} == before
    assert again["kubeconfig"] == str(lab.kubeconfig)


def test_two_labs_side_by_side_and_clean_stop(lab):
    # Its own folder, not pytest's tmp_path: pytest prunes old tmp folders of concurrent sessions.
    home = Path(tempfile.mkdtemp(prefix="platykus-side-"))
    other = Lab.named("side", binaries=lab.lab.binaries, home=home)
    pools = parse_node_pools([{"name": "tiny", "count": 1, "instance_type": "t3.medium", "zones": ["us-east-1a"], "capacity": {"cpu": "2", "memory": "4Gi"}}])
    try:
        result = other.up(pools, log=lambda _m: None)
        assert result["nodes"] == ["tiny-0"]
        assert set(other.state()["ports"].values()).isdisjoint(lab.lab.state()["ports"].values())
        pids = [other.pid(c) for c in COMPONENTS]
        assert all(pids)
    finally:
        other.down(purge=True, log=lambda _m: None)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
    assert all(other.pid(c) is None for c in COMPONENTS)
    assert lab.lab.readyz()
