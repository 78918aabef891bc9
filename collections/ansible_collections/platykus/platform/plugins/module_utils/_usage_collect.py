# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what the allocation needs from the cluster (and Prometheus), then run it.

Every kind is listed once, cluster-wide, with paging; usage_report and tenant_budget (when it
computes its report inline) share :data:`USAGE_ARGUMENT_SPEC` and :func:`usage_report`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._usage import (
    allocate,
    make_window,
    usage_from_pod_metrics,
    usage_from_prometheus,
)

# Averages over the window, evaluated at its end; %(range)s is the window length in seconds.
PROMQL_CPU = 'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="",container!="POD"}[%(range)ds]))'
PROMQL_MEMORY = (
    'sum by (namespace, pod) (avg_over_time(container_memory_working_set_bytes{container!="",container!="POD"}[%(range)ds]))'
)

USAGE_ARGUMENT_SPEC: dict[str, Any] = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    prices=dict(type="dict", required=True),
    tenants=dict(type="list", elements="dict", default=[]),
    platform_namespaces=dict(type="list", elements="str", default=[]),
    window_start=dict(type="str"),
    window_end=dict(type="str"),
    month_to_date=dict(type="bool", default=True),
    now=dict(type="str"),
    cpu_ram_weight=dict(type="float"),
    idle=dict(type="str", default="separate", choices=["separate", "share"]),
    platform=dict(type="str", default="separate", choices=["separate", "share"]),
    unpriced=dict(type="str", default="fail", choices=["fail", "report"]),
    usage_source=dict(type="str", default="none", choices=["none", "metrics", "prometheus"]),
    prometheus_url=dict(type="str"),
    thresholds=dict(type="dict"),
)


def prometheus_query(url: str, query: str, time: str, fetch: Callable[[str], bytes]) -> Any:
    """One instant query against the Prometheus HTTP API; ``fetch(url) -> body`` does the GET."""
    full = "%s/api/v1/query?%s" % (url.rstrip("/"), urlencode({"query": query, "time": time}))
    try:
        return json.loads(fetch(full))
    except ValueError as err:
        raise PlatykusError("prometheus_url: %s did not answer with JSON: %s" % (url, err), field="prometheus_url") from err


def usage_report(client: Any, params: Mapping[str, Any], fetch: Callable[[str], bytes] | None = None) -> dict:
    """Build the report for ``params`` (the keys of :data:`USAGE_ARGUMENT_SPEC`) from the cluster behind ``client``."""
    catalog = validate_prices(params["prices"], "prices", params.get("cpu_ram_weight"))
    window = make_window(params.get("window_start"), params.get("window_end"), params.get("month_to_date", True),
                         params.get("now"))
    source = params.get("usage_source") or "none"
    if source == "prometheus" and not params.get("prometheus_url"):
        raise PlatykusError("prometheus_url: required when usage_source is prometheus; set it like http://prometheus:9090",
                            field="prometheus_url")

    nodes = list(client.iter_list("v1", "Node"))
    pods = list(client.iter_list("v1", "Pod"))
    pvcs = list(client.iter_list("v1", "PersistentVolumeClaim"))
    services = [svc for svc in client.iter_list("v1", "Service") if (svc.get("spec") or {}).get("type") == "LoadBalancer"]
    namespaces = list(client.iter_list("v1", "Namespace"))

    usage = None
    if source == "metrics":
        usage = usage_from_pod_metrics(client.iter_list("metrics.k8s.io/v1beta1", "PodMetrics"))
    elif source == "prometheus":
        if fetch is None:
            raise PlatykusError("usage_source prometheus needs an HTTP fetcher")
        seconds = max(1, int(window.hours * 3600))
        at = "%d" % int(window.end.timestamp())
        usage = usage_from_prometheus(
            prometheus_query(params["prometheus_url"], PROMQL_CPU % {"range": seconds}, at, fetch),
            prometheus_query(params["prometheus_url"], PROMQL_MEMORY % {"range": seconds}, at, fetch),
        )

    return allocate(
        nodes=nodes,
        pods=pods,
        pvcs=pvcs,
        services=services,
        namespaces=namespaces,
        catalog=catalog,
        window=window,
        tenants=params.get("tenants"),
        platform_namespaces=params.get("platform_namespaces") or (),
        usage=usage,
        idle=params.get("idle") or "separate",
        platform=params.get("platform") or "separate",
        unpriced=params.get("unpriced") or "fail",
        thresholds=params.get("thresholds"),
    )
