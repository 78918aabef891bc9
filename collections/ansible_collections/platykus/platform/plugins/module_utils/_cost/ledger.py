# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 3 of the allocation: a ledger charged one UTC day at a time.

Per day: each node's cost goes to the pods that ran on it (max(request, usage) at the node's
per-core-hour and per-GiB-hour prices); what they leave unrequested is charged, stretch by stretch
(a stretch is a time in which the same pods ran on the node), to the tenants whose pods ran on it
then, in proportion to their pods' cpu+memory cost (:func:`node_stretches`, :meth:`Ledger._charge_idle`),
and is idle only while no tenant pod ran there. Volumes and load balancers are charged to their
namespaces; then idle and the platform are shared across tenants in proportion to each tenant's
cpu+memory cost that day (when sharing is on). What has no price is counted in
hours and listed, never charged. Every amount is an exact Decimal; rounding is the renderer's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._cost.index import Node, PodRun, PricedCluster
from ansible_collections.platykus.platform.plugins.module_utils._cost.owners import Ownership
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import HOURS_PER_MONTH
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, hours_between, overlap

COMPONENTS = ("cpu", "memory", "storage", "loadbalancer")
AMOUNTS = ("core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours")
UNPRICED_AMOUNTS = ("hours",) + AMOUNTS
# The unrequested capacity of the nodes a namespace's pods ran on, charged to it: hours and money.
IDLE_AMOUNTS = ("idle_core_hours", "idle_gib_hours")
NODE_IDLE = "idle"

Line = dict  # str -> Decimal: the AMOUNTS, IDLE_AMOUNTS, COMPONENTS and idle of one namespace (+ platform for a tenant)


def zero_line() -> Line:
    return {key: ZERO for key in AMOUNTS + IDLE_AMOUNTS + COMPONENTS + (NODE_IDLE,)}


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


@dataclass
class Presence:
    """What ran on a node during a stretch: the cores and GiB its pods were charged, and per tenant
    namespace the pods' cpu+memory cost per hour (its weight) and how many of them ran."""

    cores: Decimal = ZERO
    gib: Decimal = ZERO
    weight: dict = field(default_factory=dict)  # tenant namespace -> cost per hour of its pods
    pods: dict = field(default_factory=dict)  # tenant namespace -> pods running
    running: int = 0

    def add(self, node: Node, pod: PodRun, tenant: bool, sign: int) -> None:
        self.running += sign
        if self.running == 0:  # nothing runs: start again from exact zeros
            self.cores, self.gib, self.weight, self.pods = ZERO, ZERO, {}, {}
            return
        self.cores += sign * pod.cores
        self.gib += sign * pod.gib
        if not tenant:
            return
        count = self.pods.get(pod.namespace, 0) + sign
        if count == 0:
            del self.pods[pod.namespace], self.weight[pod.namespace]
            return
        rate = pod.cores * node.core_price + pod.gib * node.gib_price
        self.pods[pod.namespace] = count
        self.weight[pod.namespace] = self.weight.get(pod.namespace, ZERO) + sign * rate

    def shares(self) -> list[tuple[str, Decimal]]:
        """Each tenant namespace's fraction of the stretch's idle (they add up to exactly 1)."""
        names = sorted(self.pods)
        if not names:
            return []
        weights = [self.weight[name] for name in names]
        total = sum(weights, ZERO)
        if total <= 0:  # pods without requests or usage: by the number of pods
            weights = [Decimal(self.pods[name]) for name in names]
            total = sum(weights, ZERO)
        fractions = [w / total for w in weights[:-1]]
        return list(zip(names, fractions + [1 - sum(fractions, ZERO)]))


def node_stretches(
    lo: datetime, hi: datetime, node: Node, pods: list[PodRun], is_tenant: Callable[[str], bool]
) -> Iterator[tuple[datetime, datetime, Presence]]:
    """The node's life inside ``[lo, hi)`` cut wherever a pod starts or stops, each piece with what ran on it."""
    node_lo, node_hi = max(node.start, lo), hi if node.end is None else min(node.end, hi)
    if node_hi <= node_lo:
        return
    events: dict[datetime, list[tuple[int, PodRun]]] = defaultdict(list)
    for pod in pods:
        start, end = max(pod.start, lo), hi if pod.end is None else min(pod.end, hi)
        if end > start:
            events[start].append((1, pod))
            events[end].append((-1, pod))
    times = sorted(set(events) | {node_lo, node_hi})
    presence = Presence()
    for start, end in zip(times, times[1:]):
        for sign, pod in sorted(events.get(start, ()), key=lambda event: event[0]):
            presence.add(node, pod, is_tenant(pod.namespace), sign)
        if node_lo <= start and end <= node_hi:
            yield start, end, presence


class Ledger:
    """Money and hours per namespace, idle, node, unpriced item, and each tenant's shares and days."""

    def __init__(self, owners: Ownership, tenants: Iterable[str], idle: str, platform: str) -> None:
        self.owners = owners
        self.tenants = set(tenants)
        self.share_idle = idle == "share"
        self.share_platform = platform == "share"
        self.namespaces: dict[str, Line] = defaultdict(zero_line)
        self.idle = {"core_hours": ZERO, "gib_hours": ZERO, "cpu": ZERO, "memory": ZERO}
        self.idle_charged = ZERO  # unrequested node capacity charged to the tenants that ran there
        self.nodes: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"hours": ZERO, "cost": ZERO})
        self.unpriced: dict[tuple[str, str], dict[str, Any]] = {}
        self.tenant_shares: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"idle": ZERO, "platform": ZERO})
        self.tenant_daily: dict[str, dict[str, Decimal]] = defaultdict(dict)
        self.idle_shared = ZERO
        self.platform_shared = ZERO
        # Out-of-cluster spend: tenant -> (source, service) -> amount, and the rest by tag value.
        # Sources: "aws" (Cost Explorer, _cost.aws_costs) and "addon" (add-on plans, _cost.addons).
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
        running, core_hours, gib_hours = [], ZERO, ZERO
        for pod in pods:
            hours = day.hours(pod.start, pod.end)
            if hours > 0:
                self._charge_pod(day, node, pod, hours)
                running.append(pod)
                core_hours += pod.cores * hours
                gib_hours += pod.gib * hours
        # The day's unrequested capacity, per resource, never below zero (pods using more than the node
        # has do not make it negative), as it always was: node capacity minus everything its pods were charged.
        free = (max(ZERO, node.cores * node_hours - core_hours), max(ZERO, node.gib * node_hours - gib_hours))
        tenant = self.owners.tenant
        stretches = [
            (max(ZERO, (node.cores - presence.cores) * hours), max(ZERO, (node.gib - presence.gib) * hours), shares)
            for hours, presence, shares in (
                (hours_between(start, end), presence, presence.shares())
                for start, end, presence in node_stretches(day.start, day.end, node, running, lambda ns: ns in tenant)
            )
        ]
        # Who gets it is decided stretch by stretch; stretches that add up to more than the day's free capacity
        # (a pod using more than the node in one, a history pod's day averaged over its steps) are scaled to it.
        sums = [sum((stretch[i] for stretch in stretches), ZERO) for i in (0, 1)]
        scale = [free[i] / sums[i] if sums[i] > 0 else ZERO for i in (0, 1)]
        for cores, gib, shares in stretches:
            self._charge_idle(day, node, cores * scale[0], gib * scale[1], shares)

    def _charge_idle(
        self, day: _Day, node: Node, core_hours: Decimal, gib_hours: Decimal, shares: list[tuple[str, Decimal]]
    ) -> None:
        """A stretch's unrequested capacity: to the tenant namespaces that ran there (``shares``), else idle."""
        cpu, memory = core_hours * node.core_price, gib_hours * node.gib_price
        if not shares:
            for key, value in (("core_hours", core_hours), ("gib_hours", gib_hours), ("cpu", cpu), ("memory", memory)):
                self.idle[key] += value
            day.idle += cpu + memory
            return
        money, charged = cpu + memory, ZERO
        for index, (namespace, fraction) in enumerate(shares):
            line = self.namespaces[namespace]
            amount = money - charged if index == len(shares) - 1 else money * fraction
            charged += amount
            line["idle_core_hours"] += core_hours * fraction
            line["idle_gib_hours"] += gib_hours * fraction
            line[NODE_IDLE] += amount
            day.cost[namespace] += amount
        self.idle_charged += money

    def _charge_pod(self, day: _Day, node: Node, pod: PodRun, hours: Decimal) -> None:
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
