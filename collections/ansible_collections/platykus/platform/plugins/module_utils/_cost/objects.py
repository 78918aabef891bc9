# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cost allocation reads from API objects: when they existed, what pods reserve, what they used.

Every bad value is refused naming the object and the field (``Pod n/p spec.containers[0].resources.requests.cpu``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, parse_time

GIB = Decimal(2**30)

# {(namespace, pod): {"cpu": cores, "memory": bytes}}
Usage = Mapping[tuple[str, str], Mapping[str, Decimal]]


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def ident(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = metadata(obj)
    return "%s/%s" % (meta.get("namespace"), meta.get("name")) if meta.get("namespace") else str(meta.get("name"))


def object_interval(obj: Mapping[str, Any], kind: str) -> tuple[datetime, datetime | None]:
    """From creation to deletion (None while it exists)."""
    meta = metadata(obj)
    where = "%s %s metadata" % (kind, ident(obj))
    start = parse_time(meta.get("creationTimestamp"), where + ".creationTimestamp")
    deleted = meta.get("deletionTimestamp")
    return start, parse_time(deleted, where + ".deletionTimestamp") if deleted else None


def _finished_at(status: Mapping[str, Any], where: str) -> datetime | None:
    finished = [
        parse_time(cs["state"]["terminated"]["finishedAt"], where + " containerStatuses.state.terminated.finishedAt")
        for cs in status.get("containerStatuses") or []
        if ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
    ]
    return max(finished) if finished else None


def pod_interval(pod: Mapping[str, Any]) -> tuple[datetime, datetime | None] | None:
    """When a pod ran: ``(start, end or None while running)``; None when it never ran (Pending, unscheduled)."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Pending" or not (pod.get("spec") or {}).get("nodeName"):
        return None
    where = "Pod %s" % ident(pod)
    if status.get("startTime"):
        start = parse_time(status["startTime"], where + " status.startTime")
    else:
        start = parse_time(metadata(pod).get("creationTimestamp"), where + " metadata.creationTimestamp")
    end = _finished_at(status, where) if phase in ("Succeeded", "Failed") else None
    if end is None and metadata(pod).get("deletionTimestamp"):
        end = parse_time(metadata(pod)["deletionTimestamp"], where + " metadata.deletionTimestamp")
    return start, end


def _container_requests(container: Mapping[str, Any], base: str) -> tuple[Decimal, Decimal]:
    req = (container.get("resources") or {}).get("requests") or {}
    cpu = parse_quantity(req["cpu"], base + ".cpu") if req.get("cpu") is not None else ZERO
    mem = parse_quantity(req["memory"], base + ".memory") if req.get("memory") is not None else ZERO
    return cpu, mem


def pod_requests(pod: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(cores, bytes) the scheduler reserves: max(sum of containers, largest init container) + overhead."""
    spec = pod.get("spec") or {}
    where = "Pod %s" % ident(pod)

    def section(name: str) -> list[tuple[Decimal, Decimal]]:
        return [
            _container_requests(c, "%s spec.%s[%d].resources.requests" % (where, name, i))
            for i, c in enumerate(spec.get(name) or [])
        ]

    app, init = section("containers"), section("initContainers")
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
        meta = metadata(item)
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
            raise PlatykusError(
                "%s: Prometheus answered %s: %s" % (field_name, result.get("status"), result.get("error")),
                field=field_name,
            )
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
