# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Allocation tests. Every expected cost is computed by hand in the comments next to it."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import (
    pod_interval,
    pod_requests,
    usage_from_prometheus,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.cost_fixtures import (
    example_report,
    nodes_report,
)


def by_name(rows):
    return {row["name"]: row for row in rows}


# -- the worked example of docs/cost.md ----------------------------------------------------------
def test_worked_example_nodes(cost_example):
    nodes = by_name(example_report(cost_example)["nodes"])
    # node-a m5.xlarge on demand, weight 8: GiB-hour = 0.192 / (8 x 4 + 16) = 0.004, core-hour = 0.032
    # 10 hours in the window: 10 x 0.192 = 1.92
    assert nodes["node-a"]["core_hour_price"] == 0.032
    assert nodes["node-a"]["gib_hour_price"] == 0.004
    assert nodes["node-a"]["hours"] == 10.0
    assert nodes["node-a"]["cost"] == 1.92
    # node-b c5.large spot: 0.085 x (1 - 0.6) = 0.034; GiB-hour = 0.034 / (8 x 2 + 4) = 0.0017, core-hour 0.0136
    # created 12:00, so 6 hours: 6 x 0.034 = 0.204
    assert nodes["node-b"]["capacity_type"] == "spot"
    assert nodes["node-b"]["hourly"] == 0.034
    assert nodes["node-b"]["core_hour_price"] == 0.0136
    assert nodes["node-b"]["gib_hour_price"] == 0.0017
    assert nodes["node-b"]["cost"] == 0.204


def test_worked_example_namespaces(cost_example):
    ns = by_name(example_report(cost_example)["namespaces"])
    acme = ns["acme-prod"]
    # web-1: 1 core x 10 h = 10 core-h x 0.032 = 0.32; 4 GiB x 10 h = 40 GiB-h x 0.004 = 0.16
    # web-2 (spot node-b, from 12:00): 0.5 x 6 = 3 core-h x 0.0136 = 0.0408; 1 x 6 = 6 GiB-h x 0.0017 = 0.0102
    # web-3 is Pending: nothing.
    # data PVC: 73 GiB x 10 h = 730 GiB-h x 0.08 / 730 = 0.08
    assert acme["core_hours"] == 13.0  # 10 + 3
    assert acme["gib_hours"] == 46.0  # 40 + 6
    assert acme["storage_gib_hours"] == 730.0
    # + its part of the capacity its pods' nodes had unrequested (test_worked_example_idle_and_totals): 0.6274
    assert acme["cost"] == {
        "cpu": 0.3608,
        "memory": 0.1702,
        "storage": 0.08,
        "loadbalancer": 0.0,
        "idle": 0.6274,
        "total": 1.2384,
    }
    assert (acme["idle_core_hours"], acme["idle_gib_hours"]) == (17.3697, 69.6303)
    globex = ns["globex-dev"]
    # batch-1: started 06:00 (before the window), finished 13:00 -> 5 h: 2 x 5 = 10 core-h x 0.032 = 0.32,
    #          2 x 5 = 10 GiB-h x 0.004 = 0.04
    # api-1: requests 0.25 core / 1 GiB, uses 0.5 core / 0.5 GiB -> charged 0.5 core and 1 GiB:
    #          0.5 x 10 = 5 core-h x 0.032 = 0.16; 1 x 10 = 10 GiB-h x 0.004 = 0.04
    # api LoadBalancer: 10 h x 0.0225 = 0.225
    assert globex["core_hours"] == 15.0
    assert globex["gib_hours"] == 20.0
    assert globex["loadbalancer_hours"] == 10.0
    assert globex["cost"] == {
        "cpu": 0.48,
        "memory": 0.08,
        "storage": 0.0,
        "loadbalancer": 0.225,
        "idle": 0.3056,
        "total": 1.0906,
    }
    assert (globex["idle_core_hours"], globex["idle_gib_hours"]) == (4.1303, 43.3697)
    platform = ns["platykus-system"]
    # controller: 0.25 x 10 = 2.5 core-h x 0.032 = 0.08; 0.5 x 10 = 5 GiB-h x 0.004 = 0.02
    assert platform["category"] == "platform"
    assert platform["cost"]["total"] == 0.1


def test_worked_example_idle_and_totals(cost_example):
    report = example_report(cost_example)
    # Unrequested capacity, stretch by stretch, to the tenants whose pods ran there, by their pods' cost per hour
    # (acme web-1 0.032 + 0.016 = 0.048; globex batch-1 0.064 + 0.008 = 0.072, api-1 0.016 + 0.004 = 0.020):
    # node-a 08:00-13:00: 4 - 3.75 = 0.25 core x 5 h = 1.25 core-h x 0.032 = 0.04; 16 - 7.5 = 8.5 GiB x 5 h
    #         = 42.5 GiB-h x 0.004 = 0.17 -> 0.21, acme 0.048 : globex 0.092 -> acme 0.072, globex 0.138
    # node-a 13:00-18:00 (batch-1 done): 2.25 core x 5 = 11.25 core-h x 0.032 = 0.36; 10.5 GiB x 5 = 52.5 GiB-h
    #         x 0.004 = 0.21 -> 0.57, acme 0.048 : globex 0.020 -> acme 0.57 x 12/17 = 0.4024, globex 0.1676
    # node-b 12:00-18:00, web-2 alone: 9 core-h x 0.0136 = 0.1224 + 18 GiB-h x 0.0017 = 0.0306 -> acme 0.153
    # acme 0.072 + 0.4024 + 0.153 = 0.6274; globex 0.138 + 0.1676 = 0.3056; the platform's controller takes none,
    # and no node ran without a tenant pod: nothing is left idle.
    assert report["idle"]["core_hours"] == 0.0
    assert report["idle"]["gib_hours"] == 0.0
    assert report["idle"]["cost"] == {"cpu": 0.0, "memory": 0.0, "total": 0.0}
    assert report["idle"]["charged_to_tenants"] == 0.933  # 0.21 + 0.57 + 0.153: what idle was before
    # cluster: nodes 1.92 + 0.204 = 2.124; + storage 0.08 + LB 0.225 = 2.429
    #        = acme 1.2384 + globex 1.0906 + platform 0.1 + idle 0
    assert report["total"] == {
        "nodes": 2.124,
        "storage": 0.08,
        "loadbalancer": 0.225,
        "cost": 2.429,
        "forecast": 174.888,
    }  # 2.429 x 720 / 10
    assert report["unpriced"] == []


def test_worked_example_tenants_budget_and_forecast(cost_example):
    tenants = by_name(example_report(cost_example)["tenants"])
    acme = tenants["acme"]
    # forecast = cost x (June: 720 h) / (window: 10 h) = cost x 72
    # acme: 1.2384 / 50 = 2.48 % spent; 1.23835 x 72 = 89.1614 -> 178.32 % -> forecast over 100, capped at warning
    assert acme["cost"]["total"] == 1.2384
    assert acme["budget"] == 50.0
    assert acme["percent_used"] == 2.48
    assert acme["forecast"] == 89.1614
    assert acme["forecast_percent"] == 178.32
    assert acme["status"] == "warning"
    assert acme["cost_center"] == "cc-1001"
    # globex: 1.0906 / 100 = 1.09 %; 1.09065 x 72 = 78.5266 -> 78.53 % -> notice
    globex = tenants["globex"]
    assert (globex["percent_used"], globex["forecast"], globex["status"]) == (1.09, 78.5266, "notice")
    assert globex["daily"] == [{"date": "2024-06-10", "cost": 1.0906, "cumulative": 1.0906}]
    # conservation to the cent: the tenants, the platform and idle are the cluster
    assert acme["cost"]["total"] + globex["cost"]["total"] + 0.1 == pytest.approx(2.429, abs=0.0001)


def test_without_usage_requests_are_charged(cost_example):
    globex = by_name(example_report(cost_example, usage=None)["namespaces"])["globex-dev"]
    # api-1 at its request 0.25 core: 2.5 core-h x 0.032 = 0.08 instead of 0.16 -> cpu 0.32 + 0.08 = 0.40
    assert globex["cost"]["cpu"] == 0.4


# -- sharing idle and the platform -----------------------------------------------------------------
def one_node(pods, **kwargs):
    return nodes_report({"n1": pods}, **kwargs)


SHARE_PODS = [("a", "2", "4Gi"), ("b", "1", "4Gi"), ("platykus-system", "500m", "2Gi")]
# n2 runs only a platform pod: its unrequested capacity stays idle (the pool that idle: share spreads)
PLATFORM_NODE = {"n1": SHARE_PODS[:2], "n2": SHARE_PODS[2:]}


def test_idle_and_platform_shared_pro_rata():
    report = nodes_report(PLATFORM_NODE, idle="share", platform="share")
    tenants = by_name(report["tenants"])
    # 0.032 per core-h, 0.004 per GiB-h, 10 h.
    # a: 2 x 10 x 0.032 + 4 x 10 x 0.004 = 0.64 + 0.16 = 0.80; b: 0.32 + 0.16 = 0.48 -> weights 0.80 : 0.48 = 5 : 3
    # n1 (a and b): unrequested (4 - 3) x 10 x 0.032 + (16 - 8) x 10 x 0.004 = 0.32 + 0.32 = 0.64, theirs 5 : 3:
    #    a 0.40, b 0.24
    # n2 (platform only): platform 0.5 x 10 x 0.032 + 2 x 10 x 0.004 = 0.16 + 0.08 = 0.24;
    #    idle 1.92 - 0.24 = 1.68, shared 5 : 3 with the platform: a 1.05 + 0.15, b 0.63 + 0.09
    # a: 0.80 + idle 0.40 + 1.05 + platform 0.15 = 2.40; b: 0.48 + 0.24 + 0.63 + 0.09 = 1.44; a + b = 3.84 = 2 nodes
    assert tenants["a"]["cost"]["idle"] == 1.45
    assert tenants["a"]["cost"]["platform"] == 0.15
    assert tenants["a"]["cost"]["total"] == 2.4
    assert tenants["b"]["cost"]["total"] == 1.44
    assert report["idle"]["charged_to_tenants"] == 0.64
    assert report["idle"]["shared_to_tenants"] == 1.68
    assert report["platform"]["shared_to_tenants"] == 0.24
    assert tenants["b"]["status"] == "no_budget"


def test_separate_lines_by_default():
    report = nodes_report(PLATFORM_NODE)
    assert by_name(report["tenants"])["a"]["cost"]["total"] == 1.2  # 0.80 + its part of n1, 0.40
    assert report["idle"]["cost"]["total"] == 1.68  # n2
    assert report["platform"]["cost"]["total"] == 0.24
    assert report["idle"]["shared_to_tenants"] == 0.0


def test_daily_series_across_midnight():
    report = one_node([("a", "2", "4Gi")], start="2024-06-10T12:00:00Z", end="2024-06-11T12:00:00Z")
    a = by_name(report["tenants"])["a"]
    # a's pod is alone on n1, so a pays the node: 0.192 per hour; 12 h on each day = 2.304
    assert a["daily"] == [
        {"date": "2024-06-10", "cost": 2.304, "cumulative": 2.304},
        {"date": "2024-06-11", "cost": 2.304, "cumulative": 4.608},
    ]


def test_month_to_date_forecast():
    budget = [{"name": "a", "budget": {"monthly": 120}}, {"name": "b"}]
    report = one_node([("a", "2", "4Gi")], window=make_window(now="2024-06-16T00:00:00Z"), tenants=budget)
    a = by_name(report["tenants"])["a"]
    # a is alone on n1 and pays it: June 1 -> June 16 = 360 h of 720: spent 0.192 x 360 = 69.12,
    # forecast 69.12 x 720 / 360 = 138.24; of 120: 57.6 % spent (notice), forecast 115.2 %
    # (would be exceeded, capped at warning) -> warning
    assert report["window"]["month_to_date"] is True
    assert report["window"]["start"] == "2024-06-01T00:00:00Z"
    assert (a["cost"]["total"], a["forecast"], a["percent_used"], a["forecast_percent"]) == (69.12, 138.24, 57.6, 115.2)
    assert a["status"] == "warning"
    assert len(a["daily"]) == 15


# -- unpriced and bad inputs -------------------------------------------------------------------------
def unpriced_example(example):
    ex = copy.deepcopy(example)
    ex["nodes"][1]["metadata"]["labels"]["node.kubernetes.io/instance-type"] = "x2gd.medium"
    return ex


def test_unpriced_instance_type_fails_naming_node_type_and_fix(cost_example):
    with pytest.raises(PlatykusError) as err:
        example_report(unpriced_example(cost_example))
    message = str(err.value)
    assert "node-b" in message and "x2gd.medium" in message
    assert "platykus_prices.instance_types" in message
    assert err.value.field == "prices.instance_types"


def test_unpriced_instance_type_reported_never_zero(cost_example):
    report = example_report(unpriced_example(cost_example), unpriced="report")
    (line,) = report["unpriced"]
    # web-2 ran 6 h on node-b at 0.5 core / 1 GiB: 3 core-h and 6 GiB-h, uncharged but listed
    assert (line["kind"], line["name"], line["instance_type"]) == ("Node", "node-b", "x2gd.medium")
    assert (line["hours"], line["core_hours"], line["gib_hours"]) == (6.0, 3.0, 6.0)
    assert line["namespaces"] == ["acme-prod"]
    assert "platykus_prices.instance_types" in line["fix"]
    # acme keeps its usage but is charged only web-1, the PVC and its part of node-a's unrequested capacity:
    # 0.32 + 0.16 + 0.08 + 0.072 + 0.4024 = 1.0344; nothing of node-b, which has no price
    acme = by_name(report["namespaces"])["acme-prod"]
    assert (acme["core_hours"], acme["cost"]["total"]) == (13.0, 1.0344)
    assert report["total"]["nodes"] == 1.92


def test_spot_node_without_spot_price_fails(cost_example):
    ex = cost_example
    del ex["prices"]["spot_discount"]
    with pytest.raises(PlatykusError, match="spot_discount"):
        example_report(ex)


def test_unpriced_storage_class_and_loadbalancer(cost_example):
    ex = cost_example
    ex["pvcs"][0]["spec"]["storageClassName"] = "io2"
    with pytest.raises(PlatykusError) as err:
        example_report(ex)
    assert err.value.field == "prices.storage_classes" and "acme-prod/data" in str(err.value)
    del ex["prices"]["loadbalancer_hourly"]
    report = example_report(ex, unpriced="report")
    kinds = {(u["kind"], u["name"]) for u in report["unpriced"]}
    assert kinds == {("PersistentVolumeClaim", "acme-prod/data"), ("Service", "globex-dev/api")}


def test_pods_on_a_vanished_node_are_listed_as_unpriced(cost_example):
    ex = cost_example
    ex["nodes"] = ex["nodes"][:1]
    report = example_report(ex)
    (line,) = report["unpriced"]
    assert line["name"] == "node-b" and "no longer exists" in line["reason"]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(window_start="2024-06-10T18:00:00Z", window_end="2024-06-10T08:00:00Z"), "window_end"),
        (dict(window_start="2024-06-10T08:00:00Z", window_end="2024-06-10T08:00:00Z"), "window_end"),
        (dict(window_start="yesterday"), "window_start"),
        (dict(window_end="2024-06-10T08:00:00Z"), "window_start"),
        (dict(month_to_date=False), "window_start"),
        (dict(now="soon"), "now"),
    ],
)
def test_bad_windows_name_the_field(kwargs, field):
    with pytest.raises(PlatykusError) as err:
        make_window(**kwargs)
    assert err.value.field == field
    assert field in str(err.value)


def test_window_end_after_now_is_refused():
    # A report taken at 12:00 cannot charge the afternoon: running pods would be billed for hours not yet run.
    with pytest.raises(PlatykusError) as err:
        make_window("2024-06-10T08:00:00Z", "2024-06-10T18:00:00Z", now="2024-06-10T12:00:00Z")
    assert err.value.field == "window_end"
    assert "window_end: 2024-06-10T18:00:00Z is after now (2024-06-10T12:00:00Z)" in str(err.value)
    assert make_window("2024-06-10T08:00:00Z", "2024-06-10T12:00:00Z", now="2024-06-10T12:00:00Z").hours == 4


def test_budget_without_currency_is_usd(cost_example):
    # The tenant spec's rule: no currency means USD, whatever the prices' currency is.
    tenants = [{"name": "acme", "budget": {"monthly": 50}}]
    assert by_name(example_report(cost_example, tenants=tenants)["tenants"])["acme"]["budget"] == 50.0
    cost_example["prices"]["currency"] = "EUR"
    with pytest.raises(PlatykusError) as err:
        example_report(cost_example, tenants=tenants)
    assert err.value.field == "tenants[acme].budget.currency"
    assert "not set, so the budget is in USD" in str(err.value) and "set budget.currency: EUR" in str(err.value)


@pytest.mark.parametrize(
    "tenants, field",
    [
        ([{"name": "acme", "budget": {"monthly": 50, "currency": "EUR"}}], "tenants[acme].budget.currency"),
        ([{"name": "acme", "budget": {"monthly": 50, "currency": "ZZZ"}}], "tenants[acme].budget.currency"),
        ([{"name": "acme", "budget": {"monthly": -5}}], "tenants[acme].budget.monthly"),
        ([{"budget": {"monthly": 5}}], "tenants[0].name"),
    ],
)
def test_bad_budgets_name_the_field(cost_example, tenants, field):
    with pytest.raises(PlatykusError) as err:
        example_report(cost_example, tenants=tenants)
    assert err.value.field == field


@pytest.mark.parametrize("option, value", [("idle", "spread"), ("platform", "x"), ("unpriced", "ignore")])
def test_bad_choices(cost_example, option, value):
    with pytest.raises(PlatykusError) as err:
        example_report(cost_example, **{option: value})
    assert err.value.field == option


# -- pods ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pod, expected",
    [
        ({"spec": {}, "status": {"phase": "Pending"}, "metadata": {"name": "p"}}, None),
        ({"spec": {"nodeName": "n"}, "status": {"phase": "Pending"}, "metadata": {"name": "p"}}, None),
        (
            {
                "spec": {"nodeName": "n"},
                "status": {"phase": "Running"},
                "metadata": {"name": "p", "creationTimestamp": "2024-06-10T08:00:00Z"},
            },
            ("2024-06-10T08:00:00+00:00", None),
        ),
        (
            {
                "spec": {"nodeName": "n"},
                "status": {
                    "phase": "Failed",
                    "startTime": "2024-06-10T08:00:00Z",
                    "containerStatuses": [
                        {"state": {"terminated": {"finishedAt": "2024-06-10T09:00:00Z"}}},
                        {"state": {"terminated": {"finishedAt": "2024-06-10T09:30:00Z"}}},
                    ],
                },
                "metadata": {"name": "p"},
            },
            ("2024-06-10T08:00:00+00:00", "2024-06-10T09:30:00+00:00"),
        ),
        (
            {
                "spec": {"nodeName": "n"},
                "status": {"phase": "Running", "startTime": "2024-06-10T08:00:00Z"},
                "metadata": {"name": "p", "deletionTimestamp": "2024-06-10T10:00:00Z"},
            },
            ("2024-06-10T08:00:00+00:00", "2024-06-10T10:00:00+00:00"),
        ),
    ],
)
def test_pod_interval(pod, expected):
    interval = pod_interval(pod)
    if expected is None:
        assert interval is None
    else:
        assert (interval[0].isoformat(), interval[1].isoformat() if interval[1] else None) == expected


def test_pod_requests_count_init_containers_and_overhead():
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
                {"resources": {"requests": {"cpu": "250m"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "128Mi"}}}],
            "overhead": {"cpu": "100m", "memory": "64Mi"},
        },
    }
    # cpu: max(0.25 + 0.25, 1) + 0.1 = 1.1; memory: max(256Mi, 128Mi) + 64Mi = 320Mi
    assert pod_requests(pod) == (Decimal("1.1"), Decimal(320 * 2**20))


def test_bad_request_names_the_pod_and_field():
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]},
    }
    with pytest.raises(PlatykusError, match=r"Pod n/p spec.containers\[0\].resources.requests.cpu"):
        pod_requests(pod)


def test_usage_from_prometheus():
    cpu = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"namespace": "a", "pod": "p"}, "value": [1718000000, "0.75"]},
                {"metric": {"namespace": "a"}, "value": [1718000000, "9"]},
            ],
        },
    }
    mem = [{"metric": {"namespace": "a", "pod": "p"}, "value": [1718000000, "1073741824"]}]
    assert usage_from_prometheus(cpu, mem) == {("a", "p"): {"cpu": Decimal("0.75"), "memory": Decimal(2**30)}}
    with pytest.raises(PlatykusError, match="Prometheus answered error"):
        usage_from_prometheus({"status": "error", "error": "bad query"}, [])
