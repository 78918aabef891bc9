# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 3 of the allocation: a ledger charged one UTC day at a time.

Per day: each node's cost goes to the pods that ran on it (max(request, usage) at the node's
per-core-hour and per-GiB-hour prices) and the rest is idle; volumes and load balancers are
charged to their namespaces; then idle and the platform are shared across tenants in proportion
to each tenant's cpu+memory cost that day (when sharing is on). What has no price is counted in
hours and listed, never charged. Every amount is an exact Decimal; rounding is the renderer's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._prices import HOURS_PER_MONTH
from ansible_collections.platykus.platform.plugins.module_utils._usage_index import Node, PodRun, PricedCluster
from ansible_collections.platykus.platform.plugins.module_utils._usage_owners import Ownership
from ansible_collections.platykus.platform.plugins.module_utils._usage_time import ZERO, overlap

COMPONENTS = ("cpu", "memory", "storage", "loadbalancer")
AMOUNTS = ("core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours")
UNPRICED_AMOUNTS = ("hours",) + AMOUNTS

Line = dict  # str -> Decimal: the AMOUNTS and COMPONENTS of one namespace (plus idle/platform for a tenant)


def zero_line() -> Line:
    return {key: ZERO for key in AMOUNTS + COMPONENTS}


def line_total(line: Line, extra: Iterable[str] = ()) -> Decimal:
    return sum((line[key] for key in COMPONENTS + tuple(extra)), ZERO)


@dataclass
class _Day:
    """What one day's charging needs to share idle and the platform at its end."""

    start: datetime
    end: datetime
    cost: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # namespace -> all it was charged
    compute: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # namespace -> cpu + memory
    idle: Decimal = ZERO

    @property
    def key(self) -> str:
        return self.start.date().isoformat()

    def hours(self, start: datetime, end: datetime | None) -> Decimal:
        return overlap(start, end, self.start, self.end)


class Ledger:
    """Money and hours per namespace, idle, node, unpriced item, and each tenant's shares and days."""

    def __init__(self, owners: Ownership, tenants: Iterable[str], idle: str, platform: str) -> None:
        self.owners = owners
        self.tenants = set(tenants)
        self.share_idle = idle == "share"
        self.share_platform = platform == "share"
        self.namespaces: dict[str, Line] = defaultdict(zero_line)
        self.idle = {"core_hours": ZERO, "gib_hours": ZERO, "cpu": ZERO, "memory": ZERO}
        self.nodes: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"hours": ZERO, "cost": ZERO})
        self.unpriced: dict[tuple[str, str], dict[str, Any]] = {}
        self.tenant_shares: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"idle": ZERO, "platform": ZERO})
        self.tenant_daily: dict[str, dict[str, Decimal]] = defaultdict(dict)
        self.idle_shared = ZERO
        self.platform_shared = ZERO
        # Out-of-cluster spend: tenant -> (source, service) -> amount, and the rest by tag value.
        # Sources: "aws" (Cost Explorer, _aws_costs) and "addon" (add-on plans, _usage_addons).
        self.external: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        self.external_other: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))

    def add_external(self, tag_value: str, day: str, service: str, amount: Decimal, source: str = "aws") -> None:
        """A tenant's own out-of-cluster line (in its total and its day); untagged or unknown tags apart."""
        if tag_value in self.tenants:
            self.external[tag_value][(source, service)] += amount
            daily = self.tenant_daily[tag_value]
            daily[day] = daily.get(day, ZERO) + amount
        else:
            self.external_other[tag_value][(source, service)] += amount

    def external_sum(self, tenant: str, source: str) -> Decimal:
        return sum((amount for (src, _s), amount in self.external[tenant].items() if src == source), ZERO)

    def charge_day(self, start: datetime, end: datetime, cluster: PricedCluster) -> None:
        day = _Day(start, end)
        by_name = {node.name: node for node in cluster.nodes}
        for name, pods in cluster.node_groups():
            node = by_name.get(name)
            if node is None or node.hourly is None:
                self._count_unpriced_node(day, name, node, pods)
            else:
                self._charge_node(day, node, pods)
        self._charge_volumes(day, cluster)
        self._charge_balancers(day, cluster)
        self._share(day)

    # -- nodes and pods -----------------------------------------------------------------------------
    def _charge_node(self, day: _Day, node: Node, pods: list[PodRun]) -> None:
        node_hours = day.hours(node.start, node.end)
        if node_hours <= 0 and not pods:
            return
        self.nodes[node.name]["hours"] += node_hours
        self.nodes[node.name]["cost"] += node_hours * node.hourly
        used = {"cpu": ZERO, "memory": ZERO, "core_hours": ZERO, "gib_hours": ZERO}
        for pod in pods:
            hours = day.hours(pod.start, pod.end)
            if hours > 0:
                self._charge_pod(day, node, pod, hours, used)
        # Idle per resource, never below zero: pods using more than the node has do not make it negative.
        idle_cpu = max(ZERO, node.cores * node_hours * node.core_price - used["cpu"])
        idle_mem = max(ZERO, node.gib * node_hours * node.gib_price - used["memory"])
        self.idle["core_hours"] += max(ZERO, node.cores * node_hours - used["core_hours"])
        self.idle["gib_hours"] += max(ZERO, node.gib * node_hours - used["gib_hours"])
        self.idle["cpu"] += idle_cpu
        self.idle["memory"] += idle_mem
        day.idle += idle_cpu + idle_mem

    def _charge_pod(self, day: _Day, node: Node, pod: PodRun, hours: Decimal, used: dict[str, Decimal]) -> None:
        line = self.namespaces[pod.namespace]
        core_hours, gib_hours = pod.cores * hours, pod.gib * hours
        cpu_cost, mem_cost = core_hours * node.core_price, gib_hours * node.gib_price
        for key, value in (
            ("core_hours", core_hours),
            ("gib_hours", gib_hours),
            ("cpu", cpu_cost),
            ("memory", mem_cost),
        ):
            line[key] += value
            used[key] += value
        day.cost[pod.namespace] += cpu_cost + mem_cost
        day.compute[pod.namespace] += cpu_cost + mem_cost

    def _count_unpriced_node(self, day: _Day, name: str, node: Node | None, pods: list[PodRun]) -> None:
        """Pods on a node that is gone (or unpriced): count their usage, charge nothing, say so."""
        if node is None:
            line = self._unpriced_line(
                "Node",
                name,
                instance_type=None,
                reason="node '%s' no longer exists; its price is unknown" % name,
                fix="run the report more often, or take history from Prometheus/OpenCost",
            )
        else:
            line = self._unpriced_line(
                "Node", node.name, instance_type=node.instance_type, reason=node.problem, fix=node.fix
            )
            line["hours"] += day.hours(node.start, node.end)
        for pod in pods:
            hours = day.hours(pod.start, pod.end)
            if hours <= 0:
                continue
            for target in (self.namespaces[pod.namespace], line):
                target["core_hours"] += pod.cores * hours
                target["gib_hours"] += pod.gib * hours
            line["namespaces"].add(pod.namespace)

    def _unpriced_line(self, kind: str, name: str, **info: Any) -> dict[str, Any]:
        key = (kind, name)
        if key not in self.unpriced:
            self.unpriced[key] = dict(
                kind=kind, name=name, namespaces=set(), **{a: ZERO for a in UNPRICED_AMOUNTS}, **info
            )
        return self.unpriced[key]

    # -- volumes and load balancers -------------------------------------------------------------------
    def _charge_volumes(self, day: _Day, cluster: PricedCluster) -> None:
        for volume in cluster.volumes:
            hours = day.hours(volume.start, volume.end)
            if hours <= 0:
                continue
            self.namespaces[volume.namespace]["storage_gib_hours"] += volume.gib * hours
            if volume.price is None:
                line = self._unpriced_line(
                    "PersistentVolumeClaim",
                    volume.name,
                    storage_class=volume.storage_class,
                    reason="storage class '%s' has no price" % (volume.storage_class or "(default)"),
                    fix="add it to platykus_prices.storage_classes",
                )
                line["storage_gib_hours"] += volume.gib * hours
                line["namespaces"].add(volume.namespace)
                continue
            cost = volume.gib * hours * volume.price / HOURS_PER_MONTH
            self.namespaces[volume.namespace]["storage"] += cost
            day.cost[volume.namespace] += cost

    def _charge_balancers(self, day: _Day, cluster: PricedCluster) -> None:
        for balancer in cluster.balancers:
            hours = day.hours(balancer.start, balancer.end)
            if hours <= 0:
                continue
            self.namespaces[balancer.namespace]["loadbalancer_hours"] += hours
            if cluster.loadbalancer_hourly is None:
                line = self._unpriced_line(
                    "Service",
                    balancer.name,
                    reason="there is no LoadBalancer price",
                    fix="set platykus_prices.loadbalancer_hourly",
                )
                line["loadbalancer_hours"] += hours
                line["namespaces"].add(balancer.namespace)
                continue
            cost = hours * cluster.loadbalancer_hourly
            self.namespaces[balancer.namespace]["loadbalancer"] += cost
            day.cost[balancer.namespace] += cost

    # -- shares ---------------------------------------------------------------------------------------
    def _share(self, day: _Day) -> None:
        """Each tenant's day: its own cost plus its shares, in proportion to its cpu+memory cost that day."""
        weights: dict[str, Decimal] = defaultdict(lambda: ZERO)
        own: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for namespace, tenant in self.owners.tenant.items():
            weights[tenant] += day.compute.get(namespace, ZERO)
            own[tenant] += day.cost.get(namespace, ZERO)
        weight_sum = sum(weights.values(), ZERO)
        platform_cost = sum((cost for ns, cost in day.cost.items() if ns in self.owners.platform), ZERO)
        idle_pool = day.idle if self.share_idle and weight_sum > 0 else ZERO
        platform_pool = platform_cost if self.share_platform and weight_sum > 0 else ZERO
        for tenant in self.tenants:
            share_idle = idle_pool * weights[tenant] / weight_sum if idle_pool else ZERO
            share_platform = platform_pool * weights[tenant] / weight_sum if platform_pool else ZERO
            self.tenant_shares[tenant]["idle"] += share_idle
            self.tenant_shares[tenant]["platform"] += share_platform
            self.tenant_daily[tenant][day.key] = own[tenant] + share_idle + share_platform
        self.idle_shared += idle_pool
        self.platform_shared += platform_pool

    # -- reading it back ------------------------------------------------------------------------------
    def group(self, namespaces: Iterable[str]) -> Line:
        line = zero_line()
        for namespace in namespaces:
            for key in line:
                line[key] += self.namespaces[namespace][key]
        return line
