# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant specs and the plans catalog: validated and normalized before anything is written.

A tenant spec is a dict as loaded from ``inventories/<env>/tenants/<name>.yml``; the plans
catalog maps a plan name to per-namespace limits. :func:`validate_tenants` checks every spec
against the catalog and against each other, collects every problem it finds, and raises one
:class:`PlatykusError` listing them all (each naming its field path and the fix), or returns
:class:`Tenant` objects whose every value is known to be good.

Plan values apply to EACH environment namespace: the plan, then the tenant's ``overrides``,
then the environment's ``overrides``; the later one wins key by key.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.domains import check_overlaps, validate_domains
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    CURRENCIES,
    DEFAULT_CURRENCY,
    DEFAULT_TENANT_PRIORITY_CLASSES,
    POD_SECURITY_LEVELS,
    TENANT_PRIORITY_CLASSES,
    TENANT_ROLES,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity

# -- the catalog's vocabulary -------------------------------------------------------------------

# Quantity keys: (kind used for formatting, required in a plan, default when absent).
# ``limits_cpu``/``limits_memory`` default from ``cpu``/``memory`` (see LIMIT_RATIOS).
QUANTITY_KEYS: dict[str, tuple[str, bool, str | None]] = {
    "cpu": ("cpu", True, None),
    "memory": ("bytes", True, None),
    "storage": ("bytes", True, None),
    "limits_cpu": ("cpu", False, None),
    "limits_memory": ("bytes", False, None),
    "default_request_cpu": ("cpu", False, "100m"),
    "default_request_memory": ("bytes", False, "128Mi"),
    "default_limit_cpu": ("cpu", False, "500m"),
    "default_limit_memory": ("bytes", False, "512Mi"),
    "max_limit_cpu": ("cpu", False, None),
    "max_limit_memory": ("bytes", False, None),
}
# Count keys: (required, default).
COUNT_KEYS: dict[str, tuple[bool, int | None]] = {
    "pods": (True, None),
    "services": (False, 20),
    "services_loadbalancers": (False, 0),
    # Derived from services_loadbalancers when not set (see NODEPORTS_PER_LOADBALANCER).
    "services_nodeports": (False, None),
    "persistentvolumeclaims": (False, 10),
    "configmaps": (False, 50),
    "secrets": (False, 50),
}
PLAN_KEYS = tuple(QUANTITY_KEYS) + tuple(COUNT_KEYS)
# Plan-only settings (not in overrides: a tenant gets them by its plan). ``priority_classes``: the
# PriorityClasses the tenant's pods may name (TENANT_PRIORITY_CLASSES; the platform makes them).
PRIORITY_CLASSES_KEY = "priority_classes"
PLAN_ONLY_KEYS = (PRIORITY_CLASSES_KEY,)
# The quota counts every port of a LoadBalancer Service as a node port (unless the Service sets
# allocateLoadBalancerNodePorts: false), so a plan that grants load balancers must grant node
# ports too: two per load balancer (HTTP and HTTPS) unless the plan says otherwise.
NODEPORTS_PER_LOADBALANCER = 2
# Counts above this are typos, and Kubernetes refuses values past int64 anyway.
MAX_COUNT = 1_000_000
# limits.cpu defaults to twice requests.cpu (CPU is compressible); limits.memory to requests.memory.
LIMIT_RATIOS = {"limits_cpu": ("cpu", Decimal(2)), "limits_memory": ("memory", Decimal(1))}

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
ALERT_KEYS = ("webhook_url", "email")
OWNER_ROLES = TENANT_ROLES
SUPPORTED_CURRENCIES = CURRENCIES
TENANT_NAME_MAX = 40
NAMESPACE_NAME_MAX = 63
RESERVED_NAMES = ("default",)
RESERVED_PREFIXES = ("kube-", "platykus-", "openshift-")
# Label keys tenants may not set: the platform's own, and the ones that steer security.
RESERVED_LABEL_PREFIXES = (
    "platykus.io/",
    "app.kubernetes.io/managed-by",
    "pod-security.kubernetes.io/",
    "kubernetes.io/",
    "k8s.io/",
)

# Always used with fullmatch: re.match with "$" also accepts a value ending in a newline.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
# Group names come from an identity provider: printable, no surrounding spaces.
_GROUP_NAME = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?")


# -- normalized results -------------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceQuota:
    """The resolved limits of one environment namespace (quantities as Decimal cores/bytes)."""

    cpu: Decimal
    memory: Decimal
    storage: Decimal
    limits_cpu: Decimal
    limits_memory: Decimal
    default_request_cpu: Decimal
    default_request_memory: Decimal
    default_limit_cpu: Decimal
    default_limit_memory: Decimal
    max_limit_cpu: Decimal | None
    max_limit_memory: Decimal | None
    pods: int
    services: int
    services_loadbalancers: int
    services_nodeports: int
    persistentvolumeclaims: int
    configmaps: int
    secrets: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view: quantities as Kubernetes strings, counts as ints, unset ones left out."""
        out: dict[str, Any] = {}
        for key, (kind, _required, _default) in QUANTITY_KEYS.items():
            value = getattr(self, key)
            if value is not None:
                out[key] = format_quantity(value, kind)
        for key in COUNT_KEYS:
            out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    quota: NamespaceQuota


@dataclass(frozen=True)
class Budget:
    monthly: Decimal
    currency: str


@dataclass(frozen=True)
class Alerts:
    """Where the platform's alerts about a tenant go: a webhook (its URL may carry a token) and/or an address."""

    webhook_url: str | None = None
    email: str | None = None


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


# -- quantities ---------------------------------------------------------------------------------

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def format_quantity(value: Decimal, kind: str) -> str:
    """Write a Decimal back as a Kubernetes quantity: ``cpu`` as cores or millicores, ``bytes`` with
    the suffix (binary or decimal) that gives the shortest exact number."""
    value = Decimal(value)
    if kind == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        milli = value * 1000
        if milli == milli.to_integral_value():
            return "%dm" % int(milli)
        return str(value.normalize())
    if value != value.to_integral_value():
        return str(value.normalize())
    whole = int(value)
    if whole == 0:
        return "0"
    best = str(whole)
    for suffix, factor in _BINARY + _DECIMAL:
        if whole % factor == 0:
            candidate = "%d%s" % (whole // factor, suffix)
            if len(candidate) < len(best):
                best = candidate
    return best


# -- problem collection -------------------------------------------------------------------------


class _Problems:
    """Collects every problem so users fix their specs in one pass, not one error per run."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, "%s: %s" % (path, message)))

    def raise_if_any(self, what: str) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise PlatykusError(self.items[0][1], field=self.items[0][0])
        lines = "\n".join("- %s" % message for _path, message in self.items)
        raise PlatykusError("%d problems in %s:\n%s" % (len(self.items), what, lines), field=self.items[0][0])


def _suggest(key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = "did you mean %s? " % close[0] if close else ""
    return "unknown key; %sallowed keys are %s" % (hint, ", ".join(allowed))


def _check_keys(problems: _Problems, path: str, value: Mapping, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for key in value:
        if key not in allowed:
            problems.add("%s.%s" % (path, key), _suggest(key, allowed))


def _is_mapping(problems: _Problems, path: str, value: Any, example: str) -> bool:
    if isinstance(value, Mapping):
        return True
    problems.add(path, "%r is not a mapping; write it like %s" % (value, example))
    return False


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


def dns_label_problem(value: Any, max_len: int) -> str | None:
    if not isinstance(value, str) or not value:
        return "%r is not a name; use lowercase letters, digits and '-'" % (value,)
    if len(value) > max_len:
        return "'%s' is %d characters; use at most %d" % (value, len(value), max_len)
    if not _DNS_LABEL.fullmatch(value):
        return (
            "'%s' is not a DNS-1123 label; use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit" % value
        )
    return None


def label_value_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid label value, or None."""
    if not isinstance(value, str):
        return "%r is not a string; quote it in YAML" % (value,)
    if len(value) > 63:
        return "'%s' is %d characters; label values hold at most 63" % (value, len(value))
    if value and not _LABEL_NAME.fullmatch(value):
        return (
            "'%s' is not a valid label value; use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit" % value
        )
    return None


def label_key_problem(key: Any) -> str | None:
    """Why ``key`` is not a valid label key, or None."""
    if not isinstance(key, str) or not key:
        return "%r is not a label key" % (key,)
    prefix, _sep, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "'%s' has an invalid prefix; the part before '/' must be a DNS subdomain like example.com" % key
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            "'%s' is not a valid label key; the name part holds at most 63 letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit" % key
        )
    return None


# -- plans --------------------------------------------------------------------------------------


def _parse_count(problems: _Problems, path: str, value: Any) -> int | None:
    if isinstance(value, bool):
        problems.add(path, "%r is not a count; write a whole number of zero or more" % (value,))
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        problems.add(path, "%r is not a count; write a whole number of zero or more" % (value,))
        return None
    if number < 0:
        problems.add(path, "%r is negative; write a whole number of zero or more" % (value,))
        return None
    if number > MAX_COUNT:
        problems.add(path, "%r is more than %d; write a real count" % (value, MAX_COUNT))
        return None
    return number


def _parse_priority_classes(problems: _Problems, path: str, raw: Any) -> tuple[str, ...] | None:
    """A plan's ``priority_classes``: a non-empty list of the tenant PriorityClasses the platform makes."""
    example = "write it like [%s]" % ", ".join(TENANT_PRIORITY_CLASSES)
    if not isinstance(raw, (list, tuple)) or not raw:
        problems.add(path, "%r is not a non-empty list of PriorityClass names; %s" % (raw, example))
        return None
    good = True
    for index, name in enumerate(raw):
        if name not in TENANT_PRIORITY_CLASSES:
            problems.add(
                "%s[%d]" % (path, index),
                "%r is not a tenant PriorityClass; tenants may use only the classes the platform makes for them "
                "(%s), never system-* or the platform's own" % (name, ", ".join(TENANT_PRIORITY_CLASSES)),
            )
            good = False
    if len(set(raw)) != len(raw):
        problems.add(path, "%r names a class twice; list each once" % (raw,))
        good = False
    return tuple(raw) if good else None


def _parse_plan_values(problems: _Problems, path: str, values: Any, plan: bool = False) -> dict[str, tuple[Any, str]]:
    """Parse a plan or an overrides mapping: ``{key: (parsed value, field path)}``; bad keys reported.

    Only a plan (``plan=True``) may hold the plan-only settings (PLAN_ONLY_KEYS)."""
    parsed: dict[str, tuple[Any, str]] = {}
    if values is None:
        return parsed
    if not _is_mapping(problems, path, values, "{cpu: '4', memory: 8Gi, pods: 40}"):
        return parsed
    _check_keys(problems, path, values, PLAN_KEYS + PLAN_ONLY_KEYS)
    for key, raw in values.items():
        key_path = "%s.%s" % (path, key)
        if key in PLAN_ONLY_KEYS and not plan:
            problems.add(key_path, "is a plan setting, not an override; pick a plan that sets it or change the plan")
        elif key == PRIORITY_CLASSES_KEY:
            classes = _parse_priority_classes(problems, key_path, raw)
            if classes is not None:
                parsed[key] = (classes, key_path)
        elif key in QUANTITY_KEYS:
            try:
                parsed[key] = (parse_quantity(raw, key_path), key_path)
            except PlatykusError as err:
                problems.add(key_path, str(err).split(": ", 1)[1])
        elif key in COUNT_KEYS:
            count = _parse_count(problems, key_path, raw)
            if count is not None:
                parsed[key] = (count, key_path)
    return parsed


def _check_plan_consistency(problems: _Problems, path: str, values: dict[str, tuple[Any, str]]) -> None:
    """Cross-field rules on resolved values; each message names where the values came from."""

    def value(key: str) -> tuple[Any, str]:
        return values.get(key, (None, ""))

    rules = (
        ("cpu", "limits_cpu", "limits_cpu must be at least cpu, or pods could never use their requests"),
        ("memory", "limits_memory", "limits_memory must be at least memory, or pods could never use their requests"),
        ("default_request_cpu", "default_limit_cpu", "a container's default request must not exceed its default limit"),
        (
            "default_request_memory",
            "default_limit_memory",
            "a container's default request must not exceed its default limit",
        ),
        ("default_limit_cpu", "max_limit_cpu", "the default limit must not exceed max_limit_cpu"),
        ("default_limit_memory", "max_limit_memory", "the default limit must not exceed max_limit_memory"),
        ("default_request_cpu", "cpu", "one container's default request must fit in the namespace's cpu"),
        ("default_request_memory", "memory", "one container's default request must fit in the namespace's memory"),
        ("default_limit_cpu", "limits_cpu", "one container's default limit must fit in limits_cpu"),
        ("default_limit_memory", "limits_memory", "one container's default limit must fit in limits_memory"),
        (
            "services_loadbalancers",
            "services_nodeports",
            "every LoadBalancer Service uses at least one node port, so the quota would refuse the load balancers "
            "it grants; raise services_nodeports or leave it out (default: %d per load balancer)"
            % NODEPORTS_PER_LOADBALANCER,
        ),
    )
    for small, large, why in rules:
        small_value, small_from = value(small)
        large_value, large_from = value(large)
        if small_value is None or large_value is None or small_value <= large_value:
            continue
        problems.add(
            path,
            "%s %s (from %s) is more than %s %s (from %s); %s"
            % (small, _show(small, small_value), small_from, large, _show(large, large_value), large_from, why),
        )


def _show(key: str, value: Any) -> str:
    return format_quantity(value, QUANTITY_KEYS[key][0]) if key in QUANTITY_KEYS else str(value)


def _fill_defaults(values: dict[str, tuple[Any, str]]) -> dict[str, tuple[Any, str]]:
    filled = dict(values)
    for key, (_kind, _required, default) in QUANTITY_KEYS.items():
        if key not in filled and default is not None:
            filled[key] = (parse_quantity(default, key), "the default %s" % default)
    for key, (base, ratio) in LIMIT_RATIOS.items():
        if key not in filled and base in filled:
            filled[key] = (filled[base][0] * ratio, "%s x %s" % (base, ratio))
    for key, (_required, default) in COUNT_KEYS.items():
        if key not in filled and default is not None:
            filled[key] = (default, "the default %s" % default)
    if PRIORITY_CLASSES_KEY not in filled:
        filled[PRIORITY_CLASSES_KEY] = (DEFAULT_TENANT_PRIORITY_CLASSES, "the default")
    if "services_nodeports" not in filled and "services_loadbalancers" in filled:
        ports = filled["services_loadbalancers"][0] * NODEPORTS_PER_LOADBALANCER
        filled["services_nodeports"] = (ports, "services_loadbalancers x %d" % NODEPORTS_PER_LOADBALANCER)
    return filled


def validate_plans(plans: Any) -> dict[str, dict[str, tuple[Any, str]]]:
    """Check the plans catalog; return ``{plan: {key: (value, source path)}}`` with defaults filled.

    Raises PlatykusError listing every problem (unknown keys, bad quantities or counts, missing
    required keys, inconsistent defaults).
    """
    problems = _Problems()
    catalog: dict[str, dict[str, tuple[Any, str]]] = {}
    if not isinstance(plans, Mapping) or not plans:
        problems.add(
            "plans", "%r is not a non-empty mapping of plan name to limits; define at least one plan" % (plans,)
        )
        problems.raise_if_any("the plans catalog")
    for name in sorted(plans, key=str):
        path = "plans.%s" % name
        if not isinstance(name, str) or not name:
            problems.add("plans", "plan name %r is not a string" % (name,))
            continue
        values = _parse_plan_values(problems, path, plans[name], plan=True)
        if not isinstance(plans[name], Mapping):
            continue
        for key, (_kind, required, _default) in QUANTITY_KEYS.items():
            if required and key not in plans[name]:
                problems.add("%s.%s" % (path, key), "is required; set it, e.g. %s: %s" % (key, _EXAMPLES[key]))
        for key, (required, _default) in COUNT_KEYS.items():
            if required and key not in plans[name]:
                problems.add("%s.%s" % (path, key), "is required; set it, e.g. %s: %s" % (key, _EXAMPLES[key]))
        filled = _fill_defaults(values)
        _check_plan_consistency(problems, path, filled)
        catalog[name] = filled
    problems.raise_if_any("the plans catalog")
    return catalog


_EXAMPLES = {"cpu": "'4'", "memory": "8Gi", "storage": "100Gi", "pods": "40"}


def resolve_quota(
    plan: Mapping[str, tuple[Any, str]],
    tenant_overrides: Mapping[str, tuple[Any, str]] | None = None,
    environment_overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> dict[str, tuple[Any, str]]:
    """Merge plan <- tenant overrides <- environment overrides, key by key (the last one wins).

    Derived limits (``limits_cpu = 2 x cpu`` when not set anywhere) are computed from the merged
    ``cpu``, so overriding ``cpu`` also moves the default ``limits_cpu``.
    """
    merged: dict[str, tuple[Any, str]] = {}
    for key, entry in plan.items():
        # Drop the plan's derived values so they are re-derived from overridden bases.
        if key in LIMIT_RATIOS and entry[1].startswith("%s x" % LIMIT_RATIOS[key][0]):
            continue
        if key == "services_nodeports" and entry[1].startswith("services_loadbalancers x"):
            continue
        merged[key] = entry
    merged.update(tenant_overrides or {})
    merged.update(environment_overrides or {})
    return _fill_defaults(merged)


def _quota_from(values: Mapping[str, tuple[Any, str]]) -> NamespaceQuota:
    kwargs = {key: values[key][0] if key in values else None for key in PLAN_KEYS}
    return NamespaceQuota(**kwargs)


# -- tenants ------------------------------------------------------------------------------------


def _tenant_path(index: int, spec: Any) -> str:
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str) and spec.get("name"):
        return "tenants[%s]" % spec["name"]
    return "tenants[%d]" % index


def _validate_owners(problems: _Problems, path: str, owners: Any) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {role: () for role in OWNER_ROLES}
    example = "{admin: [acme-admins], developer: [acme-devs], viewer: [acme-auditors]}"
    if owners is None:
        problems.add(path, "is required; name the identity provider groups, e.g. %s" % example)
        return result
    if not _is_mapping(problems, path, owners, example):
        return result
    _check_keys(problems, path, owners, OWNER_ROLES)
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
    problems: _Problems,
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
            _check_keys(problems, entry_path, entry, ("name", "overrides"))
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


MAX_MONTHLY_BUDGET = Decimal(10) ** 12


def _parse_monthly(problems: _Problems, path: str, raw: Any) -> Decimal | None:
    """A positive, finite amount; zero is refused (a tenant that may spend nothing has no namespaces)."""
    example = "write the monthly budget like 2500"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        problems.add(path, "%r is not a number; %s" % (raw, example))
        return None
    try:
        monthly = Decimal(str(raw).strip())
    except ArithmeticError:
        problems.add(path, "%r is not a number; %s" % (raw, example))
        return None
    if not monthly.is_finite() or monthly > MAX_MONTHLY_BUDGET:
        problems.add(path, "%r is not a real budget; %s" % (raw, example))
    elif monthly <= 0:
        problems.add(path, "%r is not positive; %s, or leave budget out" % (raw, example))
    else:
        return monthly
    return None


def _validate_budget(problems: _Problems, path: str, budget: Any) -> Budget | None:
    if budget is None:
        return None
    if not _is_mapping(problems, path, budget, "{monthly: 2500, currency: EUR}"):
        return None
    _check_keys(problems, path, budget, ("monthly", "currency"))
    monthly = _parse_monthly(problems, "%s.monthly" % path, budget.get("monthly"))
    currency = budget.get("currency", DEFAULT_CURRENCY)
    if currency not in SUPPORTED_CURRENCIES:
        problems.add(
            "%s.currency" % path,
            "%r is not a supported currency; use one of %s (a budget without currency is in %s)"
            % (currency, ", ".join(SUPPORTED_CURRENCIES), DEFAULT_CURRENCY),
        )
        return None
    if monthly is None:
        return None
    return Budget(monthly=monthly, currency=currency)


def validate_budget(budget: Any, where: str) -> Budget | None:
    """The one rule for a tenant's ``budget`` (onboarding, budgets and the usage report use it):
    ``monthly`` positive, ``currency`` one of CURRENCIES, USD when not given. ``where`` is the field path."""
    problems = _Problems()
    result = _validate_budget(problems, where, budget)
    problems.raise_if_any(where)
    return result


# An address as alert receivers take it: one @, no spaces or angle brackets, a dotted domain.
_EMAIL = re.compile(r"[^@\s<>]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+", re.I)
_WEBHOOK = re.compile(r"https?://[^\s/?#@]+(:\d+)?(/\S*)?")


def _validate_alerts(problems: _Problems, path: str, alerts: Any) -> Alerts | None:
    """``alerts: {webhook_url, email}``: where Alertmanager sends the tenant's alerts (one at least)."""
    if alerts is None:
        return None
    if not _is_mapping(
        problems, path, alerts, "{webhook_url: https://hooks.example.com/acme, email: ops@acme.example}"
    ):
        return None
    _check_keys(problems, path, alerts, ALERT_KEYS)
    before = len(problems.items)
    webhook, email = alerts.get("webhook_url"), alerts.get("email")
    if webhook is None and email is None:
        problems.add(path, "names no receiver; set webhook_url, email or both, or leave alerts out")
    if webhook is not None and (not isinstance(webhook, str) or not _WEBHOOK.fullmatch(webhook)):
        # The value is not echoed: a webhook URL may carry a token.
        problems.add(
            "%s.webhook_url" % path,
            "is not an http(s) URL without user info; write it like https://hooks.example.com/acme",
        )
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email)):
        problems.add("%s.email" % path, "%r is not an email address; write it like ops@acme.example" % (email,))
    if len(problems.items) > before:
        return None
    return Alerts(webhook_url=webhook, email=email)


def _validate_network(problems: _Problems, path: str, network: Any) -> tuple[bool, tuple[str, ...]]:
    if network is None:
        return True, ()
    if not _is_mapping(problems, path, network, "{allow_from_ingress: true, egress_cidrs: [10.20.0.0/16]}"):
        return True, ()
    _check_keys(problems, path, network, ("allow_from_ingress", "egress_cidrs"))
    allow = network.get("allow_from_ingress", True)
    if not isinstance(allow, bool):
        problems.add("%s.allow_from_ingress" % path, "%r is not a boolean; write true or false" % (allow,))
        allow = True
    cidrs_raw = network.get("egress_cidrs") or []
    cidrs: list[str] = []
    if isinstance(cidrs_raw, str) or not isinstance(cidrs_raw, (list, tuple)):
        problems.add("%s.egress_cidrs" % path, "%r is not a list; write it like [10.20.0.0/16]" % (cidrs_raw,))
        return allow, ()
    for index, cidr in enumerate(cidrs_raw):
        cidr_path = "%s.egress_cidrs[%d]" % (path, index)
        if not isinstance(cidr, str) or "/" not in cidr:
            problems.add(cidr_path, "%r is not a CIDR; write it like 10.20.0.0/16" % (cidr,))
            continue
        try:
            network_obj = ipaddress.ip_network(cidr, strict=False)
        except ValueError as err:
            problems.add(cidr_path, "'%s' is not a CIDR (%s); write it like 10.20.0.0/16" % (cidr, err))
            continue
        if str(network_obj) != cidr:
            problems.add(cidr_path, "'%s' has host bits set; write %s" % (cidr, network_obj))
            continue
        if str(network_obj) not in cidrs:
            cidrs.append(str(network_obj))
    return allow, tuple(cidrs)


def _validate_labels(problems: _Problems, path: str, labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not _is_mapping(problems, path, labels, "{team: payments}"):
        return {}
    clean: dict[str, str] = {}
    for key, value in labels.items():
        key_path = "%s.%s" % (path, key)
        problem = label_key_problem(key)
        if problem:
            problems.add(key_path, problem)
            continue
        if any(key == prefix or key.startswith(prefix) for prefix in RESERVED_LABEL_PREFIXES):
            problems.add(
                key_path,
                "'%s' is set by the platform (reserved prefixes: %s); choose another key"
                % (key, ", ".join(RESERVED_LABEL_PREFIXES)),
            )
            continue
        problem = label_value_problem(value)
        if problem:
            problems.add(key_path, problem)
            continue
        clean[key] = value
    return clean


def _validate_name(problems: _Problems, path: str, name: Any, platform_namespaces: tuple[str, ...]) -> str | None:
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
    problems: _Problems, path: str, plan: Any, catalog: Mapping[str, Mapping[str, tuple[Any, str]]]
) -> Mapping[str, tuple[Any, str]] | None:
    if plan is None:
        problems.add("%s.plan" % path, "is required; pick one of %s" % ", ".join(sorted(catalog)))
    elif plan not in catalog:
        problems.add("%s.plan" % path, "%r is not in plans (%s); pick one of them" % (plan, ", ".join(sorted(catalog))))
    else:
        return catalog[plan]
    return None


def _validate_settings(problems: _Problems, path: str, spec: Mapping) -> dict[str, Any]:
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
    problems: _Problems,
    tenant_name: str,
    plan_values: Mapping[str, tuple[Any, str]],
    tenant_overrides: Mapping[str, tuple[Any, str]],
    environments: list[tuple[str, str, Any]],
) -> list[Environment]:
    """Each environment's quota: plan <- tenant overrides <- environment overrides."""
    resolved = []
    for env_name, env_path, raw_overrides in environments:
        env_overrides = _parse_plan_values(problems, "%s.overrides" % env_path, raw_overrides)
        values = resolve_quota(plan_values, tenant_overrides, env_overrides)
        if tenant_overrides or env_overrides:
            _check_plan_consistency(problems, env_path, values)
        resolved.append(
            Environment(name=env_name, namespace="%s-%s" % (tenant_name, env_name), quota=_quota_from(values))
        )
    return resolved


def _validate_tenant(
    problems: _Problems,
    index: int,
    spec: Any,
    catalog: Mapping[str, Mapping[str, tuple[Any, str]]],
    platform_namespaces: tuple[str, ...],
) -> Tenant | None:
    path = _tenant_path(index, spec)
    if not _is_mapping(problems, path, spec, "{name: acme, plan: small, owners: {admin: [acme-admins]}, ...}"):
        return None
    before = len(problems.items)
    _check_keys(problems, path, spec, TENANT_KEYS)
    good_name = _validate_name(problems, path, spec.get("name"), platform_namespaces)
    owners = _validate_owners(problems, "%s.owners" % path, spec.get("owners"))
    plan_values = _validate_plan(problems, path, spec.get("plan"), catalog)
    tenant_overrides = _parse_plan_values(problems, "%s.overrides" % path, spec.get("overrides"))
    environments = _validate_environments(
        problems, "%s.environments" % path, good_name, spec.get("environments"), platform_namespaces
    )
    settings = _validate_settings(problems, path, spec)
    allow_from_ingress, egress_cidrs = _validate_network(problems, "%s.network" % path, spec.get("network"))
    budget = _validate_budget(problems, "%s.budget" % path, spec.get("budget"))
    labels = _validate_labels(problems, "%s.labels" % path, spec.get("labels"))
    alerts = _validate_alerts(problems, "%s.alerts" % path, spec.get("alerts"))
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
    problems = _Problems()
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
