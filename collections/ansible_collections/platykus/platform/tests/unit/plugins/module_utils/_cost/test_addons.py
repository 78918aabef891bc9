# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-ons in the usage report: plan prices prorated over the window, on top of the in-cluster cost.

The worked example of docs/cost.md (window 2024-06-10 08:00-18:00, 10 hours) plus add-on Secrets;
every expected figure is computed by hand next to it.
"""

from __future__ import annotations

import base64
import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import HELD_SELECTOR
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.addons import charge_addons
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import usage_report
from ansible_collections.platykus.platform.plugins.module_utils._cost.report_render import to_csv, to_html, to_markdown
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window

CATALOG = {
    "providers": {"postgresql": "local", "redis": "local", "mysql": "operator", "bucket": "aws"},
    "plans": {
        "postgresql": {"standard-0": {"version": "16", "storage": "10Gi", "monthly": 73}},
        "redis": {"mini": {"version": "7", "monthly": 14.6}},
        "mysql": {"standard-0": {"version": "8", "storage": "10Gi", "monthly": 50}},
        "bucket": {"standard": {"version": "1", "monthly": 7.3}},
    },
    "quota": {"small": {"addons": 4, "storage": "40Gi"}},
}


def secret(tenant, env, name, addon_type, plan, provider, created):
    return {
        "metadata": {
            "name": "addon-" + name,
            "namespace": "%s-%s" % (tenant, env),
            "creationTimestamp": created,
            "labels": {
                "platykus.io/tenant": tenant,
                "platykus.io/data-service": addon_type,
                "platykus.io/addon": name,
            },
            "annotations": {"platykus.io/addon-plan": plan, "platykus.io/addon-provider": provider},
        },
        "data": {"password": base64.b64encode(b"s3cr3t-never-in-the-report").decode()},
    }


SECRETS = [
    # before the window: all 10 hours; 73 x 10 / 730 = 1.0
    secret("acme", "prod", "orders-db", "postgresql", "standard-0", "local", "2024-06-01T00:00:00Z"),
    # aws provider, aws_costs off: charged at its plan; 7.3 x 10 / 730 = 0.1
    secret("acme", "prod", "assets", "bucket", "standard", "aws", "2024-06-01T00:00:00Z"),
    # made at 13:00: 5 hours; 14.6 x 5 / 730 = 0.1
    secret("globex", "dev", "cache", "redis", "mini", "local", "2024-06-10T13:00:00Z"),
    # operator: its pods are in globex-dev's cost already; listed, not charged
    secret("globex", "dev", "books", "mysql", "standard-0", "operator", "2024-06-01T00:00:00Z"),
    # after the window: no hours, no line charge
    secret("globex", "dev", "later", "redis", "mini", "local", "2024-06-11T00:00:00Z"),
]


class FakeClient:
    """The worked example's objects and the add-on Secrets; records every list call and its selector."""

    def __init__(self, example, secrets):
        self.calls = []
        self.objects = {
            "Node": example["nodes"],
            "Pod": example["pods"],
            "PersistentVolumeClaim": example["pvcs"],
            "Service": example["services"],
            "Namespace": example["namespaces"],
            "PodMetrics": example["pod_metrics"],
            "Secret": secrets,
        }

    def list_all(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append((kind, label_selector))
        return copy.deepcopy(list(self.objects[kind]))


def params(example, **extra):
    base = dict(
        prices=example["prices"],
        tenants=example["tenants"],
        platform_namespaces=example["platform_namespaces"],
        window_start=example["window_start"],
        window_end=example["window_end"],
        usage_source="metrics",
        addons=CATALOG,
    )
    base.update(extra)
    return base


def by_addon(lines):
    return {line["addon"]: line for line in lines}


def test_charges_prorated_by_hours_and_provider(cost_example):
    window = make_window(cost_example["window_start"], cost_example["window_end"])
    charges = charge_addons(SECRETS, validate_catalog(CATALOG), window)
    lines = by_addon(charges.lines)
    assert (float(lines["orders-db"]["hours"]), float(lines["orders-db"]["cost"])) == (10.0, 1.0)
    assert (float(lines["assets"]["cost"]), lines["assets"]["charged_by"]) == (0.1, "catalog")
    assert (float(lines["cache"]["hours"]), float(lines["cache"]["cost"])) == (5.0, 0.1)
    assert (float(lines["books"]["hours"]), float(lines["books"]["cost"])) == (10.0, 0.0)
    assert lines["books"]["charged_by"] == "cluster"
    assert (float(lines["later"]["hours"]), float(lines["later"]["cost"])) == (0.0, 0.0)
    assert sorted((t, d, n) for t, d, n, _a in charges.daily) == [
        ("acme", "2024-06-10", "assets"),
        ("acme", "2024-06-10", "orders-db"),
        ("globex", "2024-06-10", "cache"),
    ]


def test_aws_addons_left_to_cost_explorer_when_it_is_on(cost_example):
    window = make_window(cost_example["window_start"], cost_example["window_end"])
    charges = charge_addons(SECRETS, validate_catalog(CATALOG), window, aws_costs=True)
    assets = by_addon(charges.lines)["assets"]
    assert (assets["charged_by"], float(assets["cost"])) == ("aws_cost_explorer", 0.0)
    assert "assets" not in {n for _t, _d, n, _a in charges.daily}


def test_unknown_plan_is_listed_unpriced_with_the_fix(cost_example):
    window = make_window(cost_example["window_start"], cost_example["window_end"])
    gone = secret("acme", "prod", "old", "postgresql", "retired-9", "local", "2024-06-01T00:00:00Z")
    line = charge_addons([gone], validate_catalog(CATALOG), window).lines[0]
    assert line["charged_by"] == "unpriced" and line["cost"] == 0
    assert "platykus_addons.plans.postgresql" in line["reason"]


def test_report_adds_addon_lines_on_top_and_keeps_conservation(cost_example):
    client = FakeClient(cost_example, SECRETS)
    report = usage_report(params(cost_example), lambda: client)
    assert ("Secret", HELD_SELECTOR) in client.calls
    tenants = {t["name"]: t for t in report["tenants"]}
    # acme 1.2384 in cluster + 1.0 + 0.1; globex 1.0906 + 0.1 (docs/cost.md's worked example)
    assert tenants["acme"]["cost"]["addons"] == 1.1
    assert tenants["acme"]["cost"]["total"] == 2.3384
    assert tenants["globex"]["cost"]["total"] == 1.1906
    assert tenants["acme"]["out_of_cluster"] == [
        {"source": "addon", "service": "assets", "cost": 0.1},
        {"source": "addon", "service": "orders-db", "cost": 1.0},
    ]
    # budget: 2.3384 / 50 = 4.68 %; the daily series carries the add-ons too
    assert tenants["acme"]["percent_used"] == 4.68
    assert tenants["globex"]["daily"] == [{"date": "2024-06-10", "cost": 1.1906, "cumulative": 1.1906}]
    # in-cluster conservation unchanged: nodes + storage + LB = namespaces + idle = 2.429; add-ons on top
    total = report["total"]
    assert (total["nodes"], total["storage"], total["loadbalancer"]) == (2.124, 0.08, 0.225)
    assert total["out_of_cluster"] == 1.2 and total["cost"] == 3.629
    in_cluster = sum(ns["cost"]["total"] for ns in report["namespaces"]) + report["idle"]["cost"]["total"]
    assert in_cluster == pytest.approx(2.429)
    assert report["addons"]["total"] == 1.2
    assert by_addon(report["addons"]["lines"])["cache"] == {
        "tenant": "globex",
        "addon": "cache",
        "type": "redis",
        "plan": "mini",
        "provider": "local",
        "monthly": 14.6,
        "charged_by": "catalog",
        "hours": 5.0,
        "cost": 0.1,
    }
    assert "s3cr3t" not in repr(report)


def test_without_the_catalog_no_secret_is_read(cost_example):
    client = FakeClient(cost_example, SECRETS)
    report = usage_report(params(cost_example, addons=None), lambda: client)
    assert "Secret" not in [kind for kind, _s in client.calls]
    assert "addons" not in report and "addons" not in report["tenants"][0]["cost"]


def test_bad_catalog_refused_before_connecting(cost_example):
    def connect():
        raise AssertionError("connected")

    bad = copy.deepcopy(CATALOG)
    bad["plans"]["redis"]["mini"]["monthly"] = "cheap"
    with pytest.raises(
        PlatykusError, match=r"platykus_addons.plans.redis.mini.monthly: 'cheap' is not a monthly price"
    ):
        usage_report(params(cost_example, addons=bad), connect)


def test_markdown_html_csv_show_the_addon_lines(cost_example):
    report = usage_report(params(cost_example), lambda: FakeClient(cost_example, SECRETS))
    markdown = to_markdown(report)
    assert "## Add-ons" in markdown
    assert "| acme | orders-db | postgresql | standard-0 | 73 | 10 | 1 | catalog |" in markdown
    assert "Out of cluster (AWS spend, add-on plans), in the total: 1.2" in markdown
    page = to_html(report)
    assert "<h2>Add-ons</h2>" in page and "<td>orders-db</td>" in page
    assert "addon:redis,cache,globex" in to_csv(report)
