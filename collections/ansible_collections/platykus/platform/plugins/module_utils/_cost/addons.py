# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-ons in the usage report: each add-on a tenant holds, at its plan's price, over the window.

The source of truth is what exists: the add-on Secrets on the API server (labels and annotations
only, :func:`_addons.quota.held_from_secret`), not the requests in the inventory (a request not yet made,
or destroyed, costs nothing). Each add-on is charged its plan's ``monthly`` price from the add-on
catalog (``platykus_addons``) prorated by the hours it existed in each day of the window (from its
Secret's creationTimestamp), at 730 hours a month (``_cost.prices.HOURS_PER_MONTH``, like every monthly
price here). The charges are out-of-cluster lines (source ``addon``) added on top of the in-cluster
allocation, through the same ledger path as Cost Explorer's spend; they never touch idle, the
platform or node cost, so the in-cluster conservation is unchanged.

Not charged at the plan's price, so nothing is counted twice:

* ``operator`` add-ons: their pods and volumes run in the tenant's namespace and are already in its
  in-cluster cost (``charged_by: cluster``);
* ``aws`` add-ons when ``aws_costs`` is on: Cost Explorer reports their real spend under the tenant
  tag (``charged_by: aws_cost_explorer``).

With the objects source (:func:`charge_addons`) an add-on destroyed before the report is gone from
the API server and not charged for the part of the window it existed, and a resize charges the
current plan over the add-on's whole life. The history source (:func:`charge_addon_history`) prices
the add-on Secrets' samples instead (kube-state-metrics' ``kube_secret_labels`` and
``kube_secret_annotations``, _cost.history): each step an add-on has a sample it pays its plan at
that step, ``monthly x hours / 730``, so a destroyed add-on is charged the hours it was sampled and
a resize splits at the step (one line per add-on and plan).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import Catalog
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import Held, held_from_secret
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import HOURS_PER_MONTH
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import (
    ZERO,
    Window,
    hours_between,
    overlap,
    parse_time,
)

SOURCE = "addon"


@dataclass
class AddonCharges:
    """Per add-on: the report line (plain values) and its charge per day (exact)."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    # (tenant, day YYYY-MM-DD, add-on name, amount)
    daily: list[tuple[str, str, str, Decimal]] = field(default_factory=list)


def _charged_by(held: Held, aws_costs: bool) -> str:
    if held.provider == "operator":
        return "cluster"
    if held.provider == "aws" and aws_costs:
        return "aws_cost_explorer"
    return "catalog"


def _line(held: Held, catalog: Catalog, aws_costs: bool) -> tuple[dict[str, Any], Any, str]:
    """The report line of ``held`` (no hours yet), its plan (None: unpriced) and who charges it."""
    plan = (catalog.plans.get(held.type) or {}).get(held.plan)
    charged_by = _charged_by(held, aws_costs)
    line: dict[str, Any] = {
        "tenant": held.tenant,
        "addon": held.name,
        "type": held.type,
        "plan": held.plan,
        "provider": held.provider,
        "monthly": None if plan is None else plan.monthly,
        "charged_by": charged_by if plan is not None else "unpriced",
        "hours": ZERO,
        "cost": ZERO,
    }
    if plan is None:
        line["reason"] = "plan '%s' is not in platykus_addons.plans.%s; add it to price this add-on" % (
            held.plan,
            held.type,
        )
    return line, plan, charged_by


def _charge_day(charges: AddonCharges, line: dict[str, Any], plan: Any, charged_by: str, day: str, hours: Any) -> None:
    line["hours"] += hours
    if plan is not None and charged_by == "catalog":
        amount = plan.monthly * hours / HOURS_PER_MONTH
        line["cost"] += amount
        charges.daily.append((line["tenant"], day, line["addon"], amount))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def charge_addon_history(
    samples: Iterable[tuple[Mapping[str, Any], int, int]], catalog: Catalog, aws_costs: bool = False
) -> AddonCharges:
    """The add-ons seen in the history's samples: ``(Secret metadata, t, microseconds t stands for)``.

    Each add-on and plan is charged the hours of its samples, day by day (the day of ``t``: the grid's
    step divides a day), at that plan's price: the objects source's money for an add-on that lived the
    whole window on one plan, and the hours it lived for one destroyed or resized within it."""
    micros: dict[Held, dict[str, int]] = {}
    for meta, t, piece in samples:
        held = held_from_secret({"metadata": meta})
        if held is None or piece <= 0:
            continue
        day = datetime.fromtimestamp(t, UTC).date().isoformat()
        days = micros.setdefault(held, {})
        days[day] = days.get(day, 0) + piece
    charges = AddonCharges()
    for held in sorted(micros, key=lambda h: (h.tenant, h.name, min(micros[h]), h.plan, h.type, h.provider)):
        line, plan, charged_by = _line(held, catalog, aws_costs)
        for day, total in sorted(micros[held].items()):
            _charge_day(
                charges, line, plan, charged_by, day, hours_between(_EPOCH, _EPOCH + timedelta(microseconds=total))
            )
        charges.lines.append(line)
    return charges


def unsampled_addons(
    secrets: Iterable[Mapping[str, Any]], samples: Iterable[tuple[Mapping[str, Any], int, int]], window: Window
) -> list[str]:
    """``tenant/add-on`` of each add-on Secret made before ``window`` (so alive through all of it, as it
    exists now) that has no sample in it: the history cannot see add-ons (kube-state-metrics' allow-lists)."""
    seen = set()
    for meta, _t, _piece in samples:
        held = held_from_secret({"metadata": meta})
        if held is not None:
            seen.add((held.tenant, held.name))
    missing = []
    for held in (held_from_secret(s) for s in secrets):
        if held is None or not held.created or (held.tenant, held.name) in seen:
            continue
        if parse_time(held.created, "metadata.creationTimestamp") <= window.start:
            missing.append("%s/%s" % (held.tenant, held.name))
    return sorted(missing)


def charge_addons(
    secrets: Iterable[Mapping[str, Any]], catalog: Catalog, window: Window, aws_costs: bool = False
) -> AddonCharges:
    """The add-ons behind ``secrets`` charged over ``window``'s days (see the module docstring)."""
    charges = AddonCharges()
    helds = [h for h in (held_from_secret(s) for s in secrets) if h is not None]
    for held in sorted(helds, key=lambda h: (h.tenant, h.name)):
        line, plan, charged_by = _line(held, catalog, aws_costs)
        created = parse_time(held.created, "metadata.creationTimestamp") if held.created else window.start
        for start, end in window.days():
            hours = overlap(created, None, start, end)
            if hours > 0:
                _charge_day(charges, line, plan, charged_by, start.date().isoformat(), hours)
        charges.lines.append(line)
    return charges


def render_addons(charges: AddonCharges, money: Any, hours: Any) -> dict[str, Any]:
    """The report's ``addons``: each add-on's line and the total charged at plan prices.

    ``money`` and ``hours`` round an exact amount for the report (the renderer's rounding)."""
    lines = []
    for line in charges.lines:
        out = dict(line)
        out["monthly"] = None if line["monthly"] is None else money(line["monthly"])
        out["hours"] = hours(line["hours"])
        out["cost"] = money(line["cost"])
        lines.append(out)
    total = sum((line["cost"] for line in charges.lines), ZERO)
    return {"source": "catalog", "hours_per_month": float(HOURS_PER_MONTH), "lines": lines, "total": money(total)}
