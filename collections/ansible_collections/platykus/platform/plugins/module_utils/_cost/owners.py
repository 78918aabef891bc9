# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 1 of the allocation: who owns each namespace, and what each tenant may spend.

A namespace labelled ``platykus.io/tenant=<name>`` is that tenant's, unless it is one of the
platform namespaces; anything else is ``unassigned``. Budgets are read from the tenant specs with
the tenant spec's own rule (a budget without a currency is in USD) and must be in the prices'
currency: nothing is converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import ENVIRONMENT_LABEL, TENANT_LABEL
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import metadata
from ansible_collections.platykus.platform.plugins.module_utils._tenants.sections import validate_budget


@dataclass(frozen=True)
class TenantBudget:
    name: str
    monthly: Decimal | None
    cost_center: str | None


@dataclass(frozen=True)
class Ownership:
    """``tenant`` and ``environment`` map tenant namespaces; ``platform`` holds the platform's namespaces."""

    tenant: Mapping[str, str]
    environment: Mapping[str, str | None]
    platform: frozenset[str]

    def category(self, namespace: str) -> str:
        if namespace in self.platform:
            return "platform"
        return "tenant" if namespace in self.tenant else "unassigned"

    def members(self, tenant: str) -> list[str]:
        return sorted(ns for ns, owner in self.tenant.items() if owner == tenant)


def ownership(namespaces: Iterable[Mapping[str, Any]], platform_namespaces: Iterable[str]) -> Ownership:
    platform = frozenset(platform_namespaces or ())
    tenant: dict[str, str] = {}
    environment: dict[str, str | None] = {}
    for ns in namespaces:
        meta = metadata(ns)
        labels = meta.get("labels") or {}
        if meta.get("name") in platform or not labels.get(TENANT_LABEL):
            continue
        tenant[meta["name"]] = labels[TENANT_LABEL]
        environment[meta["name"]] = labels.get(ENVIRONMENT_LABEL)
    return Ownership(tenant=tenant, environment=environment, platform=platform)


def _same_currency(where: str, raw: Mapping[str, Any], currency: str, prices_currency: str) -> None:
    if currency == prices_currency:
        return
    if "currency" in raw:
        problem = "%s differs from the prices' currency %s" % (currency, prices_currency)
    else:
        problem = "not set, so the budget is in %s (the default), not in the prices' currency %s" % (
            currency,
            prices_currency,
        )
    raise PlatykusError(
        "%s.currency: %s, and Platykus does not convert currencies; set budget.currency: %s and the amount in %s"
        % (where, problem, prices_currency, prices_currency),
        field=where + ".currency",
    )


def read_budgets(tenants: Iterable[Mapping[str, Any]] | None, prices_currency: str) -> dict[str, TenantBudget]:
    """Name, budget and cost_center of every tenant spec; a budget must be in ``prices_currency``."""
    result: dict[str, TenantBudget] = {}
    for index, spec in enumerate(tenants or []):
        if not isinstance(spec, Mapping) or not spec.get("name"):
            where = "tenants[%d].name" % index
            raise PlatykusError("%s: missing; every tenant spec needs a name" % where, field=where)
        name = str(spec["name"])
        where = "tenants[%s].budget" % name
        budget = validate_budget(spec.get("budget"), where)
        if budget is not None:
            _same_currency(where, spec["budget"], budget.currency, prices_currency)
        result[name] = TenantBudget(
            name=name, monthly=budget.monthly if budget else None, cost_center=spec.get("cost_center")
        )
    return result
