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

Here: the objects read back and the reader, :class:`History`. The queries and the step are in
_cost.promql, the grid and the answers read onto it in _cost.grid, the pods' charging in _cost.pod_steps.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.grid import (
    US,
    Grid,
    Matrix,
    Samples,
    Series,
    from_micros,
    matrix,
    samples,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import (
    INSTANCE_TYPE_LABEL,
    KARPENTER_CAPACITY_LABEL,
    ZONE_LABEL,
    PodRun,
    PricedCluster,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.pod_steps import pod_runs
from ansible_collections.platykus.platform.plugins.module_utils._cost.promql import (
    ADDON_LABEL_NAMES,
    ADDON_NOTE_NAMES,
    ADDON_SECRET_ANNOTATIONS,
    ADDON_SECRET_LABELS,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, format_time


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
        meta = {"name": name, "labels": life["labels"], "creationTimestamp": format_time(from_micros(start))}
        if end < grid.end_us:
            meta["deletionTimestamp"] = format_time(from_micros(end))
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
    meta = {"name": name, "namespace": namespace, "creationTimestamp": format_time(from_micros(start))}
    if end < grid.end_us:
        meta["deletionTimestamp"] = format_time(from_micros(end))
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
        labels = self._read("addon_labels", ("namespace", "secret") + ADDON_LABEL_NAMES, window.start, window.end)
        notes = self._read("addon_annotations", ("namespace", "secret") + ADDON_NOTE_NAMES, window.start, window.end)
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
