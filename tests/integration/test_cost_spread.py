"""Denial of wallet on the lab: a tenant's pods that force a node each pay for those nodes (docs/cost.md, Idle).

A developer of acme (impersonated, with only the rights onboarding grants) runs ten pods of 10m / 16Mi with a
required hostname anti-affinity. The real scheduler cannot put two on one node, so the lab's real Karpenter (kwok
provider) buys a node per pod. usage_report must charge those nodes to acme, not to idle: from each pod's start
the node is acme's, less what other (platform) pods on it requested; idle keeps only the seconds before a pod ran.
The expected money is computed here from what the API server holds and the lab's price catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import run_module, wait_for
from test_cost import GIB, RESTRICTED_CONTAINER, RESTRICTED_POD, iso, parse, prices, quantity, tenants

pytestmark = pytest.mark.lab

NAMESPACE = "acme-dev"
DEVELOPER = ("--as=dev@acme.example", "--as-group=acme-devs")
APP = "spread"
POOL = "cost-spread"
POOL_LABEL = "karpenter.sh/nodepool"
PODS = 10


def nodepool() -> list[dict]:
    return [
        {"apiVersion": "karpenter.kwok.sh/v1alpha1", "kind": "KWOKNodeClass", "metadata": {"name": POOL}},
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": POOL},
            "spec": {
                "template": {
                    "spec": {
                        "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": POOL},
                        "requirements": [
                            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.xlarge"]},
                            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                        ],
                        "expireAfter": "Never",
                    }
                },
                "limits": {"cpu": str(4 * PODS + 8)},
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"},
            },
        },
    ]


def spread_deployment() -> dict:
    container = {
        "name": "app",
        "image": "example/app",
        "securityContext": RESTRICTED_CONTAINER,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}},
    }
    spec = dict(
        RESTRICTED_POD,
        containers=[container],
        terminationGracePeriodSeconds=0,
        # The test pool only, so the lab's own nodes (and other tests) stay out of the figures.
        nodeSelector={POOL_LABEL: POOL},
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": APP}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": NAMESPACE},
        "spec": {
            "replicas": PODS,
            "selector": {"matchLabels": {"app": APP}},
            "template": {"metadata": {"labels": {"app": APP}}, "spec": spec},
        },
    }


def pool_nodes(lab) -> list[dict]:
    return lab.get_json("nodes", "-l", f"{POOL_LABEL}={POOL}")["items"]


def running(lab) -> list[dict]:
    pods = lab.get_json("pods", "-n", NAMESPACE, "-l", f"app={APP}")["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and p["status"].get("startTime")]


@pytest.fixture(scope="module")
def spread(lab):
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_aws": False})
    assert onboarding.ok, onboarding.output[-3000:]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    lab.apply(nodepool())
    lab.apply(spread_deployment(), *DEVELOPER)  # as the tenant's developer
    wait_for("%d spread pods Running" % PODS, lambda: len(running(lab)) == PODS, timeout=300)
    # A window from before the nodes to two hours ahead: running pods are charged up to its end (now=end).
    yield {"window": (start, datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2))}
    lab.kubectl("delete", "deployment", "-n", NAMESPACE, APP, "--wait=false", check=False)
    lab.kubectl("delete", "nodepool", POOL, check=False)
    lab.kubectl("delete", "kwoknodeclass", POOL, "--wait=false", check=False)
    wait_for("the pool's nodes to go", lambda: not pool_nodes(lab), timeout=300)


def expected_on_pool(lab, window) -> dict[str, Decimal]:
    """What each pool node costs in the window, what acme owes for it, and the part before acme's pod ran."""
    catalog = prices()
    weight = Decimal(str(catalog["cpu_ram_weight"]))
    start, end = window

    def hours(since: datetime) -> Decimal:
        return Decimal((end - max(start, since)).total_seconds()) / 3600

    pods = lab.get_json("pods", "-A", "--field-selector", "status.phase=Running")["items"]
    out = {"nodes": Decimal(0), "acme": Decimal(0), "before": Decimal(0)}
    for node in pool_nodes(lab):
        name = node["metadata"]["name"]
        hourly = Decimal(str(catalog["instance_types"][node["metadata"]["labels"]["node.kubernetes.io/instance-type"]]))
        cores = quantity(node["status"]["capacity"]["cpu"])
        gib = quantity(node["status"]["capacity"]["memory"]) / GIB
        gib_price = hourly / (weight * cores + gib)
        core_price = weight * gib_price
        on_node = [p for p in pods if p["spec"].get("nodeName") == name]
        mine = [p for p in on_node if p["metadata"]["namespace"] == NAMESPACE]
        assert len(mine) == 1, (name, [p["metadata"]["name"] for p in mine])  # one per node: the anti-affinity
        since = parse(mine[0]["status"]["startTime"])
        owed = hourly * hours(since)
        for pod in on_node:  # other pods on it (none expected; a platform DaemonSet) pay their own requests
            if pod is mine[0]:
                continue
            requests = [c.get("resources", {}).get("requests") or {} for c in pod["spec"]["containers"]]
            cpu = sum(quantity(r.get("cpu", "0")) for r in requests)
            mem = sum(quantity(r.get("memory", "0")) for r in requests) / GIB
            overlap = min(hours(since), hours(parse(pod["status"]["startTime"])))
            owed -= (cpu * core_price + mem * gib_price) * overlap
        created = hours(parse(node["metadata"]["creationTimestamp"]))
        out["nodes"] += hourly * created
        out["acme"] += owed
        out["before"] += hourly * (created - hours(since))
    return out


def test_the_anti_affinity_made_karpenter_buy_a_node_per_pod(lab, spread):
    nodes = pool_nodes(lab)
    assert len(nodes) == PODS, [n["metadata"]["name"] for n in nodes]
    assert {p["spec"]["nodeName"] for p in running(lab)} == {n["metadata"]["name"] for n in nodes}
    for node in nodes:
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == "m5.xlarge" and labels[POOL_LABEL] == POOL


def test_the_tenant_pays_the_nodes_its_pods_made_karpenter_buy(lab, spread):
    window = spread["window"]
    args = {
        "prices": prices(),
        "tenants": tenants(),
        "platform_namespaces": ["kube-system", "platykus-system"],
        "window_start": iso(window[0]),
        "window_end": iso(window[1]),
        "now": iso(window[1]),
        "kubeconfig": str(lab.kubeconfig),
    }
    status, result = run_module(lab, "usage_report", args)
    assert status == "SUCCESS", result
    report = result["report"]
    expected = expected_on_pool(lab, window)
    row = {r["name"]: r for r in report["namespaces"]}[NAMESPACE]
    # About 10 nodes x 0.192 x 2 h = 3.84; the pods' own requests are a few thousandths of it.
    assert expected["acme"] > Decimal("3.5")
    assert abs(Decimal(str(row["cost"]["total"])) - expected["acme"]) <= Decimal("0.001"), (row, expected)
    own = Decimal(str(row["cost"]["cpu"])) + Decimal(str(row["cost"]["memory"]))
    assert own < expected["acme"] / 100, (row, expected)  # 100m of requests: what the old rule charged
    assert Decimal(str(row["cost"]["idle"])) > expected["acme"] * Decimal("0.99")
    acme = {t["name"]: t for t in report["tenants"]}["acme"]
    assert Decimal(str(acme["cost"]["total"])) >= expected["acme"] - Decimal("0.001")
    # Of what the pool's nodes cost, only the seconds before each pod started are idle: near zero.
    assert expected["before"] < expected["nodes"] * Decimal("0.02"), expected
    assert expected["acme"] + expected["before"] >= expected["nodes"] * Decimal("0.999"), expected
    # Conservation: the lines are the cluster's nodes, volumes and balancers.
    lines = [t["cost"]["total"] for t in report["tenants"]]
    lines += [report[k]["cost"]["total"] for k in ("platform", "unassigned", "idle")]
    whole = sum(report["total"][k] for k in ("nodes", "storage", "loadbalancer"))
    assert sum(lines) == pytest.approx(whole, abs=0.002)
