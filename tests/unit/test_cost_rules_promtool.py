"""The cost recording rules and the tenant alert rules, checked and unit-tested by promtool.

promtool is built by the lab from the same Prometheus pin as the lab's Prometheus (lab/controllers.yml,
entry promtool; scripts/setup.sh builds it). The per-tenant cost rules usage_report publishes
(_cost.publish.recording_rules) must load (`promtool check rules`), give each tenant's figures with
the tenant and currency labels (`promtool test rules`), and feed the platform's budget alert
together with kube-state-metrics' namespace annotation; a wrong expectation must fail the run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._cost.publish import COST_RULES_NAME, rules_object
from ansible_collections.platykus.platform.plugins.module_utils._tenants.alerts import platform_rules
from platykus_lab import controllers

REPORT = {
    "currency": "USD",
    "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-20T00:00:00Z"},
    "tenants": [
        {
            "name": "acme",
            "namespaces": ["acme-dev"],
            "cost": {"cpu": 31.5, "memory": 9.25, "storage": 1.5, "aws": 14.75, "total": 57.0},
            "forecast": 90.0,
            "budget": 60.0,
            "percent_used": 95.0,
        },
        {"name": "globex", "namespaces": ["globex-prod"], "cost": {"cpu": 2.0, "total": 2.0}, "forecast": 3.1},
    ],
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    spec = controllers.load_specs()["promtool"]
    path = controllers.binary_path(spec)
    if not path.exists():
        controllers.build_one(spec)  # cached by the pin; scripts/setup.sh has built it already
    return path


@pytest.fixture
def rule_files(tmp_path: Path) -> tuple[Path, Path]:
    published = rules_object(REPORT, "configmap", "platykus-monitoring")
    assert published["metadata"]["name"] == COST_RULES_NAME
    cost = tmp_path / "cost-rules.yml"
    cost.write_text(published["data"]["rules.yml"])  # the file the operator (stand-in) hands Prometheus
    alerts = tmp_path / "platform-rules.yml"
    alerts.write_text(yaml.safe_dump(platform_rules()))
    return cost, alerts


def test_promtool_checks_the_rules(promtool, rule_files):
    run = subprocess.run([str(promtool), "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == 2


def test_promtool_refuses_a_broken_rule(promtool, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        json.dumps({"groups": [{"name": "x", "rules": [{"record": "platykus_tenant_cost", "expr": "sum("}]}]})
    )
    run = subprocess.run([str(promtool), "check", "rules", str(broken)], capture_output=True, text=True)
    assert run.returncode != 0 and "FAILED" in run.stdout + run.stderr


def unit_tests(cost: Path, alerts: Path, acme_total: float) -> dict:
    acme = 'tenant="acme",currency="USD"'
    return {
        "rule_files": [str(cost), str(alerts)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                # the budget check writes the status annotation; KSM exports it and the tenant label (allow-listed)
                "input_series": [
                    {
                        "series": 'kube_namespace_annotations{namespace="acme-dev",'
                        'annotation_platykus_io_budget_status="warning"}',
                        "values": "1x10",
                    },
                    {
                        "series": 'kube_namespace_labels{namespace="acme-dev",label_platykus_io_tenant="acme"}',
                        "values": "1x10",
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": "platykus_tenant_cost",
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": "platykus_tenant_cost{%s}" % acme, "value": acme_total},
                            {"labels": 'platykus_tenant_cost{tenant="globex",currency="USD"}', "value": 2.0},
                        ],
                    },
                    {
                        "expr": 'platykus_tenant_cost_component{component="aws"}',
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": 'platykus_tenant_cost_component{%s,component="aws"}' % acme, "value": 14.75}
                        ],
                    },
                    {
                        # what a dashboard or an alert on the recorded series asks: over 90 % of the budget
                        "expr": "platykus_tenant_budget_percent_used > 90",
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "platykus_tenant_budget_percent_used{%s}" % acme, "value": 95.0}],
                    },
                    {
                        # globex has no budget: no budget series, not a zero one
                        "expr": 'platykus_tenant_budget{tenant="globex"}',
                        "eval_time": "5m",
                        "exp_samples": [],
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "2m",
                        "alertname": "PlatykusTenantBudget",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": "acme-dev",
                                    "annotation_platykus_io_budget_status": "warning",
                                    "tenant": "acme",  # routes it to acme's receiver
                                    **_alert_labels(alerts, "PlatykusTenantBudget"),
                                },
                                "exp_annotations": _alert_annotations(alerts, "PlatykusTenantBudget", "acme-dev"),
                            }
                        ],
                    }
                ],
            }
        ],
    }


def _rule(alerts: Path, name: str) -> dict:
    groups = yaml.safe_load(alerts.read_text())["groups"]
    return next(r for g in groups for r in g["rules"] if r.get("alert") == name)


def _alert_labels(alerts: Path, name: str) -> dict:
    return dict(_rule(alerts, name).get("labels") or {})


def _alert_annotations(alerts: Path, name: str, namespace: str) -> dict:
    annotations = dict(_rule(alerts, name).get("annotations") or {})
    return {
        key: value.replace("{{ $labels.namespace }}", namespace).replace(
            "{{ $labels.annotation_platykus_io_budget_status }}", "warning"
        )
        for key, value in annotations.items()
    }


def _promtool_test(promtool: Path, tmp_path: Path, tests: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "cost-rules.test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    return subprocess.run([str(promtool), "test", "rules", str(path)], capture_output=True, text=True, cwd=tmp_path)


def test_promtool_unit_tests_the_cost_rules(promtool, rule_files, tmp_path):
    run = _promtool_test(promtool, tmp_path, unit_tests(*rule_files, acme_total=57.0))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_unit_test_fails_on_a_wrong_figure(promtool, rule_files, tmp_path):
    run = _promtool_test(promtool, tmp_path, unit_tests(*rule_files, acme_total=57.01))
    assert run.returncode != 0
    assert "platykus_tenant_cost" in run.stdout + run.stderr
