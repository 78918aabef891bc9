# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 4 of the allocation: the ledger as the report usage_report returns (plain dicts and floats).

Only here is anything rounded, half up: money to 4 decimals, hours to 4, percentages to 2, unit
prices to 6. Totals are rounded from the exact sums, not summed from rounded lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._cost.budget import evaluate
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import PricedCluster
from ansible_collections.platykus.platform.plugins.module_utils._cost.ledger import (
    AMOUNTS,
    COMPONENTS,
    IDLE_AMOUNTS,
    NODE_IDLE,
    UNPRICED_AMOUNTS,
    Ledger,
    Line,
    line_total,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.owners import TenantBudget
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import PriceCatalog
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, Window, format_time

MONEY = Decimal("0.0001")
HOURS = Decimal("0.0001")
PERCENT = Decimal("0.01")
UNIT_PRICE = Decimal("0.000001")


def q(value: Decimal, step: Decimal) -> float:
    return float(value.quantize(step, rounding=ROUND_HALF_UP))


def _optional(value: Decimal | None, step: Decimal) -> float | None:
    return None if value is None else q(value, step)


def render_line(line: Mapping[str, Decimal], extra: Iterable[str] = ()) -> dict[str, Any]:
    keys = COMPONENTS + tuple(extra)
    cost = {key: q(line[key], MONEY) for key in keys}
    cost["total"] = q(line_total(line, extra), MONEY)
    out: dict[str, Any] = {key: q(line[key], HOURS) for key in AMOUNTS + IDLE_AMOUNTS}
    out["cost"] = cost
    return out


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows besides the ledger."""

    window: Window
    catalog: PriceCatalog
    budgets: Mapping[str, TenantBudget]
    thresholds: Mapping[str, Decimal]
    options: Mapping[str, Any]  # idle, platform, unpriced, usage (bool)


def _namespace_rows(ledger: Ledger, factor: Decimal) -> list[dict]:
    owners = ledger.owners
    rows = []
    for namespace in sorted(set(ledger.namespaces) | set(owners.tenant)):
        line = ledger.namespaces[namespace]
        row = {
            "name": namespace,
            "category": owners.category(namespace),
            "tenant": owners.tenant.get(namespace),
            "environment": owners.environment.get(namespace),
        }
        row.update(render_line(line, (NODE_IDLE,)))
        row["forecast"] = q(line_total(line, (NODE_IDLE,)) * factor, MONEY)
        rows.append(row)
    return rows


def _daily(ledger: Ledger, tenant: str, days: list[str]) -> list[dict]:
    running = ZERO
    series = []
    for day in days:
        cost = ledger.tenant_daily[tenant].get(day, ZERO)
        running += cost
        series.append({"date": day, "cost": q(cost, MONEY), "cumulative": q(running, MONEY)})
    return series


def _sources(inputs: ReportInputs) -> tuple[tuple[str, str], ...]:
    """The out-of-cluster sources that are on, each with its column in a tenant's cost: (source, column)."""
    on = (("aws", "aws", "aws_costs"), ("addon", "addons", "addons"))
    return tuple((source, column) for source, column, option in on if inputs.options.get(option))


def _tenant_row(ledger: Ledger, tenant: str, inputs: ReportInputs, days: list[str]) -> dict:
    members = ledger.owners.members(tenant)
    line = ledger.group(members)
    # idle: its nodes' unrequested capacity (the ledger charged it to its namespaces) + its share of the rest
    line[NODE_IDLE] += ledger.tenant_shares[tenant]["idle"]
    line["platform"] = ledger.tenant_shares[tenant]["platform"]
    extra: tuple[str, ...] = (NODE_IDLE, "platform")
    sources = _sources(inputs)
    for source, column in sources:
        line[column] = ledger.external_sum(tenant, source)
        extra += (column,)
    spent = line_total(line, extra)
    forecast = spent * inputs.window.forecast_factor()
    budget = inputs.budgets.get(tenant)
    monthly = budget.monthly if budget else None
    status = evaluate(spent, forecast, monthly, inputs.thresholds)
    row = {"name": tenant, "namespaces": members, "cost_center": budget.cost_center if budget else None}
    row.update(render_line(line, extra))
    if sources:
        row["out_of_cluster"] = [
            {"source": source, "service": service, "cost": q(amount, MONEY)}
            for (source, service), amount in sorted(ledger.external[tenant].items())
        ]
    row.update(
        budget=_optional(monthly, MONEY),
        currency=inputs.catalog.currency,
        percent_used=_optional(status.percent_used, PERCENT),
        forecast=q(forecast, MONEY),
        forecast_percent=_optional(status.forecast_percent, PERCENT),
        status=status.status,
        daily=_daily(ledger, tenant, days),
    )
    return row


def _node_rows(cluster: PricedCluster, ledger: Ledger) -> list[dict]:
    rows = []
    for node in sorted(cluster.nodes, key=lambda n: n.name):
        priced = node.hourly is not None
        rows.append(
            {
                "name": node.name,
                "instance_type": node.instance_type,
                "capacity_type": node.capacity_type,
                "zone": node.zone,
                "cores": float(node.cores),
                "memory_gib": q(node.gib, HOURS),
                "hourly": _optional(node.hourly, UNIT_PRICE),
                "core_hour_price": q(node.core_price, UNIT_PRICE) if priced else None,
                "gib_hour_price": q(node.gib_price, UNIT_PRICE) if priced else None,
                "hours": q(ledger.nodes[node.name]["hours"], HOURS),
                "cost": q(ledger.nodes[node.name]["cost"], MONEY),
                "priced": priced,
            }
        )
    return rows


def _unpriced_rows(ledger: Ledger) -> list[dict]:
    """Each unpriced item that counted any hours in the window."""
    rows = []
    for key in sorted(ledger.unpriced):
        row = dict(ledger.unpriced[key])
        row.update({amount: q(row[amount], HOURS) for amount in UNPRICED_AMOUNTS})
        row["namespaces"] = sorted(row["namespaces"])
        if any(row[amount] for amount in UNPRICED_AMOUNTS):
            rows.append(row)
    return rows


def _group_rows(ledger: Ledger, inputs: ReportInputs, factor: Decimal) -> tuple[dict, dict]:
    """The platform line and the unassigned line."""
    platform_names = sorted(ns for ns in ledger.namespaces if ns in ledger.owners.platform)
    unassigned_names = sorted(ns for ns in ledger.namespaces if ledger.owners.category(ns) == "unassigned")
    platform = {
        "namespaces": platform_names,
        "shared": inputs.options["platform"] == "share",
        "shared_to_tenants": q(ledger.platform_shared, MONEY),
    }
    platform.update(render_line(ledger.group(platform_names)))
    unassigned_line: Line = ledger.group(unassigned_names)
    unassigned = {"namespaces": unassigned_names}
    unassigned.update(render_line(unassigned_line))
    unassigned["forecast"] = q(line_total(unassigned_line) * factor, MONEY)
    return platform, unassigned


def _idle_row(ledger: Ledger, inputs: ReportInputs) -> dict:
    idle = ledger.idle
    return {
        "core_hours": q(idle["core_hours"], HOURS),
        "gib_hours": q(idle["gib_hours"], HOURS),
        "cost": {
            "cpu": q(idle["cpu"], MONEY),
            "memory": q(idle["memory"], MONEY),
            "total": q(idle["cpu"] + idle["memory"], MONEY),
        },
        "charged_to_tenants": q(ledger.idle_charged, MONEY),
        "shared": inputs.options["idle"] == "share",
        "shared_to_tenants": q(ledger.idle_shared, MONEY),
    }


def _totals(ledger: Ledger, factor: Decimal, outside_on: bool) -> dict:
    nodes = sum((node["cost"] for node in ledger.nodes.values()), ZERO)
    storage = sum((line["storage"] for line in ledger.namespaces.values()), ZERO)
    balancers = sum((line["loadbalancer"] for line in ledger.namespaces.values()), ZERO)
    outside = sum(
        (amount for lines in (ledger.external, ledger.external_other) for v in lines.values() for amount in v.values()),
        ZERO,
    )
    total = nodes + storage + balancers + outside
    totals = {"nodes": q(nodes, MONEY), "storage": q(storage, MONEY), "loadbalancer": q(balancers, MONEY)}
    if outside_on:
        totals["out_of_cluster"] = q(outside, MONEY)
    totals.update(cost=q(total, MONEY), forecast=q(total * factor, MONEY))
    return totals


def _out_of_cluster(ledger: Ledger, inputs: ReportInputs) -> dict:
    """Cost Explorer's spend: per tenant, untagged (empty tag) and tagged with no known tenant."""
    aws = inputs.options["aws_costs"]

    def lines(by_service: Mapping[tuple[str, str], Decimal]) -> list[dict]:
        return [{"service": s, "cost": q(a, MONEY)} for (src, s), a in sorted(by_service.items()) if src == "aws"]

    return {
        "source": "aws_cost_explorer",
        "tag_key": aws["tag_key"],
        "metric": aws["metric"],
        "tenants": {t: q(ledger.external_sum(t, "aws"), MONEY) for t in sorted(ledger.external)},
        "untagged": lines(ledger.external_other.get("", {})),
        "unknown_tenants": {t: lines(v) for t, v in sorted(ledger.external_other.items()) if t and lines(v)},
    }


def _head(inputs: ReportInputs, days: list[str]) -> dict:
    window, catalog = inputs.window, inputs.catalog
    return {
        "currency": catalog.currency,
        "window": {
            "start": format_time(window.start),
            "end": format_time(window.end),
            "hours": q(window.hours, HOURS),
            "month_to_date": window.month_to_date,
            "month_hours": float(window.month_hours),
            "days": days,
        },
        "options": {
            "idle": inputs.options["idle"],
            "platform": inputs.options["platform"],
            "unpriced": inputs.options["unpriced"],
            "cpu_ram_weight": float(catalog.cpu_ram_weight),
            "thresholds": {key: float(value) for key, value in inputs.thresholds.items()},
            "usage": bool(inputs.options["usage"]),
        },
    }


def render_report(ledger: Ledger, cluster: PricedCluster, inputs: ReportInputs) -> dict[str, Any]:
    """The report (see the module usage_report's RETURN)."""
    factor = inputs.window.forecast_factor()
    days = [start.date().isoformat() for start, _end in inputs.window.days()]
    platform, unassigned = _group_rows(ledger, inputs, factor)
    report = _head(inputs, days)
    report.update(
        tenants=[_tenant_row(ledger, tenant, inputs, days) for tenant in sorted(ledger.tenants)],
        namespaces=_namespace_rows(ledger, factor),
        platform=platform,
        unassigned=unassigned,
        idle=_idle_row(ledger, inputs),
        nodes=_node_rows(cluster, ledger),
        unpriced=_unpriced_rows(ledger),
        total=_totals(ledger, factor, bool(_sources(inputs))),
    )
    if inputs.options.get("aws_costs"):
        report["out_of_cluster"] = _out_of_cluster(ledger, inputs)
    return report
