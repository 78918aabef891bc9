# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what the allocation needs from the cluster (and Prometheus), then run it.

Every kind is listed once, cluster-wide, through KubeClient. usage_report and tenant_budget (when
it computes its report inline) share :data:`USAGE_ARGUMENT_SPEC`, :func:`usage_module` and
:func:`usage_report`. Every input is checked before the first connection.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import Catalog, validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import HELD_SELECTOR
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import AWS_CREDENTIALS_SPEC, AwsConnect
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import KUBE_ARGUMENT_SPEC
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._core.names import METRICS_API_VERSION
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import url_secrets
from ansible_collections.platykus.platform.plugins.module_utils._cost.addons import (
    AddonCharges,
    charge_addon_history,
    charge_addons,
    unsampled_addons,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate
from ansible_collections.platykus.platform.plugins.module_utils._cost.aws_costs import (
    cost_explorer_client,
    read_costs,
    validate_aws_costs,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.grid import Grid
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import History
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import (
    Usage,
    usage_from_pod_metrics,
    usage_from_prometheus,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._cost.prometheus import (
    Fetch,
    PrometheusEndpoint,
    http_fetch,
    prometheus_endpoint,
    prometheus_query,
    prometheus_range,
    window_queries,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.promql import history_queries, parse_step
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import Window, make_window

USAGE_ARGUMENT_SPEC: dict[str, Any] = dict(
    copy.deepcopy(KUBE_ARGUMENT_SPEC),
    **copy.deepcopy(AWS_CREDENTIALS_SPEC),
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
    source=dict(type="str", default="objects", choices=["objects", "prometheus"]),
    prometheus_step=dict(type="str", default="1h"),
    prometheus_metrics=dict(type="str", default="scheduler", choices=["scheduler", "kube-state-metrics"]),
    prometheus_queries=dict(type="dict"),
    usage_source=dict(type="str", default="none", choices=["none", "metrics", "prometheus"]),
    prometheus_url=dict(type="str"),
    prometheus_username=dict(type="str"),
    prometheus_password=dict(type="str", no_log=True),
    prometheus_bearer_token=dict(type="str", no_log=True),
    thresholds=dict(type="dict"),
    addons=dict(type="dict"),
    aws_costs=dict(
        type="dict",
        options=dict(
            enabled=dict(type="bool", default=False),
            region=dict(type="str", default="us-east-1"),
            endpoint_url=dict(type="str"),
            tag_key=dict(type="str", no_log=False),
            metric=dict(
                type="str",
                default="UnblendedCost",
                choices=["UnblendedCost", "AmortizedCost", "BlendedCost", "NetUnblendedCost", "NetAmortizedCost"],
            ),
        ),
    ),
)
USAGE_MODULE_OPTIONS: dict[str, Any] = dict(
    mutually_exclusive=[("prometheus_username", "prometheus_bearer_token")],
    required_together=[("prometheus_username", "prometheus_password")],
)


def usage_module(argument_spec: Mapping[str, Any]) -> Any:
    """The AnsibleModule of a module taking the usage options (check mode, kubernetes library checked)."""
    module = platykus_module(dict(argument_spec), **USAGE_MODULE_OPTIONS)
    # A password written into a URL is not a no_log option of its own: register it so Ansible
    # masks it wherever it prints the arguments (-vvv) or a result.
    urls = [
        module.params.get("prometheus_url"),
        (module.params.get("aws_budgets") or {}).get("endpoint_url"),
        (module.params.get("aws_costs") or {}).get("endpoint_url"),
    ]
    for url in urls:
        module.no_log_values.update(url_secrets(url))
    return module


def _cluster_objects(client: Any, history: bool = False) -> dict[str, list]:
    """Each kind the allocation reads, listed once, cluster-wide (with history: no Nodes nor Pods)."""
    return dict(
        nodes=[] if history else client.list_all("v1", "Node"),
        pods=[] if history else client.list_all("v1", "Pod"),
        pvcs=client.list_all("v1", "PersistentVolumeClaim"),
        services=[
            svc for svc in client.list_all("v1", "Service") if (svc.get("spec") or {}).get("type") == "LoadBalancer"
        ],
        namespaces=client.list_all("v1", "Namespace"),
    )


def _addon_charges(
    client: Any, catalog: Catalog, window: Window, aws_costs: bool, history: History | None = None
) -> AddonCharges:
    """Every add-on the API server holds (its Secret; only the metadata is kept), charged over the window;
    with ``history``, every add-on the samples show, charged for the steps it was sampled at its plan then."""
    metas = [
        {"metadata": s.get("metadata") or {}} for s in client.list_all("v1", "Secret", label_selector=HELD_SELECTOR)
    ]
    if history is not None:
        samples = history.addon_samples()
        unseen = unsampled_addons(metas, samples, window)
        if unseen:
            raise PlatykusError(
                "prometheus_queries.addon_labels: add-on %s existed through the whole window but Prometheus has no "
                "sample of its Secret; allow-list the add-on labels and annotations in kube-state-metrics "
                "(docs/cost.md, --metric-labels-allowlist / --metric-annotations-allowlist for secrets) "
                "or set prometheus_queries.addon_labels and addon_annotations" % ", ".join(unseen),
                field="prometheus_queries.addon_labels",
            )
        return charge_addon_history(samples, catalog, aws_costs)
    return charge_addons(metas, catalog, window, aws_costs)


def _prometheus_usage(endpoint: PrometheusEndpoint, window: Window, fetch: Fetch | None) -> Usage:
    """Average cpu and memory per pod over the window, evaluated at its end."""
    fetch = fetch or http_fetch(endpoint)
    cpu, memory = window_queries(max(1, int(window.hours * 3600)))
    at = "%d" % int(window.end.timestamp())
    return usage_from_prometheus(
        prometheus_query(endpoint.url, cpu, at, fetch), prometheus_query(endpoint.url, memory, at, fetch)
    )


def _history(params: Mapping[str, Any], window: Window, fetch: Fetch | None) -> History:
    """The Prometheus source's reader, every option checked (no request yet)."""
    step = parse_step(params.get("prometheus_step") or "1h")
    queries = history_queries(params.get("prometheus_metrics") or "scheduler", params.get("prometheus_queries"), step)
    endpoint = prometheus_endpoint(params, "source")
    get = fetch or http_fetch(endpoint)
    return History(
        queries,
        Grid(window, step),
        lambda query, first, last: prometheus_range(endpoint.url, query, first, last, step, get),
    )


def usage_report(
    params: Mapping[str, Any],
    connect: Callable[[], Any],
    fetch: Fetch | None = None,
    ce_client: Any = None,
    aws_connect: AwsConnect | None = None,
) -> dict:
    """The report for ``params`` (the keys of :data:`USAGE_ARGUMENT_SPEC`).

    ``connect()`` returns the KubeClient; it is called once the inputs are valid. ``aws_connect``
    (``functools.partial(_aws.module.clients, module)``) makes the Cost Explorer client. ``fetch``
    replaces the HTTP GET to Prometheus and ``ce_client`` the boto3 Cost Explorer client (tests).
    """
    catalog = validate_prices(params["prices"], "prices", params.get("cpu_ram_weight"))
    window = make_window(
        params.get("window_start"), params.get("window_end"), params.get("month_to_date", True), params.get("now")
    )
    kind = params.get("source") or "objects"
    if kind not in ("objects", "prometheus"):
        raise PlatykusError("source: %r is not one of objects, prometheus" % kind, field="source")
    history = _history(params, window, fetch) if kind == "prometheus" else None
    source = "none" if history else params.get("usage_source") or "none"
    endpoint = prometheus_endpoint(params) if source == "prometheus" else None
    if source not in ("none", "metrics", "prometheus"):
        raise PlatykusError("usage_source: %r is not one of none, metrics, prometheus" % source, field="usage_source")

    aws = validate_aws_costs(params.get("aws_costs"))
    addon_catalog = validate_catalog(params["addons"]) if params.get("addons") else None

    client = connect()
    objects = _cluster_objects(client, history is not None)
    costs = None
    if aws is not None:
        ce = ce_client or cost_explorer_client(aws_connect, aws)
        costs = read_costs(ce, window, aws["tag_key"], aws["metric"], catalog.currency)
    usage = None
    if source == "metrics":
        usage = usage_from_pod_metrics(client.list_all(METRICS_API_VERSION, "PodMetrics"))
    elif endpoint is not None:
        usage = _prometheus_usage(endpoint, window, fetch)
    report = allocate(
        **objects,
        catalog=catalog,
        window=window,
        tenants=params.get("tenants"),
        platform_namespaces=params.get("platform_namespaces") or (),
        usage=usage,
        idle=params.get("idle") or "separate",
        platform=params.get("platform") or "separate",
        unpriced=params.get("unpriced") or "fail",
        thresholds=params.get("thresholds"),
        history=history,
        aws_costs=costs,
        addons=_addon_charges(client, addon_catalog, window, aws is not None, history) if addon_catalog else None,
    )
    report["options"]["source"] = kind
    if history is not None:
        report["options"]["prometheus_step"] = history.grid.step
        report["options"]["prometheus_metrics"] = params.get("prometheus_metrics") or "scheduler"
    return report
