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
source; the ledger (idle, platform, sharing, days) and the report are the same code. Pods are read
one UTC day at a time (three range queries a day), so memory stays bounded over a month.
PersistentVolumeClaims and LoadBalancer Services are still charged from the current objects.
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

QUERY_KEYS = ("nodes", "node_capacity", "pod_requests", "pod_cpu_usage", "pod_memory_usage")
_CONTAINERS = '{container!="",container!="POD"}'
_CPU_USAGE = "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total%s[%%(rate)s]))" % _CONTAINERS
_MEMORY_USAGE = "sum by (namespace, pod) (container_memory_working_set_bytes%s)" % _CONTAINERS
_CAPACITY = 'max by (node, resource) (kube_node_status_capacity{resource=~"cpu|memory"})'


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
    },
}
DAY_SECONDS = 86400
MAX_POINTS = 11000  # Prometheus refuses a range query with more points per series
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


# -- pods ---------------------------------------------------------------------------------------------
def pod_runs(requests: Matrix, cpu: Matrix, memory: Matrix, grid: Grid, day_start: datetime) -> dict[str, list[PodRun]]:
    """One day's pods, each a PodRun per node whose cores and GiB are the day's time-weighted
    max(request, usage) and whose length is the time it ran (from ``day_start``)."""
    present: dict[tuple[str, str], dict[int, list]] = defaultdict(dict)
    for (namespace, pod, node, resource), points in requests.items():
        slot = 1 if resource == "cpu" else 2 if resource == "memory" else 0
        if not slot:
            continue
        samples = present[(namespace, pod)]
        for t, value in points.items():
            entry = samples.setdefault(t, [node, ZERO, ZERO])
            entry[slot] += value
    runs: dict[str, list[PodRun]] = defaultdict(list)
    for key, samples in present.items():
        used_cpu, used_memory = cpu.get(key, {}), memory.get(key, {})
        totals: dict[str, list] = {}
        for t, (node, cores, size) in samples.items():
            piece = grid.piece(t)
            if piece <= 0:
                continue
            cores = max(cores, used_cpu.get(t, ZERO))
            size = max(size, used_memory.get(t, ZERO))
            total = totals.setdefault(node, [0, ZERO, ZERO])
            total[0] += piece
            total[1] += cores * piece
            total[2] += size * piece
        for node, (micros, core_us, byte_us) in totals.items():
            end = day_start + timedelta(microseconds=micros)
            runs[node].append(PodRun(key[0], key[1], node, core_us / micros, byte_us / micros / GIB, day_start, end))
    return runs


Fetch = Callable[[str, int, int], Any]  # (query, first, last) -> the range-query answer


@dataclass(frozen=True)
class History:
    """Reads the window back: ``fetch(query, first, last)`` runs one range query at ``grid.step``."""

    queries: Mapping[str, str]
    grid: Grid
    fetch: Fetch

    def _read(self, key: str, labels: tuple[str, ...], start: datetime, end: datetime) -> Matrix:
        merged: Matrix = defaultdict(dict)
        for first, last in self.grid.chunks(start, end):
            for series, points in matrix(self.fetch(self.queries[key], first, last), key, labels).items():
                merged[series].update(points)
        return merged

    def node_objects(self) -> list[dict[str, Any]]:
        window = self.grid.window
        nodes = self._read("nodes", ("node", "instance_type", "capacity_type", "zone"), window.start, window.end)
        capacity = self._read("node_capacity", ("node", "resource"), window.start, window.end)
        return node_objects(nodes, capacity, self.grid)

    def day(self, start: datetime, end: datetime) -> dict[str, list[PodRun]]:
        pods = ("namespace", "pod")
        requests = self._read("pod_requests", pods + ("node", "resource"), start, end)
        cpu = self._read("pod_cpu_usage", pods, start, end)
        memory = self._read("pod_memory_usage", pods, start, end)
        return pod_runs(requests, cpu, memory, self.grid, start)


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
