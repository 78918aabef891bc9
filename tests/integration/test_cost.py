"""Usage, cost and budgets per tenant on the lab (docs/cost.md).

Simulated workloads with known requests run in tenant namespaces and a platform namespace; the
expected money is computed here from what the API server holds (each pod's node, startTime and
requests, each node's instance type and capacity) and the lab's price catalog, then compared with
usage_report. Budget enforcement is proved by the API server refusing a pod; AWS Budgets run
against the moto server on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import yaml
from conftest import LAB_INVENTORY, ROOT, SHARED_VARS, run_module

pytestmark = pytest.mark.lab

GIB = Decimal(2**30)
HOURS_PER_MONTH = Decimal(730)
TENANT_LABEL = "platykus.io/tenant"
PLATFORM_NS = "kube-system"
WORKLOAD_LABEL = "platykus.io/cost-test"
UNPRICED_NODE = "mystery-0"
UNPRICED_TYPE = "x9.mystery"

RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


# -- inputs ---------------------------------------------------------------------------------------
def prices() -> dict:
    return yaml.safe_load((SHARED_VARS / "prices.yml").read_text())["platykus_prices"]


def tenants(**budgets: float) -> list[dict]:
    """The lab's tenant specs; ``acme=0.01`` replaces acme's monthly budget."""
    specs = [yaml.safe_load(p.read_text()) for p in sorted((LAB_INVENTORY / "tenants").glob("*.yml"))]
    for spec in specs:
        if spec["name"] in budgets:
            spec["budget"] = {"monthly": budgets[spec["name"]], "currency": "USD"}
    return specs


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def quantity(text: str) -> Decimal:
    """Enough of the Kubernetes quantity grammar for the values these tests write."""
    text = str(text)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40), ("m", Decimal("0.001"))):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * Decimal(factor)
    return Decimal(text)


def deployment(namespace: str, name: str, replicas: int, cpu: str, memory: str, init: dict | None = None) -> dict:
    container = {
        "name": name,
        "image": "example/%s" % name,
        "securityContext": RESTRICTED_CONTAINER,
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": "1", "memory": "2Gi"}},
    }
    spec = dict(RESTRICTED_POD, containers=[container])
    if init:
        spec["initContainers"] = [
            {
                "name": "init",
                "image": "example/init",
                "securityContext": RESTRICTED_CONTAINER,
                "resources": {"requests": init, "limits": {"cpu": "1", "memory": "2Gi"}},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {WORKLOAD_LABEL: "true"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, WORKLOAD_LABEL: "true"}}, "spec": spec},
        },
    }


WORKLOADS = [
    deployment("acme-dev", "web", 2, "500m", "1Gi"),
    # The init container is larger than the app: the pod reserves 1 core (max of the two), 512Mi.
    deployment("acme-prod", "api", 1, "250m", "512Mi", init={"cpu": "1", "memory": "256Mi"}),
    deployment("globex-prod", "batch", 3, "1", "2Gi"),
    deployment(PLATFORM_NS, "platform-agent", 1, "100m", "128Mi"),
]
EXPECTED_PODS = {"acme-dev": 2, "acme-prod": 1, "globex-prod": 3, PLATFORM_NS: 1}

STORAGE = [
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "cost-test-data", "labels": {WORKLOAD_LABEL: "true"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": "/tmp/cost-test-data"},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "acme-prod", "labels": {WORKLOAD_LABEL: "true"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "volumeName": "cost-test-data",
            "resources": {"requests": {"storage": "10Gi"}},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "public", "namespace": "globex-prod", "labels": {WORKLOAD_LABEL: "true"}},
        # The tenant quota allows no NodePorts; a cloud load balancer does not need them.
        "spec": {
            "type": "LoadBalancer",
            "allocateLoadBalancerNodePorts": False,
            "selector": {"app": "batch"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    },
]


def wait_for(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.5)


def running_pods(lab, namespace: str) -> list[dict]:
    pods = lab.get_json("pods", "-n", namespace, "-l", WORKLOAD_LABEL)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and p["status"].get("startTime")]


def quota(lab, namespace: str) -> dict:
    return lab.get_json("resourcequota", "tenant-quota", "-n", namespace)


def report_args(lab, window: tuple[datetime, datetime], **extra) -> dict:
    """The usage options for ``window``, reported as if run at its end (``now``).

    The window ends two hours ahead so the money is large enough to compare to 4 decimals; a
    window_end after the real now is refused (test_future_window_end_is_refused), so ``now`` says
    when the report is taken: the workloads keep running until then.
    """
    args = {
        "prices": prices(),
        "tenants": tenants(),
        "platform_namespaces": [PLATFORM_NS],
        "window_start": iso(window[0]),
        "window_end": iso(window[1]),
        "now": iso(window[1]),
        "kubeconfig": str(lab.kubeconfig),
    }
    args.update(extra)
    return args


def _cleanup_workloads(lab) -> None:
    for kind in ("deployments", "services", "persistentvolumeclaims"):
        lab.kubectl("delete", kind, "-A", "-l", WORKLOAD_LABEL, "--wait=false", check=False)
    lab.kubectl("delete", "pv", "-l", WORKLOAD_LABEL, "--wait=false", check=False)
    lab.kubectl(
        "delete", "pods", "-A", "-l", WORKLOAD_LABEL, "--wait=false", "--grace-period=0", "--force", check=False
    )


@pytest.fixture(scope="module")
def workloads(lab):
    """Tenants onboarded, the workloads Running and the PVC Bound; the charging window around them."""
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok, onboarding.output
    lab.apply(WORKLOADS + STORAGE)
    for namespace, count in EXPECTED_PODS.items():
        wait_for(
            "%d Running pods in %s" % (count, namespace), lambda ns=namespace, n=count: len(running_pods(lab, ns)) == n
        )
    wait_for(
        "PVC acme-prod/data Bound",
        lambda: lab.get_json("pvc", "data", "-n", "acme-prod")["status"].get("phase") == "Bound",
    )
    # A window from before everything started to two hours ahead: running pods are charged up to its end.
    now = datetime.now(UTC).replace(microsecond=0)
    window = (now - timedelta(minutes=30), now + timedelta(hours=2))
    yield window
    _cleanup_workloads(lab)
    # Leave the tenants as onboarding made them: limits restored, no budget annotations.
    run_module(lab, "tenant_budget", report_args(lab, window, enforce=False))
    for ns in lab.get_json("namespaces", "-l", TENANT_LABEL)["items"]:
        keys = [k + "-" for k in (ns["metadata"].get("annotations") or {}) if k.startswith("platykus.io/budget-")]
        if keys:
            lab.kubectl("annotate", "namespace", ns["metadata"]["name"], *keys, check=False)


# -- the expected figures, from what the API server holds ---------------------------------------
def expected_costs(lab, window: tuple[datetime, datetime]) -> dict:
    catalog = prices()
    weight = Decimal(str(catalog["cpu_ram_weight"]))
    start, end = window
    hours_in_window = Decimal((end - start).total_seconds()) / 3600

    def hours_from(moment: datetime) -> Decimal:
        return Decimal((end - max(start, moment)).total_seconds()) / 3600

    node_prices = {}
    nodes_cost = Decimal(0)
    for node in lab.get_json("nodes")["items"]:
        labels = node["metadata"]["labels"]
        hourly = Decimal(str(catalog["instance_types"][labels["node.kubernetes.io/instance-type"]]))
        if labels.get("karpenter.sh/capacity-type") == "spot":
            hourly *= 1 - Decimal(str(catalog["spot_discount"]))
        cores = quantity(node["status"]["capacity"]["cpu"])
        gib = quantity(node["status"]["capacity"]["memory"]) / GIB
        gib_price = hourly / (weight * cores + gib)
        node_prices[node["metadata"]["name"]] = (weight * gib_price, gib_price)
        nodes_cost += hourly * hours_from(parse(node["metadata"]["creationTimestamp"]))

    per_ns: dict[str, dict[str, Decimal]] = {}
    for namespace in EXPECTED_PODS:
        line = per_ns.setdefault(
            namespace,
            {
                "cpu": Decimal(0),
                "memory": Decimal(0),
                "storage": Decimal(0),
                "loadbalancer": Decimal(0),
                "core_hours": Decimal(0),
            },
        )
        for pod in running_pods(lab, namespace):
            spec = pod["spec"]

            def req(containers, key):
                return [quantity((c.get("resources", {}).get("requests") or {}).get(key, "0")) for c in containers]

            cores = max(sum(req(spec["containers"], "cpu")), max(req(spec.get("initContainers", []), "cpu"), default=0))
            mem = max(
                sum(req(spec["containers"], "memory")), max(req(spec.get("initContainers", []), "memory"), default=0)
            )
            hours = hours_from(parse(pod["status"]["startTime"]))
            core_price, gib_price = node_prices[spec["nodeName"]]
            line["cpu"] += cores * hours * core_price
            line["memory"] += mem / GIB * hours * gib_price
            line["core_hours"] += cores * hours
    pvc = lab.get_json("pvc", "data", "-n", "acme-prod")
    storage_gib_hours = (
        quantity(pvc["status"]["capacity"]["storage"]) / GIB * hours_from(parse(pvc["metadata"]["creationTimestamp"]))
    )
    per_ns["acme-prod"]["storage"] = (
        storage_gib_hours * Decimal(str(catalog["storage_classes"]["gp3"])) / HOURS_PER_MONTH
    )
    svc = lab.get_json("service", "public", "-n", "globex-prod")
    per_ns["globex-prod"]["loadbalancer"] = hours_from(parse(svc["metadata"]["creationTimestamp"])) * Decimal(
        str(catalog["loadbalancer_hourly"])
    )
    for line in per_ns.values():
        line["total"] = line["cpu"] + line["memory"] + line["storage"] + line["loadbalancer"]
    return {
        "namespaces": per_ns,
        "nodes": nodes_cost,
        "hours": hours_in_window,
        "storage_gib_hours": storage_gib_hours,
        "total": nodes_cost + per_ns["acme-prod"]["storage"] + per_ns["globex-prod"]["loadbalancer"],
    }


def close(actual: float, expected: Decimal, tolerance: str = "0.0002") -> bool:
    return abs(Decimal(str(actual)) - expected) <= Decimal(tolerance)


# -- usage_report ---------------------------------------------------------------------------------
def test_report_matches_the_figures_computed_from_the_api_server(lab, workloads):
    status, result = run_module(lab, "usage_report", report_args(lab, workloads))
    assert status == "SUCCESS", result
    report = result["report"]
    expected = expected_costs(lab, workloads)

    assert report["currency"] == "USD"
    assert close(report["window"]["hours"], expected["hours"])
    namespaces = {row["name"]: row for row in report["namespaces"]}
    for namespace, line in expected["namespaces"].items():
        row = namespaces[namespace]
        for component in ("cpu", "memory", "storage", "loadbalancer"):
            assert close(row["cost"][component], line[component]), (namespace, component, row["cost"], line)
        # a tenant namespace also pays its part of its nodes' unrequested capacity (test_cost_spread.py proves it)
        idle = Decimal(str(row["cost"].get("idle", 0)))
        assert close(row["cost"]["total"], line["total"] + idle), (namespace, row["cost"], line)
        line["idle"] = idle
        assert close(row["core_hours"], line["core_hours"]), (namespace, row, line)
        assert row["cost"]["total"] > 0
    assert namespaces["acme-dev"]["category"] == "tenant" and namespaces["acme-dev"]["tenant"] == "acme"
    assert namespaces[PLATFORM_NS]["category"] == "platform"
    assert close(namespaces["acme-prod"]["storage_gib_hours"], expected["storage_gib_hours"])
    assert namespaces["globex-prod"]["loadbalancer_hours"] > 0

    lines = {row["name"]: row for row in report["tenants"]}
    assert set(lines) == {"acme", "globex", "initech"}
    acme = sum(
        expected["namespaces"][ns]["total"] + expected["namespaces"][ns]["idle"] for ns in ("acme-dev", "acme-prod")
    )
    assert close(lines["acme"]["cost"]["total"], acme)
    assert lines["acme"]["namespaces"] == ["acme-dev", "acme-prod"]
    globex = expected["namespaces"]["globex-prod"]
    assert close(lines["globex"]["cost"]["total"], globex["total"] + globex["idle"])
    assert lines["initech"]["cost"]["total"] == 0.0  # onboarded, nothing running: a real zero
    month_hours = Decimal(str(report["window"]["month_hours"]))
    assert close(lines["acme"]["forecast"], acme * month_hours / expected["hours"], "0.01")
    # spent is far below 400; the forecast (with its nodes' unrequested capacity) sets the status
    forecast = Decimal(str(lines["acme"]["forecast"]))
    status = "ok" if forecast < 200 else "notice" if forecast < 320 else "warning"
    assert lines["acme"]["budget"] == 400.0 and lines["acme"]["status"] == status
    assert lines["acme"]["cost_center"] == "cc-1001"
    assert close(report["platform"]["cost"]["total"], expected["namespaces"][PLATFORM_NS]["total"])

    # Everything the nodes cost is either a pod's or idle; storage and load balancers come on top.
    assert close(report["total"]["nodes"], expected["nodes"], "0.001")
    assert close(report["total"]["cost"], expected["total"], "0.001")
    pods_and_idle = sum(
        Decimal(str(row["cost"]["cpu"])) + Decimal(str(row["cost"]["memory"])) for row in report["namespaces"]
    )
    pods_and_idle += sum(Decimal(str(row["cost"].get("idle", 0))) for row in report["namespaces"])
    pods_and_idle += Decimal(str(report["idle"]["cost"]["total"]))
    assert close(float(pods_and_idle), expected["nodes"], "0.002")
    priced = {row["name"]: row for row in report["nodes"]}
    assert all(row["priced"] for row in priced.values())
    assert {row["capacity_type"] for row in priced.values()} == {"on-demand", "spot"}
    assert report["unpriced"] == []


def test_report_is_the_same_twice(lab, workloads):
    first = run_module(lab, "usage_report", report_args(lab, workloads))[1]["report"]
    second = run_module(lab, "usage_report", report_args(lab, workloads), check=True)[1]["report"]
    assert first == second


@pytest.fixture
def unpriced_node(lab, workloads):
    """A simulated node of an instance type the catalog does not price, running one initech pod."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": UNPRICED_NODE,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "node.kubernetes.io/instance-type": UNPRICED_TYPE,
                "type": "kwok",
                "kubernetes.io/hostname": UNPRICED_NODE,
            },
        },
        "spec": {"taints": [{"key": "platykus.io/unpriced", "value": "true", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "10"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "10"},
        },
    }
    pod = deployment("initech-dev", "odd", 1, "200m", "256Mi")
    pod["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": UNPRICED_NODE}
    pod["spec"]["template"]["spec"]["tolerations"] = [{"key": "platykus.io/unpriced", "operator": "Exists"}]
    lab.apply([node, pod])
    wait_for("a Running pod on %s" % UNPRICED_NODE, lambda: len(running_pods(lab, "initech-dev")) == 1)
    yield
    lab.kubectl("delete", "deployment", "odd", "-n", "initech-dev", check=False)
    lab.kubectl("delete", "pods", "-n", "initech-dev", "-l", "app=odd", "--grace-period=0", "--force", check=False)
    lab.kubectl("delete", "node", UNPRICED_NODE, check=False)


def test_unpriced_instance_type_fails_naming_it(lab, unpriced_node, workloads):
    status, result = run_module(lab, "usage_report", report_args(lab, workloads))
    assert status == "FAILED"
    assert "node '%s' has instance type '%s', which has no price" % (UNPRICED_NODE, UNPRICED_TYPE) in result["msg"]
    assert "add '%s' to platykus_prices.instance_types" % UNPRICED_TYPE in result["msg"]


def test_unpriced_instance_type_is_listed_never_zero(lab, unpriced_node, workloads):
    status, result = run_module(lab, "usage_report", report_args(lab, workloads, unpriced="report"))
    assert status == "SUCCESS", result
    report = result["report"]
    lines = [row for row in report["unpriced"] if row["kind"] == "Node"]
    assert [row["name"] for row in lines] == [UNPRICED_NODE]
    line = lines[0]
    assert line["instance_type"] == UNPRICED_TYPE and "no price" in line["reason"]
    assert line["namespaces"] == ["initech-dev"]
    assert line["hours"] > 0 and line["core_hours"] > 0
    node = next(row for row in report["nodes"] if row["name"] == UNPRICED_NODE)
    assert node["priced"] is False and node["hourly"] is None  # not a price of 0
    # Its pod's hours are counted for initech, its money is not invented.
    initech = next(row for row in report["namespaces"] if row["name"] == "initech-dev")
    assert initech["core_hours"] > 0 and initech["cost"]["cpu"] == 0.0


def _bad(path: list, value) -> dict:
    catalog = prices()
    target = catalog
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return catalog


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"prices": _bad(["instance_types", "m5.xlarge"], -0.192)}, "prices.instance_types[m5.xlarge]", "negative"),
        ({"prices": _bad(["currency"], "XYZ")}, "prices.currency", "XYZ"),
        ({"prices": _bad(["loadbalancer_hourly"], -1)}, "prices.loadbalancer_hourly", "negative"),
        ({"window_start": "2024-06-10T00:00:00Z", "window_end": "2024-06-09T00:00:00Z"}, "window_end", "not after"),
        ({"window_start": "yesterday"}, "window_start", "ISO 8601"),
        ({"tenants": tenants(acme=-5)}, "budget.monthly", "positive"),
        (
            {"tenants": [{"name": "acme", "budget": {"monthly": 400}}], "prices": _bad(["currency"], "EUR")},
            "tenants[acme].budget.currency",
            "not set, so the budget is in USD",
        ),
    ],
    ids=[
        "negative-price",
        "unknown-currency",
        "negative-lb",
        "end-before-start",
        "bad-time",
        "negative-budget",
        "budget-defaults-to-usd",
    ],
)
def test_bad_inputs_are_refused_naming_the_field(lab, workloads, change, field, words):
    args = report_args(lab, workloads)
    args.update(change)
    status, result = run_module(lab, "usage_report", args)
    assert status == "FAILED"
    assert field in result["msg"] and words in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]


def test_future_window_end_is_refused(lab, workloads):
    args = report_args(lab, workloads)
    del args["now"]  # the real now: the window's end is two hours ahead of it
    status, result = run_module(lab, "usage_report", args)
    assert status == "FAILED"
    assert "window_end: %s is after now" % iso(workloads[1]) in result["msg"], result["msg"]


# -- Prometheus credentials never shown ------------------------------------------------------------
PROM_USER = "leaky-reporter"
PROM_PASSWORD = "s3cret-Pa55-9f2c"


def test_prometheus_credentials_in_the_url_are_not_shown(lab, workloads):
    """Unreachable Prometheus, credentials written into the URL: the error names the URL without them."""
    port = _free_port()  # nothing listens there: connection refused
    url = "http://%s:%s@127.0.0.1:%d" % (PROM_USER, PROM_PASSWORD, port)
    status, result = run_module(
        lab, "usage_report", report_args(lab, workloads, usage_source="prometheus", prometheus_url=url)
    )
    assert status == "FAILED", result
    assert "127.0.0.1:%d" % port in result["msg"] and "failed" in result["msg"], result["msg"]
    assert PROM_PASSWORD not in result["msg"] and PROM_USER not in result["msg"], result["msg"]
    assert PROM_PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("where", ["options", "url"])
def test_prometheus_password_absent_at_vvv(lab, workloads, tmp_path, where):
    port = _free_port()
    extra = {
        "usage_report_dir": str(tmp_path),
        "usage_report_window_start": iso(workloads[0]),
        "usage_report_window_end": iso(workloads[1]),
        "usage_report_now": iso(workloads[1]),
        "platykus_kubeconfig": str(lab.kubeconfig),
        "usage_report_usage_source": "prometheus",
    }
    if where == "options":
        extra.update(
            usage_report_prometheus_url="http://127.0.0.1:%d" % port,
            usage_report_prometheus_username=PROM_USER,
            usage_report_prometheus_password=PROM_PASSWORD,
        )
    else:
        extra["usage_report_prometheus_url"] = "http://%s:%s@127.0.0.1:%d" % (PROM_USER, PROM_PASSWORD, port)
    run = lab.playbook("playbooks/usage-report.yml", "-vvv", extra_vars=extra)
    assert not run.ok and "GET http://127.0.0.1:%d/api/v1/query" % port in run.output, run.output[-3000:]
    assert PROM_PASSWORD not in run.output
    # -vvv did print the module's arguments, with the password masked: the check above is not vacuous.
    masked = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" if where == "options" else "%s:********@127.0.0.1" % PROM_USER
    assert masked in run.output, run.output[-3000:]


# -- budgets, recorded and enforced on the API server ----------------------------------------------
def create_pod(lab, namespace: str, name: str) -> subprocess.CompletedProcess:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {WORKLOAD_LABEL: "true"}},
        "spec": dict(
            RESTRICTED_POD,
            containers=[
                {
                    "name": "c",
                    "image": "example/c",
                    "securityContext": RESTRICTED_CONTAINER,
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "100m", "memory": "128Mi"},
                    },
                }
            ],
        ),
    }
    return lab.kubectl("create", "-f", "-", check=False, input=json.dumps(pod))


def budget_args(lab, window, budget: float, enforce: bool = True) -> dict:
    args = report_args(lab, window, enforce=enforce)
    args["tenants"] = tenants(acme=budget)
    return args


def budget_events(lab, namespace: str, as_of: datetime) -> list[dict]:
    """The budget Events on a namespace for reports ending at ``as_of``, oldest first."""
    events = [
        e
        for e in lab.get_json("events", "-n", namespace)["items"]
        if e.get("source", {}).get("component") == "platykus-budget" and e.get("firstTimestamp") == iso(as_of)
    ]
    return sorted(events, key=lambda e: (e["metadata"]["creationTimestamp"], e["reason"] != "BudgetThresholdCrossed"))


def test_budget_exceeded_is_enforced_then_released(lab, workloads):
    originals = {ns: quota(lab, ns)["spec"]["hard"]["pods"] for ns in ("acme-dev", "acme-prod")}
    assert originals == {"acme-dev": "40", "acme-prod": "60"}
    over = budget_args(lab, workloads, 0.01)

    # Check mode predicts lowering both quotas and one event per namespace, and writes nothing.
    status, predicted = run_module(lab, "tenant_budget", over, check=True)
    assert status == "CHANGED", predicted
    assert {t["tenant"]: t["status"] for t in predicted["tenants"]}["acme"] == "exceeded"
    assert sorted(predicted["quotas"]["updated"]) == [
        "ResourceQuota/acme-dev/tenant-quota",
        "ResourceQuota/acme-prod/tenant-quota",
    ]
    assert len(predicted["events"]) == 2
    assert {ns: quota(lab, ns)["spec"]["hard"]["pods"] for ns in originals} == originals
    assert budget_events(lab, "acme-dev", workloads[1]) == []

    status, enforced = run_module(lab, "tenant_budget", over)
    assert status == "CHANGED", enforced
    for key in ("quotas", "events", "namespaces"):
        assert enforced[key] == predicted[key], key
    acme = next(t for t in enforced["tenants"] if t["tenant"] == "acme")
    assert acme["enforcement"] == {"acme-dev": "lower", "acme-prod": "lower"}

    # What the API server holds: lowered limits, the original kept, annotations and Events.
    for ns, count in (("acme-dev", 2), ("acme-prod", 1)):
        held = quota(lab, ns)
        assert held["spec"]["hard"]["pods"] == str(count)
        assert held["metadata"]["annotations"]["platykus.io/budget-original-pods"] == originals[ns]
        annotations = lab.get_json("namespace", ns)["metadata"]["annotations"]
        assert annotations["platykus.io/budget-status"] == "exceeded"
        assert annotations["platykus.io/budget-limit"] == "0.01 USD"
        assert annotations["platykus.io/budget-updated"] == iso(workloads[1])
        events = budget_events(lab, ns, workloads[1])
        assert [e["reason"] for e in events] == ["BudgetThresholdCrossed"]
        assert events[0]["type"] == "Warning" and "none -> exceeded" in events[0]["message"]
    assert lab.get_json("namespace", "globex-prod")["metadata"]["annotations"]["platykus.io/budget-status"] == "ok"

    # The API server refuses a new pod; running ones keep running.
    wait_for("the lowered quota in the quota status", lambda: quota(lab, "acme-dev")["status"]["hard"]["pods"] == "2")
    refused = create_pod(lab, "acme-dev", "one-too-many")
    assert refused.returncode != 0
    assert "exceeded quota: tenant-quota" in refused.stderr and "limited: pods=2" in refused.stderr, refused.stderr
    assert len(running_pods(lab, "acme-dev")) == 2

    # Same report again: nothing changes, no second event.
    status, again = run_module(lab, "tenant_budget", over)
    assert status == "SUCCESS" and again["changed"] is False, again
    assert next(t for t in again["tenants"] if t["tenant"] == "acme")["enforcement"] == {
        "acme-dev": "keep",
        "acme-prod": "keep",
    }
    assert len(budget_events(lab, "acme-dev", workloads[1])) == 1

    # Re-onboarding while enforced leaves the lowered limit alone (and changes nothing).
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok and onboarding.changed == 0, onboarding.output
    assert quota(lab, "acme-dev")["spec"]["hard"]["pods"] == "2"
    assert quota(lab, "acme-prod")["spec"]["hard"]["pods"] == "1"
    assert create_pod(lab, "acme-dev", "still-too-many").returncode != 0

    # Under budget again: check mode predicts the restore, the run restores it, a pod is admitted.
    under = budget_args(lab, workloads, 1000)
    status, predicted = run_module(lab, "tenant_budget", under, check=True)
    assert status == "CHANGED"
    assert quota(lab, "acme-dev")["spec"]["hard"]["pods"] == "2"
    status, restored = run_module(lab, "tenant_budget", under)
    assert status == "CHANGED"
    for key in ("quotas", "events", "namespaces"):
        assert restored[key] == predicted[key], key
    assert next(t for t in restored["tenants"] if t["tenant"] == "acme")["enforcement"] == {
        "acme-dev": "restore",
        "acme-prod": "restore",
    }
    for ns in originals:
        held = quota(lab, ns)
        assert held["spec"]["hard"]["pods"] == originals[ns]
        assert "platykus.io/budget-original-pods" not in (held["metadata"].get("annotations") or {})
        assert lab.get_json("namespace", ns)["metadata"]["annotations"]["platykus.io/budget-status"] == "ok"
        assert [e["reason"] for e in budget_events(lab, ns, workloads[1])] == [
            "BudgetThresholdCrossed",
            "BudgetStatusRecovered",
        ]
    status, again = run_module(lab, "tenant_budget", under)
    assert status == "SUCCESS" and again["changed"] is False, again

    wait_for("the restored quota in the quota status", lambda: quota(lab, "acme-dev")["status"]["hard"]["pods"] == "40")
    admitted = create_pod(lab, "acme-dev", "welcome-back")
    assert admitted.returncode == 0, admitted.stderr
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok and onboarding.changed == 0, onboarding.output


# -- the playbook's files ---------------------------------------------------------------------------
def test_usage_report_playbook_writes_every_format(lab, workloads, tmp_path):
    run = lab.playbook(
        "playbooks/usage-report.yml",
        extra_vars={
            "usage_report_dir": str(tmp_path),
            "usage_report_window_start": iso(workloads[0]),
            "usage_report_window_end": iso(workloads[1]),
            "usage_report_now": iso(workloads[1]),
            "platykus_kubeconfig": str(lab.kubeconfig),
        },
    )
    assert run.ok, run.output
    stem = "usage-%s" % iso(workloads[1])[:10]
    files = {ext: tmp_path / ("%s.%s" % (stem, ext)) for ext in ("json", "csv", "md", "html")}
    for ext, path in files.items():
        assert path.is_file(), ext
        text = path.read_text()
        for tenant in ("acme", "globex", "initech"):
            assert tenant in text, (ext, tenant)
    report = json.loads(files["json"].read_text())
    assert {t["name"] for t in report["tenants"]} == {"acme", "globex", "initech"}
    acme = next(t for t in report["tenants"] if t["name"] == "acme")
    assert acme["budget"] == 400.0  # the inventory's tenant specs were read, not only namespace labels
    assert files["csv"].read_text().splitlines()[0].count(",") >= 5
    html = files["html"].read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<script src" not in html and "<link " not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert html.count("<svg") >= 3  # one chart per tenant


# -- AWS Budgets against the moto server ---------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = "http://127.0.0.1:%d" % port

    def up():
        try:
            return urllib.request.urlopen(url + "/moto-api/", timeout=1).status == 200
        except OSError:
            return proc.poll() is not None  # stop waiting if it died

    wait_for("the moto server", up, timeout=30)
    assert proc.poll() is None, log.read_text()
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def aws_env(lab, moto_server, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)
    return moto_server


def aws_budgets(url: str) -> dict[str, dict]:
    import boto3

    client = boto3.client("budgets", endpoint_url=url, region_name="us-east-1")
    page = client.describe_budgets(AccountId="123456789012", MaxResults=100)
    found = {b["BudgetName"]: b for b in page.get("Budgets", [])}
    for name in found:
        found[name]["notifications"] = client.describe_notifications_for_budget(
            AccountId="123456789012", BudgetName=name, MaxResults=100
        )["Notifications"]
    return found


@pytest.mark.aws
def test_aws_budgets_one_per_tenant_then_pruned(lab, workloads, aws_env):
    url = aws_env
    aws = {"enabled": True, "endpoint_url": url, "notify": {"emails": ["finops@example.com"]}}
    args = report_args(lab, workloads, aws_budgets=aws)

    status, predicted = run_module(lab, "tenant_budget", args, check=True)
    assert status == "CHANGED", predicted
    assert predicted["aws_budgets"]["created"] == ["platykus-acme", "platykus-globex", "platykus-initech"]
    assert aws_budgets(url) == {}

    status, first = run_module(lab, "tenant_budget", args)
    assert status == "CHANGED", first
    assert first["aws_budgets"]["created"] == predicted["aws_budgets"]["created"]
    held = aws_budgets(url)
    assert sorted(held) == ["platykus-acme", "platykus-globex", "platykus-initech"]
    acme = held["platykus-acme"]
    assert acme["BudgetLimit"] == {"Amount": "400", "Unit": "USD"}
    assert acme["TimeUnit"] == "MONTHLY" and acme["BudgetType"] == "COST"
    assert acme["CostFilters"] == {"TagKeyValue": ["user:platykus:cost-center$cc-1001"]}
    kinds = sorted((n["NotificationType"], n["Threshold"]) for n in acme["notifications"])
    assert kinds == [("ACTUAL", 50.0), ("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0)]

    status, second = run_module(lab, "tenant_budget", args)
    assert status == "SUCCESS" and second["changed"] is False, second
    assert second["aws_budgets"]["unchanged"] == ["platykus-acme", "platykus-globex", "platykus-initech"]
    # moto lacks DescribeSubscribersForNotification: said so, neither hidden nor a failure.
    warnings = second["aws_budgets"]["warnings"]
    assert len(warnings) == 3 and all(
        "subscribers of its notifications not checked" in w and "does not implement" in w for w in warnings
    ), warnings

    # A changed limit is predicted (moto lacks UpdateBudget, so only check mode runs it here).
    changed = copy.deepcopy(args)
    changed["tenants"] = tenants(globex=950)
    status, update = run_module(lab, "tenant_budget", changed, check=True)
    assert update["aws_budgets"]["updated"] == ["platykus-globex"], update

    # initech leaves: its budget is pruned, the others stay.
    gone = copy.deepcopy(args)
    gone["tenants"] = [t for t in tenants() if t["name"] != "initech"]
    gone["tenants"].append({"name": "initech"})  # still has namespaces, no budget any more
    status, check_prune = run_module(lab, "tenant_budget", gone, check=True)
    assert check_prune["aws_budgets"]["deleted"] == ["platykus-initech"]
    assert "platykus-initech" in aws_budgets(url)
    status, pruned = run_module(lab, "tenant_budget", gone)
    assert status == "CHANGED" and pruned["aws_budgets"]["deleted"] == ["platykus-initech"], pruned
    assert sorted(aws_budgets(url)) == ["platykus-acme", "platykus-globex"]
    status, again = run_module(lab, "tenant_budget", gone)
    assert again["changed"] is False and again["aws_budgets"]["deleted"] == []
