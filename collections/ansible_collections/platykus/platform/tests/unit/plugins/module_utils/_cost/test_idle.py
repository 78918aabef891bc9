# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who pays a node's unrequested capacity (docs/cost.md, "Idle"): the tenants whose pods ran on it then.

Every node is an m5.xlarge (4 cores, 16 GiB, 0.192 an hour: 0.032 per core-hour, 0.004 per GiB-hour), the
window 10 hours, so a node costs 1.92. Every expected cost is computed by hand in the comments next to it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils._cost.test_history import (
    GIB,
    HOUR,
    NAMESPACES,
    PRICES,
    START,
    T0,
    FakePrometheus,
    hours,
    report,
    series,
)
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.cost_fixtures import m5_node, nodes_report

KARPENTER = {"karpenter.sh/nodepool": "default", "karpenter.sh/capacity-type": "on-demand"}


def by_name(rows):
    return {row["name"]: row for row in rows}


def in_cluster(out: dict) -> float:
    """Every line the cluster's nodes, volumes and balancers are charged to."""
    lines = [t["cost"]["total"] for t in out["tenants"]]
    lines += [out["platform"]["cost"]["total"], out["unassigned"]["cost"]["total"], out["idle"]["cost"]["total"]]
    return sum(lines)


def test_spread_pods_pay_the_nodes_they_made_karpenter_buy():
    # ten pods of 10m / 16Mi, two per node (hostname anti-affinity would make it one; two keeps it a split):
    # 100m of requests on five nodes Karpenter bought for them
    nodes = {"spread-%d" % n: [("a", "10m", "16Mi")] * 2 for n in range(5)}
    out = nodes_report(nodes, labels=dict.fromkeys(nodes, KARPENTER))
    a = by_name(out["tenants"])["a"]
    # a pays the five nodes: 5 x 1.92 = 9.60; its requests are 10 x (0.01 x 10 x 0.032 + 1/64 x 10 x 0.004)
    # = 10 x 0.003825 = 0.03825 of it, the nodes' unrequested capacity the other 9.56175
    assert a["cost"]["total"] == 9.6
    assert a["cost"]["idle"] == 9.5618
    assert a["idle_core_hours"] == pytest.approx(5 * (4 - 0.02) * 10)  # 199 core-hours bought and not requested
    assert out["idle"]["cost"]["total"] == 0.0
    assert out["idle"]["charged_to_tenants"] == 9.5618
    assert out["total"]["nodes"] == 9.6
    # over budget (50 a month): 9.60 of it in 10 hours forecasts 691.2, and the status says so
    assert a["status"] == "warning" and a["forecast"] == 691.2


def test_a_node_is_priced_over_its_allocatable_where_its_capacity_says_less():
    # Karpenter's kwok provider (the lab) writes the requests of the pods that made it buy the node as its capacity
    node = m5_node("kwok", KARPENTER)
    node["status"] = {
        "capacity": {"cpu": "10m", "memory": "16Mi", "pods": "1"},
        "allocatable": {"cpu": "3900m", "memory": "16374Mi", "pods": "64"},
    }
    out = nodes_report({"kwok": [("a", "10m", "16Mi")]}, nodes=[node])
    row = out["nodes"][0]
    assert (row["cores"], row["memory_gib"]) == (3.9, 15.9902)
    a = by_name(out["tenants"])["a"]
    # the pod pays its requests at the node's real prices (not the whole node through a 10m "capacity"),
    # and the node's unrequested capacity as its only tenant: 1.92 in all
    assert a["cost"]["cpu"] < 0.004 and a["cost"]["total"] == 1.92
    # a real node (allocatable below capacity) is priced over its capacity, as before
    node["status"] = {"capacity": {"cpu": "4", "memory": "16Gi"}, "allocatable": {"cpu": "3900m", "memory": "15Gi"}}
    assert nodes_report({"kwok": []}, nodes=[node])["nodes"][0]["cores"] == 4.0


def test_shared_node_split_by_the_pods_cost():
    out = nodes_report({"n1": [("a", "1", "4Gi"), ("b", "500m", "2Gi"), ("platykus-system", "500m", "2Gi")]})
    tenants = by_name(out["tenants"])
    # a: 1 x 0.032 + 4 x 0.004 = 0.048 an hour -> 0.48; b: 0.016 + 0.008 = 0.024 -> 0.24; platform 0.24
    # unrequested: (4 - 2) x 10 x 0.032 + (16 - 8) x 10 x 0.004 = 0.64 + 0.32 = 0.96, a : b = 2 : 1 -> 0.64, 0.32
    assert tenants["a"]["cost"]["idle"] == 0.64
    assert tenants["b"]["cost"]["idle"] == 0.32
    assert (tenants["a"]["cost"]["total"], tenants["b"]["cost"]["total"]) == (1.12, 0.56)
    assert tenants["a"]["idle_core_hours"] == pytest.approx(20 * 2 / 3, abs=0.0001)
    # the platform's pod takes no part: it pays its requests, and nothing is idle
    assert out["platform"]["cost"]["total"] == 0.24
    assert out["idle"]["cost"]["total"] == 0.0
    assert in_cluster(out) == pytest.approx(1.92, abs=0.0002)


def test_platform_only_node_stays_idle():
    out = nodes_report({"n1": [("platykus-system", "500m", "2Gi")], "n2": [("a", "1", "4Gi")]})
    a = by_name(out["tenants"])["a"]
    # n1: platform 0.5 x 10 x 0.032 + 2 x 10 x 0.004 = 0.24, idle 1.92 - 0.24 = 1.68; n2 is a's: 1.92
    assert out["idle"]["cost"]["total"] == 1.68
    assert out["idle"]["core_hours"] == 35.0  # (4 - 0.5) x 10
    assert out["platform"]["cost"]["total"] == 0.24
    assert a["cost"]["total"] == 1.92
    # unassigned namespaces (not a tenant's) do not claim a node either
    out = nodes_report({"n1": [("default", "1", "4Gi")]})
    assert out["idle"]["cost"]["total"] == 1.44 and out["unassigned"]["cost"]["total"] == 0.48


def test_each_stretch_goes_to_who_ran_then():
    # n1: a's pod 08:00 -> 13:00, then b's from 13:00; n2: a's pod 08:00 -> 13:00, then nothing
    out = nodes_report(
        {
            "n1": [("a", "1", "4Gi", None, "2024-06-10T13:00:00Z"), ("b", "1", "4Gi", "2024-06-10T13:00:00Z", None)],
            "n2": [("a", "1", "4Gi", None, "2024-06-10T13:00:00Z")],
        }
    )
    tenants = by_name(out["tenants"])
    # a has n1 and n2 for 5 hours each: 2 x 5 x 0.192 = 1.92; b n1's last 5 hours: 0.96; n2's last 5 idle: 0.96
    assert tenants["a"]["cost"]["total"] == 1.92
    assert tenants["b"]["cost"]["total"] == 0.96
    assert out["idle"]["cost"]["total"] == 0.96
    assert tenants["a"]["daily"] == [{"date": "2024-06-10", "cost": 1.92, "cumulative": 1.92}]


def test_pods_without_requests_split_by_count():
    out = nodes_report({"n1": [("a", None, None), ("a", None, None), ("b", None, None)]})
    tenants = by_name(out["tenants"])
    # nothing requested: the node's 1.92 goes 2 : 1 by pods
    assert (tenants["a"]["cost"]["total"], tenants["b"]["cost"]["total"]) == (1.28, 0.64)


def test_idle_share_spreads_only_what_no_tenant_ran_on():
    nodes = {"n1": [("platykus-system", "500m", "2Gi")], "n2": [("a", "1", "4Gi")], "n3": [("b", "2", "4Gi")]}
    out = nodes_report(nodes, idle="share")
    tenants = by_name(out["tenants"])
    # n2 and n3 are a's and b's (1.92 each); n1's idle 1.68 is shared by their pods' cost, 0.48 : 0.80 = 3 : 5
    assert out["idle"]["shared_to_tenants"] == 1.68
    assert tenants["a"]["cost"]["total"] == pytest.approx(1.92 + 0.63)
    assert tenants["b"]["cost"]["total"] == pytest.approx(1.92 + 1.05)


def _amount(text: str) -> float:
    units = {"m": 0.001, "Mi": 1 / 1024, "Gi": 1.0}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("seed", range(8))
def test_conservation_to_the_cent(seed):
    """Nodes = tenants + platform + unassigned + idle, over random pods that start and stop in the window."""
    rng = random.Random(seed)
    nodes, overcommitted = {}, False
    for n in range(4):
        pods, used = [], [0.0, 0.0]
        for _index in range(rng.randrange(0, 7)):
            start, end = sorted(rng.sample(range(8, 19), 2))
            minute = rng.randrange(60) if end < 18 else 0
            cpu, mem = rng.choice(["0", "10m", "250m", "1", "3"]), rng.choice(["16Mi", "1Gi", "6Gi"])
            started = "2024-06-10T%02d:00:00Z" % start if start > 8 else None
            finished = "2024-06-10T%02d:%02d:00Z" % (end, minute) if end < 18 else None
            pods.append((rng.choice(["a", "b", "platykus-system", "default"]), cpu, mem, started, finished))
            used[0] += _amount(cpu) * (end + minute / 60 - start)
            used[1] += _amount(mem) * (end + minute / 60 - start)
        nodes["n%d" % n] = pods
        overcommitted |= used[0] > 40 or used[1] > 160  # more than the node's 10 hours of 4 cores, 16 GiB
    out = nodes_report(nodes)
    assert out["total"]["nodes"] == pytest.approx(4 * 1.92)
    if overcommitted:  # pods charged more than the node has: idle is never negative, so the lines are more
        assert in_cluster(out) >= out["total"]["nodes"] - 0.005
    else:
        assert in_cluster(out) == pytest.approx(out["total"]["nodes"], abs=0.005)
        assert in_cluster(out) == pytest.approx(out["total"]["nodes"], abs=0.0005)  # rounding of 5 lines only


# -- the history: the same rule, at the steps the pods ran -------------------------------------------
def history_cluster() -> dict:
    node = {"node": "n1", "instance_type": "m5.xlarge", "capacity_type": "on-demand", "zone": "a"}
    acme = {"namespace": "acme-dev", "pod": "web", "node": "n1"}
    platform = {"namespace": "platykus-system", "pod": "controller", "node": "n1"}
    return {
        "volumes": [],
        "loadbalancers": [],
        "nodes": [series(node, hours(0, 10, 1))],
        "node_capacity": [
            series({"node": "n1", "resource": "cpu"}, hours(0, 10, 4)),
            series({"node": "n1", "resource": "memory"}, hours(0, 10, 16 * GIB)),
        ],
        "pod_requests": [
            # acme's pod ran hours 2-5, the platform's hours 5-9
            series({**acme, "resource": "cpu"}, hours(2, 4, 1)),
            series({**acme, "resource": "memory"}, hours(2, 4, 2 * GIB)),
            series({**platform, "resource": "cpu"}, hours(6, 4, 0.5)),
            series({**platform, "resource": "memory"}, hours(6, 4, 1 * GIB)),
        ],
        "pod_cpu_usage": [],
        "pod_memory_usage": [],
    }


def objects_cluster() -> dict:
    def at(hour: int) -> str:
        return datetime.fromtimestamp(T0 + hour * HOUR, UTC).isoformat().replace("+00:00", "Z")

    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": at(0),
            "labels": {"node.kubernetes.io/instance-type": "m5.xlarge"},
        },
        "status": {"capacity": {"cpu": "4", "memory": "16Gi"}},
    }

    def pod(namespace: str, cpu: str, mem: str, start: int, end: int) -> dict:
        return {
            "metadata": {"name": "p", "namespace": namespace, "creationTimestamp": at(start)},
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}],
            },
            "status": {
                "phase": "Succeeded",
                "startTime": at(start),
                "containerStatuses": [{"name": "c", "state": {"terminated": {"finishedAt": at(end)}}}],
            },
        }

    return {"nodes": [node], "pods": [pod("acme-dev", "1", "2Gi", 2, 6), pod("platykus-system", "500m", "1Gi", 6, 10)]}


def test_history_charges_the_steps_a_tenant_ran_and_equals_the_objects_source():
    out = report(FakePrometheus(history_cluster()), platform_namespaces=["platykus-system"])
    acme = by_name(out["tenants"])["acme"]
    # acme had n1 for hours 2-5 (4 steps): 4 x 0.192 = 0.768 (0.16 requested, 0.608 unrequested)
    assert acme["cost"]["total"] == 0.768
    assert acme["cost"]["idle"] == 0.608
    # hours 0-1 empty and 6-9 platform only: idle 6 x 0.192 - platform 4 x (0.016 + 0.004) = 1.152 - 0.08
    assert out["idle"]["cost"]["total"] == 1.072
    assert in_cluster(out) == pytest.approx(out["total"]["nodes"], abs=0.0002)
    # the same cluster as objects: the same money on every line
    same = allocate(
        **objects_cluster(),
        namespaces=NAMESPACES,
        catalog=validate_prices(PRICES),
        window=make_window(START, datetime.fromtimestamp(T0 + 10 * HOUR, UTC)),
        tenants=[{"name": "acme"}, {"name": "globex"}],
        platform_namespaces=["platykus-system"],
    )
    assert [t["cost"] for t in same["tenants"]] == [t["cost"] for t in out["tenants"]]
    assert same["idle"]["cost"] == out["idle"]["cost"]
