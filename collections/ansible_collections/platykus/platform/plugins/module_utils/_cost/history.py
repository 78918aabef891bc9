# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost history from Prometheus: the same allocation as the objects source, over range queries.

The current-objects source charges what exists when the report runs; a pod deleted yesterday or a
node Karpenter removed is lost. This source reads the window back from Prometheus instead:

* ``nodes``: one series per node while it existed, labelled ``node``, ``instance_type``,
  ``capacity_type`` and ``zone`` (Kubernetes node service discovery on the lab; kube-state-metrics'
  ``kube_node_labels`` on a cluster). A node lives from its first sample to its last plus one step.
* ``node_capacity``: cores and bytes per node (``kube_node_status_capacity``, or ``_allocatable`` where more).
* ``pod_requests``: requested cpu and memory per pod and node while it ran (kube-scheduler's
  ``/metrics/resources`` ``kube_pod_resource_request``, or KSM's ``kube_pod_container_resource_requests``
  of Running pods). A pod is charged for the steps it has a request sample.
* ``pod_cpu_usage`` / ``pod_memory_usage``: the kubelet resource metrics, cores and bytes.

The window is cut on a grid of ``step`` seconds anchored at the Unix epoch (so UTC midnights are
on it: the step must divide a day). The sample at ``t`` stands for ``[t, t + step)`` clipped to the
window. Each step a pod pays max(request, usage) at its node's prices, exactly as in the objects
source; the ledger (idle, platform, sharing, days) and the report are the same code.

Pods are read one UTC day at a time (three range queries a day), so memory stays bounded over a
month. Each answer is read once into plain ``{t: float}`` maps (no Decimal per sample), each pod's
steps are charged with float arithmetic (a whole step's share computed once) and the day's totals
become Decimal per pod and node, from the pod's first step on the node that day (the ledger charges a
node's unrequested capacity to the tenants whose pods ran on it then). This gives the same money as the Decimal-per-sample reading it
replaced (tests/integration/test_cost_history_paths.py compares them on a real Prometheus, and the
unit tests on built answers); a PromQL formulation (the per-step max summed by a subquery) was
measured slower, see docs/benchmarks.md.

* ``volumes``: bytes requested per bound PersistentVolumeClaim with its storage class (kube-state-
  metrics' ``kube_persistentvolumeclaim_resource_requests_storage_bytes``, ``_info`` and
  ``_status_phase``); each run of one size is charged from its first sample to its last plus a step,
  so a claim deleted before the report is still charged for its life.
* ``loadbalancers``: ``kube_service_spec_type{type="LoadBalancer"}``, charged the same way.
* ``addon_labels`` / ``addon_annotations``: the add-on connection Secrets (kube-state-metrics'
  ``kube_secret_labels`` with ``platykus.io/tenant``, ``platykus.io/addon`` and
  ``platykus.io/data-service`` allow-listed, ``kube_secret_annotations`` with
  ``platykus.io/addon-plan`` and ``platykus.io/addon-provider``): an add-on is priced for each step
  its Secret has a sample, at the plan its annotation names at that step (_cost.addons), so an
  add-on destroyed before the report is charged for its life and a resize splits at the step.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    DATA_SERVICE_LABEL,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import (
    INSTANCE_TYPE_LABEL,
    KARPENTER_CAPACITY_LABEL,
    ZONE_LABEL,
    PodRun,
    PricedCluster,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import GIB
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, Window, format_time

QUERY_KEYS = (
    "nodes",
    "node_capacity",
    "pod_requests",
    "pod_cpu_usage",
    "pod_memory_usage",
    "volumes",
    "loadbalancers",
    "addon_labels",
    "addon_annotations",
)
_CONTAINERS = '{container!="",container!="POD"}'
_CPU_USAGE = "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total%s[%%(rate)s]))" % _CONTAINERS
_MEMORY_USAGE = "sum by (namespace, pod) (container_memory_working_set_bytes%s)" % _CONTAINERS
# Capacity, or allocatable where that is more (as the objects source, _cost.index._size).
_CAPACITY = (
    "max by (node, resource) "
    '({__name__=~"kube_node_status_capacity|kube_node_status_allocatable", resource=~"cpu|memory"})'
)
# kube-state-metrics on a cluster; the lab's in-tree stand-in serves the same series (lab/platykus_lab/standins.py).
_PVC = "namespace, persistentvolumeclaim"
_VOLUMES = (
    "max by (%s, storageclass) (kube_persistentvolumeclaim_resource_requests_storage_bytes"
    " * on (%s) group_left (storageclass) max by (%s, storageclass) (kube_persistentvolumeclaim_info)"
    ' and on (%s) (kube_persistentvolumeclaim_status_phase{phase="Bound"} == 1))' % (_PVC, _PVC, _PVC, _PVC)
)
_BALANCERS = 'max by (namespace, service) (kube_service_spec_type{type="LoadBalancer"})'


def ksm_name(key: str, kind: str = "label") -> str:
    """kube-state-metrics' label name for a Kubernetes label (or annotation) key: label_platykus_io_addon."""
    return "%s_%s" % (kind, "".join(c if c.isalnum() else "_" for c in key))


# The add-on Secrets (kube-state-metrics with the allow-lists of docs/cost.md; the lab's stand-in).
ADDON_SECRET_LABELS = (TENANT_LABEL, ADDON_LABEL, DATA_SERVICE_LABEL)
ADDON_SECRET_ANNOTATIONS = (ADDON_PLAN_ANNOTATION, ADDON_PROVIDER_ANNOTATION)
_ADDON_LABEL_NAMES = tuple(ksm_name(k) for k in ADDON_SECRET_LABELS)
_ADDON_NOTE_NAMES = tuple(ksm_name(k, "annotation") for k in ADDON_SECRET_ANNOTATIONS)
_ADDON_LABELS = 'max by (namespace, secret, %s) (kube_secret_labels{%s!=""})' % (
    ", ".join(_ADDON_LABEL_NAMES),
    ksm_name(ADDON_LABEL),
)
_ADDON_NOTES = 'max by (namespace, secret, %s) (kube_secret_annotations{%s!=""})' % (
    ", ".join(_ADDON_NOTE_NAMES),
    ksm_name(ADDON_PLAN_ANNOTATION, "annotation"),
)


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
        "addon_labels": _ADDON_LABELS,
        "addon_annotations": _ADDON_NOTES,
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
        "addon_labels": _ADDON_LABELS,
        "addon_annotations": _ADDON_NOTES,
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
    """The queries: the profile's, with ``overrides`` (prometheus_queries) replacing some."""
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
# {(label values...): Series}: the pods' samples, read without an object per sample
Samples = dict


def _result(answer: Any, name: str) -> list:
    """The series of a range-query answer; refuses an error or anything but a matrix."""
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
    return data.get("result") or []


def matrix(answer: Any, name: str, labels: tuple[str, ...]) -> Matrix:
    """A range-query answer as ``{label values: {t: Decimal}}`` (nodes, capacity, volumes: few samples)."""
    out: Matrix = defaultdict(dict)
    for series in _result(answer, name):
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

    @cached_property
    def start_us(self) -> int:
        return _micros(self.window.start)

    @cached_property
    def end_us(self) -> int:
        return _micros(self.window.end)

    @cached_property
    def whole(self) -> tuple[int, int]:
        """First and last grid point whose step lies wholly inside the window (first > last: none)."""
        size = self.step * US
        return -(-self.start_us // size) * self.step, self.end_us // size * self.step - self.step

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


# -- volumes and load balancers ------------------------------------------------------------------------
def _runs(points: Mapping[int, Decimal], grid: Grid) -> list[tuple[int, int, Decimal]]:
    """Consecutive grid points of one value as ``(first, last, value)``; a gap or a new value starts a run."""
    runs: list[list] = []
    for t in sorted(t for t in points if grid.piece(t) > 0):
        if runs and runs[-1][1] + grid.step == t and runs[-1][2] == points[t]:
            runs[-1][1] = t
        else:
            runs.append([t, t, points[t]])
    return [(run[0], run[1], run[2]) for run in runs]


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


# -- add-ons -----------------------------------------------------------------------------------------
# (Secret metadata as the API would hold it, sample time t, microseconds of the window t stands for)
AddonSample = tuple[dict[str, Any], int, int]


def addon_samples(labels: Matrix, notes: Matrix, grid: Grid) -> list[AddonSample]:
    """Each add-on Secret at each step it has a labels sample: its labels and, from the annotations
    sample of the same step, its plan and provider (a Secret without one at that step has no plan)."""
    plans: dict[tuple[str, str], dict[int, tuple[str, ...]]] = defaultdict(dict)
    for key, points in sorted(notes.items()):
        for t in points:
            plans[key[:2]][t] = key[2:]
    out: list[AddonSample] = []
    for key, points in sorted(labels.items()):
        namespace, secret = key[:2]
        for t in sorted(points):
            micros = grid.piece(t)
            if micros <= 0 or not namespace or not secret:
                continue
            values = plans.get((namespace, secret), {}).get(t, ("",) * len(ADDON_SECRET_ANNOTATIONS))
            meta = {
                "name": secret,
                "namespace": namespace,
                "labels": {k: v for k, v in zip(ADDON_SECRET_LABELS, key[2:]) if v},
                "annotations": {k: v for k, v in zip(ADDON_SECRET_ANNOTATIONS, values) if v},
            }
            out.append((meta, t, micros))
    return out


# -- pods ---------------------------------------------------------------------------------------------
# {(namespace, pod): {node: [microseconds, core-microseconds, byte-microseconds, first step]}}
Totals = dict
_SLOT = {"cpu": 1, "memory": 2}


@dataclass
class Series:
    """One series' samples in time order: timestamps and finite float values, side by side."""

    ts: list[int]
    xs: list[float]

    def points(self) -> dict[int, float]:
        return dict(zip(self.ts, self.xs))


def _series(values: Any) -> Series:
    ts = [int(point[0]) for point in values]
    xs = [float(point[1]) for point in values]
    total = sum(xs)
    if total - total != 0:  # a NaN or an infinity among them (x - x is 0 only for a finite x)
        kept = [(t, x) for t, x in zip(ts, xs) if x - x == 0]
        ts, xs = [t for t, _x in kept], [x for _t, x in kept]
    return Series(ts, xs)


def samples(answer: Any, name: str, labels: tuple[str, ...]) -> Samples:
    """A range-query answer as ``{label values: Series}``: non-finite samples dropped, series with the
    same label values added (as :func:`matrix` does), two flat lists per series and nothing per sample."""
    out: Samples = {}
    for raw in _result(answer, name):
        metric = raw.get("metric") or {}
        key = tuple(metric.get(label, "") for label in labels)
        series = _series(raw.get("values") or ())
        if key in out:
            merged = out[key].points()
            for t, x in zip(series.ts, series.xs):
                merged[t] = merged.get(t, 0.0) + x
            stamps = sorted(merged)
            series = Series(stamps, [merged[t] for t in stamps])
        out[key] = series
    return out


_NONE = Series([], [])


def _steps(requests: list[tuple[str, int, Series]]) -> dict[int, list]:
    """A pod's steps: ``{t: [node, cores, bytes]}``, the node of its first request series at ``t``,
    the cpu and memory requests added over its series."""
    steps: dict[int, list] = {}
    for node, slot, series in requests:
        for t, x in zip(series.ts, series.xs):
            entry = steps.get(t)
            if entry is None:
                steps[t] = [node, x, 0.0] if slot == 1 else [node, 0.0, x]
            else:
                entry[slot] += x
    return steps


def _charge_steps(requests: list, used_cpu: Series, used_memory: Series, grid: Grid, mine: dict) -> None:
    """Any pod, step by step: max(request, usage) times the part of the window each step stands for."""
    cpu, memory = used_cpu.points(), used_memory.points()
    for t, (node, cores, size) in _steps(requests).items():
        piece = grid.piece(t)
        if piece <= 0:
            continue
        cores = max(cores, cpu.get(t, cores))
        size = max(size, memory.get(t, size))
        total = mine.setdefault(node, [0, 0.0, 0.0, t])
        total[0] += piece
        total[1] += cores * piece
        total[2] += size * piece
        if t < total[3]:
            total[3] = t


def _charge_aligned(requests: list, used_cpu: Series, used_memory: Series, grid: Grid, mine: dict) -> bool:
    """The usual pod, in C loops: one node, a cpu and a memory request series and its usage series all on
    the same steps, every step whole. False (nothing charged) when the pod is not like that."""
    if len(requests) != 2 or requests[0][0] != requests[1][0] or requests[0][1] == requests[1][1]:
        return False
    by_slot = {slot: series for _node, slot, series in requests}
    cpu, memory = by_slot[1], by_slot[2]
    ts = cpu.ts
    lo, hi = grid.whole
    if not ts or ts[0] < lo or ts[-1] > hi or memory.ts != ts:
        return False
    if used_cpu.ts not in (ts, []) or used_memory.ts not in (ts, []):
        return False
    full = grid.step * US
    cores = sum(map(max, cpu.xs, used_cpu.xs)) if used_cpu.ts else sum(cpu.xs)
    size = sum(map(max, memory.xs, used_memory.xs)) if used_memory.ts else sum(memory.xs)
    total = mine.setdefault(requests[0][0], [0, 0.0, 0.0, ts[0]])
    total[0] += len(ts) * full
    total[1] += cores * full
    total[2] += size * full
    total[3] = min(total[3], ts[0])
    return True


def step_totals(requests: Samples, cpu: Samples, memory: Samples, grid: Grid, totals: Totals | None = None) -> Totals:
    """Each step a pod has a request sample it pays max(request, usage) on its node for the part of
    the window the step stands for (the whole step but at a cut end of the window)."""
    totals = defaultdict(dict) if totals is None else totals
    pods: dict[tuple[str, str], list[tuple[str, int, Series]]] = {}
    for (namespace, pod, node, resource), series in requests.items():
        slot = _SLOT.get(resource)
        if slot is not None and series.ts:
            pods.setdefault((namespace, pod), []).append((node, slot, series))
    for key, mine in pods.items():
        used_cpu, used_memory = cpu.get(key, _NONE), memory.get(key, _NONE)
        if not _charge_aligned(mine, used_cpu, used_memory, grid, totals[key]):
            _charge_steps(mine, used_cpu, used_memory, grid, totals[key])
    return totals


def runs_of(totals: Totals, day_start: datetime) -> dict[str, list[PodRun]]:
    """One PodRun per pod and node: the day's time-weighted cores and GiB, as long as it ran, from its
    first step (so the ledger knows when it was on the node; a gap between its steps is put at the end)."""
    runs: dict[str, list[PodRun]] = defaultdict(list)
    day_us = _micros(day_start)
    for (namespace, pod), nodes in totals.items():
        for node, (micros, core_us, byte_us, first) in nodes.items():
            if micros <= 0:
                continue
            start = day_start if first * US <= day_us else _from_micros(first * US)
            end = start + timedelta(microseconds=micros)
            cores, gib = Decimal(core_us) / micros, Decimal(byte_us) / micros / GIB
            runs[node].append(PodRun(namespace, pod, node, cores, gib, start, end))
    return runs


def pod_runs(
    requests: Samples, cpu: Samples, memory: Samples, grid: Grid, day_start: datetime
) -> dict[str, list[PodRun]]:
    """One day's pods from their samples."""
    return runs_of(step_totals(requests, cpu, memory, grid), day_start)


Fetch = Callable[[str, int, int], Any]  # (query, first, last) -> the range-query answer
_POD_LABELS = ("namespace", "pod")


@dataclass(frozen=True)
class History:
    """Reads the window back: ``fetch(query, first, last)`` runs one range query at ``grid.step``."""

    queries: Mapping[str, str]
    grid: Grid
    fetch: Fetch

    def _answers(self, key: str, start: datetime, end: datetime) -> list[Any]:
        return [self.fetch(self.queries[key], first, last) for first, last in self.grid.chunks(start, end)]

    def _read(self, key: str, labels: tuple[str, ...], start: datetime, end: datetime) -> Matrix:
        merged: Matrix = defaultdict(dict)
        for answer in self._answers(key, start, end):
            for series, points in matrix(answer, key, labels).items():
                merged[series].update(points)
        return merged

    def _samples(self, key: str, labels: tuple[str, ...], start: datetime, end: datetime) -> Samples:
        answers = self._answers(key, start, end)
        if len(answers) == 1:
            return samples(answers[0], key, labels)
        merged: dict = {}
        for answer in answers:
            for series, points in samples(answer, key, labels).items():
                merged.setdefault(series, {}).update(points.points())
        return {
            series: Series(sorted(points), [points[t] for t in sorted(points)]) for series, points in merged.items()
        }

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

    def addon_samples(self) -> list[AddonSample]:
        """The add-on Secrets step by step over the window (see :func:`addon_samples`)."""
        window = self.grid.window
        labels = self._read("addon_labels", ("namespace", "secret") + _ADDON_LABEL_NAMES, window.start, window.end)
        notes = self._read("addon_annotations", ("namespace", "secret") + _ADDON_NOTE_NAMES, window.start, window.end)
        return addon_samples(labels, notes, self.grid)

    def day(self, start: datetime, end: datetime) -> dict[str, list[PodRun]]:
        requests = self._samples("pod_requests", _POD_LABELS + ("node", "resource"), start, end)
        cpu = self._samples("pod_cpu_usage", _POD_LABELS, start, end)
        memory = self._samples("pod_memory_usage", _POD_LABELS, start, end)
        return pod_runs(requests, cpu, memory, self.grid, start)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Reading a day makes millions of small acyclic objects (the decoded answers): reference counting
    frees them, and the cyclic collector's passes over them only cost time (half the report's, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def day_clusters(
    base: PricedCluster, history: History, days: Iterable[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, datetime, PricedCluster]]:
    """Each day with the cluster the ledger charges: every node, that day's pods, the volumes and balancers."""
    for start, end in days:
        with _without_gc():
            pods = history.day(start, end)
        yield (
            start,
            end,
            PricedCluster(
                nodes=base.nodes,
                pods_by_node=pods,
                volumes=base.volumes,
                balancers=base.balancers,
                loadbalancer_hourly=base.loadbalancer_hourly,
            ),
        )
