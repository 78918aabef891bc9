# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost allocation per tenant and namespace, the way OpenCost does it, over plain API objects.

Pure functions: the inputs are Pods, Nodes, PersistentVolumeClaims, Services and Namespaces as
the API server returns them (dicts), a validated price catalog and a window; the output is a
report made of plain dicts, floats and strings.

How a window is charged (docs/cost.md walks through an example):

* The window ``[start, end)`` is cut at UTC midnights; each day slice is allocated on its own and
  the slices are summed (so the per-day series and the totals agree).
* A node costs its hourly price (the spot price on spot nodes) for the hours it existed in the
  slice. The price is split into a per-core-hour and a per-GiB-hour price by the cpu:ram weight
  (:func:`_prices.split_node_price`), using the node's ``status.capacity``.
* A pod is charged from ``status.startTime`` (or its creation) to the latest
  ``containerStatuses[].state.terminated.finishedAt`` when it has finished, its deletion when it is
  terminating, or the window end. Pending and unscheduled pods are not charged.
  It pays max(request, usage) cores and GiB at its node's prices; usage is optional.
* Idle = node cost not charged to pods, per node and resource, never below zero.
* PVCs pay GiB x hours x (price per GiB-month / 730) of their storage class; LoadBalancer
  Services pay hours x the LoadBalancer hourly price.
* Platform namespaces and idle are lines of their own, or shared across tenants in proportion to
  each tenant's cpu+memory cost in the slice (``platform: share`` / ``idle: share``).

Arithmetic is Decimal throughout (28 significant digits); only the report is rounded, half up:
money to 4 decimals, hours to 4, percentages to 2, unit prices to 6. Totals are rounded from the
exact sums, so a column of rounded lines can differ from its rounded total by a few 0.0001.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

from ansible_collections.platykus.platform.plugins.module_utils._budget import evaluate, validate_thresholds
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._prices import (
    HOURS_PER_MONTH,
    PriceCatalog,
    split_node_price,
    validate_currency,
)
from ansible_collections.platykus.platform.plugins.module_utils._quantity import parse_quantity

TENANT_LABEL = "platykus.io/tenant"
ENVIRONMENT_LABEL = "platykus.io/environment"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
KARPENTER_CAPACITY_LABEL = "karpenter.sh/capacity-type"
EKS_CAPACITY_LABEL = "eks.amazonaws.com/capacityType"

GIB = Decimal(2**30)
ZERO = Decimal(0)
_MONEY = Decimal("0.0001")
_HOURS = Decimal("0.0001")
_PERCENT = Decimal("0.01")
_UNIT_PRICE = Decimal("0.000001")

_COMPONENTS = ("cpu", "memory", "storage", "loadbalancer")
_AMOUNTS = ("core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours")


# -- time ---------------------------------------------------------------------------------------
def parse_time(value: Any, field_name: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``2024-06-01T00:00:00Z``) or a datetime; naive means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as err:
            raise PlatykusError(
                "%s: %r is not an ISO 8601 time; write it like 2024-06-01T00:00:00Z" % (field_name, value),
                field=field_name,
            ) from err
    else:
        raise PlatykusError(
            "%s: %r is not an ISO 8601 time; write it like 2024-06-01T00:00:00Z" % (field_name, value), field=field_name
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Exact hours from ``start`` to ``end`` (negative when end is first)."""
    delta = end - start
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1000000)
    return seconds / Decimal(3600)


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


def month_hours(moment: datetime) -> Decimal:
    """Hours in the calendar month (UTC) holding ``moment``: 720 for June, 744 for July."""
    return Decimal(calendar.monthrange(moment.year, moment.month)[1] * 24)


@dataclass(frozen=True)
class Window:
    """The charged interval ``[start, end)``; ``month_to_date`` when it starts at the month's first instant."""

    start: datetime
    end: datetime
    month_to_date: bool = False

    @property
    def hours(self) -> Decimal:
        return hours_between(self.start, self.end)

    @property
    def month_hours(self) -> Decimal:
        return month_hours(self.start)

    def forecast_factor(self) -> Decimal:
        """Multiply a cost over the window by this to get the month-end forecast (linear run rate)."""
        hours = self.hours
        return self.month_hours / hours if hours > 0 else Decimal(1)

    def days(self) -> list[tuple[datetime, datetime]]:
        """The window cut at UTC midnights."""
        slices = []
        cursor = self.start
        while cursor < self.end:
            midnight = datetime(cursor.year, cursor.month, cursor.day, tzinfo=timezone.utc) + timedelta(days=1)
            slices.append((cursor, min(midnight, self.end)))
            cursor = midnight
        return slices


def make_window(window_start: Any = None, window_end: Any = None, month_to_date: bool = True, now: Any = None) -> Window:
    """The report window: explicit ``window_start``/``window_end`` (end defaults to now) or month to date."""
    current = parse_time(now, "now") if now is not None else datetime.now(timezone.utc)
    if window_start is None and window_end is None:
        if not month_to_date:
            raise PlatykusError(
                "window_start: not set and month_to_date is false; set window_start (and window_end) or month_to_date: true",
                field="window_start",
            )
        return Window(month_start(current), current, month_to_date=True)
    if window_start is None:
        raise PlatykusError("window_start: not set while window_end is; set both, or neither for month to date",
                            field="window_start")
    start = parse_time(window_start, "window_start")
    end = parse_time(window_end, "window_end") if window_end is not None else current
    if end <= start:
        raise PlatykusError(
            "window_end: %s is not after window_start %s; set window_end later than window_start"
            % (format_time(end), format_time(start)),
            field="window_end",
        )
    return Window(start, end, month_to_date=start == month_start(start) and (end.year, end.month) == (start.year, start.month))


def _overlap(start: datetime, end: datetime | None, slice_start: datetime, slice_end: datetime) -> Decimal:
    lo = max(start, slice_start)
    hi = slice_end if end is None else min(end, slice_end)
    return hours_between(lo, hi) if hi > lo else ZERO


# -- objects --------------------------------------------------------------------------------------
def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _ident(obj: Mapping[str, Any]) -> str:
    meta = _meta(obj)
    return "%s/%s" % (meta.get("namespace"), meta.get("name")) if meta.get("namespace") else str(meta.get("name"))


def _object_interval(obj: Mapping[str, Any], kind: str) -> tuple[datetime, datetime | None]:
    meta = _meta(obj)
    where = "%s %s metadata" % (kind, _ident(obj))
    start = parse_time(meta.get("creationTimestamp"), where + ".creationTimestamp")
    deleted = meta.get("deletionTimestamp")
    return start, parse_time(deleted, where + ".deletionTimestamp") if deleted else None


def pod_interval(pod: Mapping[str, Any]) -> tuple[datetime, datetime | None] | None:
    """When a pod ran: ``(start, end or None while running)``; None when it never ran (Pending, unscheduled)."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Pending" or not (pod.get("spec") or {}).get("nodeName"):
        return None
    where = "Pod %s" % _ident(pod)
    if status.get("startTime"):
        start = parse_time(status["startTime"], where + " status.startTime")
    else:
        start = parse_time(_meta(pod).get("creationTimestamp"), where + " metadata.creationTimestamp")
    end = None
    if phase in ("Succeeded", "Failed"):
        finished = [
            parse_time(cs["state"]["terminated"]["finishedAt"], where + " containerStatuses.state.terminated.finishedAt")
            for cs in status.get("containerStatuses") or []
            if ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        ]
        if finished:
            end = max(finished)
    if end is None and _meta(pod).get("deletionTimestamp"):
        end = parse_time(_meta(pod)["deletionTimestamp"], where + " metadata.deletionTimestamp")
    return start, end


def pod_requests(pod: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(cores, bytes) the scheduler reserves: max(sum of containers, largest init container) + overhead."""
    spec = pod.get("spec") or {}
    where = "Pod %s" % _ident(pod)

    def requests(container: Mapping[str, Any], section: str, index: int) -> tuple[Decimal, Decimal]:
        req = (container.get("resources") or {}).get("requests") or {}
        base = "%s spec.%s[%d].resources.requests" % (where, section, index)
        cpu = parse_quantity(req["cpu"], base + ".cpu") if req.get("cpu") is not None else ZERO
        mem = parse_quantity(req["memory"], base + ".memory") if req.get("memory") is not None else ZERO
        return cpu, mem

    app = [requests(c, "containers", i) for i, c in enumerate(spec.get("containers") or [])]
    init = [requests(c, "initContainers", i) for i, c in enumerate(spec.get("initContainers") or [])]
    cpu = max(sum((pair[0] for pair in app), ZERO), max((pair[0] for pair in init), default=ZERO))
    mem = max(sum((pair[1] for pair in app), ZERO), max((pair[1] for pair in init), default=ZERO))
    overhead = spec.get("overhead") or {}
    if overhead.get("cpu") is not None:
        cpu += parse_quantity(overhead["cpu"], where + " spec.overhead.cpu")
    if overhead.get("memory") is not None:
        mem += parse_quantity(overhead["memory"], where + " spec.overhead.memory")
    return cpu, mem


def usage_from_pod_metrics(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Decimal]]:
    """``{(namespace, pod): {cpu: cores, memory: bytes}}`` from metrics.k8s.io PodMetrics (a point in time)."""
    usage: dict[tuple[str, str], dict[str, Decimal]] = {}
    for item in items:
        meta = _meta(item)
        cpu = mem = ZERO
        for index, container in enumerate(item.get("containers") or []):
            values = container.get("usage") or {}
            where = "PodMetrics %s/%s containers[%d].usage" % (meta.get("namespace"), meta.get("name"), index)
            if values.get("cpu") is not None:
                cpu += parse_quantity(values["cpu"], where + ".cpu")
            if values.get("memory") is not None:
                mem += parse_quantity(values["memory"], where + ".memory")
        usage[(meta.get("namespace"), meta.get("name"))] = {"cpu": cpu, "memory": mem}
    return usage


def _prometheus_vector(result: Any, field_name: str) -> list:
    if isinstance(result, Mapping):
        if result.get("status") not in (None, "success"):
            raise PlatykusError("%s: Prometheus answered %s: %s" % (field_name, result.get("status"), result.get("error")),
                                field=field_name)
        result = (result.get("data") or {}).get("result", []) if "data" in result else result.get("result", [])
    if not isinstance(result, list):
        raise PlatykusError("%s: expected a Prometheus instant-vector result" % field_name, field=field_name)
    return result


def usage_from_prometheus(cpu_result: Any, memory_result: Any) -> dict[tuple[str, str], dict[str, Decimal]]:
    """The same shape from two Prometheus HTTP API instant-query answers (or their ``data.result``).

    Each sample carries labels ``namespace`` and ``pod``; cpu in cores, memory in bytes (averages over the window).
    """
    usage: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: {"cpu": ZERO, "memory": ZERO})
    for key, result in (("cpu", cpu_result), ("memory", memory_result)):
        for sample in _prometheus_vector(result, "prometheus %s query" % key):
            labels = sample.get("metric") or {}
            if not labels.get("namespace") or not labels.get("pod"):
                continue
            value = Decimal(str(sample["value"][1]))
            if value.is_finite() and value > 0:
                usage[(labels["namespace"], labels["pod"])][key] += value
    return dict(usage)


# -- tenants --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TenantBudget:
    name: str
    monthly: Decimal | None
    cost_center: str | None


def validate_tenants(tenants: Iterable[Mapping[str, Any]] | None, currency: str) -> dict[str, TenantBudget]:
    """Read name, budget.monthly, budget.currency and cost_center from the tenant specs."""
    result: dict[str, TenantBudget] = {}
    for index, spec in enumerate(tenants or []):
        where = "tenants[%d]" % index
        if not isinstance(spec, Mapping) or not spec.get("name"):
            raise PlatykusError("%s.name: missing; every tenant spec needs a name" % where, field=where + ".name")
        name = str(spec["name"])
        where = "tenants[%s]" % name
        budget = spec.get("budget") or {}
        monthly = None
        if budget.get("monthly") is not None:
            value = budget["monthly"]
            try:
                monthly = None if isinstance(value, bool) else Decimal(str(value))
            except ArithmeticError:
                monthly = None
            if monthly is None or not monthly.is_finite() or monthly <= 0:
                raise PlatykusError(
                    "Failed to read the budget of tenant '%s': budget.monthly %r is not a positive amount; write it like 500"
                    % (name, value),
                    field=where + ".budget.monthly",
                )
            budget_currency = validate_currency(budget.get("currency", currency), where + ".budget.currency")
            if budget_currency != currency:
                raise PlatykusError(
                    "Failed to read the budget of tenant '%s': budget.currency %s differs from the prices' currency %s "
                    "and Platykus does not convert currencies; set the budget in %s" % (name, budget_currency, currency, currency),
                    field=where + ".budget.currency",
                )
        result[name] = TenantBudget(name=name, monthly=monthly, cost_center=spec.get("cost_center"))
    return result


# -- allocation -----------------------------------------------------------------------------------
@dataclass
class _Node:
    name: str
    instance_type: str | None
    capacity_type: str
    zone: str | None
    hourly: Decimal | None
    cores: Decimal
    gib: Decimal
    core_price: Decimal
    gib_price: Decimal
    start: datetime
    end: datetime | None
    problem: str | None = None
    fix: str | None = None


@dataclass
class _Pod:
    namespace: str
    name: str
    node: str
    cores: Decimal
    gib: Decimal
    start: datetime
    end: datetime | None


def _zero_line() -> dict[str, Decimal]:
    return {key: ZERO for key in _AMOUNTS + _COMPONENTS}


def _is_spot(labels: Mapping[str, str]) -> bool:
    return labels.get(KARPENTER_CAPACITY_LABEL) == "spot" or labels.get(EKS_CAPACITY_LABEL) == "SPOT"


def _node(obj: Mapping[str, Any], catalog: PriceCatalog) -> _Node:
    meta = _meta(obj)
    name = meta.get("name")
    labels = meta.get("labels") or {}
    status = obj.get("status") or {}
    capacity = status.get("capacity") or status.get("allocatable") or {}
    if capacity.get("cpu") is None or capacity.get("memory") is None:
        raise PlatykusError("Node %s has no status.capacity cpu and memory; is it registered yet?" % name,
                            field="nodes[%s].status.capacity" % name)
    cores = parse_quantity(capacity["cpu"], "Node %s status.capacity.cpu" % name)
    gib = parse_quantity(capacity["memory"], "Node %s status.capacity.memory" % name) / GIB
    instance_type = labels.get(INSTANCE_TYPE_LABEL)
    spot = _is_spot(labels)
    start, end = _object_interval(obj, "Node")
    problem = fix = None
    hourly = None
    if not instance_type:
        problem = "node '%s' has no %s label" % (name, INSTANCE_TYPE_LABEL)
        fix = "label it with its instance type and price that type in platykus_prices.instance_types"
    else:
        hourly = catalog.node_hourly(instance_type, spot)
        if hourly is None and instance_type not in catalog.instance_types:
            problem = "node '%s' has instance type '%s', which has no price" % (name, instance_type)
            fix = "add '%s' to platykus_prices.instance_types" % instance_type
        elif hourly is None:
            problem = "node '%s' is a spot node of type '%s' and there is no spot price for it" % (name, instance_type)
            fix = "set platykus_prices.spot_discount or platykus_prices.instance_types['%s'].spot_hourly" % instance_type
    core_price, gib_price = (ZERO, ZERO) if hourly is None else split_node_price(hourly, cores, gib, catalog.cpu_ram_weight)
    return _Node(
        name=name, instance_type=instance_type, capacity_type="spot" if spot else "on-demand", zone=labels.get(ZONE_LABEL),
        hourly=hourly, cores=cores, gib=gib, core_price=core_price, gib_price=gib_price, start=start, end=end,
        problem=problem, fix=fix,
    )


def _q(value: Decimal, step: Decimal) -> float:
    return float(value.quantize(step, rounding=ROUND_HALF_UP))


def _render_line(line: Mapping[str, Decimal], extra: Iterable[str] = ()) -> dict[str, Any]:
    cost = {key: _q(line[key], _MONEY) for key in _COMPONENTS + tuple(extra)}
    cost["total"] = _q(sum((line[key] for key in _COMPONENTS + tuple(extra)), ZERO), _MONEY)
    out: dict[str, Any] = {key: _q(line[key], _HOURS) for key in _AMOUNTS}
    out["cost"] = cost
    return out


def _total(line: Mapping[str, Decimal], extra: Iterable[str] = ()) -> Decimal:
    return sum((line[key] for key in _COMPONENTS + tuple(extra)), ZERO)


def allocate(
    *,
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    pvcs: Iterable[Mapping[str, Any]] = (),
    services: Iterable[Mapping[str, Any]] = (),
    namespaces: Iterable[Mapping[str, Any]] = (),
    catalog: PriceCatalog,
    window: Window,
    tenants: Iterable[Mapping[str, Any]] | None = None,
    platform_namespaces: Iterable[str] = (),
    usage: Mapping[tuple[str, str], Mapping[str, Decimal]] | None = None,
    idle: str = "separate",
    platform: str = "separate",
    unpriced: str = "fail",
    thresholds: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Allocate the window's cost; return the report (see the module usage_report's RETURN)."""
    if idle not in ("separate", "share"):
        raise PlatykusError("idle: %r is not one of separate, share" % idle, field="idle")
    if platform not in ("separate", "share"):
        raise PlatykusError("platform: %r is not one of separate, share" % platform, field="platform")
    if unpriced not in ("fail", "report"):
        raise PlatykusError("unpriced: %r is not one of fail, report" % unpriced, field="unpriced")
    limits = validate_thresholds(thresholds)
    budgets = validate_tenants(tenants, catalog.currency)
    platform_set = set(platform_namespaces or ())
    usage = usage or {}

    # Who owns each namespace.
    ns_tenant: dict[str, str] = {}
    ns_environment: dict[str, str | None] = {}
    for ns in namespaces:
        meta = _meta(ns)
        labels = meta.get("labels") or {}
        if meta.get("name") in platform_set:
            continue
        if labels.get(TENANT_LABEL):
            ns_tenant[meta["name"]] = labels[TENANT_LABEL]
            ns_environment[meta["name"]] = labels.get(ENVIRONMENT_LABEL)

    def category(namespace: str) -> str:
        if namespace in platform_set:
            return "platform"
        return "tenant" if namespace in ns_tenant else "unassigned"

    node_list = [_node(obj, catalog) for obj in nodes]
    node_by_name = {node.name: node for node in node_list}
    days = window.days()

    # Unpriced nodes that overlap the window: fail, or keep them for an explicit line.
    for node in node_list:
        if node.problem and any(_overlap(node.start, node.end, s, e) > 0 for s, e in days) and unpriced == "fail":
            raise PlatykusError(
                "Failed to price the cluster: %s; %s (or set unpriced: report to list it as unpriced)" % (node.problem, node.fix),
                field="prices.instance_types",
            )

    pods_by_node: dict[str, list[_Pod]] = defaultdict(list)
    for obj in pods:
        interval = pod_interval(obj)
        if interval is None:
            continue
        meta = _meta(obj)
        cores, mem = pod_requests(obj)
        used = usage.get((meta.get("namespace"), meta.get("name"))) or {}
        cores = max(cores, used.get("cpu", ZERO))
        mem = max(mem, used.get("memory", ZERO))
        pods_by_node[obj["spec"]["nodeName"]].append(
            _Pod(meta["namespace"], meta["name"], obj["spec"]["nodeName"], cores, mem / GIB, interval[0], interval[1])
        )

    pvc_list = []
    for obj in pvcs:
        status = obj.get("status") or {}
        if status.get("phase") != "Bound":
            continue
        where = "PersistentVolumeClaim %s" % _ident(obj)
        size = (status.get("capacity") or {}).get("storage") or (
            ((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
        ).get("storage")
        gib = parse_quantity(size, where + " status.capacity.storage") / GIB
        storage_class = (obj.get("spec") or {}).get("storageClassName")
        price = catalog.storage_gib_month(storage_class)
        start, end = _object_interval(obj, "PersistentVolumeClaim")
        if price is None and unpriced == "fail" and any(_overlap(start, end, s, e) > 0 for s, e in days):
            raise PlatykusError(
                "Failed to price the cluster: %s uses storage class '%s', which has no price; add it to "
                "platykus_prices.storage_classes (or set unpriced: report to list it as unpriced)"
                % (where, storage_class or "(default)"),
                field="prices.storage_classes",
            )
        pvc_list.append((_meta(obj)["namespace"], _ident(obj), storage_class, gib, price, start, end))

    lb_list = []
    for obj in services:
        if (obj.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        start, end = _object_interval(obj, "Service")
        if catalog.loadbalancer_hourly is None and unpriced == "fail" and any(_overlap(start, end, s, e) > 0 for s, e in days):
            raise PlatykusError(
                "Failed to price the cluster: Service %s is of type LoadBalancer and there is no LoadBalancer price; "
                "set platykus_prices.loadbalancer_hourly (or set unpriced: report to list it as unpriced)" % _ident(obj),
                field="prices.loadbalancer_hourly",
            )
        lb_list.append((_meta(obj)["namespace"], _ident(obj), start, end))

    ns_lines: dict[str, dict[str, Decimal]] = defaultdict(_zero_line)
    tenant_shares: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"idle": ZERO, "platform": ZERO})
    tenant_daily: dict[str, dict[str, Decimal]] = defaultdict(dict)
    idle_line = {"core_hours": ZERO, "gib_hours": ZERO, "cpu": ZERO, "memory": ZERO}
    idle_shared = ZERO
    platform_shared = ZERO
    node_totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"hours": ZERO, "cost": ZERO})
    unpriced_lines: dict[tuple[str, str], dict[str, Any]] = {}

    def unpriced_line(kind: str, name: str, **info: Any) -> dict[str, Any]:
        key = (kind, name)
        if key not in unpriced_lines:
            unpriced_lines[key] = dict(
                kind=kind, name=name, hours=ZERO, core_hours=ZERO, gib_hours=ZERO, storage_gib_hours=ZERO,
                loadbalancer_hours=ZERO, namespaces=set(), **info
            )
        return unpriced_lines[key]

    tenant_names = set(budgets) | set(ns_tenant.values())

    for slice_start, slice_end in days:
        day = slice_start.date().isoformat()
        slice_cost: dict[str, Decimal] = defaultdict(lambda: ZERO)
        slice_compute: dict[str, Decimal] = defaultdict(lambda: ZERO)
        slice_idle = ZERO

        for node_name, node_pods in list(pods_by_node.items()) + [(n.name, []) for n in node_list if n.name not in pods_by_node]:
            node = node_by_name.get(node_name)
            if node is None or node.hourly is None:
                # Pods on a node that is gone (or unpriced): count their usage, charge nothing, say so.
                if node is None:
                    line = unpriced_line("Node", node_name, instance_type=None,
                                         reason="node '%s' no longer exists; its price is unknown" % node_name,
                                         fix="run the report more often, or take history from Prometheus/OpenCost")
                else:
                    line = unpriced_line("Node", node.name, instance_type=node.instance_type, reason=node.problem, fix=node.fix)
                    line["hours"] += _overlap(node.start, node.end, slice_start, slice_end)
                for pod in node_pods:
                    hours = _overlap(pod.start, pod.end, slice_start, slice_end)
                    if hours <= 0:
                        continue
                    ns_lines[pod.namespace]["core_hours"] += pod.cores * hours
                    ns_lines[pod.namespace]["gib_hours"] += pod.gib * hours
                    line["core_hours"] += pod.cores * hours
                    line["gib_hours"] += pod.gib * hours
                    line["namespaces"].add(pod.namespace)
                continue
            node_hours = _overlap(node.start, node.end, slice_start, slice_end)
            if node_hours <= 0 and not node_pods:
                continue
            node_cpu = node.cores * node_hours * node.core_price
            node_mem = node.gib * node_hours * node.gib_price
            node_totals[node.name]["hours"] += node_hours
            node_totals[node.name]["cost"] += node_hours * node.hourly
            pods_cpu = pods_mem = pods_core_hours = pods_gib_hours = ZERO
            for pod in node_pods:
                hours = _overlap(pod.start, pod.end, slice_start, slice_end)
                if hours <= 0:
                    continue
                line = ns_lines[pod.namespace]
                core_hours, gib_hours = pod.cores * hours, pod.gib * hours
                cpu_cost, mem_cost = core_hours * node.core_price, gib_hours * node.gib_price
                line["core_hours"] += core_hours
                line["gib_hours"] += gib_hours
                line["cpu"] += cpu_cost
                line["memory"] += mem_cost
                slice_cost[pod.namespace] += cpu_cost + mem_cost
                slice_compute[pod.namespace] += cpu_cost + mem_cost
                pods_cpu += cpu_cost
                pods_mem += mem_cost
                pods_core_hours += core_hours
                pods_gib_hours += gib_hours
            idle_cpu = max(ZERO, node_cpu - pods_cpu)
            idle_mem = max(ZERO, node_mem - pods_mem)
            idle_line["core_hours"] += max(ZERO, node.cores * node_hours - pods_core_hours)
            idle_line["gib_hours"] += max(ZERO, node.gib * node_hours - pods_gib_hours)
            idle_line["cpu"] += idle_cpu
            idle_line["memory"] += idle_mem
            slice_idle += idle_cpu + idle_mem

        for namespace, name, storage_class, gib, price, start, end in pvc_list:
            hours = _overlap(start, end, slice_start, slice_end)
            if hours <= 0:
                continue
            ns_lines[namespace]["storage_gib_hours"] += gib * hours
            if price is None:
                line = unpriced_line("PersistentVolumeClaim", name, storage_class=storage_class,
                                     reason="storage class '%s' has no price" % (storage_class or "(default)"),
                                     fix="add it to platykus_prices.storage_classes")
                line["storage_gib_hours"] += gib * hours
                line["namespaces"].add(namespace)
                continue
            cost = gib * hours * price / HOURS_PER_MONTH
            ns_lines[namespace]["storage"] += cost
            slice_cost[namespace] += cost

        for namespace, name, start, end in lb_list:
            hours = _overlap(start, end, slice_start, slice_end)
            if hours <= 0:
                continue
            ns_lines[namespace]["loadbalancer_hours"] += hours
            if catalog.loadbalancer_hourly is None:
                line = unpriced_line("Service", name, reason="there is no LoadBalancer price",
                                     fix="set platykus_prices.loadbalancer_hourly")
                line["loadbalancer_hours"] += hours
                line["namespaces"].add(namespace)
                continue
            cost = hours * catalog.loadbalancer_hourly
            ns_lines[namespace]["loadbalancer"] += cost
            slice_cost[namespace] += cost

        # Shares, in proportion to each tenant's cpu+memory cost in this slice.
        weights: dict[str, Decimal] = defaultdict(lambda: ZERO)
        own: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for namespace, tenant in ns_tenant.items():
            weights[tenant] += slice_compute.get(namespace, ZERO)
            own[tenant] += slice_cost.get(namespace, ZERO)
        weight_sum = sum(weights.values(), ZERO)
        platform_slice = sum((cost for ns, cost in slice_cost.items() if ns in platform_set), ZERO)
        for tenant in tenant_names:
            share_idle = slice_idle * weights[tenant] / weight_sum if idle == "share" and weight_sum > 0 else ZERO
            share_platform = platform_slice * weights[tenant] / weight_sum if platform == "share" and weight_sum > 0 else ZERO
            tenant_shares[tenant]["idle"] += share_idle
            tenant_shares[tenant]["platform"] += share_platform
            tenant_daily[tenant][day] = own[tenant] + share_idle + share_platform
        if weight_sum > 0:
            idle_shared += slice_idle if idle == "share" else ZERO
            platform_shared += platform_slice if platform == "share" else ZERO

    # -- the report -----------------------------------------------------------------------------
    factor = window.forecast_factor()
    namespace_names = sorted(set(ns_lines) | set(ns_tenant))
    namespace_rows = []
    for namespace in namespace_names:
        line = ns_lines[namespace]
        row = {"name": namespace, "category": category(namespace), "tenant": ns_tenant.get(namespace),
               "environment": ns_environment.get(namespace)}
        row.update(_render_line(line))
        row["forecast"] = _q(_total(line) * factor, _MONEY)
        namespace_rows.append(row)

    tenant_rows = []
    for tenant in sorted(tenant_names):
        line = _zero_line()
        members = sorted(ns for ns, owner in ns_tenant.items() if owner == tenant)
        for namespace in members:
            for key in line:
                line[key] += ns_lines[namespace][key]
        line["idle"] = tenant_shares[tenant]["idle"]
        line["platform"] = tenant_shares[tenant]["platform"]
        spent = _total(line, ("idle", "platform"))
        forecast = spent * factor
        budget = budgets.get(tenant)
        monthly = budget.monthly if budget else None
        status = evaluate(spent, forecast, monthly, limits)
        row = {"name": tenant, "namespaces": members, "cost_center": budget.cost_center if budget else None}
        row.update(_render_line(line, ("idle", "platform")))
        running = ZERO
        daily = []
        for day_slice in days:
            day = day_slice[0].date().isoformat()
            running += tenant_daily[tenant].get(day, ZERO)
            daily.append({"date": day, "cost": _q(tenant_daily[tenant].get(day, ZERO), _MONEY), "cumulative": _q(running, _MONEY)})
        row.update(
            budget=None if monthly is None else _q(monthly, _MONEY),
            currency=catalog.currency,
            percent_used=None if status.percent_used is None else _q(status.percent_used, _PERCENT),
            forecast=_q(forecast, _MONEY),
            forecast_percent=None if status.forecast_percent is None else _q(status.forecast_percent, _PERCENT),
            status=status.status,
            daily=daily,
        )
        tenant_rows.append(row)

    def group(names: list[str]) -> dict[str, Decimal]:
        line = _zero_line()
        for namespace in names:
            for key in line:
                line[key] += ns_lines[namespace][key]
        return line

    platform_names = sorted(ns for ns in ns_lines if ns in platform_set)
    unassigned_names = sorted(ns for ns in ns_lines if category(ns) == "unassigned")
    platform_line = group(platform_names)
    unassigned_line = group(unassigned_names)
    idle_total = idle_line["cpu"] + idle_line["memory"]

    node_rows = []
    for node in sorted(node_list, key=lambda n: n.name):
        node_rows.append({
            "name": node.name,
            "instance_type": node.instance_type,
            "capacity_type": node.capacity_type,
            "zone": node.zone,
            "cores": float(node.cores),
            "memory_gib": _q(node.gib, _HOURS),
            "hourly": None if node.hourly is None else _q(node.hourly, _UNIT_PRICE),
            "core_hour_price": None if node.hourly is None else _q(node.core_price, _UNIT_PRICE),
            "gib_hour_price": None if node.hourly is None else _q(node.gib_price, _UNIT_PRICE),
            "hours": _q(node_totals[node.name]["hours"], _HOURS),
            "cost": _q(node_totals[node.name]["cost"], _MONEY),
            "priced": node.hourly is not None,
        })

    unpriced_rows = []
    for key in sorted(unpriced_lines):
        line = unpriced_lines[key]
        row = dict(line)
        for amount in ("hours", "core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours"):
            row[amount] = _q(line[amount], _HOURS)
        row["namespaces"] = sorted(line["namespaces"])
        if any(row[amount] for amount in ("hours", "core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours")):
            unpriced_rows.append(row)

    nodes_cost = sum((t["cost"] for t in node_totals.values()), ZERO)
    storage_cost = sum((line["storage"] for line in ns_lines.values()), ZERO)
    lb_cost = sum((line["loadbalancer"] for line in ns_lines.values()), ZERO)
    total = nodes_cost + storage_cost + lb_cost

    platform_row = {"namespaces": platform_names, "shared": platform == "share",
                    "shared_to_tenants": _q(platform_shared, _MONEY)}
    platform_row.update(_render_line(platform_line))
    unassigned_row = {"namespaces": unassigned_names}
    unassigned_row.update(_render_line(unassigned_line))
    unassigned_row["forecast"] = _q(_total(unassigned_line) * factor, _MONEY)

    return {
        "currency": catalog.currency,
        "window": {
            "start": format_time(window.start),
            "end": format_time(window.end),
            "hours": _q(window.hours, _HOURS),
            "month_to_date": window.month_to_date,
            "month_hours": float(window.month_hours),
            "days": [day_slice[0].date().isoformat() for day_slice in days],
        },
        "options": {
            "idle": idle,
            "platform": platform,
            "unpriced": unpriced,
            "cpu_ram_weight": float(catalog.cpu_ram_weight),
            "thresholds": {key: float(value) for key, value in limits.items()},
            "usage": bool(usage),
        },
        "tenants": tenant_rows,
        "namespaces": namespace_rows,
        "platform": platform_row,
        "unassigned": unassigned_row,
        "idle": {
            "core_hours": _q(idle_line["core_hours"], _HOURS),
            "gib_hours": _q(idle_line["gib_hours"], _HOURS),
            "cost": {"cpu": _q(idle_line["cpu"], _MONEY), "memory": _q(idle_line["memory"], _MONEY),
                     "total": _q(idle_total, _MONEY)},
            "shared": idle == "share",
            "shared_to_tenants": _q(idle_shared, _MONEY),
        },
        "nodes": node_rows,
        "unpriced": unpriced_rows,
        "total": {
            "nodes": _q(nodes_cost, _MONEY),
            "storage": _q(storage_cost, _MONEY),
            "loadbalancer": _q(lb_cost, _MONEY),
            "cost": _q(total, _MONEY),
            "forecast": _q(total * factor, _MONEY),
        },
    }
