# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Budget status per tenant and the Kubernetes objects that record and enforce it.

Status from the spend so far (``percent_used``) against the thresholds (default 50/80/100 %):
``ok`` below ``notice``, then ``notice``, ``warning``, ``exceeded``. The month-end forecast can
raise the status to ``warning`` at most: only money already spent makes a tenant ``exceeded``
(and only ``exceeded`` triggers enforcement).

Everything here is pure: it takes the objects as read from the API server and returns the
objects to write. The module applies them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    BUDGET_ANNOTATION_PREFIX,
    BUDGET_ORIGINAL_PODS_ANNOTATION,
    BUDGET_STATUS_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity

STATUSES = ("ok", "notice", "warning", "exceeded")
NO_BUDGET = "no_budget"
DEFAULT_THRESHOLDS = {"notice": Decimal(50), "warning": Decimal(80), "exceeded": Decimal(100)}

# Recorded on the quota when it had no `pods` limit before enforcement.
NO_LIMIT = "none"

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class BudgetEvaluation:
    status: str
    percent_used: Decimal | None
    forecast_percent: Decimal | None


def validate_thresholds(raw: Any, field_name: str = "thresholds") -> dict[str, Decimal]:
    """``{notice: 50, warning: 80, exceeded: 100}`` (percent of the monthly budget), strictly increasing."""
    if raw is None:
        return dict(DEFAULT_THRESHOLDS)
    if not isinstance(raw, Mapping):
        raise PlatykusError(
            "%s: expected a mapping like {notice: 50, warning: 80, exceeded: 100}" % field_name, field=field_name
        )
    unknown = sorted(set(raw) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise PlatykusError(
            "%s: unknown key(s) %s; use notice, warning and exceeded" % (field_name, ", ".join(unknown)),
            field="%s.%s" % (field_name, unknown[0]),
        )
    result = dict(DEFAULT_THRESHOLDS)
    for key, value in raw.items():
        where = "%s.%s" % (field_name, key)
        if isinstance(value, bool) or value is None:
            raise PlatykusError("%s: %r is not a percentage; write it like 80" % (where, value), field=where)
        try:
            number = Decimal(str(value))
        except ArithmeticError as err:
            raise PlatykusError("%s: %r is not a percentage; write it like 80" % (where, value), field=where) from err
        if not number.is_finite() or number <= 0 or number > 1000:
            raise PlatykusError("%s: %s must be more than 0 and at most 1000 (percent)" % (where, value), field=where)
        result[key] = number
    if not result["notice"] < result["warning"] < result["exceeded"]:
        raise PlatykusError(
            "%s: notice (%s) < warning (%s) < exceeded (%s) must hold; reorder the percentages"
            % (field_name, result["notice"], result["warning"], result["exceeded"]),
            field=field_name,
        )
    return result


def _level(percent: Decimal, thresholds: Mapping[str, Decimal]) -> int:
    level = 0
    for index, name in enumerate(STATUSES[1:], start=1):
        if percent >= thresholds[name]:
            level = index
    return level


def evaluate(
    spent: Decimal, forecast: Decimal, budget: Decimal | None, thresholds: Mapping[str, Decimal] | None = None
) -> BudgetEvaluation:
    """The status of one tenant; percentages are unrounded Decimals."""
    thresholds = thresholds or DEFAULT_THRESHOLDS
    if budget is None or budget <= 0:
        return BudgetEvaluation(NO_BUDGET, None, None)
    percent = spent * 100 / budget
    forecast_percent = forecast * 100 / budget
    level = max(_level(percent, thresholds), min(_level(forecast_percent, thresholds), STATUSES.index("warning")))
    return BudgetEvaluation(STATUSES[level], percent, forecast_percent)


def _money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def namespace_annotations(
    tenant: Mapping[str, Any], status: BudgetEvaluation, currency: str, as_of: str
) -> dict[str, str]:
    """The annotations recording a tenant's budget state on each of its namespaces (money to the cent)."""
    annotations = {
        BUDGET_STATUS_ANNOTATION: status.status,
        BUDGET_ANNOTATION_PREFIX + "spent": "%s %s" % (_money(tenant["cost"]["total"]), currency),
        BUDGET_ANNOTATION_PREFIX + "forecast": "%s %s" % (_money(tenant["forecast"]), currency),
        BUDGET_ANNOTATION_PREFIX + "updated": as_of,
    }
    if tenant.get("budget") is not None:
        annotations[BUDGET_ANNOTATION_PREFIX + "limit"] = "%s %s" % (_money(tenant["budget"]), currency)
        annotations[BUDGET_ANNOTATION_PREFIX + "percent"] = str(
            Decimal(str(status.percent_used)).quantize(_CENT, rounding=ROUND_HALF_UP)
        )
    return annotations


def namespace_patch(namespace: str, annotations: Mapping[str, str]) -> dict:
    """A server-side apply body touching only our annotations."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "annotations": dict(annotations)}}


def budget_event(
    namespace: str,
    tenant: str,
    previous: str | None,
    status: BudgetEvaluation,
    line: Mapping[str, Any],
    currency: str,
    as_of: str,
) -> dict:
    """A core/v1 Event on the namespace recording one status change."""
    rising = previous not in STATUSES or STATUSES.index(status.status) > STATUSES.index(previous)
    digest = hashlib.sha256(("%s/%s/%s/%s" % (namespace, previous, status.status, as_of)).encode()).hexdigest()[:10]
    message = "Tenant %s budget status %s -> %s: spent %s %s of %s %s (%s %%), month-end forecast %s %s" % (
        tenant,
        previous or "none",
        status.status,
        _money(line["cost"]["total"]),
        currency,
        _money(line["budget"]),
        currency,
        Decimal(str(status.percent_used)).quantize(_CENT, rounding=ROUND_HALF_UP),
        _money(line["forecast"]),
        currency,
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": "platykus-budget.%s" % digest,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: tenant},
        },
        # The API server refuses a core/v1 Event whose involvedObject.namespace differs from its own
        # namespace (only "default" may hold events about cluster-scoped objects), so the Namespace is
        # referenced as living in itself; `kubectl get events -n <namespace>` lists it.
        "involvedObject": {"apiVersion": "v1", "kind": "Namespace", "name": namespace, "namespace": namespace},
        "reason": "BudgetThresholdCrossed" if rising else "BudgetStatusRecovered",
        "message": message,
        "type": "Warning" if status.status in ("warning", "exceeded") else "Normal",
        "source": {"component": "platykus-budget"},
        "reportingComponent": "platykus.io/budget",
        "reportingInstance": "platykus",
        "firstTimestamp": as_of,
        "lastTimestamp": as_of,
        "count": 1,
    }


def _pods_limit(quota: Mapping[str, Any], field_name: str) -> int | None:
    value = ((quota.get("spec") or {}).get("hard") or {}).get("pods")
    return None if value is None else int(parse_quantity(value, field_name))


def quota_enforcement(
    quota: Mapping[str, Any] | None, exceeded: bool, enforce: bool, running_pods: int | None
) -> tuple[str, dict | None]:
    """What to do with a tenant namespace's ``tenant-quota``: ``(action, apply body or None)``.

    action is one of ``lower``, ``keep`` (already lowered), ``restore``, ``none``, ``missing``.
    Lowering sets ``spec.hard.pods`` to the pods running now and records the original value in
    ``platykus.io/budget-original-pods`` (``none`` when the quota had no pods limit). Restoring writes
    the original back and drops the annotation; a quota that had no limit gets ours released.
    """
    if quota is None:
        return ("missing", None) if enforce and exceeded else ("none", None)
    meta = quota.get("metadata") or {}
    where = "ResourceQuota %s/%s spec.hard.pods" % (meta.get("namespace"), meta.get("name"))
    annotations = meta.get("annotations") or {}
    original = annotations.get(BUDGET_ORIGINAL_PODS_ANNOTATION)
    current = _pods_limit(quota, where)
    base = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    if enforce and exceeded:
        if running_pods is None:
            raise PlatykusError("cannot enforce the budget on %s: the number of running pods is unknown" % where)
        if original is not None:
            original_limit = None if original == NO_LIMIT else int(original)
            still_lowered = current is not None and (original_limit is None or current < original_limit)
            if still_lowered:
                return "keep", None
        else:
            original = NO_LIMIT if current is None else str(current)
        target = running_pods if current is None else min(current, running_pods)
        body = dict(base)
        body["metadata"] = dict(base["metadata"], annotations={BUDGET_ORIGINAL_PODS_ANNOTATION: original})
        body["spec"] = {"hard": {"pods": str(target)}}
        return "lower", body
    if original is None:
        return "none", None
    body = dict(base)
    body["metadata"] = dict(base["metadata"], annotations={})
    if original != NO_LIMIT:
        body["spec"] = {"hard": {"pods": original}}
    return "restore", body


@dataclass
class TenantPlan:
    tenant: str
    status: str
    previous: dict = field(default_factory=dict)  # namespace -> previous status annotation
    namespaces: list = field(default_factory=list)
    percent_used: float | None = None
    forecast_percent: float | None = None
    enforcement: dict = field(default_factory=dict)  # namespace -> action


@dataclass
class BudgetPlan:
    tenants: list = field(default_factory=list)
    namespace_patches: list = field(default_factory=list)
    events: list = field(default_factory=list)
    quota_patches: list = field(default_factory=list)


def plan(
    report: Mapping[str, Any],
    namespaces: Mapping[str, Mapping[str, Any]],
    quotas: Mapping[str, Mapping[str, Any]],
    running_pods: Mapping[str, int],
    thresholds: Mapping[str, Decimal] | None = None,
    enforce: bool = False,
) -> BudgetPlan:
    """Everything tenant_budget writes for a usage report.

    ``namespaces`` maps name to the Namespace as read; ``quotas`` maps namespace to its ``tenant-quota``;
    ``running_pods`` maps namespace to its non-terminated pods now. Events are only planned where the
    namespace's recorded status differs from the new one (a first ``ok`` is not a change).
    """
    thresholds = thresholds or DEFAULT_THRESHOLDS
    currency = report["currency"]
    as_of = report["window"]["end"]
    result = BudgetPlan()
    for line in report.get("tenants", []):
        budget = Decimal(str(line["budget"])) if line.get("budget") is not None else None
        status = evaluate(Decimal(str(line["cost"]["total"])), Decimal(str(line["forecast"])), budget, thresholds)
        tenant_plan = TenantPlan(
            tenant=line["name"],
            status=status.status,
            percent_used=None
            if status.percent_used is None
            else float(status.percent_used.quantize(_CENT, ROUND_HALF_UP)),
            forecast_percent=None
            if status.forecast_percent is None
            else float(status.forecast_percent.quantize(_CENT, ROUND_HALF_UP)),
        )
        annotations = namespace_annotations(line, status, currency, as_of)
        for ns_name in line.get("namespaces", []):
            ns = namespaces.get(ns_name)
            if ns is None:
                continue  # gone since the report was made
            tenant_plan.namespaces.append(ns_name)
            previous = ((ns.get("metadata") or {}).get("annotations") or {}).get(BUDGET_STATUS_ANNOTATION)
            tenant_plan.previous[ns_name] = previous
            result.namespace_patches.append(namespace_patch(ns_name, annotations))
            if (
                status.status != NO_BUDGET
                and previous != status.status
                and not (previous is None and status.status == "ok")
            ):
                result.events.append(budget_event(ns_name, line["name"], previous, status, line, currency, as_of))
            action, body = quota_enforcement(
                quotas.get(ns_name), status.status == "exceeded", enforce, running_pods.get(ns_name)
            )
            tenant_plan.enforcement[ns_name] = action
            if body is not None:
                result.quota_patches.append(body)
        result.tenants.append(tenant_plan)
    return result
