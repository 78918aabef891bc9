"""Cost over time on the lab: the report read back from the lab's real Prometheus (docs/cost.md).

A pod runs for a known time on a node added for the test, then both are deleted; a second pod
keeps running with usage above its request; a bound PersistentVolumeClaim and a LoadBalancer
Service live for a while and are deleted (read back from kube-state-metrics' series, which the
lab's in-tree stand-in serves). The usage-report playbook then reports the window from
Prometheus (kube-scheduler's /metrics/resources, kwok's kubelet resource metrics, Kubernetes node
discovery), reads each tenant's AWS spend from Cost Explorer on the lab's AWS (moto; the answer is
set through its moto-api), and publishes each tenant's report and cost metrics. The expected money
is computed here from Prometheus's own samples (the same grid, queried independently) and the
lab's price catalog. Tenants are checked as themselves (impersonating a viewer group). A redis
add-on is created and destroyed inside the window: it is charged its plan for the hours its Secret
was sampled (kube_secret_labels / _annotations, the stand-in's), though it is gone at report time.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import yaml
from conftest import LAB_INVENTORY, SHARED_VARS, wait_for

from platykus_lab import aws as lab_aws

pytestmark = pytest.mark.lab

GIB = Decimal(2**30)
STEP = 10  # seconds; the lab scrapes every 5s
NODE = "cost-extra-0"
NODE_TYPE = "m5.large"  # 2 cores, 8 GiB, on demand
SHORT_POD = ("acme-dev", "short")
LONG_POD = ("globex-prod", "steady")
# acme has a viewer group; globex only developers (who read ConfigMaps as viewers do).
VIEWER = {"acme": "acme-auditors", "globex": "globex-devs"}
TAG = "platykus:tenant"
CE_LINES = [("acme", "Amazon Simple Storage Service", "4.25"), ("acme", "Amazon RDS", "10.5")]
CE_UNTAGGED = ("", "AWS Key Management Service", "0.75")
CLAIM = ("acme-prod", "scratch")  # 2 GiB of gp3, statically bound to a PersistentVolume made here
BALANCER = ("acme-prod", "edge")
ADDON = {"tenant": "acme", "env": "dev", "addon_name": "cost-cache", "type": "redis", "plan": "premium-0"}
RESTRICTED = {
    "pod": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}


def prices() -> dict:
    return yaml.safe_load((SHARED_VARS / "prices.yml").read_text())["platykus_prices"]


def prometheus(lab) -> str:
    return "http://127.0.0.1:%d" % lab.lab.state()["controller_ports"]["prometheus"]["web"]


def prom_get(lab, path: str, **params) -> dict:
    url = "%s%s?%s" % (prometheus(lab), path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def samples(lab, query: str, start: int, end: int) -> dict[tuple, dict[int, Decimal]]:
    """The range query on the report's grid: {sorted label items: {t: value}}."""
    first, last = start // STEP * STEP, (end - 1) // STEP * STEP
    answer = prom_get(lab, "/api/v1/query_range", query=query, start=first, end=last, step="%ds" % STEP)
    return {
        tuple(sorted(s["metric"].items())): {int(float(t)): Decimal(v) for t, v in s["values"]}
        for s in answer["data"]["result"]
    }


def piece(t: int, start: int, end: int) -> Decimal:
    return Decimal(max(0, min(t + STEP, end) - max(t, start)))


def node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "type": "kwok",
                "node.kubernetes.io/instance-type": NODE_TYPE,
                "topology.kubernetes.io/zone": "us-east-1a",
                "karpenter.sh/capacity-type": "on-demand",
            },
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "metrics.k8s.io/resource-metrics-path": "/metrics/nodes/%s/metrics/resource" % name,
            },
        },
        "spec": {},
        "status": {
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
        },
    }


def pod(namespace: str, name: str, cpu: str, memory: str, usage_cpu: str, node_name: str | None = None) -> dict:
    spec: dict = {
        "securityContext": RESTRICTED["pod"],
        "containers": [
            {
                "name": "main",
                "image": "example/%s" % name,
                "securityContext": RESTRICTED["container"],
                "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": "2", "memory": "2Gi"}},
            }
        ],
    }
    if node_name:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node_name}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"platykus.io/cost-test": "history"},
            "annotations": {"kwok.x-k8s.io/usage-cpu": usage_cpu, "kwok.x-k8s.io/usage-memory": "10Mi"},
        },
        "spec": spec,
    }


def claim_and_balancer() -> list[dict]:
    namespace, name = CLAIM
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "cost-history-%s" % name, "labels": {"platykus.io/cost-test": "history"}},
        "spec": {
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": "/tmp/cost-history"},
            "claimRef": {"namespace": namespace, "name": name},
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "labels": {"platykus.io/cost-test": "history"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "volumeName": volume["metadata"]["name"],
            "resources": {"requests": {"storage": "2Gi"}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": BALANCER[1], "namespace": BALANCER[0], "labels": {"platykus.io/cost-test": "history"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "none"}, "ports": [{"port": 443, "targetPort": 8443}]},
    }
    return [volume, claim, service]


def bound(lab) -> bool:
    got = lab.kubectl("get", "pvc", CLAIM[1], "-n", CLAIM[0], "-o", "json", check=False)
    return got.returncode == 0 and json.loads(got.stdout)["status"].get("phase") == "Bound"


def running(lab, namespace: str, name: str) -> bool:
    got = lab.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return got.returncode == 0 and json.loads(got.stdout)["status"].get("phase") == "Running"


def set_cost_explorer(lab, day: str) -> None:
    """moto's Cost Explorer answers the next get_cost_and_usage with these groups."""
    groups = [
        {"Keys": ["%s$%s" % (TAG, tenant), service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
        for tenant, service, amount in CE_LINES + [CE_UNTAGGED]
    ]
    result = {"ResultsByTime": [{"TimePeriod": {"Start": day, "End": day}, "Groups": groups, "Estimated": False}]}
    endpoint = lab_aws.env_exports(lab.lab)["AWS_ENDPOINT_URL"]
    request = urllib.request.Request(
        endpoint + "/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": [result]}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


@pytest.fixture(scope="module")
def history(lab, tmp_path_factory):
    """Tenants onboarded; a node and a pod that come and go; the report of the window from Prometheus."""
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok, onboarding.output[-3000:]
    start = int(time.time())
    created = lab.playbook("playbooks/addon-create.yml", extra_vars=ADDON)
    assert created.ok, created.output[-3000:]
    lab.apply(node(NODE))
    wait_for("node %s Ready" % NODE, lambda: "Ready" in lab.kubectl("get", "node", NODE, check=False).stdout)
    lab.apply([pod(*SHORT_POD, "500m", "1Gi", "10m", NODE), pod(*LONG_POD, "250m", "256Mi", "750m")])
    lab.apply(claim_and_balancer())
    for namespace, name in (SHORT_POD, LONG_POD):
        wait_for("pod %s/%s Running" % (namespace, name), lambda n=namespace, p=name: running(lab, n, p))
    wait_for("PVC %s/%s Bound" % CLAIM, lambda: bound(lab))
    time.sleep(40)
    lab.kubectl("delete", "service", BALANCER[1], "-n", BALANCER[0], "--wait=true")
    lab.kubectl("delete", "pvc", CLAIM[1], "-n", CLAIM[0], "--wait=true")
    lab.kubectl("delete", "pod", SHORT_POD[1], "-n", SHORT_POD[0], "--grace-period=0", "--force", check=False)
    wait_for("pod %s gone" % SHORT_POD[1], lambda: not running(lab, *SHORT_POD))
    time.sleep(10)
    lab.kubectl("delete", "node", NODE, "--wait=true")
    time.sleep(20)  # a few scrapes after both are gone, so Prometheus has marked them stale
    gone = {k: ADDON[k] for k in ("tenant", "env", "addon_name")}
    destroyed = lab.playbook("playbooks/addon-destroy.yml", extra_vars={**gone, "confirm": ADDON["addon_name"]})
    assert destroyed.ok, destroyed.output[-3000:]
    time.sleep(15)  # scrapes after the add-on's Secret is gone
    end = int(time.time()) - 1
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    set_cost_explorer(lab, window[0].date().isoformat())
    out = tmp_path_factory.mktemp("usage")
    run = lab.playbook(
        "playbooks/usage-report.yml",
        extra_vars={
            "usage_report_dir": str(out),
            "usage_report_window_start": window[0].isoformat(),
            "usage_report_window_end": window[1].isoformat(),
            "usage_report_source": "prometheus",
            "usage_report_prometheus_url": prometheus(lab),
            "usage_report_prometheus_step": "%ds" % STEP,
            "usage_report_aws_costs": {"enabled": True},
            "usage_report_publish": True,
        },
    )
    assert run.ok, run.output[-4000:]
    report = json.loads((out / ("usage-%s.json" % window[1].date().isoformat())).read_text())
    yield {"report": report, "start": start, "end": end}
    lab.kubectl(
        "delete", "pod", "-A", "-l", "platykus.io/cost-test=history", "--grace-period=0", "--force", check=False
    )
    lab.kubectl("delete", "node", NODE, "--wait=false", check=False)
    lab.kubectl("delete", "pvc,service", "-A", "-l", "platykus.io/cost-test=history", "--wait=false", check=False)
    lab.kubectl("delete", "pv", "-l", "platykus.io/cost-test=history", "--wait=false", check=False)


def node_prices(catalog: dict, instance_type: str, cores: Decimal, gib: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    hourly = Decimal(str(catalog["instance_types"][instance_type]))
    weight = Decimal(str(catalog["cpu_ram_weight"]))
    gib_price = hourly / (weight * cores + gib)
    return hourly, weight * gib_price, gib_price


def expected_namespace(lab, history, namespace: str) -> Decimal:
    """Cost of a namespace from the samples: each step max(request, usage) at its node's prices."""
    start, end = history["start"], history["end"]
    catalog = prices()
    nodes = {n["name"]: n for n in history["report"]["nodes"]}
    requests = samples(lab, 'kube_pod_resource_request{namespace="%s"}' % namespace, start, end)
    cpu_use = samples(
        lab,
        'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{namespace="%s",container!="",container!="POD"}[60s]))'
        % namespace,
        start,
        end,
    )
    mem_use = samples(
        lab,
        'sum by (namespace, pod) (container_memory_working_set_bytes{namespace="%s",container!="",container!="POD"})'
        % namespace,
        start,
        end,
    )
    per_step: dict[tuple[str, int], dict] = {}
    for labels, points in requests.items():
        meta = dict(labels)
        for t, value in points.items():
            entry = per_step.setdefault(
                (meta["pod"], t), {"node": meta["node"], "cpu": Decimal(0), "memory": Decimal(0)}
            )
            entry[meta["resource"]] += value
    total = Decimal(0)
    for (pod_name, t), entry in per_step.items():
        key = (("namespace", namespace), ("pod", pod_name))
        cores = max(entry["cpu"], cpu_use.get(key, {}).get(t, Decimal(0)))
        size = max(entry["memory"], mem_use.get(key, {}).get(t, Decimal(0)))
        row = nodes[entry["node"]]
        _hourly, core_price, gib_price = node_prices(
            catalog, row["instance_type"], Decimal(str(row["cores"])), Decimal(str(row["memory_gib"]))
        )
        if row["capacity_type"] == "spot":
            factor = 1 - Decimal(str(catalog["spot_discount"]))
            core_price, gib_price = core_price * factor, gib_price * factor
        total += piece(t, start, end) / 3600 * (cores * core_price + size / GIB * gib_price)
    return total


def own_cost(row: dict) -> Decimal:
    """A namespace's pods, volumes and balancers: its total less its part of its nodes' unrequested capacity."""
    return sum((Decimal(str(row["cost"][k])) for k in ("cpu", "memory", "storage", "loadbalancer")), Decimal(0))


def test_deleted_pod_is_charged_to_the_cent_from_the_samples(lab, history):
    rows = {row["name"]: row for row in history["report"]["namespaces"]}
    assert history["report"]["options"]["source"] == "prometheus"
    expected = expected_namespace(lab, history, SHORT_POD[0])
    # It ran about 40 s (0.5 core, 1 GiB on an m5.large at 0.096/h): charged for its samples, not zero.
    assert expected > 0
    assert abs(own_cost(rows[SHORT_POD[0]]) - expected) <= Decimal("0.0001")
    core_hours = Decimal(str(rows[SHORT_POD[0]]["core_hours"]))
    assert Decimal("0.5") * 30 / 3600 <= core_hours <= Decimal("0.5") * 80 / 3600
    # The pod no longer exists: the objects source cannot charge it.
    assert not running(lab, *SHORT_POD)


def test_usage_above_request_is_charged(lab, history):
    rows = {row["name"]: row for row in history["report"]["namespaces"]}
    expected = expected_namespace(lab, history, LONG_POD[0])
    assert abs(own_cost(rows[LONG_POD[0]]) - expected) <= Decimal("0.0001")
    # 0.75 cores used against 0.25 requested: the core-hours are above what the request alone gives.
    start, end = history["start"], history["end"]
    cpu = samples(lab, 'kube_pod_resource_request{namespace="%s",pod="%s",resource="cpu"}' % LONG_POD, start, end)
    requested = sum(v * piece(t, start, end) for points in cpu.values() for t, v in points.items()) / 3600
    assert requested > 0
    assert Decimal(str(rows[LONG_POD[0]]["core_hours"])) > requested * Decimal("1.2")


def test_removed_node_is_charged_for_its_lifetime(lab, history):
    start, end = history["start"], history["end"]
    row = {n["name"]: n for n in history["report"]["nodes"]}[NODE]
    seen = samples(lab, 'up{job="kubernetes-nodes",node="%s"}' % NODE, start, end)
    assert len(seen) == 1
    seconds = sum(piece(t, start, end) for t in next(iter(seen.values())))
    assert row["hours"] == pytest.approx(float(seconds / 3600), abs=0.0001)
    assert row["cost"] == pytest.approx(
        float(seconds / 3600 * Decimal(str(prices()["instance_types"][NODE_TYPE]))), abs=0.0001
    )
    # It lived ~60-80 s of the window (Ready, 40 s of pod, 10 s, deleted), give or take a step.
    assert 40 <= seconds <= 120
    assert lab.kubectl("get", "node", NODE, check=False).returncode != 0


def test_deleted_claim_and_balancer_are_charged_for_their_lives(lab, history):
    """From kube-state-metrics' series (the stand-in's): each step a sample stands for, clipped to the window."""
    start, end = history["start"], history["end"]
    claim = 'namespace="%s",persistentvolumeclaim="%s"' % CLAIM
    sized = samples(lab, "kube_persistentvolumeclaim_resource_requests_storage_bytes{%s}" % claim, start, end)
    bound_at = samples(lab, 'kube_persistentvolumeclaim_status_phase{%s,phase="Bound"} == 1' % claim, start, end)
    assert len(sized) == 1 and len(bound_at) == 1
    points = next(iter(sized.values()))
    steps = [t for t in next(iter(bound_at.values())) if t in points]
    gib_hours = sum(points[t] / GIB * piece(t, start, end) for t in steps) / 3600
    # Bound for the ~50 s it lived (40 s, then the deletions), give or take a step; 2 GiB
    assert Decimal(2) * 20 / 3600 <= gib_hours <= Decimal(2) * 120 / 3600
    row = {n["name"]: n for n in history["report"]["namespaces"]}[CLAIM[0]]
    assert Decimal(str(row["storage_gib_hours"])) == pytest.approx(gib_hours, abs=Decimal("0.0001"))
    gp3 = Decimal(str(prices()["storage_classes"]["gp3"]))
    assert Decimal(str(row["cost"]["storage"])) == pytest.approx(gib_hours * gp3 / 730, abs=Decimal("0.0001"))
    assert lab.kubectl("get", "pvc", CLAIM[1], "-n", CLAIM[0], check=False).returncode != 0

    typed = samples(
        lab, 'kube_service_spec_type{namespace="%s",service="%s",type="LoadBalancer"}' % BALANCER, start, end
    )
    seconds = sum(piece(t, start, end) for t in next(iter(typed.values())))
    assert 20 <= seconds <= 120
    assert row["loadbalancer_hours"] == pytest.approx(float(seconds / 3600), abs=0.0001)
    hourly = Decimal(str(prices()["loadbalancer_hourly"]))
    assert row["cost"]["loadbalancer"] == pytest.approx(float(seconds / 3600 * hourly), abs=0.0001)


def test_conservation_tenants_idle_shared_equal_node_cost(history):
    report = history["report"]
    # Out-of-cluster lines (Cost Explorer, add-ons at their plan price) are on top of the nodes' cost.
    in_cluster = sum(
        Decimal(str(t["cost"]["total"])) - sum(Decimal(str(t["cost"].get(k, 0))) for k in ("aws", "addons"))
        for t in report["tenants"]
    )
    parts = (
        in_cluster
        + Decimal(str(report["idle"]["cost"]["total"]))
        + Decimal(str(report["platform"]["cost"]["total"]))
        + Decimal(str(report["unassigned"]["cost"]["total"]))
    )
    whole = sum(Decimal(str(report["total"][k])) for k in ("nodes", "storage", "loadbalancer"))
    # Each line is rounded to 4 decimals on its own.
    assert abs(parts - whole) <= Decimal("0.0001") * (len(report["tenants"]) + 4)
    assert whole > 0


def test_viewer_reads_its_own_report_and_not_another_tenants(lab, history):
    def as_viewer(tenant: str, namespace: str):
        return lab.kubectl(
            "get", "configmap", "platykus-cost-report", "-n", namespace, "-o", "json",
            "--as", "someone@%s" % tenant, "--as-group", VIEWER[tenant], check=False,
        )  # fmt: skip

    own = as_viewer("acme", "acme-dev")
    assert own.returncode == 0, own.stderr
    data = json.loads(own.stdout)["data"]
    mine = json.loads(data["report.json"])
    assert [t["name"] for t in mine["tenants"]] == ["acme"]
    assert {n["name"] for n in mine["namespaces"]} <= {"acme-dev", "acme-prod"}
    assert "<svg" in data["report.html"] and "globex" not in data["report.html"]
    full = {t["name"]: t for t in history["report"]["tenants"]}
    assert mine["tenants"][0]["cost"]["total"] == full["acme"]["cost"]["total"]
    other = as_viewer("acme", "globex-prod")
    assert other.returncode != 0 and "forbidden" in other.stderr.lower()
    theirs = as_viewer("globex", "globex-prod")
    assert theirs.returncode == 0, theirs.stderr


def test_tenant_cost_metric_matches_the_report(lab, history):
    full = {t["name"]: t for t in history["report"]["tenants"]}

    def metric():
        result = prom_get(lab, "/api/v1/query", query='platykus_tenant_cost{tenant="acme"}')["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    # On a kept lab the previous run's figure is there until the new rules are loaded: wait for this one.
    total = full["acme"]["cost"]["total"]
    value = wait_for(
        "platykus_tenant_cost for acme in Prometheus", lambda: metric() == pytest.approx(total, abs=1e-9), timeout=60
    )
    assert value
    assert metric() == pytest.approx(full["acme"]["cost"]["total"], abs=1e-9)
    budget = prom_get(lab, "/api/v1/query", query='platykus_tenant_budget{tenant="acme"}')["data"]["result"]
    assert float(budget[0]["value"][1]) == full["acme"]["budget"]


def test_cost_explorer_lines_per_tag_in_the_tenant_total(history):
    report = history["report"]
    acme = {t["name"]: t for t in report["tenants"]}["acme"]
    lines = {line["service"]: line["cost"] for line in acme["out_of_cluster"] if line["source"] == "aws"}
    assert lines == {service: float(amount) for _tenant, service, amount in CE_LINES}
    assert acme["cost"]["aws"] == pytest.approx(14.75)
    in_cluster = sum(acme["cost"][k] for k in ("cpu", "memory", "storage", "loadbalancer", "idle", "platform"))
    assert acme["cost"]["total"] == pytest.approx(in_cluster + 14.75 + acme["cost"]["addons"], abs=0.0003)
    assert report["out_of_cluster"]["untagged"] == [{"service": CE_UNTAGGED[1], "cost": 0.75}]
    assert report["out_of_cluster"]["tag_key"] == TAG


def test_destroyed_addon_is_charged_for_the_hours_it_was_sampled(lab, history):
    """The add-on's Secret is gone at report time; the history prices its samples at its plan."""
    start, end = history["start"], history["end"]
    name = ADDON["addon_name"]
    labels = samples(lab, 'kube_secret_labels{label_platykus_io_addon="%s"}' % name, start, end)
    plans = samples(lab, 'kube_secret_annotations{secret="addon-%s"}' % name, start, end)
    assert len(labels) == 1 and len(plans) == 1
    assert dict(next(iter(plans)))["annotation_platykus_io_addon_plan"] == ADDON["plan"]
    planned = next(iter(plans.values()))
    seconds = sum(piece(t, start, end) for t in next(iter(labels.values())) if t in planned)
    # It lived from before the node to after the node's deletion: ~100 s, give or take the playbooks.
    assert 60 <= seconds <= 400
    line = next(a for a in history["report"]["addons"]["lines"] if (a["tenant"], a["addon"]) == ("acme", name))
    monthly = Decimal(str(yaml.safe_load((LAB_INVENTORY / "group_vars/all/addons.yml").read_text())
                          ["platykus_addons"]["plans"]["redis"][ADDON["plan"]]["monthly"]))  # fmt: skip
    assert (line["type"], line["plan"], line["charged_by"]) == ("redis", ADDON["plan"], "catalog")
    assert Decimal(str(line["hours"])) == pytest.approx(seconds / 3600, abs=Decimal("0.0001"))
    assert Decimal(str(line["cost"])) == pytest.approx(monthly * seconds / 3600 / 730, abs=Decimal("0.0001"))
    assert line["cost"] > 0
    assert lab.kubectl("get", "secret", "addon-" + name, "-n", "acme-dev", check=False).returncode != 0
