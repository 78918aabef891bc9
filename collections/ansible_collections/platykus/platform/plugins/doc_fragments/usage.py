# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  prices:
    description:
      - The price catalog, usually C(platykus_prices) from the inventory.
      - Keys C(currency) (ISO 4217), C(instance_types) (type to on-demand hourly price, or a mapping with
        C(hourly), C(spot_hourly), C(spot_discount)), C(spot_discount) (0..<1), C(storage_classes)
        (class to price per GiB-month), C(default_storage_class), C(loadbalancer_hourly), C(cpu_ram_weight).
      - Negative prices, instance prices above 1000 per hour and unknown currencies are refused.
    type: dict
    required: true
  tenants:
    description:
      - Tenant specs; only C(name), C(budget.monthly), C(budget.currency) and C(cost_center) are read.
      - A budget is read with the tenant spec's rule (C(monthly) more than 0; C(currency) V(USD) when not set)
        and must be in the currency of O(prices); nothing is converted.
      - Namespaces are matched to tenants by their C(platykus.io/tenant) label.
    type: list
    elements: dict
    default: []
  platform_namespaces:
    description:
      - Namespaces that run the platform itself (for example C(platykus-system), C(kube-system)).
    type: list
    elements: str
    default: []
  window_start:
    description:
      - Start of the window, ISO 8601 (C(2024-06-01T00:00:00Z)). When set, C(month_to_date) is ignored.
    type: str
  window_end:
    description:
      - End of the window (exclusive), ISO 8601. Defaults to now.
      - A time after now (or after O(now)) is refused; a report charges only hours that have passed.
    type: str
  month_to_date:
    description:
      - Without C(window_start), report from the first instant of the current month (UTC) to now.
    type: bool
    default: true
  now:
    description:
      - Override the current time (ISO 8601), for reproducible reports and tests.
    type: str
  cpu_ram_weight:
    description:
      - How many GiB-hours one core-hour is worth when a node's price is split into a per-core-hour
        and a per-GiB-hour price. Overrides C(prices.cpu_ram_weight); default 7.46 (OpenCost's ratio).
    type: float
  idle:
    description:
      - V(separate) reports node cost not used by pods on its own line; V(share) spreads it across
        tenants in proportion to their cpu and memory cost.
    type: str
    choices: [separate, share]
    default: separate
  platform:
    description:
      - V(separate) reports the platform namespaces on their own line; V(share) spreads their cost
        across tenants in proportion to their cpu and memory cost.
    type: str
    choices: [separate, share]
    default: separate
  unpriced:
    description:
      - What to do with a node, storage class or LoadBalancer the catalog has no price for.
      - V(fail) stops with a message naming it and the fix; V(report) lists it under C(unpriced) and charges nothing for it.
    type: str
    choices: [fail, report]
    default: fail
  source:
    description:
      - Where the window's pods and nodes come from.
      - V(objects) charges the Pods and Nodes that exist when the report runs (with their start and end times);
        a pod or node deleted before the run is not charged.
      - V(prometheus) reads the window back from C(prometheus_url) with range queries every O(prometheus_step)
        (pod requests and usage, node lifetimes, instance and capacity types, node capacity), so deleted pods and
        removed nodes are charged too. O(usage_source) does not apply; usage comes from the same queries.
      - With V(objects), PersistentVolumeClaims and LoadBalancer Services are the objects that exist now; with
        V(prometheus), every bound claim and LoadBalancer Service seen in the window (kube-state-metrics' series),
        each charged for its sampled lifetime.
    type: str
    choices: [objects, prometheus]
    default: objects
  prometheus_step:
    description:
      - With O(source=prometheus), the resolution of the history, like V(60s), V(5m) or V(1h); it must divide a day.
        Each sample stands for one step.
    type: str
    default: 1h
  prometheus_metrics:
    description:
      - With O(source=prometheus), which metrics answer the queries.
      - V(scheduler) reads upstream components only (kube-scheduler's C(/metrics/resources), the kubelet's
        C(/metrics/resource), Kubernetes node discovery as job C(kubernetes-nodes), C(kube_node_status_capacity)).
      - V(kube-state-metrics) reads kube-state-metrics (C(kube_pod_container_resource_requests),
        C(kube_node_labels) with the node labels allow-listed) and the kubelet's metrics. See C(docs/cost.md).
    type: str
    choices: [scheduler, kube-state-metrics]
    default: scheduler
  prometheus_queries:
    description:
      - PromQL replacing some of the O(prometheus_metrics) queries, by key (C(nodes), C(node_capacity),
        C(pod_requests), C(pod_cpu_usage), C(pod_memory_usage), C(volumes), C(loadbalancers), C(addon_labels),
        C(addon_annotations)); each must return the labels the default does.
    type: dict
  addons:
    description:
      - The add-on catalog C(platykus_addons) with C(providers), C(plans) and C(quota); when given, every add-on the API
        server holds (its connection Secret, labels and annotations only) is charged its plan's C(monthly) price,
        prorated by the hours it existed in each day of the window at 730 hours a month.
      - Each add-on is an out-of-cluster line of its tenant (C(out_of_cluster), source C(addon)) in its C(cost.addons),
        total, budget status and daily series; the report's C(addons) lists every add-on (C(charged_by)).
      - C(operator) add-ons are not charged at the plan price (their pods and volumes are in the tenant's namespace
        cost), nor C(aws) add-ons when O(aws_costs) is on (Cost Explorer has their spend). See C(docs/cost.md).
      - With O(source=prometheus) the add-ons are read from kube-state-metrics' C(kube_secret_labels) and
        C(kube_secret_annotations) (allow-listed, see C(docs/cost.md)) instead of the Secrets that exist now; each step
        an add-on has a sample it pays the plan of that step, so a destroyed add-on is charged the hours it was
        sampled and a resize splits.
    type: dict
  aws_costs:
    description:
      - Out-of-cluster costs per tenant from AWS Cost Explorer (C(ce:GetCostAndUsage)), grouped by the tenant tag and
        the service, over every UTC day the window touches (Cost Explorer's finest grain is a day).
      - Each tenant gets its spend as its own lines (C(out_of_cluster)) and in its total, budget status and daily series;
        untagged spend and spend tagged with an unknown tenant are listed in the report's C(out_of_cluster), never dropped.
    type: dict
    suboptions:
      enabled:
        description: Read Cost Explorer.
        type: bool
        default: false
      region:
        description: The region of the Cost Explorer client.
        type: str
        default: us-east-1
      endpoint_url:
        description: Another endpoint, such as an emulator; AWS_ENDPOINT_URL is honoured as well.
        type: str
      tag_key:
        description: The cost allocation tag naming a tenant; by default the one Platykus tags tenants' AWS resources with,
          C(platykus:tenant) (_core.names.AWS_TENANT_TAG).
        type: str
      metric:
        description: The Cost Explorer metric.
        type: str
        choices: [UnblendedCost, AmortizedCost, BlendedCost, NetUnblendedCost, NetAmortizedCost]
        default: UnblendedCost
  usage_source:
    description:
      - Where measured usage comes from; pods are charged max(request, usage).
      - V(none) charges requests only; V(metrics) reads C(metrics.k8s.io) PodMetrics (a point in time);
        V(prometheus) queries the averages over the window from C(prometheus_url).
    type: str
    choices: [none, metrics, prometheus]
    default: none
  prometheus_url:
    description:
      - Base URL of the Prometheus HTTP API, for O(source=prometheus) and O(usage_source=prometheus).
      - Pass credentials with O(prometheus_username) and O(prometheus_password), or O(prometheus_bearer_token),
        not in the URL. A user and password in the URL still work and are masked in the output,
        but they are not a no_log option.
    type: str
  prometheus_username:
    description:
      - User for HTTP basic authentication to Prometheus (sent with the first request).
    type: str
  prometheus_password:
    description:
      - Password for O(prometheus_username). Never logged nor shown.
    type: str
  prometheus_bearer_token:
    description:
      - Bearer token sent to Prometheus in the C(Authorization) header, instead of a user and password. Never logged nor shown.
    type: str
  thresholds:
    description:
      - Budget thresholds in percent of the monthly budget, keys C(notice), C(warning), C(exceeded).
    type: dict
"""
