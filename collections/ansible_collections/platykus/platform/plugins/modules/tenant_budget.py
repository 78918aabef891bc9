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
        description: Cost-allocation tag key filtered on with the tenant's C(cost_center) (the key Platykus tags AWS resources with).
        type: str
        default: platykus:cost-center
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
import traceback

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import client_factory
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget_run import run_budgets
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import USAGE_ARGUMENT_SPEC, usage_module


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
                cost_center_tag=dict(type="str", default="platykus:cost-center"),
                prune=dict(type="bool", default=True),
            ),
        ),
    )
    return spec


def main():
    module = usage_module(argument_spec())
    try:
        result = run_budgets(
            module.params,
            client_factory(module.params),
            check_mode=module.check_mode,
            diff=module._diff,
            warn=module.warn,
        )
    except PlatykusError as err:
        module.fail_json(msg="Failed to evaluate tenant budgets: %s" % err, exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
