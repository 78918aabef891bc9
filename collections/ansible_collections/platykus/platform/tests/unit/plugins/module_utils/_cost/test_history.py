# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus history source and Cost Explorer lines, over answers built here (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate
from ansible_collections.platykus.platform.plugins.module_utils._cost.aws_costs import read_costs, window_days
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import (
    METRIC_PROFILES,
    Grid,
    History,
    history_queries,
    matrix,
    parse_step,
    pod_runs,
    samples,
    service_objects,
    volume_objects,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.history_reference import reference_runs

GIB = 2**30
START = datetime(2024, 6, 1, tzinfo=UTC)
T0 = int(START.timestamp())
HOUR = 3600
# m5.xlarge, weight 8: GiB-hour = 0.192 / (8 x 4 + 16) = 0.004, core-hour = 0.032
PRICES = {"currency": "USD", "cpu_ram_weight": 8, "instance_types": {"m5.xlarge": 0.192}}
NAMESPACES = [
    {"metadata": {"name": "acme-dev", "labels": {"platykus.io/tenant": "acme"}}},
    {"metadata": {"name": "globex-dev", "labels": {"platykus.io/tenant": "globex"}}},
]


def series(labels: dict, points: dict[int, float]) -> dict:
    return {"metric": labels, "values": [[t, str(v)] for t, v in sorted(points.items())]}


def answer(*result: dict) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": list(result)}}


def hours(first: int, count: int, value: float) -> dict[int, float]:
    return {T0 + (first + i) * HOUR: value for i in range(count)}


class FakePrometheus:
    """Range queries answered from series, filtered to [first, last] as Prometheus does."""

    def __init__(self, by_key: dict[str, list[dict]]) -> None:
        self.by_key = by_key
        self.asked: list[tuple[str, int, int]] = []

    def fetch(self, query: str, first: int, last: int) -> dict:
        key = next(k for k, q in self.queries.items() if q == query)
        self.asked.append((key, first, last))
        out = []
        for s in self.by_key.get(key, []):
            values = [[t, v] for t, v in s["values"] if first <= t <= last]
            if values:
                out.append({"metric": s["metric"], "values": values})
        return answer(*out)


def report(prom: FakePrometheus, end_hour: int = 10, prices: dict | None = None, **kwargs) -> dict:
    window = make_window(START, datetime.fromtimestamp(T0 + end_hour * HOUR, UTC))
    prom.queries = history_queries("scheduler", None, HOUR)
    history = History(prom.queries, Grid(window, HOUR), prom.fetch)
    return allocate(
        nodes=[],
        pods=[],
        namespaces=NAMESPACES,
        catalog=validate_prices(prices or PRICES),
        window=window,
        tenants=[{"name": "acme"}, {"name": "globex"}],
        history=history,
        **kwargs,
    )


def cluster(node_hours: int = 10) -> dict[str, list[dict]]:
    node = {"node": "n1", "instance_type": "m5.xlarge", "capacity_type": "on-demand", "zone": "a"}
    return {
        "volumes": [],
        "loadbalancers": [],
        "nodes": [series(node, hours(0, node_hours, 1))],
        "node_capacity": [
            series({"node": "n1", "resource": "cpu"}, hours(0, node_hours, 4)),
            series({"node": "n1", "resource": "memory"}, hours(0, node_hours, 16 * GIB)),
        ],
        "pod_requests": [
            # a pod that ran hours 1-3 and is gone: 1 core, 2 GiB
            series({"namespace": "acme-dev", "pod": "gone", "node": "n1", "resource": "cpu"}, hours(1, 3, 1)),
            series({"namespace": "acme-dev", "pod": "gone", "node": "n1", "resource": "memory"}, hours(1, 3, 2 * GIB)),
            series({"namespace": "globex-dev", "pod": "web", "node": "n1", "resource": "cpu"}, hours(0, 10, 0.5)),
        ],
        # globex's pod used 2 cores in hour 5: it pays max(request, usage) = 2 for that hour
        "pod_cpu_usage": [series({"namespace": "globex-dev", "pod": "web"}, {T0 + 5 * HOUR: 2})],
        "pod_memory_usage": [],
    }


def test_deleted_pod_is_charged_from_its_samples():
    rows = {t["name"]: t for t in report(FakePrometheus(cluster()))["tenants"]}
    # 3 hours x (1 core x 0.032 + 2 GiB x 0.004) = 3 x 0.04 = 0.12
    assert rows["acme"]["cost"]["cpu"] + rows["acme"]["cost"]["memory"] == 0.12
    # + its part of n1's unrequested capacity in hours 1-3, when it ran beside globex's pod (0.65 core on average
    # over its day, 0.0208 an hour): (4 - 1.65) x 3 = 7.05 core-h x 0.032 + (16 - 2) x 3 = 42 GiB-h x 0.004
    # = 0.3936, acme 0.04 : globex 0.0208 -> 0.2589
    assert rows["acme"]["cost"]["idle"] == 0.2589
    assert rows["acme"]["cost"]["total"] == 0.3789
    assert rows["acme"]["core_hours"] == 3.0
    # 9 hours x 0.5 + 1 hour x 2 = 6.5 core-hours x 0.032 = 0.208
    assert rows["globex"]["core_hours"] == 6.5
    assert rows["globex"]["cost"]["cpu"] == 0.208


def test_node_lifetime_and_conservation():
    out = report(FakePrometheus(cluster(node_hours=6)))
    assert out["nodes"][0]["hours"] == 6.0
    assert out["total"]["nodes"] == pytest.approx(6 * 0.192)
    tenants = sum(t["cost"]["total"] for t in out["tenants"])
    assert tenants + out["idle"]["cost"]["total"] == pytest.approx(out["total"]["nodes"], abs=0.0002)


def test_one_day_at_a_time_and_whole_window_for_nodes():
    prom = FakePrometheus(cluster())
    report(prom, end_hour=30)
    days = [(f, last) for key, f, last in prom.asked if key == "pod_requests"]
    assert days == [(T0, T0 + 23 * HOUR), (T0 + 24 * HOUR, T0 + 29 * HOUR)]
    assert [(f, last) for key, f, last in prom.asked if key == "nodes"] == [(T0, T0 + 29 * HOUR)]


def test_missing_capacity_names_the_query():
    data = cluster()
    data["node_capacity"] = []
    with pytest.raises(PlatykusError, match="node_capacity"):
        report(FakePrometheus(data))


@pytest.mark.parametrize("step, seconds", [("60s", 60), ("5m", 300), ("1h", 3600), ("10", 10)])
def test_steps(step, seconds):
    assert parse_step(step) == seconds


@pytest.mark.parametrize("step", ["7m", "0s", "1d", "", None, "abc"])
def test_bad_steps_name_the_field(step):
    with pytest.raises(PlatykusError, match="prometheus_step: .* divid"):
        parse_step(step)


def test_profiles_have_every_query_and_overrides_are_checked():
    for profile in METRIC_PROFILES:
        assert set(history_queries(profile, None, 60)) == {
            "nodes",
            "node_capacity",
            "pod_requests",
            "pod_cpu_usage",
            "pod_memory_usage",
            "volumes",
            "loadbalancers",
            "addon_labels",
            "addon_annotations",
        }
    assert "[300s]" in history_queries("scheduler", None, 300)["pod_cpu_usage"]
    with pytest.raises(PlatykusError, match="prometheus_queries.pods: not a query"):
        history_queries("scheduler", {"pods": "up"}, 60)
    with pytest.raises(PlatykusError, match="prometheus_metrics: 'ksm' is not one of"):
        history_queries("ksm", None, 60)


def test_error_answer_names_the_query():
    prom = FakePrometheus(cluster())
    prom.fetch = lambda *_args: {"status": "error", "error": "parse error"}
    window = make_window(START, datetime.fromtimestamp(T0 + HOUR, UTC))
    history = History(history_queries("scheduler", None, HOUR), Grid(window, HOUR), prom.fetch)
    with pytest.raises(PlatykusError, match="nodes query: Prometheus answered error: parse error"):
        history.node_objects()


# -- Cost Explorer --------------------------------------------------------------------------------
class FakeCostExplorer:
    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages
        self.requests: list[dict] = []

    def get_cost_and_usage(self, **request):
        self.requests.append(request)
        return self.pages[len(self.requests) - 1]


def group(tag: str, service: str, amount: str, unit: str = "USD") -> dict:
    return {
        "Keys": ["platykus.io/tenant$" + tag, service],
        "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": unit}},
    }


def ce_pages(unit: str = "USD") -> list[dict]:
    day = {"TimePeriod": {"Start": "2024-06-01", "End": "2024-06-02"}}
    return [
        {
            "ResultsByTime": [
                dict(day, Groups=[group("acme", "Amazon S3", "1.25", unit), group("", "AWS KMS", "0.5", unit)])
            ],
            "NextPageToken": "p2",
        },
        {
            "ResultsByTime": [
                dict(day, Groups=[group("acme", "Amazon RDS", "2", unit), group("ghost", "Amazon S3", "3", unit)])
            ]
        },
    ]


def test_cost_explorer_lines_in_the_tenant_total():
    ce = FakeCostExplorer(ce_pages())
    window = make_window(START, datetime.fromtimestamp(T0 + 10 * HOUR, UTC))
    costs = read_costs(ce, window, "platykus.io/tenant", "UnblendedCost", "USD")
    assert ce.requests[0]["TimePeriod"] == {"Start": "2024-06-01", "End": "2024-06-02"}
    assert ce.requests[1]["NextPageToken"] == "p2"
    out = report(FakePrometheus(cluster()), aws_costs=costs)
    acme = {t["name"]: t for t in out["tenants"]}["acme"]
    assert acme["cost"]["aws"] == 3.25
    assert acme["cost"]["total"] == pytest.approx(
        0.3789 + 3.25
    )  # in cluster (test_deleted_pod_is_charged_from_its_samples) + AWS
    assert acme["out_of_cluster"] == [
        {"source": "aws", "service": "Amazon RDS", "cost": 2.0},
        {"source": "aws", "service": "Amazon S3", "cost": 1.25},
    ]
    assert out["out_of_cluster"]["untagged"] == [{"service": "AWS KMS", "cost": 0.5}]
    assert out["out_of_cluster"]["unknown_tenants"] == {"ghost": [{"service": "Amazon S3", "cost": 3.0}]}
    assert out["total"]["out_of_cluster"] == 6.75
    assert acme["daily"][0]["cost"] == pytest.approx(3.6289)


def test_cost_explorer_other_currency_is_refused():
    window = make_window(START, datetime.fromtimestamp(T0 + 10 * HOUR, UTC))
    with pytest.raises(PlatykusError, match="answered in EUR"):
        read_costs(FakeCostExplorer(ce_pages("EUR")), window, "platykus.io/tenant", "UnblendedCost", "USD")


def test_window_days_cover_partial_days():
    window = make_window("2024-06-01T05:00:00Z", "2024-06-03T00:00:00Z")
    assert window_days(window) == ("2024-06-01", "2024-06-03")
    window = make_window("2024-06-01T05:00:00Z", "2024-06-02T01:00:00Z")
    assert window_days(window) == ("2024-06-01", "2024-06-03")


def test_decimal_exact():
    assert Decimal("0.12") == Decimal(3) * (Decimal("0.032") + 2 * Decimal("0.004"))


# -- volumes and balancers over time, the day sums -------------------------------------------------
PRICED = dict(PRICES, storage_classes={"gp3": 0.08}, loadbalancer_hourly=0.025)


def test_deleted_claim_and_balancer_are_charged_for_their_lives():
    data = cluster()
    claim = {"namespace": "acme-dev", "persistentvolumeclaim": "data", "storageclass": "gp3"}
    # 10 GiB for hours 0-3, resized to 20 GiB for hours 4-5, then deleted
    data["volumes"] = [series(claim, {**hours(0, 4, 10 * GIB), **hours(4, 2, 20 * GIB)})]
    data["loadbalancers"] = [series({"namespace": "globex-dev", "service": "edge"}, hours(2, 3, 1))]
    out = report(FakePrometheus(data), prices=PRICED)
    rows = {n["name"]: n for n in out["namespaces"]}
    # 10 GiB x 4 h + 20 GiB x 2 h = 80 GiB-hours at 0.08 per GiB-month (730 h)
    assert rows["acme-dev"]["storage_gib_hours"] == 80.0
    assert rows["acme-dev"]["cost"]["storage"] == pytest.approx(80 * 0.08 / 730, abs=0.0001)
    assert rows["globex-dev"]["loadbalancer_hours"] == 3.0
    assert rows["globex-dev"]["cost"]["loadbalancer"] == pytest.approx(3 * 0.025)


def test_volume_and_service_objects_split_runs_and_clip_to_the_window():
    window = make_window(START, datetime.fromtimestamp(T0 + 10 * HOUR, UTC))
    grid = Grid(window, HOUR)
    claims = {("ns", "c", ""): {T0 + 0 * HOUR: 1, T0 + HOUR: 1, T0 + 3 * HOUR: 1, T0 + 9 * HOUR: 2}}
    objects = volume_objects(claims, grid)
    assert [(o["metadata"]["creationTimestamp"], o["metadata"].get("deletionTimestamp")) for o in objects] == [
        ("2024-06-01T00:00:00Z", "2024-06-01T02:00:00Z"),
        ("2024-06-01T03:00:00Z", "2024-06-01T04:00:00Z"),
        ("2024-06-01T09:00:00Z", None),  # still there at the window's end
    ]
    assert objects[0]["spec"] == {"storageClassName": None} and objects[2]["status"]["capacity"] == {"storage": "2"}
    lbs = service_objects({("ns", "lb"): {T0 + 2 * HOUR: 1, T0 + 3 * HOUR: 1}}, grid)
    assert lbs == [
        {
            "metadata": {
                "name": "lb",
                "namespace": "ns",
                "creationTimestamp": "2024-06-01T02:00:00Z",
                "deletionTimestamp": "2024-06-01T04:00:00Z",
            },
            "spec": {"type": "LoadBalancer"},
        }
    ]


def test_whole_steps():
    window = make_window(datetime.fromtimestamp(T0 + 1200, UTC), datetime.fromtimestamp(T0 + 5 * HOUR + 600, UTC))
    grid = Grid(window, HOUR)
    assert grid.points(window.start, window.end) == (T0, T0 + 5 * HOUR)
    assert grid.whole == (T0 + HOUR, T0 + 4 * HOUR)
    short = make_window(datetime.fromtimestamp(T0 + 60, UTC), datetime.fromtimestamp(T0 + 120, UTC))
    first, last = Grid(short, HOUR).whole
    assert first > last


# -- the float reading against the Decimal-per-sample reading it replaced ------------------------------
def hard_cases() -> dict[str, list[dict]]:
    """Fractions that do not add up in binary, usage above and below the request, a memory-only request,
    usage without a request, a pod on two nodes at one step, two request series of one pod, NaN."""
    pod = {"namespace": "acme-dev", "pod": "p", "node": "n1"}
    return {
        "pod_requests": [
            series(dict(pod, resource="cpu"), hours(0, 24, 0.1)),
            series(dict(pod, resource="memory"), hours(0, 24, 0.3 * GIB)),
            series({**pod, "pod": "mem", "resource": "memory"}, hours(0, 24, 0.7 * GIB)),
            series({**pod, "pod": "two", "resource": "cpu"}, hours(0, 12, 0.25)),
            series({**pod, "pod": "two", "node": "n2", "resource": "cpu"}, hours(10, 14, 0.25)),
            series({**pod, "pod": "x", "resource": "cpu"}, hours(0, 24, 0.2)),
            series({**pod, "pod": "x", "resource": "cpu", "priority": "y"}, hours(0, 24, 0.15)),
            series({**pod, "pod": "nan", "resource": "cpu"}, {T0: "NaN", T0 + HOUR: 0.5}),
            series({**pod, "pod": "gpu", "resource": "nvidia.com/gpu"}, hours(0, 24, 1)),
        ],
        "pod_cpu_usage": [
            series({"namespace": "acme-dev", "pod": "p"}, {T0 + i * HOUR: 0.07 * (i % 5) for i in range(24)}),
            series({"namespace": "acme-dev", "pod": "mem"}, hours(0, 24, 0.3)),
            series({"namespace": "acme-dev", "pod": "ghost"}, hours(0, 24, 2)),
            series({"namespace": "acme-dev", "pod": "two"}, hours(0, 24, 0.33)),
        ],
        "pod_memory_usage": [
            series({"namespace": "acme-dev", "pod": "p"}, {T0 + i * HOUR: (0.1 + 0.05 * i) * GIB for i in range(24)}),
        ],
    }


@pytest.mark.parametrize("start_s, end_s", [(0, 86400), (1234, 86400 - 77), (600, 1800)])
def test_float_reading_equals_the_decimal_reading(start_s, end_s):
    window = make_window(datetime.fromtimestamp(T0 + start_s, UTC), datetime.fromtimestamp(T0 + end_s, UTC))
    grid = Grid(window, HOUR)
    data = hard_cases()
    labels = {"pod_requests": ("namespace", "pod", "node", "resource")}
    answers = {key: answer(*data[key]) for key in data}
    read = {key: samples(answers[key], key, labels.get(key, ("namespace", "pod"))) for key in data}
    old = {key: matrix(answers[key], key, labels.get(key, ("namespace", "pod"))) for key in data}
    new = pod_runs(read["pod_requests"], read["pod_cpu_usage"], read["pod_memory_usage"], grid, window.start)
    ref = reference_runs(old["pod_requests"], old["pod_cpu_usage"], old["pod_memory_usage"], grid)
    assert set(new) == set(ref)
    for node, runs in ref.items():
        got = {(r.namespace, r.name): r for r in new[node]}
        assert set(got) == {run[0] for run in runs}
        for key, micros, cores, gib, first in runs:
            run = got[key]
            assert run.start == max(window.start, datetime.fromtimestamp(first, UTC)), key
            assert run.end - run.start == timedelta(microseconds=micros), key
            assert abs(run.cores - cores) <= Decimal("1e-12"), key
            assert abs(run.gib - gib) <= Decimal("1e-12"), key
    names = {r.name for runs in new.values() for r in runs}
    assert "ghost" not in names and "gpu" not in names and "mem" in names
