# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's alerts about tenants: Prometheus rules and Alertmanager's routing.

The rules read kube-state-metrics series (kube_resourcequota, kube_pod_status_phase,
kube_horizontalpodautoscaler_*, kube_namespace_labels/_annotations) and give every alert the
``tenant`` label of its namespace; Alertmanager routes on that label to the receiver in the
tenant's spec (``alerts: {webhook_url, email}``), so a tenant never receives another's alerts.
Pure data in, pure data out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    BUDGET_STATUS_ANNOTATION,
    TENANT_LABEL,
)

RULE_GROUP = "platykus-tenants"
PLATFORM_RECEIVER = "platykus-platform"
QUOTA_THRESHOLD = 0.9


def _ksm(key: str) -> str:
    """kube-state-metrics' label name for a Kubernetes label or annotation key."""
    return "".join(c if c.isalnum() else "_" for c in key)


TENANT_OF_NAMESPACE = (
    'max by (namespace, tenant) (label_replace(kube_namespace_labels{label_%s!=""}, "tenant", "$1", "label_%s", "(.+)"))'
    % (_ksm(TENANT_LABEL), _ksm(TENANT_LABEL))
)


def _with_tenant(expr: str) -> str:
    """Keep the series of tenant namespaces only, with the tenant's name as the ``tenant`` label."""
    return "(%s) * on (namespace) group_left (tenant) %s" % (expr, TENANT_OF_NAMESPACE)


def _rule(name: str, expr: str, duration: str, summary: str) -> dict:
    return {
        "alert": name,
        "expr": _with_tenant(expr),
        "for": duration,
        "labels": {"severity": "warning", "platykus_alert": "tenant"},
        "annotations": {"summary": summary},
    }


def platform_rules(quota_for: str = "1m", pending_for: str = "10m", hpa_for: str = "15m") -> dict:
    """The rule file (groups) with the four tenant alerts; ``*_for`` are Prometheus durations."""
    budget_key = "annotation_%s" % _ksm(BUDGET_STATUS_ANNOTATION)
    rules = [
        _rule(
            "PlatykusTenantQuotaNearlyFull",
            'max by (namespace, resource) (kube_resourcequota{type="used"}) / on (namespace, resource) '
            '(max by (namespace, resource) (kube_resourcequota{type="hard"}) > 0) > %s' % QUOTA_THRESHOLD,
            quota_for,
            "{{ $labels.namespace }}: {{ $labels.resource }} quota {{ $value | humanizePercentage }} used",
        ),
        _rule(
            "PlatykusTenantPodPending",
            'max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1',
            pending_for,
            "{{ $labels.namespace }}/{{ $labels.pod }} has been Pending for %s" % pending_for,
        ),
        _rule(
            "PlatykusTenantHPAAtMaximum",
            "max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas) "
            ">= on (namespace, horizontalpodautoscaler) "
            "max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas)",
            hpa_for,
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} runs at its maximum replicas",
        ),
        _rule(
            "PlatykusTenantBudget",
            'max by (namespace, %s) (kube_namespace_annotations{%s=~"warning|exceeded"})' % (budget_key, budget_key),
            "0m",
            "{{ $labels.namespace }}: budget status {{ $labels.%s }}" % budget_key,
        ),
    ]
    return {"groups": [{"name": RULE_GROUP, "rules": rules}]}


def _receiver(name: str, alerts: Mapping[str, Any]) -> dict:
    receiver: dict[str, Any] = {"name": "tenant-%s" % name}
    if alerts.get("webhook_url"):
        receiver["webhook_configs"] = [{"url": alerts["webhook_url"], "send_resolved": True}]
    if alerts.get("email"):
        receiver["email_configs"] = [{"to": alerts["email"], "send_resolved": True}]
    return receiver


def _smtp(smtp: Mapping[str, Any] | None, who: str) -> dict:
    if not smtp or not smtp.get("smarthost") or not smtp.get("from"):
        raise PlatykusError(
            "%s.alerts.email: email receivers need the platform's mail relay; set platykus_alert_smtp "
            "{smarthost: mail.example.com:587, from: alerts@example.com} or use webhook_url" % who,
            field="platykus_alert_smtp",
        )
    return {
        "smtp_smarthost": smtp["smarthost"],
        "smtp_from": smtp["from"],
        "smtp_require_tls": bool(smtp.get("require_tls", True)),
    }


def alertmanager_config(
    tenants: Sequence[Mapping[str, Any]],
    smtp: Mapping[str, Any] | None = None,
    timing: Mapping[str, str] | None = None,
) -> dict:
    """Alertmanager's configuration: one route and receiver per tenant with ``alerts``, matched on
    the ``tenant`` label; everything else goes to the platform's receiver (none configured: dropped).

    ``tenants`` are validated specs (their to_dict() or the raw specs: ``name`` and ``alerts``).
    """
    timing = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h", **(timing or {})}
    routes, receivers, needs_smtp = [], [{"name": PLATFORM_RECEIVER}], None
    for tenant in tenants:
        alerts = tenant.get("alerts") or {}
        if not alerts:
            continue
        routes.append({"receiver": "tenant-%s" % tenant["name"], "matchers": ['tenant="%s"' % tenant["name"]]})
        receivers.append(_receiver(tenant["name"], alerts))
        needs_smtp = needs_smtp or (tenant["name"] if alerts.get("email") else None)
    config: dict[str, Any] = {
        "route": {
            "receiver": PLATFORM_RECEIVER,
            "group_by": ["alertname", "tenant", "namespace"],
            **timing,
            "routes": routes,
        },
        "receivers": receivers,
    }
    if needs_smtp:
        config["global"] = _smtp(smtp, "tenants[%s]" % needs_smtp)
    return config
