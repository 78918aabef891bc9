# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PromQL the cost history reads: a profile of queries per kind of metrics (upstream components or
kube-state-metrics), with per-inventory overrides, and the step they are read at."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    DATA_SERVICE_LABEL,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.grid import DAY_SECONDS

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
ADDON_LABEL_NAMES = tuple(ksm_name(k) for k in ADDON_SECRET_LABELS)
ADDON_NOTE_NAMES = tuple(ksm_name(k, "annotation") for k in ADDON_SECRET_ANNOTATIONS)
_ADDON_LABELS = 'max by (namespace, secret, %s) (kube_secret_labels{%s!=""})' % (
    ", ".join(ADDON_LABEL_NAMES),
    ksm_name(ADDON_LABEL),
)
_ADDON_NOTES = 'max by (namespace, secret, %s) (kube_secret_annotations{%s!=""})' % (
    ", ".join(ADDON_NOTE_NAMES),
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
_STEP_RE = re.compile(r"^\s*(\d+)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}
_STEP_HINT = "write it like 60s, 5m or 1h, dividing a day evenly"


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
