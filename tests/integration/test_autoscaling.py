"""Real autoscaling on the lab: metrics-server, the HPA controller and Karpenter (kwok provider).

Pod CPU usage is what the kwok.x-k8s.io/usage-cpu annotation says (lab/kwok/metrics.yaml);
metrics-server scrapes it from kwok, the API server serves it through the aggregation layer, the
controller-manager's HPA scales on it, and Karpenter turns pending pods into simulated nodes of
the inventory's instance types. Every assertion is on what the API server holds; the waits are
generous bounds, never the figure under test (docs/benchmarks.md has the timings).
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import run_module, wait_for

pytestmark = pytest.mark.lab

NAMESPACE = "autoscale-test"
USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
NODEPOOL = "autoscale-test"
POOL_LABEL = "karpenter.sh/nodepool"
RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def raw(lab, path: str) -> dict:
    proc = lab.kubectl("get", "--raw", path, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def cores(quantity: str) -> float:
    """CPU as metrics.k8s.io writes it (n, u, m suffixes or whole cores)."""
    for suffix, factor in (("n", 1e-9), ("u", 1e-6), ("m", 1e-3)):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity)


def deployment(
    name: str, replicas: int, cpu: str, annotations: dict | None = None, node_selector: dict | None = None
) -> dict:
    container = {
        "name": "app",
        "image": "example/app",
        "securityContext": RESTRICTED_CONTAINER,
        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
    }
    pod_spec = dict(RESTRICTED_POD, containers=[container], terminationGracePeriodSeconds=0)
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}}, "spec": pod_spec},
        },
    }


def pods(lab, app: str) -> list[dict]:
    return lab.get_json("pods", "-n", NAMESPACE, "-l", f"app={app}")["items"]


def running(lab, app: str) -> list[dict]:
    return [
        p
        for p in pods(lab, app)
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def annotate_usage(lab, app: str, cpu: str) -> None:
    lab.kubectl("annotate", "pods", "-n", NAMESPACE, "-l", f"app={app}", f"{USAGE_CPU}={cpu}", "--overwrite")


@pytest.fixture(scope="module")
def namespace(lab):
    lab.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield NAMESPACE
    lab.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


# -- metrics.k8s.io ---------------------------------------------------------------------------------
def test_metrics_api_is_served_through_the_aggregation_layer(lab):
    service = lab.get_json("apiservice", "v1beta1.metrics.k8s.io")
    available = {c["type"]: c["status"] for c in service["status"]["conditions"]}
    assert available["Available"] == "True", service["status"]
    assert service["spec"]["service"] == {
        "name": "metrics-server",
        "namespace": "platykus-system",
        "port": service["spec"]["service"]["port"],
    }


def test_node_metrics_for_every_lab_node(lab):
    names = {n["metadata"]["name"] for n in lab.get_json("nodes", "-l", "type=kwok")["items"]}
    served = wait_for(
        "node metrics of every node",
        lambda: (
            {i["metadata"]["name"] for i in raw(lab, "/apis/metrics.k8s.io/v1beta1/nodes").get("items", [])} >= names
            and names
        ),
    )
    assert served


def test_pod_metrics_follow_the_usage_annotation(lab, namespace):
    lab.apply(deployment("steady", 1, "500m", {USAGE_CPU: "300m"}))

    def usage():
        items = raw(lab, f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods").get("items", [])
        return [
            cores(c["usage"]["cpu"])
            for i in items
            if i["metadata"]["name"].startswith("steady-")
            for c in i["containers"]
        ]

    measured = wait_for("pod metrics of steady", usage)
    assert measured and abs(measured[0] - 0.3) < 0.03, measured


def test_metrics_server_runs_as_its_own_service_account(lab):
    """The chart's identity and RBAC, not the admin's: it may read nodes, not Secrets."""
    user = "system:serviceaccount:platykus-system:metrics-server"
    can = lambda *args: lab.kubectl("auth", "can-i", *args, f"--as={user}", check=False).stdout.strip()  # noqa: E731
    assert can("list", "nodes") == "yes"
    assert can("get", "nodes/metrics") == "yes"
    assert can("list", "secrets", "-A") == "no"


# -- HPA ----------------------------------------------------------------------------------------------
def hpa(name: str) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0},
                "scaleDown": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}],
                },
            },
        },
    }


def replicas(lab, name: str) -> int:
    return lab.get_json("deployment", "-n", NAMESPACE, name)["spec"]["replicas"]


def test_hpa_scales_up_on_usage_then_down(lab, namespace):
    """500m requested, 50 % target: 900m used on one pod asks for ceil(900 / 250) = 4 replicas.

    The new pods use 1m (kwok's default), so the total stays ~903m and 4 is stable; 10m on each
    pod asks for ceil(40 / 250) = 1.
    """
    lab.apply([deployment("web", 1, "500m", {USAGE_CPU: "100m"}), hpa("web")])
    wait_for("web Running", lambda: len(running(lab, "web")) == 1)
    wait_for(
        "the HPA to read web's usage",
        lambda: lab.get_json("hpa", "-n", NAMESPACE, "web").get("status", {}).get("currentMetrics"),
    )
    assert replicas(lab, "web") == 1

    annotate_usage(lab, "web", "900m")
    wait_for("the HPA to scale web to 4", lambda: replicas(lab, "web") == 4)
    wait_for("4 web pods Running", lambda: len(running(lab, "web")) == 4)
    status = lab.get_json("hpa", "-n", NAMESPACE, "web")["status"]
    assert status["desiredReplicas"] == 4

    annotate_usage(lab, "web", "10m")
    wait_for("the HPA to scale web back to 1", lambda: replicas(lab, "web") == 1)
    events = lab.get_json("events", "-n", NAMESPACE, "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler")[
        "items"
    ]
    reasons = [e["message"] for e in events if e["reason"] == "SuccessfulRescale"]
    assert any("New size: 4" in m for m in reasons) and any("New size: 1" in m for m in reasons), reasons


# -- Karpenter ----------------------------------------------------------------------------------------
def nodepool(limit_cpu: str) -> list[dict]:
    return [
        {"apiVersion": "karpenter.kwok.sh/v1alpha1", "kind": "KWOKNodeClass", "metadata": {"name": NODEPOOL}},
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": NODEPOOL},
            "spec": {
                "template": {
                    "spec": {
                        "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": NODEPOOL},
                        "requirements": [
                            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.xlarge"]},
                            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                            {
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": ["us-east-1a", "us-east-1b"],
                            },
                        ],
                        "expireAfter": "Never",
                    }
                },
                "limits": {"cpu": limit_cpu},
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"},
            },
        },
    ]


def pool_nodes(lab) -> list[dict]:
    return lab.get_json("nodes", "-l", f"{POOL_LABEL}={NODEPOOL}")["items"]


def ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


@pytest.fixture(scope="module")
def scaled_out(lab, namespace):
    """Six pending pods of 3 CPU each for a pool of 4-CPU m5.xlarge nodes limited to 8 CPU."""
    lab.apply(nodepool("8"))
    lab.apply(deployment("batch", 6, "3", node_selector={POOL_LABEL: NODEPOOL}))
    wait_for("two Ready nodes of the pool", lambda: len([n for n in pool_nodes(lab) if ready(n)]) == 2)
    wait_for("two batch pods Running", lambda: len(running(lab, "batch")) == 2)
    yield pool_nodes(lab)
    lab.kubectl("delete", "deployment", "-n", NAMESPACE, "batch", "--wait=false", check=False)
    lab.kubectl("delete", "nodepool", NODEPOOL, check=False)
    lab.kubectl("delete", "kwoknodeclass", NODEPOOL, "--wait=false", check=False)


def test_pending_pods_become_nodes_of_the_inventory_types(lab, scaled_out):
    claims = pool_claims(lab)
    assert len(claims) == 2
    for node in scaled_out:
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == "m5.xlarge"
        assert labels["karpenter.sh/capacity-type"] == "on-demand"
        assert labels["topology.kubernetes.io/zone"] in ("us-east-1a", "us-east-1b")
    placed = {p["spec"]["nodeName"] for p in running(lab, "batch")}
    assert placed == {n["metadata"]["name"] for n in scaled_out}


def test_the_nodepool_limit_is_respected(lab, scaled_out):
    """8 CPU allow two 4-CPU nodes: the other four pods stay Pending, no third node."""
    time.sleep(15)  # give Karpenter a few batch windows to (wrongly) add a node: the assertion is on state
    assert len(pool_nodes(lab)) == 2
    pending = [p for p in pods(lab, "batch") if p["status"].get("phase") == "Pending"]
    assert len(pending) == 4
    # Karpenter counts what its nodes hold; a third 4-CPU node would pass the 8-CPU limit.
    assert lab.get_json("nodepool", NODEPOOL)["status"]["resources"]["nodes"] == "2"


def test_usage_report_prices_the_nodes_karpenter_added(lab, scaled_out, tmp_path):
    from test_cost import prices, tenants  # the lab's price catalog and tenants, read one way

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    args = {
        "prices": prices(),
        "tenants": tenants(),
        "platform_namespaces": ["kube-system"],
        "window_start": start,
        "window_end": now,
        "now": now,
        "kubeconfig": str(lab.kubeconfig),
    }
    status, result = run_module(lab, "usage_report", args)
    assert status == "SUCCESS", result
    rows = {row["name"]: row for row in result["report"]["nodes"]}
    for node in scaled_out:
        row = rows[node["metadata"]["name"]]
        assert row["priced"] and row["capacity_type"] == "on-demand", row


def pool_claims(lab) -> list[dict]:
    return [c for c in lab.get_json("nodeclaims")["items"] if c["metadata"]["labels"].get(POOL_LABEL) == NODEPOOL]


def test_scaling_to_zero_removes_the_added_nodes(lab, scaled_out):
    lab.kubectl("scale", "deployment", "-n", NAMESPACE, "batch", "--replicas=0")
    wait_for("the pool's nodes to be consolidated away", lambda: not pool_nodes(lab))
    wait_for("the pool's NodeClaims to go", lambda: not pool_claims(lab))
    assert lab.get_json("nodes", "-l", "type=kwok")["items"], "the inventory's own nodes stay"


# -- the autoscaling stage --------------------------------------------------------------------------
def test_the_autoscaling_stage_makes_a_nodepool_per_inventory_pool(lab):
    """On the lab the stage installs no chart: it configures the Karpenter the lab runs."""
    run = lab.playbook("site.yml", "--tags", "autoscaling")
    assert run.ok, run.output[-3000:]
    pools = {
        p["metadata"]["name"]: p["spec"]
        for p in lab.get_json("nodepools", "-l", "app.kubernetes.io/managed-by=platykus")["items"]
    }
    assert set(pools) == {"general", "spot"}
    requirements = {r["key"]: r["values"] for r in pools["spot"]["template"]["spec"]["requirements"]}
    assert requirements == {
        "node.kubernetes.io/instance-type": ["m5.2xlarge"],
        "topology.kubernetes.io/zone": ["us-east-1a", "us-east-1b"],
        "karpenter.sh/capacity-type": ["spot"],
    }
    assert pools["general"]["limits"] == {"cpu": "12"} and pools["spot"]["limits"] == {"cpu": "16"}
    assert lab.get_json("kwoknodeclass", "platykus-lab")["metadata"]["name"] == "platykus-lab"
    rerun = lab.playbook("site.yml", "--tags", "autoscaling")
    assert rerun.ok and rerun.changed == 0, rerun.output[-3000:]
