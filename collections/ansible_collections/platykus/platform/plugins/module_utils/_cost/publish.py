# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenants see their own cost: the report cut per tenant, published where only they can read it.

* In each of a tenant's namespaces, the ConfigMap ``COST_REPORT_CONFIGMAP`` holds that tenant's
  report as JSON and as the HTML page with its chart. Tenant roles read ConfigMaps in their own
  namespaces only (``_tenants.objects``), so a tenant reads its report and nobody else's. The cut
  keeps the tenant's line, its namespaces and its out-of-cluster lines; other tenants, nodes, idle
  and the platform lines are left out.
* Per-tenant cost and budget as Prometheus recording rules of constant value, rewritten each run
  (``platykus_tenant_cost``, ``..._forecast``, ``..._budget``, ``..._budget_percent_used``,
  labelled ``tenant`` and ``currency``), so dashboards and the per-tenant alerts can use them:
  a ConfigMap ``COST_RULES_NAME`` (``rules.yml``, what the lab's operator stand-in loads) or a
  prometheus-operator PrometheusRule of that name.

Every object goes in one batched server-side apply (dry-run first), so check mode and diff are
the API server's own prediction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    COST_FIELD_MANAGER,
    COST_REPORT_CONFIGMAP,
    COST_RULES_NAME,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.report_render import to_html, to_json

METRICS_FORMATS = ("configmap", "prometheusrule", "none")
METRIC_PREFIX = "platykus_tenant_"
_TENANT_KEYS = ("currency", "window", "options")


def tenant_report(report: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """The part of ``report`` that is ``tenant``'s own."""
    rows = [row for row in report.get("tenants") or [] if row.get("name") == tenant]
    if not rows:
        raise PlatykusError("report: has no tenant '%s'" % tenant, field="report.tenants")
    mine = set(rows[0].get("namespaces") or [])
    cut = {key: report[key] for key in _TENANT_KEYS if key in report}
    cut["tenants"] = rows
    cut["namespaces"] = [row for row in report.get("namespaces") or [] if row.get("name") in mine]
    return cut


def _check(report: Any) -> None:
    if not isinstance(report, Mapping) or not isinstance(report.get("tenants"), list) or "window" not in report:
        raise PlatykusError(
            "report: not a usage report; pass the report returned by platykus.platform.usage_report", field="report"
        )


def report_configmaps(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ConfigMap per tenant namespace with that tenant's report (JSON and HTML)."""
    objects = []
    for row in report["tenants"]:
        cut = tenant_report(report, row["name"])
        data = {
            "report.json": to_json(cut),
            "report.html": to_html(cut, title="Cost of %s" % row["name"]),
            "window-end": str(report["window"].get("end")),
        }
        for namespace in row.get("namespaces") or []:
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": COST_REPORT_CONFIGMAP,
                        "namespace": namespace,
                        "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: row["name"]},
                    },
                    "data": data,
                }
            )
    return objects


def _record(name: str, value: Any, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"record": METRIC_PREFIX + name, "expr": "vector(%r)" % float(value), "labels": dict(labels)}


def recording_rules(report: Mapping[str, Any]) -> dict[str, Any]:
    """The rule group: each tenant's cost (total and per component), forecast, budget and percent used."""
    rules = []
    for row in sorted(report["tenants"], key=lambda r: r["name"]):
        labels = {"tenant": row["name"], "currency": str(report.get("currency"))}
        cost = row.get("cost") or {}
        rules.append(_record("cost", cost.get("total", 0), labels))
        for component, amount in sorted(cost.items()):
            if component != "total":
                rules.append(_record("cost_component", amount, dict(labels, component=component)))
        rules.append(_record("cost_forecast", row.get("forecast") or 0, labels))
        if row.get("budget") is not None:
            rules.append(_record("budget", row["budget"], labels))
            rules.append(_record("budget_percent_used", row.get("percent_used") or 0, labels))
    return {"groups": [{"name": "platykus-tenant-cost", "rules": rules}]}


def rules_object(report: Mapping[str, Any], metrics_format: str, namespace: str) -> dict[str, Any] | None:
    if metrics_format not in METRICS_FORMATS:
        raise PlatykusError(
            "metrics_format: %r is not one of %s" % (metrics_format, ", ".join(METRICS_FORMATS)),
            field="metrics_format",
        )
    if metrics_format == "none":
        return None
    meta = {"name": COST_RULES_NAME, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}}
    groups = recording_rules(report)
    if metrics_format == "configmap":
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            # JSON is YAML: Prometheus reads it as a rule file, and module_utils needs no YAML library.
            "data": {"rules.yml": json.dumps(groups, indent=2) + "\n"},
        }
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta, "spec": groups}


def desired_objects(report: Any, metrics_format: str, metrics_namespace: str) -> list[dict[str, Any]]:
    _check(report)
    objects = report_configmaps(report)
    rules = rules_object(report, metrics_format, metrics_namespace)
    return objects + ([rules] if rules else [])


def _keys(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    return ["%s %s/%s" % (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]


def publish(
    report: Any,
    connect: Callable[[], Any],
    metrics_format: str,
    metrics_namespace: str,
    check_mode: bool,
    diff: bool,
) -> dict[str, Any]:
    """Apply every tenant's report and the cost rules in one batch; ``changed`` as the API server says.

    Everything is rendered (and so checked) before ``connect()`` is called.
    """
    objects = desired_objects(report, metrics_format, metrics_namespace)
    results = connect().apply(objects, field_manager=COST_FIELD_MANAGER, dry_run=check_mode)
    changed = [r.key for r in results if r.changed]
    out: dict[str, Any] = {"changed": bool(changed), "objects": _keys(objects), "changed_objects": changed}
    if diff:
        out["diff"] = [
            {"before_header": r.key, "after_header": r.key, "before": r.before or {}, "after": r.after}
            for r in results
            if r.changed
        ]
    return out
