# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing each tenant's own report and the cost recording rules (a fake KubeClient)."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import ApplyResult
from ansible_collections.platykus.platform.plugins.module_utils._cost.publish import (
    desired_objects,
    publish,
    recording_rules,
    tenant_report,
)
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.cost_fixtures import example_report


@pytest.fixture
def report(cost_example):
    return example_report(cost_example, usage=None)


class FakeClient:
    def __init__(self):
        self.applied = []

    def apply(self, objects, field_manager, dry_run):
        self.applied.append((objects, field_manager, dry_run))
        return [ApplyResult(key=o["metadata"]["name"], before=None, after=o, changed=True) for o in objects]


def test_a_tenant_report_holds_only_its_own_lines(report):
    cut = tenant_report(report, "acme")
    assert [t["name"] for t in cut["tenants"]] == ["acme"]
    assert [n["name"] for n in cut["namespaces"]] == ["acme-prod"]
    assert "nodes" not in cut and "idle" not in cut


def test_one_configmap_per_tenant_namespace_and_the_rules(report):
    objects = desired_objects(report, "configmap", "platykus-monitoring")
    maps = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}
    assert set(maps) == {
        ("acme-prod", "platykus-cost-report"),
        ("globex-dev", "platykus-cost-report"),
        ("platykus-monitoring", "platykus-cost-rules"),
    }
    acme = json.loads(maps[("acme-prod", "platykus-cost-report")]["data"]["report.json"])
    assert [t["name"] for t in acme["tenants"]] == ["acme"]
    assert "globex" not in maps[("acme-prod", "platykus-cost-report")]["data"]["report.html"]
    rules = yaml.safe_load(maps[("platykus-monitoring", "platykus-cost-rules")]["data"]["rules.yml"])
    assert rules == recording_rules(report)


def test_recording_rules_values_and_labels(report):
    rules = {
        (r["record"], r["labels"]["tenant"], r["labels"].get("component")): r
        for r in recording_rules(report)["groups"][0]["rules"]
    }
    acme = {t["name"]: t for t in report["tenants"]}["acme"]
    assert rules[("platykus_tenant_cost", "acme", None)]["expr"] == "vector(%r)" % acme["cost"]["total"]
    assert rules[("platykus_tenant_budget", "acme", None)]["expr"] == "vector(50.0)"
    assert rules[("platykus_tenant_cost_component", "acme", "cpu")]["expr"] == "vector(%r)" % acme["cost"]["cpu"]
    assert rules[("platykus_tenant_cost", "acme", None)]["labels"] == {"tenant": "acme", "currency": "USD"}


def test_prometheusrule_format_and_none(report):
    objects = desired_objects(report, "prometheusrule", "mon")
    assert objects[-1]["kind"] == "PrometheusRule" and objects[-1]["spec"] == recording_rules(report)
    assert all(o["kind"] == "ConfigMap" for o in desired_objects(report, "none", "mon"))


@pytest.mark.parametrize(
    "bad, fmt, words",
    [
        ({"tenants": "x"}, "configmap", "report: not a usage report"),
        (None, "json", "metrics_format: 'json' is not one of"),
    ],
)
def test_bad_input_is_refused_before_connecting(report, bad, fmt, words):
    def connect():
        raise AssertionError("connected")

    with pytest.raises(PlatykusError, match=words):
        publish(bad or report, connect, fmt, "mon", check_mode=False, diff=False)


@pytest.mark.parametrize("check_mode", [True, False])
def test_publish_is_one_batch_with_the_cost_field_manager(report, check_mode):
    client = FakeClient()
    out = publish(report, lambda: client, "configmap", "mon", check_mode=check_mode, diff=True)
    assert len(client.applied) == 1 and client.applied[0][1:] == ("platykus-cost", check_mode)
    assert out["changed"] and len(out["diff"]) == 3
