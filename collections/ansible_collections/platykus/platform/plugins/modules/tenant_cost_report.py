#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_cost_report
short_description: Publish each tenant's own cost report and per-tenant cost metrics
version_added: 0.1.0
description:
  - Cuts the O(report) of M(platykus.platform.usage_report) per tenant (its line, its namespaces and its out-of-cluster
    lines; no other tenant, node, idle or platform line) and writes it into each of the tenant's namespaces as the
    ConfigMap C(platykus-cost-report) (keys C(report.json), C(report.html) with the chart, C(window-end)).
    The tenant roles read ConfigMaps in their own namespaces only, so a tenant reads its own report and nobody else's.
  - Writes the per-tenant cost and budget as Prometheus recording rules C(platykus_tenant_cost),
    C(platykus_tenant_cost_component), C(platykus_tenant_cost_forecast), C(platykus_tenant_budget) and
    C(platykus_tenant_budget_percent_used) (labels C(tenant), C(currency)), for dashboards and per-tenant alerts.
  - Every object is applied in one server-side batch with the field manager C(platykus-cost), dry-run first.
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: A server-side dry run predicts each object.
  diff_mode:
    support: full
    description: Returns the objects before and after for each one that changes.
options:
  report:
    description: The C(report) returned by M(platykus.platform.usage_report).
    type: dict
    required: true
  metrics_format:
    description:
      - How the recording rules are written, in O(metrics_namespace).
      - V(configmap) is a ConfigMap C(platykus-cost-rules) with key C(rules.yml) (the lab loads it);
        V(prometheusrule) is a prometheus-operator PrometheusRule C(platykus-cost-rules); V(none) writes no rules.
    type: str
    choices: [configmap, prometheusrule, none]
    default: prometheusrule
  metrics_namespace:
    description: The namespace of the recording rules.
    type: str
    default: platykus-monitoring
author:
  - Platykus engineers (@platykus)
"""

EXAMPLES = r"""
- name: Compute the month to date
  platykus.platform.usage_report:
    prices: "{{ platykus_prices }}"
    tenants: "{{ platykus_tenants }}"
  register: usage

- name: Publish it to the tenants
  platykus.platform.tenant_cost_report:
    report: "{{ usage.report }}"
    metrics_format: prometheusrule
"""

RETURN = r"""
objects:
  description: Every object written (or that would be), as C(Kind namespace/name).
  returned: success
  type: list
  elements: str
  sample: ["ConfigMap acme-dev/platykus-cost-report", "PrometheusRule platykus-monitoring/platykus-cost-rules"]
changed_objects:
  description: The objects whose content changed (in check mode, would change).
  returned: success
  type: list
  elements: str
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._cost.publish import publish


def main():
    spec = dict(KUBE_ARGUMENT_SPEC)
    spec.update(
        report=dict(type="dict", required=True),
        metrics_format=dict(type="str", default="prometheusrule", choices=["configmap", "prometheusrule", "none"]),
        metrics_namespace=dict(type="str", default="platykus-monitoring"),
    )
    module = platykus_module(spec)
    try:
        result = publish(
            module.params["report"],
            client_factory(module.params),
            module.params["metrics_format"],
            module.params["metrics_namespace"],
            check_mode=module.check_mode,
            diff=module._diff,
        )
    except PlatykusError as err:
        module.fail_json(msg="Failed to publish the tenants' cost: %s" % err, exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
