# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plans catalog: per-namespace limits by plan name, validated, and a namespace's quota resolved.

The catalog maps a plan name to quantities (cpu, memory, storage, ...) and counts (pods,
services, ...); :func:`validate_plans` checks it whole and fills the defaults, and
:func:`resolve_quota` merges a plan with a tenant's and an environment's ``overrides`` (the
later one wins key by key). Every value carries the field path it came from, so a consistency
problem names where each side was set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    DEFAULT_TENANT_PRIORITY_CLASSES,
    TENANT_PRIORITY_CLASSES,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    check_quantity,
    is_mapping,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import format_quantity, parse_quantity

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


# -- plans --------------------------------------------------------------------------------------


def _parse_count(problems: Problems, path: str, value: Any) -> int | None:
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


def _parse_priority_classes(problems: Problems, path: str, raw: Any) -> tuple[str, ...] | None:
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


def parse_plan_values(problems: Problems, path: str, values: Any, plan: bool = False) -> dict[str, tuple[Any, str]]:
    """Parse a plan or an overrides mapping: ``{key: (parsed value, field path)}``; bad keys reported.

    Only a plan (``plan=True``) may hold the plan-only settings (PLAN_ONLY_KEYS)."""
    parsed: dict[str, tuple[Any, str]] = {}
    if values is None:
        return parsed
    if not is_mapping(problems, path, values, "{cpu: '4', memory: 8Gi, pods: 40}"):
        return parsed
    check_keys(problems, path, values, PLAN_KEYS + PLAN_ONLY_KEYS)
    for key, raw in values.items():
        key_path = "%s.%s" % (path, key)
        if key in PLAN_ONLY_KEYS and not plan:
            problems.add(key_path, "is a plan setting, not an override; pick a plan that sets it or change the plan")
        elif key == PRIORITY_CLASSES_KEY:
            classes = _parse_priority_classes(problems, key_path, raw)
            if classes is not None:
                parsed[key] = (classes, key_path)
        elif key in QUANTITY_KEYS:
            quantity = check_quantity(problems, key_path, raw)
            if quantity is not None:
                parsed[key] = (quantity, key_path)
        elif key in COUNT_KEYS:
            count = _parse_count(problems, key_path, raw)
            if count is not None:
                parsed[key] = (count, key_path)
    return parsed


def check_plan_consistency(problems: Problems, path: str, values: dict[str, tuple[Any, str]]) -> None:
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
    problems = Problems()
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
        values = parse_plan_values(problems, path, plans[name], plan=True)
        if not isinstance(plans[name], Mapping):
            continue
        for key, (_kind, required, _default) in QUANTITY_KEYS.items():
            if required and key not in plans[name]:
                problems.add("%s.%s" % (path, key), "is required; set it, e.g. %s: %s" % (key, _EXAMPLES[key]))
        for key, (required, _default) in COUNT_KEYS.items():
            if required and key not in plans[name]:
                problems.add("%s.%s" % (path, key), "is required; set it, e.g. %s: %s" % (key, _EXAMPLES[key]))
        filled = _fill_defaults(values)
        check_plan_consistency(problems, path, filled)
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


def quota_from(values: Mapping[str, tuple[Any, str]]) -> NamespaceQuota:
    kwargs = {key: values[key][0] if key in values else None for key in PLAN_KEYS}
    return NamespaceQuota(**kwargs)
