# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost allocation per tenant and namespace, the way OpenCost does it, over plain API objects.

Pure functions: the inputs are Pods, Nodes, PersistentVolumeClaims, Services and Namespaces as
the API server returns them (dicts), a validated price catalog and a window; the output is a
report made of plain dicts, floats and strings. :func:`allocate` runs the stages, each in its own
module: ownership (``_cost.owners``) -> priced index and price checks (``_cost.index``) -> a
ledger charged day by day (``_cost.ledger``) -> the report (``_cost.render``).

How a window is charged (docs/cost.md walks through an example):

* The window ``[start, end)`` is cut at UTC midnights; each day slice is allocated on its own and
  the slices are summed (so the per-day series and the totals agree).
* A node costs its hourly price (the spot price on spot nodes) for the hours it existed in the
  slice. The price is split into a per-core-hour and a per-GiB-hour price by the cpu:ram weight
  (:func:`_cost.prices.split_node_price`), using the node's ``status.capacity``.
* A pod is charged from ``status.startTime`` (or its creation) to the latest
  ``containerStatuses[].state.terminated.finishedAt`` when it has finished, its deletion when it is
  terminating, or the window end. Pending and unscheduled pods are not charged.
  It pays max(request, usage) cores and GiB at its node's prices; usage is optional.
* A node's cost not charged to its pods (its unrequested capacity, per resource, never below zero) is
  charged to the tenants whose pods ran on it, stretch by stretch, in proportion to their pods'
  cpu+memory cost (_cost.ledger.node_stretches); it is idle only while no tenant pod ran there.
* PVCs pay GiB x hours x (price per GiB-month / 730) of their storage class; LoadBalancer
  Services pay hours x the LoadBalancer hourly price.
* Platform namespaces and idle are lines of their own, or shared across tenants in proportion to
  each tenant's cpu+memory cost in the slice (``platform: share`` / ``idle: share``).

Arithmetic is Decimal throughout (28 significant digits); only the report is rounded, half up:
money to 4 decimals, hours to 4, percentages to 2, unit prices to 6. Totals are rounded from the
exact sums, so a column of rounded lines can differ from its rounded total by a few 0.0001.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.addons import SOURCE as ADDON_SOURCE
from ansible_collections.platykus.platform.plugins.module_utils._cost.addons import AddonCharges, render_addons
from ansible_collections.platykus.platform.plugins.module_utils._cost.aws_costs import AwsCosts
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget import validate_thresholds
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import History, day_clusters
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import price_cluster
from ansible_collections.platykus.platform.plugins.module_utils._cost.ledger import Ledger
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import Usage
from ansible_collections.platykus.platform.plugins.module_utils._cost.owners import ownership, read_budgets
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import PriceCatalog
from ansible_collections.platykus.platform.plugins.module_utils._cost.render import (
    HOURS,
    MONEY,
    ReportInputs,
    q,
    render_report,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import Window

_CHOICES = {"idle": ("separate", "share"), "platform": ("separate", "share"), "unpriced": ("fail", "report")}


def _check_choices(**options: str) -> None:
    for option, value in options.items():
        if value not in _CHOICES[option]:
            raise PlatykusError("%s: %r is not one of %s" % (option, value, ", ".join(_CHOICES[option])), field=option)


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
    usage: Usage | None = None,
    idle: str = "separate",
    platform: str = "separate",
    unpriced: str = "fail",
    thresholds: Mapping[str, Any] | None = None,
    history: History | None = None,
    aws_costs: AwsCosts | None = None,
    addons: AddonCharges | None = None,
) -> dict[str, Any]:
    """Allocate the window's cost; return the report (see the module usage_report's RETURN).

    With ``history`` (the Prometheus source) nodes and pods come from its range queries instead of
    ``nodes`` and ``pods``, one day at a time, and PVCs and LoadBalancer Services from its series
    (kube-state-metrics'), so claims and balancers deleted before the report are charged for their lives.
    With ``addons`` (_cost.addons) each add-on's plan price is a line of its tenant, out of cluster.
    """
    _check_choices(idle=idle, platform=platform, unpriced=unpriced)
    limits = validate_thresholds(thresholds)
    budgets = read_budgets(tenants, catalog.currency)
    owners = ownership(namespaces, platform_namespaces)
    cluster = price_cluster(
        nodes=history.node_objects() if history else nodes,
        pods=() if history else pods,
        pvcs=history.volume_objects() if history else pvcs,
        services=history.service_objects() if history else services,
        catalog=catalog,
        window=window,
        usage=usage or {},
        unpriced=unpriced,
    )
    # Tenants with a spec but no namespace yet still get a line (a real zero, and their budget status).
    ledger = Ledger(owners, set(budgets) | set(owners.tenant.values()), idle=idle, platform=platform)
    days = day_clusters(cluster, history, window.days()) if history else ((s, e, cluster) for s, e in window.days())
    for start, end, day_cluster in days:
        ledger.charge_day(start, end, day_cluster)
    if aws_costs is not None:
        for tag_value, days in aws_costs.by_tag.items():
            for day, services in days.items():
                for service, amount in services.items():
                    ledger.add_external(tag_value, day, service, amount)
    if addons is not None:
        for tenant, day, name, amount in addons.daily:
            ledger.add_external(tenant, day, name, amount, source=ADDON_SOURCE)
    options: dict[str, Any] = {
        "idle": idle,
        "platform": platform,
        "unpriced": unpriced,
        "usage": bool(usage or history),
    }
    if aws_costs is not None:
        options["aws_costs"] = {"tag_key": aws_costs.tag_key, "metric": aws_costs.metric}
    if addons is not None:
        options["addons"] = True
    report = render_report(ledger, cluster, ReportInputs(window, catalog, budgets, limits, options))
    if addons is not None:
        report["addons"] = render_addons(addons, lambda v: q(v, MONEY), lambda v: q(v, HOURS))
    return report
