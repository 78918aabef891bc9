# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost history from Prometheus: the same allocation as the objects source, over range queries.

The current-objects source charges what exists when the report runs; a pod deleted yesterday or a
node Karpenter removed is lost. This source reads the window back from Prometheus instead:

* ``nodes``: one series per node while it existed, labelled ``node``, ``instance_type``,
  ``capacity_type`` and ``zone`` (Kubernetes node service discovery on the lab; kube-state-metrics'
  ``kube_node_labels`` on a cluster). A node lives from its first sample to its last plus one step.
* ``node_capacity``: cores and bytes per node (``kube_node_status_capacity``).
* ``pod_requests``: requested cpu and memory per pod and node while it ran (kube-scheduler's
  ``/metrics/resources`` ``kube_pod_resource_request``, or KSM's ``kube_pod_container_resource_requests``
  of Running pods). A pod is charged for the steps it has a request sample.
* ``pod_cpu_usage`` / ``pod_memory_usage``: the kubelet resource metrics, cores and bytes.

The window is cut on a grid of ``step`` seconds anchored at the Unix epoch (so UTC midnights are
on it: the step must divide a day). The sample at ``t`` stands for ``[t, t + step)`` clipped to the
window. Each step a pod pays max(request, usage) at its node's prices, exactly as in the objects
source; the ledger (idle, platform, sharing, days) and the report are the same code.

Pods are read one UTC day at a time. Prometheus does the per-step work where it is exact: one query
a day answers, per pod and node, the sum over the day's whole steps of max(request, usage) for cpu
and memory and the number of steps (``sum_over_time`` / ``count_over_time`` of a subquery on the
same grid), so one number per pod comes back instead of three series of a sample per step. The
steps the window cuts (at most its first and last) are read sample by sample as before. Both paths
give the same money (tests/integration/test_cost_history_paths.py compares them on a real
Prometheus); ``History(aggregate=False)`` keeps the sample-by-sample path for every step.

* ``volumes``: bytes requested per bound PersistentVolumeClaim with its storage class (kube-state-
  metrics' ``kube_persistentvolumeclaim_resource_requests_storage_bytes``, ``_info`` and
  ``_status_phase``); each run of one size is charged from its first sample to its last plus a step,
  so a claim deleted before the report is still charged for its life.
* ``loadbalancers``: ``kube_service_spec_type{type="LoadBalancer"}``, charged the same way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._usage_index import (
    INSTANCE_TYPE_LABEL,
    KARPENTER_CAPACITY_LABEL,
    ZONE_LABEL,
    PodRun,
    PricedCluster,
)
from ansible_collections.platykus.platform.plugins.module_utils._usage_objects import GIB
from ansible_collections.platykus.platform.plugins.module_utils._usage_time import ZERO, Window, format_time

QUERY_KEYS = (
    "nodes",
    "node_capacity",
    "pod_requests",
    "pod_cpu_usage",
    "pod_memory_usage",
    "volumes",
    "loadbalancers",
)
_CONTAINERS = '{container!="",container!="POD"}'
_CPU_USAGE = "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total%s[%%(rate)s]))" % _CONTAINERS
_MEMORY_USAGE = "sum by (namespace, pod) (container_memory_working_set_bytes%s)" % _CONTAINERS
_CAPACITY = 'max by (node, resource) (kube_node_status_capacity{resource=~"cpu|memory"})'
# kube-state-metrics on a cluster; the lab's in-tree stand-in serves the same series (lab/platykus_lab/standins.py).
_PVC = "namespace, persistentvolumeclaim"
_VOLUMES = (
    "max by (%s, storageclass) (kube_persistentvolumeclaim_resource_requests_storage_bytes"
    " * on (%s) group_left (storageclass) max by (%s, storageclass) (kube_persistentvolumeclaim_info)"
    ' and on (%s) (kube_persistentvolumeclaim_status_phase{phase="Bound"} == 1))' % (_PVC, _PVC, _PVC, _PVC)
)
_BALANCERS = 'max by (namespace, service) (kube_service_spec_type{type="LoadBalancer"})'


def _ksm_node_labels() -> str:
    query = "kube_node_labels"
    for target, label in (
        ("instance_type", "label_node_kubernetes_io_instance_type"),
        ("capacity_type", "label_karpenter_sh_capacity_type"),
        ("zone", "label_topology_kubernetes_io_zone"),
    ):
        query = 'label_replace(%s, "%s", "$1", "%s", "(.*)")' % (query, target, label)
    return "max by (node, instance_type, capacity_type, zone) (%s)" % query


# Which metrics answer each query, chosen per inventory (prometheus_metrics); %(rate)s is the rate range.
METRIC_PROFILES: dict[str, dict[str, str]] = {
    # Upstream components only (the lab): kube-scheduler's /metrics/resources, the kubelet's
    # /metrics/resource, Kubernetes node discovery (job kubernetes-nodes) and node capacity.
    "scheduler": {
        "nodes": 'max by (node, instance_type, capacity_type, zone) (up{job="kubernetes-nodes"})',
        "node_capacity": _CAPACITY,
        "pod_requests": 'sum by (namespace, pod, node, resource) (kube_pod_resource_request{resource=~"cpu|memory"})',
        "pod_cpu_usage": _CPU_USAGE,
        "pod_memory_usage": _MEMORY_USAGE,
        "volumes": _VOLUMES,
        "loadbalancers": _BALANCERS,
    },
    # kube-state-metrics (kube-prometheus-stack) with the node labels allow-listed (docs/cost.md).
    "kube-state-metrics": {
        "nodes": _ksm_node_labels(),
        "node_capacity": _CAPACITY,
        "pod_requests": (
            "sum by (namespace, pod, node, resource) ("
            'kube_pod_container_resource_requests{resource=~"cpu|memory"}'
            ' and on (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1))'
        ),
        "pod_cpu_usage": _CPU_USAGE,
        "pod_memory_usage": _MEMORY_USAGE,
        "volumes": _VOLUMES,
        "loadbalancers": _BALANCERS,
    },
}
DAY_SECONDS = 86400
MAX_POINTS = 11000  # Prometheus refuses a range query with more points per series
# Steps one day-sum query covers at most: a subquery holds every pod's samples of its range at once
# (Prometheus's query.max-samples, 50 million by default); 1h steps make one query a day.
SUM_POINTS = 360
_STEP_RE = re.compile(r"^\s*(\d+)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}
_STEP_HINT = "write it like 60s, 5m or 1h, dividing a day evenly"
US = 1_000_000


def parse_step(value: Any, field_name: str = "prometheus_step") -> int:
    """Seconds of one step; it must divide a day so UTC midnights fall on the grid."""
    match = _STEP_RE.match(str(value)) if value is not None and not isinstance(value, bool) else None
    seconds = int(match.group(1)) * _UNIT[match.group(2)] if match else 0
    if seconds <= 0 or DAY_SECONDS % seconds:
        raise PlatykusError(
            "%s: %r is not a step Platykus can use; %s" % (field_name, value, _STEP_HINT), field=field_name
        )
    return seconds


def history_queries(profile: str, overrides: Mapping[str, Any] | None, step: int) -> dict[str, str]:
    """The five queries: the profile's, with ``overrides`` (prometheus_queries) replacing some."""
    if profile not in METRIC_PROFILES:
        raise PlatykusError(
            "prometheus_metrics: %r is not one of %s" % (profile, ", ".join(sorted(METRIC_PROFILES))),
            field="prometheus_metrics",
        )
    queries = dict(METRIC_PROFILES[profile])
    for key, query in (overrides or {}).items():
        if key not in QUERY_KEYS:
            raise PlatykusError(
                "prometheus_queries.%s: not a query the history reads; use %s" % (key, ", ".join(QUERY_KEYS)),
                field="prometheus_queries.%s" % key,
            )
        if not isinstance(query, str) or not query.strip():
            raise PlatykusError(
                "prometheus_queries.%s: must be a PromQL expression (text)" % key, field="prometheus_queries.%s" % key
            )
        queries[key] = query
    rate = "%ds" % max(step, 60)
    return {key: query.replace("%(rate)s", rate) for key, query in queries.items()}


# {(label values...): {t (Unix seconds): Decimal}}
Matrix = dict


def matrix(answer: Any, name: str, labels: tuple[str, ...]) -> Matrix:
    """A range-query answer as ``{label values: {t: value}}``; refuses anything but a matrix."""
    if isinstance(answer, Mapping) and answer.get("status") not in (None, "success"):
        raise PlatykusError(
            "prometheus %s query: Prometheus answered %s: %s" % (name, answer.get("status"), answer.get("error")),
            field="prometheus_queries.%s" % name,
        )
    data = (answer or {}).get("data") if isinstance(answer, Mapping) else None
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
        raise PlatykusError(
            "prometheus %s query: expected a range-query matrix, got %r" % (name, str(answer)[:200]),
            field="prometheus_queries.%s" % name,
        )
    out: Matrix = defaultdict(dict)
    for series in data.get("result") or []:
        metric = series.get("metric") or {}
        key = tuple(metric.get(label, "") for label in labels)
        points = out[key]
        for t, value in series.get("values") or []:
            number = Decimal(value)
            if number.is_finite():
                stamp = int(round(float(t)))
                points[stamp] = points.get(stamp, ZERO) + number
    return out


@dataclass(frozen=True)
class Grid:
    """The window's steps: sample ``t`` stands for ``[t, t + step)`` clipped to the window."""

    window: Window
    step: int

    @property
    def start_us(self) -> int:
        return _micros(self.window.start)

    @property
    def end_us(self) -> int:
        return _micros(self.window.end)

    def points(self, start: datetime, end: datetime) -> tuple[int, int] | None:
        """First and last grid point whose step starts in ``[start, end)`` (or covers ``start``)."""
        first = (_micros(start) // US) // self.step * self.step
        last = (_micros(end) - 1) // US // self.step * self.step
        return (first, last) if last >= first else None

    def whole(self, start: datetime, end: datetime) -> tuple[int, int] | None:
        """First and last grid point in ``[start, end)`` whose step lies wholly inside the window."""
        span = self.points(start, end)
        if span is None:
            return None
        size = self.step * US
        first = max(span[0], -(-self.start_us // size) * self.step)
        last = min(span[1], self.end_us // size * self.step - self.step)
        return (first, last) if last >= first else None

    def piece(self, t: int) -> int:
        """Microseconds of the window the sample at ``t`` stands for."""
        lo = max(t * US, self.start_us)
        hi = min((t + self.step) * US, self.end_us)
        return max(0, hi - lo)

    def chunks(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        """``points`` cut so that no range query asks for more than Prometheus allows."""
        span = self.points(start, end)
        if span is None:
            return []
        chunks, first = [], span[0]
        while first <= span[1]:
            last = min(span[1], first + (MAX_POINTS - 1) * self.step)
            chunks.append((first, last))
            first = last + self.step
        return chunks


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * DAY_SECONDS + delta.seconds) * US + delta.microseconds


def _from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


# -- nodes --------------------------------------------------------------------------------------------
def node_objects(nodes: Matrix, capacity: Matrix, grid: Grid) -> list[dict[str, Any]]:
    """Node objects (as the API would hold them) for every node seen in the window, with its lifetime."""
    cap: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (node, resource), points in capacity.items():
        if points:
            cap[node][resource] = points[max(points)]
    lives: dict[str, dict[str, Any]] = {}
    for (node, instance_type, capacity_type, zone), points in nodes.items():
        stamps = [t for t in points if grid.piece(t) > 0]
        if not node or not stamps:
            continue
        life = lives.setdefault(node, {"first": min(stamps), "last": max(stamps), "labels": {}})
        life["first"], life["last"] = min(life["first"], *stamps), max(life["last"], *stamps)
        for label, value in (
            (INSTANCE_TYPE_LABEL, instance_type),
            (KARPENTER_CAPACITY_LABEL, (capacity_type or "").lower()),
            (ZONE_LABEL, zone),
        ):
            if value:
                life["labels"][label] = value
    objects = []
    for name, life in sorted(lives.items()):
        if "cpu" not in cap[name] or "memory" not in cap[name]:
            raise PlatykusError(
                "prometheus node_capacity query: no cpu and memory capacity for node '%s'; "
                "scrape kube-state-metrics (kube_node_status_capacity) or set prometheus_queries.node_capacity" % name,
                field="prometheus_queries.node_capacity",
            )
        start = max(life["first"] * US, grid.start_us)
        end = min((life["last"] + grid.step) * US, grid.end_us)
        meta = {"name": name, "labels": life["labels"], "creationTimestamp": format_time(_from_micros(start))}
        if end < grid.end_us:
            meta["deletionTimestamp"] = format_time(_from_micros(end))
        status = {"capacity": {"cpu": str(cap[name]["cpu"]), "memory": str(cap[name]["memory"])}}
        objects.append({"metadata": meta, "status": status})
    return objects


# -- volumes and load balancers ------------------------------------------------------------------------
def _runs(points: Mapping[int, Decimal], grid: Grid) -> list[tuple[int, int, Decimal]]:
    """Consecutive grid points of one value as ``(first, last, value)``; a gap or a new value starts a run."""
    runs: list[list] = []
    for t in sorted(t for t in points if grid.piece(t) > 0):
        if runs and runs[-1][1] + grid.step == t and runs[-1][2] == points[t]:
            runs[-1][1] = t
        else:
            runs.append([t, t, points[t]])
    return [(first, last, value) for first, last, value in runs]


def _lifetime(first: int, last: int, grid: Grid, name: str, namespace: str) -> dict[str, Any]:
    start = max(first * US, grid.start_us)
    end = min((last + grid.step) * US, grid.end_us)
    meta = {"name": name, "namespace": namespace, "creationTimestamp": format_time(_from_micros(start))}
    if end < grid.end_us:
        meta["deletionTimestamp"] = format_time(_from_micros(end))
    return meta


def volume_objects(claims: Matrix, grid: Grid) -> list[dict[str, Any]]:
    """A bound PersistentVolumeClaim object per claim and run of one size seen in the window."""
    objects = []
    for (namespace, name, storage_class), points in sorted(claims.items()):
        for first, last, size in _runs(points, grid):
            if not namespace or not name or size <= 0:
                continue
            objects.append(
                {
                    "metadata": _lifetime(first, last, grid, name, namespace),
                    "spec": {"storageClassName": storage_class or None},
                    "status": {"phase": "Bound", "capacity": {"storage": str(size)}},
                }
            )
    return objects


def service_objects(services: Matrix, grid: Grid) -> list[dict[str, Any]]:
    """A LoadBalancer Service object per Service and run of samples seen in the window."""
    objects = []
    for (namespace, name), points in sorted(services.items()):
        for first, last, _value in _runs(dict.fromkeys(points, ZERO), grid):
            if namespace and name:
                meta = _lifetime(first, last, grid, name, namespace)
                objects.append({"metadata": meta, "spec": {"type": "LoadBalancer"}})
    return objects


# -- pods ---------------------------------------------------------------------------------------------
# {(namespace, pod): {node: [microseconds, core-microseconds, byte-microseconds]}}
Totals = dict


def step_totals(requests: Matrix, cpu: Matrix, memory: Matrix, grid: Grid, totals: Totals | None = None) -> Totals:
    """Sample by sample: each step a pod has a request sample it pays max(request, usage) on its node
    for the part of the window the step stands for."""
    present: dict[tuple[str, str], dict[int, list]] = defaultdict(dict)
    for (namespace, pod, node, resource), points in requests.items():
        slot = 1 if resource == "cpu" else 2 if resource == "memory" else 0
        if not slot:
            continue
        samples = present[(namespace, pod)]
        for t, value in points.items():
            entry = samples.setdefault(t, [node, ZERO, ZERO])
            entry[slot] += value
    totals = defaultdict(dict) if totals is None else totals
    for key, samples in present.items():
        used_cpu, used_memory = cpu.get(key, {}), memory.get(key, {})
        for t, (node, cores, size) in samples.items():
            piece = grid.piece(t)
            if piece <= 0:
                continue
            cores = max(cores, used_cpu.get(t, ZERO))
            size = max(size, used_memory.get(t, ZERO))
            total = totals[key].setdefault(node, [0, ZERO, ZERO])
            total[0] += piece
            total[1] += cores * piece
            total[2] += size * piece
    return totals


def runs_of(totals: Totals, day_start: datetime) -> dict[str, list[PodRun]]:
    """One PodRun per pod and node: the day's time-weighted cores and GiB, as long as it ran (from ``day_start``)."""
    runs: dict[str, list[PodRun]] = defaultdict(list)
    for (namespace, pod), nodes in totals.items():
        for node, (micros, core_us, byte_us) in nodes.items():
            if micros <= 0:
                continue
            end = day_start + timedelta(microseconds=micros)
            runs[node].append(PodRun(namespace, pod, node, core_us / micros, byte_us / micros / GIB, day_start, end))
    return runs


def pod_runs(requests: Matrix, cpu: Matrix, memory: Matrix, grid: Grid, day_start: datetime) -> dict[str, list[PodRun]]:
    """One day's pods from their samples (the sample-by-sample path)."""
    return runs_of(step_totals(requests, cpu, memory, grid), day_start)


def _only(query: str, resource: str) -> str:
    """The series of ``query`` whose ``resource`` label is ``resource`` (any expression, not only a selector)."""
    return '(%s) and on (resource) label_replace(vector(1), "resource", "%s", "", "")' % (query, resource)


def day_sum_query(queries: Mapping[str, str], span: int, step: int) -> str:
    """Per pod and node over the ``span`` seconds up to the evaluation time, on the ``step`` grid: the
    sum of max(request, usage) for cpu and memory and the count of steps with a request, labelled ``part``.

    The sample-by-sample rule, exactly: a step counts when the pod has a cpu or memory request sample;
    a missing cpu (memory) request is 0; usage without a request is not charged; several request
    series of a pod and node add up, as do several usage series of a pod."""
    requests = queries["pod_requests"]
    present = "sum by (namespace, pod, node) (%s or %s)" % (_only(requests, "cpu"), _only(requests, "memory"))
    parts = []
    for part, usage_key in (("cpu", "pod_cpu_usage"), ("memory", "pod_memory_usage")):
        request = "(sum by (namespace, pod, node) (%s) or 0 * %s)" % (_only(requests, part), present)
        usage = "sum by (namespace, pod) (%s)" % queries[usage_key]
        # max(request, usage) = request - min(request - usage, 0); where no usage sample, the request
        charged = "((%s - clamp_max(%s - on (namespace, pod) group_left () %s, 0)) or %s)" % (
            request,
            request,
            usage,
            request,
        )
        parts.append((part, "sum_over_time(%s[%ds:%ds])" % (charged, span, step)))
    parts.append(("steps", "count_over_time((%s)[%ds:%ds])" % (present, span, step)))
    return " or ".join('label_replace(%s, "part", "%s", "", "")' % (query, part) for part, query in parts)


def add_day_sums(totals: Totals, sums: Matrix, step: int) -> Totals:
    """Add a day-sum answer (every step whole) to ``totals``."""
    whole = step * US
    by_pod: dict[tuple[str, str, str], list] = {}
    for (namespace, pod, node, part), points in sums.items():
        if part not in ("steps", "cpu", "memory"):
            continue
        entry = by_pod.setdefault((namespace, pod, node), [ZERO, ZERO, ZERO])
        entry[("steps", "cpu", "memory").index(part)] += sum(points.values(), ZERO)
    for (namespace, pod, node), (steps, cores, size) in by_pod.items():
        if steps <= 0:
            continue
        total = totals[(namespace, pod)].setdefault(node, [0, ZERO, ZERO])
        total[0] += int(steps) * whole
        total[1] += cores * whole
        total[2] += size * whole
    return totals


Fetch = Callable[[str, int, int], Any]  # (query, first, last) -> the range-query answer
_POD_LABELS = ("namespace", "pod")


@dataclass(frozen=True)
class History:
    """Reads the window back: ``fetch(query, first, last)`` runs one range query at ``grid.step``.

    With ``aggregate`` (the default) Prometheus sums each day's whole steps per pod and node; without
    it every step is read sample by sample."""

    queries: Mapping[str, str]
    grid: Grid
    fetch: Fetch
    aggregate: bool = True

    def _points(self, key: str, labels: tuple[str, ...], first: int, last: int) -> Matrix:
        merged: Matrix = defaultdict(dict)
        while first <= last:
            chunk_last = min(last, first + (MAX_POINTS - 1) * self.grid.step)
            for series, points in matrix(self.fetch(self.queries[key], first, chunk_last), key, labels).items():
                merged[series].update(points)
            first = chunk_last + self.grid.step
        return merged

    def _read(self, key: str, labels: tuple[str, ...], start: datetime, end: datetime) -> Matrix:
        span = self.grid.points(start, end)
        return self._points(key, labels, *span) if span else defaultdict(dict)

    def node_objects(self) -> list[dict[str, Any]]:
        window = self.grid.window
        nodes = self._read("nodes", ("node", "instance_type", "capacity_type", "zone"), window.start, window.end)
        capacity = self._read("node_capacity", ("node", "resource"), window.start, window.end)
        return node_objects(nodes, capacity, self.grid)

    def volume_objects(self) -> list[dict[str, Any]]:
        """Bound PersistentVolumeClaims as the API would hold them, one per run of a size, with their lifetimes."""
        window = self.grid.window
        claims = self._read("volumes", ("namespace", "persistentvolumeclaim", "storageclass"), window.start, window.end)
        return volume_objects(claims, self.grid)

    def service_objects(self) -> list[dict[str, Any]]:
        """LoadBalancer Services as the API would hold them, one per run of samples, with their lifetimes."""
        window = self.grid.window
        return service_objects(
            self._read("loadbalancers", ("namespace", "service"), window.start, window.end), self.grid
        )

    def _sample_totals(self, first: int, last: int, totals: Totals) -> Totals:
        requests = self._points("pod_requests", _POD_LABELS + ("node", "resource"), first, last)
        cpu = self._points("pod_cpu_usage", _POD_LABELS, first, last)
        memory = self._points("pod_memory_usage", _POD_LABELS, first, last)
        return step_totals(requests, cpu, memory, self.grid, totals)

    def day(self, start: datetime, end: datetime) -> dict[str, list[PodRun]]:
        """One day's pods: whole steps summed by Prometheus, the window's cut steps sample by sample."""
        totals: Totals = defaultdict(dict)
        span = self.grid.points(start, end)
        if span is None:
            return {}
        whole = self.grid.whole(start, end) if self.aggregate else None
        if whole is None:
            return runs_of(self._sample_totals(span[0], span[1], totals), start)
        step = self.grid.step
        for t in sorted({t for t in span if not whole[0] <= t <= whole[1]}):  # the steps the window cuts
            self._sample_totals(t, t, totals)
        block = whole[0]
        while block <= whole[1]:
            last = min(whole[1], block + (SUM_POINTS - 1) * step)
            query = day_sum_query(self.queries, last - block + 1, step)
            sums = matrix(self.fetch(query, last, last), "pod_requests", _POD_LABELS + ("node", "part"))
            add_day_sums(totals, sums, step)
            block = last + step
        return runs_of(totals, start)


def day_clusters(
    base: PricedCluster, history: History, days: Iterable[tuple[datetime, datetime]]
) -> Iterable[tuple[datetime, datetime, PricedCluster]]:
    """Each day with the cluster the ledger charges: every node, that day's pods, the volumes and balancers."""
    for start, end in days:
        yield (
            start,
            end,
            PricedCluster(
                nodes=base.nodes,
                pods_by_node=history.day(start, end),
                volumes=base.volumes,
                balancers=base.balancers,
                loadbalancer_hourly=base.loadbalancer_hourly,
            ),
        )
