# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/cost.md's worked example run through ``allocate``, for every test that needs its report."""

from __future__ import annotations

import copy

from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import usage_from_pod_metrics
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window

WINDOW = ("2024-06-10T08:00:00Z", "2024-06-10T18:00:00Z")


def example_report(example: dict, **overrides) -> dict:
    """The worked example's report (its pod metrics as usage); ``overrides`` replace allocate's arguments."""
    ex = copy.deepcopy(example)
    kwargs = dict(
        nodes=ex["nodes"],
        pods=ex["pods"],
        pvcs=ex["pvcs"],
        services=ex["services"],
        namespaces=ex["namespaces"],
        catalog=validate_prices(ex["prices"]),
        window=make_window(ex["window_start"], ex["window_end"]),
        tenants=ex["tenants"],
        platform_namespaces=ex["platform_namespaces"],
        usage=usage_from_pod_metrics(ex["pod_metrics"]),
    )
    kwargs.update(overrides)
    return allocate(**kwargs)


def m5_node(name: str, labels: dict | None = None) -> dict:
    """An m5.xlarge node object (4 cores, 16 GiB) created before the window."""
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2024-06-01T00:00:00Z",
            "labels": {"node.kubernetes.io/instance-type": "m5.xlarge", **(labels or {})},
        },
        "status": {"capacity": {"cpu": "4", "memory": "16Gi"}},
    }


def _pod(index: int, node: str, spec: tuple) -> dict:
    """``(namespace, cpu, memory)`` or ``(namespace, cpu, memory, started, finished)`` (times or None)."""
    namespace, cpu, mem, started, finished = (spec + (None, None))[:5]
    status: dict = {"phase": "Running", "startTime": started or "2024-06-01T00:00:00Z"}
    if finished:
        status = {
            "phase": "Succeeded",
            "startTime": status["startTime"],
            "containerStatuses": [{"name": "c", "state": {"terminated": {"finishedAt": finished}}}],
        }
    requests = {key: value for key, value in (("cpu", cpu), ("memory", mem)) if value is not None}
    return {
        "metadata": {"name": "p%d" % index, "namespace": namespace, "creationTimestamp": "2024-06-01T00:00:00Z"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": requests}}]},
        "status": status,
    }


def nodes_report(by_node: dict, start: str = WINDOW[0], end: str = WINDOW[1], labels: dict | None = None, **kwargs):
    """m5.xlarge nodes (4 cores, 16 GiB, 0.192/h: 0.032 per core-hour, 0.004 per GiB-hour with weight 8),
    each with its pods (``{node: [pod spec, ...]}``, see :func:`_pod`); tenants a and b, platykus-system the platform."""
    nodes = list(by_node)
    namespaces = [{"metadata": {"name": t, "labels": {"platykus.io/tenant": t}}} for t in ("a", "b")]
    args = dict(
        nodes=[m5_node(name, (labels or {}).get(name)) for name in nodes],
        pods=[_pod(i, node, spec) for i, (node, spec) in enumerate((n, s) for n in nodes for s in by_node[n])],
        namespaces=namespaces,
        catalog=validate_prices({"currency": "USD", "cpu_ram_weight": 8, "instance_types": {"m5.xlarge": 0.192}}),
        window=make_window(start, end),
        platform_namespaces=["platykus-system"],
        tenants=[{"name": "a", "budget": {"monthly": 50}}, {"name": "b"}],
    )
    args.update(kwargs)
    return allocate(**args)
