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
      - Base URL of the Prometheus HTTP API, for O(usage_source=prometheus).
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
