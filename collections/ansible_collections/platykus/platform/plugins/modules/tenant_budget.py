#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_budget
short_description: Record, announce and enforce each tenant's budget status
version_added: 0.1.0
description:
  - Evaluates each tenant's spend and month-end forecast against its monthly budget and the O(thresholds)
    (status V(ok), V(notice), V(warning), V(exceeded); the forecast can raise the status to V(warning) at most).
  - Writes the status on each of the tenant's namespaces as annotations C(platykus.io/budget-status),
    C(platykus.io/budget-spent), C(platykus.io/budget-forecast), C(platykus.io/budget-limit),
    C(platykus.io/budget-percent) and C(platykus.io/budget-updated) (the report's window end), with the field manager C(platykus-budget).
  - Creates one core/v1 Event per tenant namespace when its status changes (reason C(BudgetThresholdCrossed)
    going up, C(BudgetStatusRecovered) going down).
  - With O(enforce=true), a tenant whose spend exceeds its budget gets C(spec.hard.pods) of its ResourceQuota
    C(tenant-quota) lowered to the pods running now, the original kept in the quota annotation
    C(platykus.io/budget-original-pods); the original is written back once the tenant is under budget again.
  - Optionally keeps one AWS Budget per tenant (C(platykus-<tenant>)) with notifications at the thresholds.
  - Takes the O(report) of M(platykus.platform.usage_report), or computes it from the same options.
extends_documentation_fragment:
  - platykus.platform.kubeconfig
  - platykus.platform.usage
options:
  report:
    description:
      - The C(report) returned by M(platykus.platform.usage_report). When not set, it is computed from O(prices) and the other usage options.
    type: dict
  prices:
    description:
      - The price catalog, usually C(platykus_prices); needed only when O(report) is not set.
    type: dict
    required: false
  enforce:
    description:
      - Lower the pods limit of a tenant over budget, and restore it once back under.
      - When false, limits lowered by an earlier run are restored.
    type: bool
    default: false
  aws_budgets:
    description:
      - Keep one AWS Budget per tenant with a budget (COST, MONTHLY, limit = the budget).
    type: dict
    suboptions:
      enabled:
        description: Manage AWS Budgets.
        type: bool
        default: false
      account_id:
        description: The AWS account that holds the budgets. Read from STS when not set.
        type: str
      region:
        description: Region of the Budgets endpoint.
        type: str
        default: us-east-1
      endpoint_url:
        description: Another endpoint, for example an emulator on C(http://127.0.0.1:5000).
        type: str
      notify:
        description: Who is told at each threshold; at least one of C(emails) or C(sns_topics).
        type: dict
        suboptions:
          emails:
            description: Email addresses.
            type: list
            elements: str
            default: []
          sns_topics:
            description: SNS topic ARNs.
            type: list
            elements: str
            default: []
      cost_center_tag:
        description: Cost-allocation tag key filtered on with the tenant's C(cost_center).
        type: str
        default: cost-center
      prune:
        description: Delete C(platykus-*) budgets of tenants that no longer have one.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Namespaces and quotas are applied as server-side dry runs; Events and AWS Budgets are predicted, not written.
  diff_mode:
    support: full
    description: Returns the before and after of every namespace, quota and AWS Budget that changes.
requirements:
  - boto3 (only with O(aws_budgets.enabled=true))
author:
  - Platykus engineers (@platykus)
"""

EXAMPLES = r"""
- name: Report, then record and enforce budgets
  platykus.platform.usage_report:
    prices: "{{ platykus_prices }}"
    tenants: "{{ platykus_tenants }}"
    platform_namespaces: "{{ platykus_platform_namespaces }}"
  register: usage

- name: Budgets
  platykus.platform.tenant_budget:
    report: "{{ usage.report }}"
    enforce: true
    thresholds: {notice: 50, warning: 80, exceeded: 100}
    aws_budgets:
      enabled: true
      notify:
        emails: [finops@example.com]
"""

RETURN = r"""
tenants:
  description: Per tenant C(tenant), C(status), C(previous) (status recorded per namespace before this run),
    C(namespaces), C(percent_used), C(forecast_percent) and C(enforcement) (per namespace lower, keep, restore, none or missing).
  returned: always
  type: list
  elements: dict
events:
  description: Names of the Events created (or that would be, in check mode), as C(namespace/name).
  returned: always
  type: list
  elements: str
namespaces:
  description: C(created), C(updated), C(unchanged) namespace annotation sets.
  returned: always
  type: dict
quotas:
  description: C(updated) and C(unchanged) quotas.
  returned: always
  type: dict
aws_budgets:
  description:
    - C(created), C(updated), C(deleted), C(unchanged) AWS Budget names, when enabled.
    - C(warnings) lists what could not be checked because the endpoint does not implement a call
      (an emulator such as moto lacks DescribeSubscribersForNotification); each is also a task warning.
  returned: when aws_budgets.enabled
  type: dict
report:
  description: The report the statuses were computed from.
  returned: always
  type: dict
"""

import copy
from dataclasses import asdict

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.urls import open_url

from ansible_collections.platykus.platform.plugins.module_utils._aws_budgets import HAS_BOTOCORE, caller_account, sync_budgets
from ansible_collections.platykus.platform.plugins.module_utils._budget import (
    FIELD_MANAGER,
    QUOTA_NAME,
    plan,
    validate_thresholds,
)
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._kube import (
    BatchSummary,
    KubeClient,
    object_key,
)
from ansible_collections.platykus.platform.plugins.module_utils._module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._usage import TENANT_LABEL
from ansible_collections.platykus.platform.plugins.module_utils._usage_collect import USAGE_ARGUMENT_SPEC, usage_report

try:
    import boto3

    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False


def fetch(url):
    try:
        return open_url(url, method="GET", timeout=60).read()
    except (OSError, ValueError) as err:
        raise PlatykusError("prometheus_url: GET %s failed: %s" % (url, err), field="prometheus_url") from err


def argument_spec():
    spec = copy.deepcopy(USAGE_ARGUMENT_SPEC)
    spec["prices"]["required"] = False
    spec.update(
        report=dict(type="dict"),
        enforce=dict(type="bool", default=False),
        aws_budgets=dict(
            type="dict",
            options=dict(
                enabled=dict(type="bool", default=False),
                account_id=dict(type="str"),
                region=dict(type="str", default="us-east-1"),
                endpoint_url=dict(type="str"),
                notify=dict(
                    type="dict",
                    options=dict(
                        emails=dict(type="list", elements="str", default=[]),
                        sns_topics=dict(type="list", elements="str", default=[]),
                    ),
                ),
                cost_center_tag=dict(type="str", default="cost-center"),
                prune=dict(type="bool", default=True),
            ),
        ),
    )
    return spec


def running_pods(client, quotas, namespaces):
    """Non-terminated pods per namespace: the quota's own count, else counted."""
    counts = {}
    for ns in namespaces:
        used = ((quotas.get(ns) or {}).get("status") or {}).get("used") or {}
        if used.get("pods") is not None:
            counts[ns] = int(used["pods"])
        else:
            selector = "status.phase!=Succeeded,status.phase!=Failed"
            counts[ns] = sum(1 for pod in client.iter_list("v1", "Pod", namespace=ns, field_selector=selector))
    return counts


def run(module, client):
    params = module.params
    thresholds = validate_thresholds(params["thresholds"])
    report = params["report"]
    if report is None:
        if not params["prices"]:
            raise PlatykusError("prices: required when report is not given; pass report from usage_report or prices",
                                field="prices")
        report = usage_report(client, params, fetch=fetch)

    namespaces = {ns["metadata"]["name"]: ns for ns in client.iter_list("v1", "Namespace", label_selector=TENANT_LABEL)}
    quotas = {
        q["metadata"]["namespace"]: q
        for q in client.iter_list("v1", "ResourceQuota", field_selector="metadata.name=%s" % QUOTA_NAME)
    }
    tenant_namespaces = [ns for line in report.get("tenants", []) for ns in line.get("namespaces", []) if ns in namespaces]
    counts = running_pods(client, quotas, tenant_namespaces) if params["enforce"] else {}
    budget_plan = plan(report, namespaces, quotas, counts, thresholds, params["enforce"])

    check = module.check_mode
    for event in budget_plan.events:
        if not check:
            client.create(event)
    current = {object_key(ns): ns for ns in namespaces.values()}
    current.update({object_key(q): q for q in quotas.values()})
    ns_results = client.apply(budget_plan.namespace_patches, field_manager=FIELD_MANAGER, dry_run=check, current=current)
    quota_results = client.apply(budget_plan.quota_patches, field_manager=FIELD_MANAGER, dry_run=check, current=current)
    ns_summary = BatchSummary.from_results(ns_results, with_diff=module._diff)
    quota_summary = BatchSummary.from_results(quota_results, with_diff=module._diff)

    result = dict(
        changed=bool(budget_plan.events) or ns_summary.changed or quota_summary.changed,
        tenants=[asdict(t) for t in budget_plan.tenants],
        events=["%s/%s" % (e["metadata"]["namespace"], e["metadata"]["name"]) for e in budget_plan.events],
        namespaces=dict(created=ns_summary.created, updated=ns_summary.updated, unchanged=ns_summary.unchanged),
        quotas=dict(updated=quota_summary.created + quota_summary.updated, unchanged=quota_summary.unchanged),
        report=report,
    )
    diffs = ns_summary.diffs + quota_summary.diffs

    aws = params["aws_budgets"] or {}
    if aws.get("enabled"):
        if not HAS_BOTO3 or not HAS_BOTOCORE:
            module.fail_json(msg=missing_required_lib("boto3"))
        session = boto3.session.Session(region_name=aws["region"])
        budgets = session.client("budgets", endpoint_url=aws.get("endpoint_url"))
        account_id = aws.get("account_id")
        if not account_id:
            account_id = caller_account(session.client("sts", endpoint_url=aws.get("endpoint_url")))
        notify = aws.get("notify") or {}
        tenants = [
            dict(name=line["name"], budget=line.get("budget"), currency=report["currency"], cost_center=line.get("cost_center"))
            for line in report.get("tenants", [])
        ]
        changes = sync_budgets(
            budgets, account_id, tenants, thresholds, notify.get("emails") or [], notify.get("sns_topics") or [],
            cost_center_tag=aws["cost_center_tag"], prune=aws["prune"], check_mode=check,
        )
        result["aws_budgets"] = dict(created=changes.created, updated=changes.updated, deleted=changes.deleted,
                                     unchanged=changes.unchanged, warnings=changes.warnings)
        result["changed"] = result["changed"] or changes.changed
        for warning in changes.warnings:
            module.warn(warning)
        diffs += changes.diffs
    if module._diff:
        result["diff"] = diffs
    return result


def main():
    module = platykus_module(argument_spec())
    try:
        client = KubeClient.from_kubeconfig(module.params["kubeconfig"], module.params["context"])
        result = run(module, client)
    except PlatykusError as err:
        module.fail_json(msg="Failed to evaluate tenant budgets: %s" % err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
