# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does an app fit its namespace? Checked before anything is written, naming the quota.

What an app may use at most (every process at its most replicas plus one surge pod while
rolling, a release pod, one run per cron process, its volumes) is compared with what each
ResourceQuota of the namespace leaves once the app's own pods and claims are not counted; a
size whose limits exceed the namespace's LimitRange maximum is refused too (its pods would be).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import SURGE
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, Process
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import format_quantity, parse_quantity

# Quota keys the app's needs are compared against, and how each is written.
_CHECKED = {
    "pods": "count",
    "requests.cpu": "cpu",
    "requests.memory": "bytes",
    "limits.cpu": "cpu",
    "limits.memory": "bytes",
    "requests.storage": "bytes",
    "persistentvolumeclaims": "count",
    "count/services": "count",
    "count/configmaps": "count",
}
# The app's ConfigMaps: its config and its releases.
APP_CONFIGMAPS = 2
_SIZE_FIELDS = {
    "requests.cpu": "cpu",
    "requests.memory": "memory",
    "limits.cpu": "limits_cpu",
    "limits.memory": "limits_memory",
}


def _pods_at_most(process: Process) -> int:
    if process.kind in ("web", "worker"):
        return process.max_replicas + SURGE if process.max_replicas else 0
    return 1


def app_needs(app: App) -> dict[str, Decimal]:
    """The most the app may hold at once, per quota key."""
    needs = {key: Decimal(0) for key in _CHECKED}
    for process in app.processes:
        pods = _pods_at_most(process)
        needs["pods"] += pods
        for key, attr in _SIZE_FIELDS.items():
            needs[key] += pods * getattr(process.size, attr)
    needs["requests.storage"] = sum((v.size for v in app.volumes), Decimal(0))
    needs["persistentvolumeclaims"] = Decimal(len(app.volumes))
    needs["count/services"] = Decimal(1 if app.process("web") else 0)
    needs["count/configmaps"] = Decimal(APP_CONFIGMAPS)
    return needs


def _q(value: Any, where: str) -> Decimal:
    return parse_quantity(value, where)


def current_usage(pods: Iterable[Mapping], objects: Iterable[Mapping]) -> dict[str, Decimal]:
    """What the app's own live pods, claims, Services and ConfigMaps count against the quota now."""
    objects = list(objects)
    claims = [o for o in objects if o.get("kind") == "PersistentVolumeClaim"]
    used = {key: Decimal(0) for key in _CHECKED}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        used["pods"] += 1
        for container in (pod.get("spec") or {}).get("containers", []):
            resources = container.get("resources") or {}
            for key in _SIZE_FIELDS:
                kind, resource = key.split(".")
                value = (resources.get(kind) or {}).get(resource)
                if value is not None:
                    used[key] += _q(value, "pod")
    used["count/services"] = Decimal(sum(1 for o in objects if o.get("kind") == "Service"))
    used["count/configmaps"] = Decimal(sum(1 for o in objects if o.get("kind") == "ConfigMap"))
    for claim in claims:
        used["persistentvolumeclaims"] += 1
        used["requests.storage"] += _q(
            ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", "0"), "pvc"
        )
    return used


def _show(key: str, value: Decimal) -> str:
    kind = _CHECKED[key]
    return str(int(value)) if kind == "count" else format_quantity(value, kind)


def quota_problems(app: App, quotas: Iterable[Mapping], own: Mapping[str, Decimal]) -> list[str]:
    """One line per quota key the app would exceed."""
    needs = app_needs(app)
    problems = []
    for quota in quotas:
        if (quota.get("spec") or {}).get("scopeSelector") or (quota.get("spec") or {}).get("scopes"):
            continue  # counts only the pods its scope selects (e.g. a PriorityClass the plan does not allow)
        meta = quota.get("metadata") or {}
        hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = (quota.get("status") or {}).get("used") or {}
        for key in _CHECKED:
            if key not in hard or not needs[key]:
                continue
            others = max(_q(used.get(key, "0"), key) - own.get(key, Decimal(0)), Decimal(0))
            left = _q(hard[key], key) - others
            if needs[key] > left:
                problems.append(
                    "ResourceQuota %s/%s: %s needs up to %s but %s of %s is left (other apps use %s)"
                    % (
                        meta.get("namespace"),
                        meta.get("name"),
                        key,
                        _show(key, needs[key]),
                        _show(key, max(left, Decimal(0))),
                        _show(key, _q(hard[key], key)),
                        _show(key, others),
                    )
                )
    return problems


def limit_problems(app: App, limit_ranges: Iterable[Mapping]) -> list[str]:
    """Sizes whose limits exceed a LimitRange's per-container maximum."""
    problems = []
    for limit_range in limit_ranges:
        name = "%s/%s" % (limit_range["metadata"].get("namespace"), limit_range["metadata"]["name"])
        for item in (limit_range.get("spec") or {}).get("limits", []):
            maximum = item.get("max") or {}
            if item.get("type") != "Container":
                continue
            for process in app.processes:
                for resource, attr, kind in (("cpu", "limits_cpu", "cpu"), ("memory", "limits_memory", "bytes")):
                    value = getattr(process.size, attr)
                    if resource in maximum and value > _q(maximum[resource], resource):
                        problems.append(
                            "processes.%s.size: '%s' has a %s limit of %s, above the %s maximum of LimitRange %s"
                            % (
                                process.name,
                                process.size.name,
                                resource,
                                format_quantity(value, kind),
                                maximum[resource],
                                name,
                            )
                        )
    return problems


def check_fits(app: App, quotas: list[Mapping], limit_ranges: list[Mapping], own: Mapping[str, Decimal]) -> None:
    """Raise naming every quota and limit the app would exceed; nothing has been written yet."""
    problems = quota_problems(app, quotas, own) + limit_problems(app, limit_ranges)
    if problems:
        raise PlatykusError(
            "Failed to deploy app '%s' to %s, nothing was written: it does not fit the namespace's limits: %s; "
            "lower replicas, autoscale.max or sizes, or ask the platform team for a larger plan"
            % (app.name, app.namespace, "; ".join(problems)),
            field="processes",
        )
