#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: usage_report
short_description: Usage, cost and budget status per tenant and namespace
version_added: 0.1.0
description:
  - Allocates the cost of the cluster over a window the way OpenCost does, and returns it per tenant and per namespace.
  - Nodes are priced from O(prices) (spot nodes at the spot price) and their price is split into a per-core-hour
    and a per-GiB-hour price; each running pod pays max(request, usage) at its node's prices.
    PVCs pay per GiB-month by storage class, LoadBalancer Services per hour.
  - A node's cost not requested by pods is charged to the tenants whose pods ran on it (idle only while none did);
    idle and the platform namespaces are lines of their own, or shared across tenants.
  - Pods, Nodes, PVCs, Services and Namespaces are each listed once, cluster-wide, page by page.
  - Reads only; never changes anything. See C(docs/cost.md) for a worked example.
extends_documentation_fragment:
  - platykus.platform.kubeconfig
  - platykus.platform.usage
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it as usual.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
author:
  - Platykus engineers (@platykus)
"""

EXAMPLES = r"""
- name: Month-to-date cost per tenant
  platykus.platform.usage_report:
    prices: "{{ platykus_prices }}"
    tenants: "{{ platykus_tenants }}"
    platform_namespaces: [platykus-system, kube-system, ingress-nginx]
  register: usage

- name: Last week, with idle and the platform shared across tenants, usage from Prometheus
  platykus.platform.usage_report:
    prices: "{{ platykus_prices }}"
    tenants: "{{ platykus_tenants }}"
    window_start: "2024-06-03T00:00:00Z"
    window_end: "2024-06-10T00:00:00Z"
    idle: share
    platform: share
    usage_source: prometheus
    prometheus_url: https://prometheus.example.com
    prometheus_username: reporter
    prometheus_password: "{{ vault_prometheus_password }}"

- name: Last month from Prometheus history (deleted pods and removed nodes included), with AWS spend per tenant
  platykus.platform.usage_report:
    prices: "{{ platykus_prices }}"
    tenants: "{{ platykus_tenants }}"
    window_start: "2024-06-01T00:00:00Z"
    window_end: "2024-07-01T00:00:00Z"
    source: prometheus
    prometheus_step: 1h
    prometheus_metrics: kube-state-metrics
    prometheus_url: http://prometheus-operated.platykus-monitoring:9090
    aws_costs:
      enabled: true
"""

RETURN = r"""
report:
  description: The allocation. Money in O(prices) currency, rounded half up to 4 decimals; hours to 4; percentages to 2.
  returned: success
  type: dict
  contains:
    currency:
      description: ISO 4217 code of every amount.
      type: str
      sample: USD
    window:
      description: C(start), C(end) (ISO 8601, UTC), C(hours), C(month_to_date), C(month_hours), C(days).
      type: dict
    tenants:
      description:
        - One entry per tenant with C(name), C(namespaces), C(cost_center), C(core_hours), C(gib_hours),
          C(storage_gib_hours), C(loadbalancer_hours), C(idle_core_hours), C(idle_gib_hours), C(cost) (C(cpu),
          C(memory), C(storage), C(loadbalancer), C(idle) (the unrequested capacity of the nodes its pods ran on,
          plus its share of idle with O(idle=share)), C(platform), C(total)), C(budget), C(currency), C(percent_used), C(forecast) (month end),
          C(forecast_percent), C(status) (ok, notice, warning, exceeded or no_budget) and C(daily) (C(date), C(cost), C(cumulative)).
      type: list
      elements: dict
    namespaces:
      description: One entry per namespace with C(name), C(category) (tenant, platform, unassigned), C(tenant),
        C(environment), the hours, C(cost) (with C(idle), its part of its nodes' unrequested capacity) and C(forecast).
      type: list
      elements: dict
    platform:
      description: The platform namespaces together, and C(shared_to_tenants).
      type: dict
    unassigned:
      description: Namespaces that are neither a tenant's nor the platform's.
      type: dict
    idle:
      description: Node cost not requested by pods while no tenant pod ran on the node, C(core_hours), C(gib_hours),
        C(cost), C(charged_to_tenants) (unrequested capacity charged to the tenants whose pods ran there) and
        C(shared_to_tenants).
      type: dict
    nodes:
      description: Each node with its instance type, capacity type, hourly price, per-core-hour and per-GiB-hour prices, hours and cost.
      type: list
      elements: dict
    unpriced:
      description: Nodes, PVCs and Services that could not be priced (with O(unpriced=report)), with the reason and the fix.
      type: list
      elements: dict
    total:
      description: C(nodes), C(storage), C(loadbalancer), C(out_of_cluster) (with O(aws_costs) or O(addons)), C(cost)
        and C(forecast) of the whole cluster.
      type: dict
    out_of_cluster:
      description: With O(aws_costs), Cost Explorer's spend by tenant tag (C(tag_key), C(metric), C(tenants)), the
        C(untagged) lines and C(unknown_tenants) (tag values naming no tenant). Each tenant also carries C(cost.aws)
        and its own C(out_of_cluster) lines.
      returned: when O(aws_costs.enabled=true)
      type: dict
    addons:
      description: With O(addons), each add-on the cluster holds (C(lines) with C(tenant), C(addon), C(type), C(plan),
        C(provider), C(monthly), C(hours) in the window, C(cost) and C(charged_by) (catalog, cluster,
        aws_cost_explorer or unpriced)) and their C(total). Each tenant also carries C(cost.addons) and its add-ons
        as C(out_of_cluster) lines with C(source=addon).
      returned: when O(addons) is given
      type: dict
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import client_factory
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import (
    USAGE_ARGUMENT_SPEC,
    usage_module,
    usage_report,
)


def main():
    module = usage_module(USAGE_ARGUMENT_SPEC)
    try:
        report = usage_report(module.params, client_factory(module.params))
    except PlatykusError as err:
        module.fail_json(msg="Failed to report usage: %s" % err, exception=traceback.format_exc())
    module.exit_json(changed=False, report=report)


if __name__ == "__main__":
    main()
