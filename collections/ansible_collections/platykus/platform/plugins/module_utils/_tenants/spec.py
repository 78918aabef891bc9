# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant specs: validated and normalized against the plans catalog before anything is written.

A tenant spec is a dict as loaded from ``inventories/<env>/tenants/<name>.yml``.
:func:`validate_tenants` checks every spec against the catalog (:mod:`_tenants.plans`) and
against each other, collects every problem it finds (the kit of :mod:`_core.problems`), and
raises one :class:`PlatykusError` listing them all (each naming its field path and the fix), or
returns :class:`Tenant` objects whose every value is known to be good. The sections checked on
their own (budget, alerts, network, labels) are in :mod:`_tenants.sections`.

Plan values apply to EACH environment namespace: the plan, then the tenant's ``overrides``,
then the environment's ``overrides``; the later one wins key by key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.domains import check_overlaps, validate_domains
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    DEFAULT_TENANT_PRIORITY_CLASSES,
    POD_SECURITY_LEVELS,
    TENANT_ROLES,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    dns_label_problem,
    is_mapping,
    label_value_problem,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.plans import (
    PRIORITY_CLASSES_KEY,
    NamespaceQuota,
    check_plan_consistency,
    parse_plan_values,
    quota_from,
    resolve_quota,
    validate_plans,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.sections import (
    Alerts,
    Budget,
    check_alerts,
    check_budget,
    check_labels,
    check_network,
)

TENANT_KEYS = (
    "name",
    "display_name",
    "owners",
    "environments",
    "plan",
    "overrides",
    "budget",
    "pod_security",
    "network",
    "cost_center",
    "labels",
    "adopt",
    "alerts",
    "domains",
)
OWNER_ROLES = TENANT_ROLES
TENANT_NAME_MAX = 40
NAMESPACE_NAME_MAX = 63
RESERVED_NAMES = ("default",)
RESERVED_PREFIXES = ("kube-", "platykus-", "openshift-")

# Always used with fullmatch: re.match with "$" also accepts a value ending in a newline.
_GROUP_NAME = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?")


# -- normalized results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    quota: NamespaceQuota


@dataclass(frozen=True)
class Tenant:
    """A validated tenant; ``owners`` maps each of admin/developer/viewer to its groups."""

    name: str
    display_name: str
    plan: str
    owners: dict[str, tuple[str, ...]]
    environments: tuple[Environment, ...]
    pod_security: str = "restricted"
    allow_from_ingress: bool = True
    egress_cidrs: tuple[str, ...] = ()
    budget: Budget | None = None
    cost_center: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # Take over namespaces that exist without Platykus's labels (see docs/tenants.md).
    adopt: bool = False
    alerts: Alerts | None = None
    # DNS domains the tenant's hostnames must be under (see _core.domains; no overlap between tenants).
    domains: tuple[str, ...] = ()
    # PriorityClasses its pods may name, from its plan (see _admission.workloads).
    priority_classes: tuple[str, ...] = DEFAULT_TENANT_PRIORITY_CLASSES

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(env.namespace for env in self.environments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view for module results."""
        budget = None
        if self.budget is not None:
            monthly = self.budget.monthly
            budget = {
                "monthly": int(monthly) if monthly == monthly.to_integral_value() else float(monthly),
                "currency": self.budget.currency,
            }
        return {
            "name": self.name,
            "display_name": self.display_name,
            "plan": self.plan,
            "owners": {role: list(groups) for role, groups in self.owners.items()},
            "environments": [
                {"name": env.name, "namespace": env.namespace, "quota": env.quota.to_dict()}
                for env in self.environments
            ],
            "pod_security": self.pod_security,
            "network": {"allow_from_ingress": self.allow_from_ingress, "egress_cidrs": list(self.egress_cidrs)},
            "budget": budget,
            "cost_center": self.cost_center,
            "labels": dict(self.labels),
            "adopt": self.adopt,
            # The webhook URL may hold a token: results say only whether one is set.
            "alerts": None
            if self.alerts is None
            else {"webhook_url": "(set)" if self.alerts.webhook_url else None, "email": self.alerts.email},
            "domains": list(self.domains),
            "priority_classes": list(self.priority_classes),
        }


def reserved_reason(name: str, platform_namespaces: Iterable[str] = ()) -> str | None:
    """Why ``name`` may not be a tenant name or namespace, or None when it may."""
    if name in RESERVED_NAMES:
        return "'%s' is reserved by Kubernetes" % name
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return "names starting with '%s' are reserved for the system and the platform" % prefix
    if name in set(platform_namespaces):
        return "'%s' is a platform namespace" % name
    return None


# -- tenants ------------------------------------------------------------------------------------


def _tenant_path(index: int, spec: Any) -> str:
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str) and spec.get("name"):
        return "tenants[%s]" % spec["name"]
    return "tenants[%d]" % index


def _validate_owners(problems: Problems, path: str, owners: Any) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {role: () for role in OWNER_ROLES}
    example = "{admin: [acme-admins], developer: [acme-devs], viewer: [acme-auditors]}"
    if owners is None:
        problems.add(path, "is required; name the identity provider groups, e.g. %s" % example)
        return result
    if not is_mapping(problems, path, owners, example):
        return result
    check_keys(problems, path, owners, OWNER_ROLES)
    for role in OWNER_ROLES:
        groups = owners.get(role)
        role_path = "%s.%s" % (path, role)
        if groups is None:
            continue
        if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
            problems.add(role_path, "%r is not a list of group names; write it like [acme-admins]" % (groups,))
            continue
        clean = []
        for index, group in enumerate(groups):
            group_path = "%s[%d]" % (role_path, index)
            if not isinstance(group, str) or not group.strip():
                problems.add(group_path, "%r is not a group name" % (group,))
            elif not _GROUP_NAME.fullmatch(group):
                problems.add(
                    group_path,
                    "%r has surrounding spaces or control characters, so it would bind a group nobody is in; "
                    "write the group name exactly, like acme-admins" % (group,),
                )
            elif group.startswith("system:"):
                problems.add(
                    group_path,
                    "'%s' is a Kubernetes system group; binding it would hand the tenant to every "
                    "user in it; name an identity provider group instead" % group,
                )
            elif group in clean:
                problems.add(group_path, "'%s' is listed twice; list each group once" % group)
            else:
                clean.append(group)
        result[role] = tuple(clean)
    if not result["admin"] and isinstance(owners.get("admin"), (list, tuple, type(None))):
        problems.add("%s.admin" % path, "needs at least one group; name the group that administers the tenant")
    return result


def _validate_environments(
    problems: Problems,
    path: str,
    tenant_name: str | None,
    environments: Any,
    platform_namespaces: tuple[str, ...],
) -> list[tuple[str, str, Any]]:
    """Return ``[(env name, env path, raw overrides)]`` for the environments that are valid."""
    found: list[tuple[str, str, Any]] = []
    if not isinstance(environments, (list, tuple)) or not environments:
        problems.add(path, "%r is not a non-empty list; write it like [dev, prod]" % (environments,))
        return found
    seen: set[str] = set()
    for index, entry in enumerate(environments):
        overrides = None
        if isinstance(entry, Mapping):
            entry_path = "%s[%s]" % (path, entry.get("name") if isinstance(entry.get("name"), str) else index)
            check_keys(problems, entry_path, entry, ("name", "overrides"))
            name = entry.get("name")
            overrides = entry.get("overrides")
        else:
            name = entry
            entry_path = "%s[%s]" % (path, entry if isinstance(entry, str) and entry else index)
        problem = dns_label_problem(name, NAMESPACE_NAME_MAX)
        if problem:
            problems.add(entry_path + (".name" if isinstance(entry, Mapping) else ""), problem)
            continue
        if name in seen:
            problems.add(entry_path, "environment '%s' is listed twice; list each once" % name)
            continue
        seen.add(name)
        if tenant_name is not None:
            namespace = "%s-%s" % (tenant_name, name)
            if len(namespace) > NAMESPACE_NAME_MAX:
                problems.add(
                    entry_path,
                    "namespace '%s' would be %d characters; Kubernetes allows %d, so shorten the environment name"
                    % (namespace, len(namespace), NAMESPACE_NAME_MAX),
                )
                continue
            reason = reserved_reason(namespace, platform_namespaces)
            if reason:
                problems.add(
                    entry_path, "namespace '%s' is not allowed: %s; rename the environment" % (namespace, reason)
                )
                continue
        found.append((name, entry_path, overrides))
    return found


def _validate_name(problems: Problems, path: str, name: Any, platform_namespaces: tuple[str, ...]) -> str | None:
    """The tenant name when it is good; namespaces are only derived from a good name, so a bad
    name is reported once."""
    problem = dns_label_problem(name, TENANT_NAME_MAX)
    if name is None:
        problems.add("%s.name" % path, "is required; name the tenant, e.g. name: acme")
    elif problem:
        extra = " so its namespaces '<name>-<environment>' fit" if isinstance(name, str) and len(name) > 40 else ""
        problems.add("%s.name" % path, problem + extra)
    else:
        reason = reserved_reason(name, platform_namespaces)
        if reason:
            problems.add("%s.name" % path, "%s; choose another tenant name" % reason)
            return None
        return name
    return None


def _validate_plan(
    problems: Problems, path: str, plan: Any, catalog: Mapping[str, Mapping[str, tuple[Any, str]]]
) -> Mapping[str, tuple[Any, str]] | None:
    if plan is None:
        problems.add("%s.plan" % path, "is required; pick one of %s" % ", ".join(sorted(catalog)))
    elif plan not in catalog:
        problems.add("%s.plan" % path, "%r is not in plans (%s); pick one of them" % (plan, ", ".join(sorted(catalog))))
    else:
        return catalog[plan]
    return None


def _validate_settings(problems: Problems, path: str, spec: Mapping) -> dict[str, Any]:
    """display_name, pod_security, cost_center and adopt: the single-value fields."""
    display_name = spec.get("display_name", spec.get("name"))
    if display_name is not None and not isinstance(display_name, str):
        problems.add("%s.display_name" % path, "%r is not a string; quote it in YAML" % (display_name,))
    pod_security = spec.get("pod_security", "restricted")
    if pod_security not in POD_SECURITY_LEVELS:
        problems.add(
            "%s.pod_security" % path,
            "%r is not a Pod Security level; use one of %s" % (pod_security, ", ".join(POD_SECURITY_LEVELS)),
        )
    cost_center = spec.get("cost_center")
    if cost_center is not None:
        problem = label_value_problem(cost_center)
        if problem is None and not cost_center:
            problem = "is empty; leave it out or name the cost center"
        if problem:
            problems.add("%s.cost_center" % path, problem)
    adopt = spec.get("adopt", False)
    if not isinstance(adopt, bool):
        problems.add("%s.adopt" % path, "%r is not a boolean; write true or false" % (adopt,))
    return {"display_name": display_name, "pod_security": pod_security, "cost_center": cost_center, "adopt": adopt}


def _resolve_environments(
    problems: Problems,
    tenant_name: str,
    plan_values: Mapping[str, tuple[Any, str]],
    tenant_overrides: Mapping[str, tuple[Any, str]],
    environments: list[tuple[str, str, Any]],
) -> list[Environment]:
    """Each environment's quota: plan <- tenant overrides <- environment overrides."""
    resolved = []
    for env_name, env_path, raw_overrides in environments:
        env_overrides = parse_plan_values(problems, "%s.overrides" % env_path, raw_overrides)
        values = resolve_quota(plan_values, tenant_overrides, env_overrides)
        if tenant_overrides or env_overrides:
            check_plan_consistency(problems, env_path, values)
        resolved.append(
            Environment(name=env_name, namespace="%s-%s" % (tenant_name, env_name), quota=quota_from(values))
        )
    return resolved


def _validate_tenant(
    problems: Problems,
    index: int,
    spec: Any,
    catalog: Mapping[str, Mapping[str, tuple[Any, str]]],
    platform_namespaces: tuple[str, ...],
) -> Tenant | None:
    path = _tenant_path(index, spec)
    if not is_mapping(problems, path, spec, "{name: acme, plan: small, owners: {admin: [acme-admins]}, ...}"):
        return None
    before = len(problems.items)
    check_keys(problems, path, spec, TENANT_KEYS)
    good_name = _validate_name(problems, path, spec.get("name"), platform_namespaces)
    owners = _validate_owners(problems, "%s.owners" % path, spec.get("owners"))
    plan_values = _validate_plan(problems, path, spec.get("plan"), catalog)
    tenant_overrides = parse_plan_values(problems, "%s.overrides" % path, spec.get("overrides"))
    environments = _validate_environments(
        problems, "%s.environments" % path, good_name, spec.get("environments"), platform_namespaces
    )
    settings = _validate_settings(problems, path, spec)
    allow_from_ingress, egress_cidrs = check_network(problems, "%s.network" % path, spec.get("network"))
    budget = check_budget(problems, "%s.budget" % path, spec.get("budget"))
    labels = check_labels(problems, "%s.labels" % path, spec.get("labels"))
    alerts = check_alerts(problems, "%s.alerts" % path, spec.get("alerts"))
    domains = validate_domains(problems, "%s.domains" % path, spec.get("domains"))
    resolved: list[Environment] = []
    if plan_values is not None and good_name is not None:
        resolved = _resolve_environments(problems, good_name, plan_values, tenant_overrides, environments)
    if len(problems.items) > before:
        return None
    return Tenant(
        name=good_name,
        display_name=settings["display_name"] or good_name,
        plan=spec.get("plan"),
        owners=owners,
        environments=tuple(resolved),
        pod_security=settings["pod_security"],
        allow_from_ingress=allow_from_ingress,
        egress_cidrs=egress_cidrs,
        budget=budget,
        cost_center=settings["cost_center"],
        labels=labels,
        adopt=settings["adopt"],
        alerts=alerts,
        domains=domains,
        priority_classes=plan_values[PRIORITY_CLASSES_KEY][0],
    )


def validate_tenants(
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
) -> list[Tenant]:
    """Validate every tenant spec against the plans catalog and against each other.

    Raises one PlatykusError listing every problem (each naming its field path and the fix);
    otherwise returns the tenants, in the order given, with each namespace's quota resolved.
    """
    catalog = validate_plans(plans)
    platform = tuple(platform_namespaces or ())
    problems = Problems()
    if not isinstance(tenants, (list, tuple)):
        problems.add("tenants", "%r is not a list of tenant specs" % (tenants,))
        problems.raise_if_any("the tenant specs")

    validated: list[Tenant] = []
    names: dict[str, int] = {}
    claimed: dict[str, str] = {}
    domains: dict[str, str] = {}
    for index, spec in enumerate(tenants):
        name = spec.get("name") if isinstance(spec, Mapping) else None
        if isinstance(name, str) and name:
            if name in names:
                problems.add(
                    "tenants[%d].name" % index,
                    "tenant '%s' is defined twice (tenants[%d] and tenants[%d]); keep one spec per tenant"
                    % (name, names[name], index),
                )
                continue
            names[name] = index
        tenant = _validate_tenant(problems, index, spec, catalog, platform)
        if tenant is None:
            continue
        for env in tenant.environments:
            owner = claimed.get(env.namespace)
            if owner is not None:
                problems.add(
                    "tenants[%s].environments[%s]" % (tenant.name, env.name),
                    "namespace '%s' is already claimed by tenant '%s'; rename the environment or the tenant"
                    % (env.namespace, owner),
                )
            else:
                claimed[env.namespace] = tenant.name
        check_overlaps(problems, "tenants[%s].domains" % tenant.name, tenant.name, tenant.domains, domains)
        validated.append(tenant)
    problems.raise_if_any("the tenant specs")
    return validated


def select_tenants(tenants: list[Tenant], name: str | None) -> list[Tenant]:
    """All tenants when ``name`` is empty; otherwise just that one (error when it is not defined)."""
    if not name:
        return list(tenants)
    chosen = [tenant for tenant in tenants if tenant.name == name]
    if not chosen:
        known = ", ".join(tenant.name for tenant in tenants) or "none"
        raise PlatykusError(
            "tenant: '%s' is not among the tenant specs (%s); check its name" % (name, known), field="tenant"
        )
    return chosen
