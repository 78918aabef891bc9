# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tenant_budget does: read the tenants' namespaces and quotas, plan, write, keep AWS Budgets.

Read once (one LIST per kind), plan with the pure ``_cost.budget.plan``, then write: Events, then the
namespace annotations and the quotas as two server-side apply batches under the budget's own field
manager. Check mode dry-runs the applies and predicts the Events and AWS Budgets without writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, object_key
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AWS_COST_CENTER_TAG,
    BUDGET_FIELD_MANAGER,
    QUOTA_NAME,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.aws_budgets import (
    budgets_clients,
    caller_account,
    require_boto3,
    sync_budgets,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget import (
    BudgetPlan,
    plan,
    validate_thresholds,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import usage_report

# Pods that still hold a place in the quota: everything not finished.
_NOT_FINISHED = "status.phase!=Succeeded,status.phase!=Failed"


def running_pods(client: Any, quotas: Mapping[str, Mapping[str, Any]], namespaces: list[str]) -> dict[str, int]:
    """Non-terminated pods per namespace: the quota's own count, else counted."""
    counts = {}
    for ns in namespaces:
        used = ((quotas.get(ns) or {}).get("status") or {}).get("used") or {}
        if used.get("pods") is not None:
            counts[ns] = int(used["pods"])
        else:
            counts[ns] = len(client.list_all("v1", "Pod", namespace=ns, field_selector=_NOT_FINISHED))
    return counts


def _read(client: Any, report: Mapping[str, Any], enforce: bool) -> tuple[dict, dict, dict]:
    """Tenant namespaces by name, their ``tenant-quota`` by namespace, and (to enforce) their running pods."""
    namespaces = {ns["metadata"]["name"]: ns for ns in client.list_all("v1", "Namespace", label_selector=TENANT_LABEL)}
    quotas = {
        q["metadata"]["namespace"]: q
        for q in client.list_all("v1", "ResourceQuota", field_selector="metadata.name=%s" % QUOTA_NAME)
    }
    wanted = [ns for line in report.get("tenants", []) for ns in line.get("namespaces", []) if ns in namespaces]
    counts = running_pods(client, quotas, wanted) if enforce else {}
    return namespaces, quotas, counts


def _write(
    client: Any, budget_plan: BudgetPlan, current: dict, check_mode: bool, diff: bool
) -> tuple[BatchSummary, BatchSummary]:
    for event in budget_plan.events:
        if not check_mode:
            client.create(event)
    summaries = []
    for batch in (budget_plan.namespace_patches, budget_plan.quota_patches):
        results = client.apply(batch, field_manager=BUDGET_FIELD_MANAGER, dry_run=check_mode, current=current)
        summaries.append(BatchSummary.from_results(results, with_diff=diff))
    return summaries[0], summaries[1]


def _aws_tenants(report: Mapping[str, Any]) -> list[dict]:
    return [
        dict(
            name=line["name"],
            budget=line.get("budget"),
            currency=report["currency"],
            cost_center=line.get("cost_center"),
        )
        for line in report.get("tenants", [])
    ]


def _sync_aws(
    aws: Mapping[str, Any], report: Mapping[str, Any], thresholds: Mapping[str, Any], check_mode: bool
) -> Any:
    budgets, sts = budgets_clients(aws.get("region") or "us-east-1", aws.get("endpoint_url"))
    account_id = aws.get("account_id") or caller_account(sts)
    notify = aws.get("notify") or {}
    return sync_budgets(
        budgets,
        account_id,
        _aws_tenants(report),
        thresholds,
        notify.get("emails") or [],
        notify.get("sns_topics") or [],
        cost_center_tag=aws.get("cost_center_tag") or AWS_COST_CENTER_TAG,
        prune=aws.get("prune", True) is not False,
        check_mode=check_mode,
    )


def _report(params: Mapping[str, Any], client: Any) -> Mapping[str, Any]:
    if params.get("report") is not None:
        return params["report"]
    return usage_report(params, lambda: client)


def run_budgets(
    params: Mapping[str, Any],
    connect: Callable[[], Any],
    check_mode: bool = False,
    diff: bool = False,
    warn: Callable[[str], None] = lambda message: None,
) -> dict:
    """tenant_budget's result for ``params`` (its options); ``warn`` receives what could not be checked."""
    thresholds = validate_thresholds(params.get("thresholds"))
    if params.get("report") is None and not params.get("prices"):
        raise PlatykusError(
            "prices: required when report is not given; pass report from usage_report or prices", field="prices"
        )
    aws = params.get("aws_budgets") or {}
    if aws.get("enabled"):
        require_boto3()  # before anything is written to the cluster
    client = connect()
    report = _report(params, client)
    namespaces, quotas, counts = _read(client, report, bool(params.get("enforce")))
    budget_plan = plan(report, namespaces, quotas, counts, thresholds, bool(params.get("enforce")))
    current = {object_key(obj): obj for obj in list(namespaces.values()) + list(quotas.values())}
    ns_summary, quota_summary = _write(client, budget_plan, current, check_mode, diff)
    result = dict(
        changed=bool(budget_plan.events) or ns_summary.changed or quota_summary.changed,
        tenants=[asdict(t) for t in budget_plan.tenants],
        events=["%s/%s" % (e["metadata"]["namespace"], e["metadata"]["name"]) for e in budget_plan.events],
        namespaces=dict(created=ns_summary.created, updated=ns_summary.updated, unchanged=ns_summary.unchanged),
        quotas=dict(updated=quota_summary.created + quota_summary.updated, unchanged=quota_summary.unchanged),
        report=report,
    )
    diffs = ns_summary.diffs + quota_summary.diffs
    if aws.get("enabled"):
        changes = _sync_aws(aws, report, thresholds, check_mode)
        result["aws_budgets"] = dict(
            created=changes.created,
            updated=changes.updated,
            deleted=changes.deleted,
            unchanged=changes.unchanged,
            warnings=changes.warnings,
        )
        result["changed"] = result["changed"] or changes.changed
        for warning in changes.warnings:
            warn(warning)
        diffs += changes.diffs
    if diff:
        result["diff"] = diffs
    return result
