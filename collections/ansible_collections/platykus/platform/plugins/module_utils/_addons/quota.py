# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a tenant's add-ons may add up to, and what they cost: the add-ons held, the quota, the price lines.

The API server holds an add-on as its Secret (labels and annotations, read by
:func:`held_from_secret`); :func:`check_quota` refuses requests that would pass the tenant plan's
add-on quota, and :func:`check_held` those that would change what a held add-on is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import Addon, Catalog, Plan, gib
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    ADDON_SECRET_PREFIX,
    DATA_SERVICE_LABEL,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems


@dataclass(frozen=True)
class Held:
    """An add-on the API server already holds (read from its Secret's labels and annotations)."""

    tenant: str
    name: str
    type: str
    plan: str
    provider: str = ""
    created: str = ""  # the Secret's creationTimestamp: when the add-on was made


# Every add-on's Secret carries both labels (the selector derives from the label constants).
HELD_SELECTOR = DATA_SERVICE_LABEL + "," + ADDON_LABEL


def held_from_secret(secret: Mapping[str, Any]) -> Held | None:
    """The add-on a Secret stands for (its labels and annotations only), or None when it is not an add-on's."""
    meta = secret.get("metadata") or {}
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    if not str(meta.get("name", "")).startswith(ADDON_SECRET_PREFIX) or ADDON_LABEL not in labels:
        return None
    return Held(
        labels.get(TENANT_LABEL, ""),
        labels[ADDON_LABEL],
        labels.get(DATA_SERVICE_LABEL, ""),
        notes.get(ADDON_PLAN_ANNOTATION, ""),
        notes.get(ADDON_PROVIDER_ANNOTATION, ""),
        str(meta.get("creationTimestamp") or ""),
    )


def check_quota(
    addons: Iterable[Addon], held: Iterable[Held], tenant_plans: Mapping[str, str], catalog: Catalog
) -> None:
    """Refuse, naming the field, when a tenant's add-ons would pass its plan's add-on quota.

    Counts what the tenant holds and what is requested (a request for a held add-on replaces it:
    a resize counts the new plan only). ``tenant_plans`` maps tenant → its plan (namespace label).
    """
    problems = Problems()
    wanted: dict[str, dict[str, tuple[Plan, str]]] = {}
    for item in held:
        plan = (catalog.plans.get(item.type) or {}).get(item.plan)
        if plan is not None:
            wanted.setdefault(item.tenant, {})[item.name] = (plan, "held")
    for addon in addons:
        wanted.setdefault(addon.tenant, {})[addon.name] = (addon.plan, "requested")
    requested = {(a.tenant, a.name): a for a in addons}
    for tenant, items in sorted(wanted.items()):
        mine = [a for (t, _n), a in requested.items() if t == tenant]
        if not mine:
            continue
        path = "addons.%s/%s.plan" % (tenant, mine[-1].name)
        tenant_plan = tenant_plans.get(tenant)
        if tenant_plan is None:
            problems.add(
                "addons.%s/%s.tenant" % (tenant, mine[-1].name),
                "tenant '%s' has no onboarded namespace for this environment; onboard it first" % tenant,
            )
            continue
        quota = catalog.quota.get(tenant_plan)
        if quota is None:
            problems.add(
                path, "tenant plan '%s' has no add-on quota; add platykus_addons.quota.%s" % (tenant_plan, tenant_plan)
            )
            continue
        count = len(items)
        storage = sum((plan.storage for plan, _origin in items.values()), Decimal(0))
        monthly = sum((plan.monthly for plan, _origin in items.values()), Decimal(0))
        where = "tenant '%s' (plan %s)" % (tenant, tenant_plan)
        if count > quota.addons:
            problems.add(
                "addons.%s/%s.name" % (tenant, mine[-1].name),
                "would give %s %d add-ons, over its quota of %d; destroy one or raise platykus_addons.quota.%s.addons"
                % (where, count, quota.addons, tenant_plan),
            )
        if storage > quota.storage:
            problems.add(
                path,
                "would give %s %s GiB of add-on storage, over its quota of %s GiB; choose a smaller plan or raise "
                "platykus_addons.quota.%s.storage" % (where, gib(storage), gib(quota.storage), tenant_plan),
            )
        if quota.monthly is not None and monthly > quota.monthly:
            problems.add(
                path,
                "would bring %s's add-ons to %s a month, over its quota of %s; choose a cheaper plan or raise "
                "platykus_addons.quota.%s.monthly" % (where, monthly, quota.monthly, tenant_plan),
            )
    problems.raise_if_any("the add-on quota")


def check_held(problems: Problems, addon: Addon, held_type: str | None, held_namespace: str | None) -> None:
    """A request for an add-on the tenant holds may change its plan, never its type or its namespace."""
    path = "addons.%s/%s" % (addon.tenant, addon.name)
    if held_type is not None and held_type != addon.type:
        problems.add(
            "%s.type" % path,
            "the add-on is a %s add-on; a type cannot change: destroy it and create another" % held_type,
        )
    if held_namespace and held_namespace != addon.namespace:
        problems.add(
            "%s.environment" % path,
            "the add-on lives in '%s'; an add-on cannot move: destroy it and create another" % held_namespace,
        )


def cost_lines(held: Iterable[Held], catalog: Catalog, hours: Decimal | None = None) -> list[dict[str, Any]]:
    """One line per add-on for the usage report: tenant, add-on, type, plan, monthly price, and the
    price for ``hours`` (prorated over 730 hours a month) when given."""
    lines = []
    for item in sorted(held, key=lambda h: (h.tenant, h.name)):
        plan = (catalog.plans.get(item.type) or {}).get(item.plan)
        if plan is None:
            continue
        line: dict[str, Any] = {
            "tenant": item.tenant,
            "addon": item.name,
            "type": item.type,
            "plan": item.plan,
            "monthly": str(plan.monthly),
        }
        if hours is not None:
            line["cost"] = str((plan.monthly * hours / Decimal(730)).quantize(Decimal("0.0001")))
        lines.append(line)
    return lines
