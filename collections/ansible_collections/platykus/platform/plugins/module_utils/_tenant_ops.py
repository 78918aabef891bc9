# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tenant modules do, one function each: validate, check capacity, render, apply.

The modules call :func:`apply_tenant_quotas`, :func:`apply_tenants` or :func:`offboard_tenant`
with ``connect``, a function returning a KubeClient; it is called only after the specs passed
validation, so a bad spec is reported without contacting the cluster. Each returns the module
result as a dict.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.platykus.platform.plugins.module_utils._budget import ORIGINAL_PODS_ANNOTATION
from ansible_collections.platykus.platform.plugins.module_utils._capacity import check_capacity
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._kube import (
    ApiException,
    BatchSummary,
    KUBE_ARGUMENT_SPEC,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    KubeClient,
    object_key,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenant_objects import (
    QUOTA_NAME,
    TENANT_LABEL,
    quota_hard,
    container_limits,
    render_tenant,
    render_tenant_quotas,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants import (
    Tenant,
    dns_label_problem,
    reserved_reason,
    select_tenants,
    validate_tenants,
)

DATA_SERVICE_LABEL = "platykus.io/data-service"
# Options shared by the tenant modules: the tenant set (always validated whole) and the capacity check.
TENANT_SET_ARGUMENT_SPEC = dict(
    tenants=dict(type="list", elements="dict", required=True),
    plans=dict(type="dict", required=True),
    platform_namespaces=dict(type="list", elements="str", default=[]),
    tenant=dict(type="str"),
    **KUBE_ARGUMENT_SPEC,
)
CAPACITY_ARGUMENT_SPEC = dict(
    overcommit=dict(type="dict", default={}),
    capacity_policy=dict(type="str", choices=["fail", "warn"], default="fail"),
)


def tenant_set_params(params: Mapping) -> dict[str, Any]:
    """The TENANT_SET_ARGUMENT_SPEC options, as keyword arguments of the functions below."""
    return {key: params[key] for key in ("tenants", "plans", "platform_namespaces", "tenant")}


def capacity_params(params: Mapping) -> dict[str, Any]:
    """The CAPACITY_ARGUMENT_SPEC options, as keyword arguments of the functions below."""
    return {key: params[key] for key in CAPACITY_ARGUMENT_SPEC}


# Every rendered tenant object carries it, so one LIST per kind reads the current state.
MANAGED_SELECTOR = "%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY_VALUE)


Connect = Callable[[], KubeClient]


def _prepare(
    connect: Connect,
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str],
    overcommit: Mapping | None,
    capacity_policy: str,
    tenant: str | None,
) -> tuple[KubeClient, list[Tenant], Any]:
    """Validate the whole set, pick the tenant(s) to act on, connect, and check capacity over all of them."""
    validated = validate_tenants(tenants, plans, platform_namespaces)
    chosen = select_tenants(validated, tenant)
    client = connect()
    nodes = client.list("v1", "Node")
    report = check_capacity(validated, nodes, overcommit, capacity_policy)
    return client, chosen, report


def _namespaces_by_name(client: KubeClient) -> dict[str, dict]:
    return {ns["metadata"]["name"]: ns for ns in client.iter_list("v1", "Namespace")}


def _owner(namespace: Mapping) -> str | None:
    return ((namespace.get("metadata") or {}).get("labels") or {}).get(TENANT_LABEL)


def _budget_enforced(client: KubeClient, namespaces: Iterable[str]) -> set[str]:
    """Namespaces whose ``tenant-quota`` pods limit is currently lowered by tenant_budget."""
    wanted = set(namespaces)
    enforced = set()
    for quota in client.iter_list("v1", "ResourceQuota", field_selector="metadata.name=%s" % QUOTA_NAME):
        meta = quota.get("metadata") or {}
        if meta.get("namespace") in wanted and ORIGINAL_PODS_ANNOTATION in (meta.get("annotations") or {}):
            enforced.add(meta["namespace"])
    return enforced


def _leave_enforced_pods(objects: list[dict], enforced: set[str]) -> list[dict]:
    """Drop ``spec.hard.pods`` from the quotas tenant_budget has lowered, so a plan re-apply does not
    undo budget enforcement; tenant_budget restores the plan's value when the tenant is back in budget."""
    for obj in objects:
        if obj["kind"] == "ResourceQuota" and obj["metadata"]["namespace"] in enforced:
            obj["spec"]["hard"].pop("pods", None)
    return objects


def _summary_result(results: list, with_diff: bool) -> dict[str, Any]:
    summary = BatchSummary.from_results(results, with_diff=with_diff)
    out: dict[str, Any] = {
        "changed": summary.changed,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
    }
    if with_diff:
        out["diff"] = summary.diffs
    return out


def apply_tenant_quotas(
    connect: Connect,
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
    overcommit: Mapping | None = None,
    capacity_policy: str = "fail",
    tenant: str | None = None,
    check_mode: bool = False,
    diff: bool = False,
) -> dict[str, Any]:
    """Server-side apply only the ResourceQuota and LimitRange of each chosen tenant namespace.

    The namespaces must exist and belong to the tenant (label platykus.io/tenant).
    """
    client, chosen, report = _prepare(connect, tenants, plans, platform_namespaces, overcommit, capacity_policy, tenant)
    existing = _namespaces_by_name(client)
    problems = []
    for item in chosen:
        for env in item.environments:
            namespace = existing.get(env.namespace)
            if namespace is None:
                problems.append(
                    "namespace '%s' of tenant '%s' does not exist; onboard the tenant with platykus.platform.tenant first"
                    % (env.namespace, item.name)
                )
            elif _owner(namespace) != item.name:
                problems.append(
                    "namespace '%s' exists but is labelled %s=%s, not %s; it is not tenant '%s''s namespace"
                    % (env.namespace, TENANT_LABEL, _owner(namespace) or "(unset)", item.name, item.name)
                )
    if problems:
        raise PlatykusError("Failed to apply quotas: " + "; ".join(problems))

    namespaces = [namespace for item in chosen for namespace in item.namespaces]
    enforced = _budget_enforced(client, namespaces)
    objects = _leave_enforced_pods([obj for item in chosen for obj in render_tenant_quotas(item)], enforced)
    results = client.apply(objects, dry_run=check_mode, label_selector=MANAGED_SELECTOR)
    result = _summary_result(results, diff)
    result["budget_enforced"] = sorted(enforced)
    result["quotas"] = {
        env.namespace: {
            "tenant": item.name,
            "environment": env.name,
            "hard": quota_hard(env.quota),
            "limits": container_limits(env.quota),
        }
        for item in chosen
        for env in item.environments
    }
    result["capacity"] = [finding.to_dict() for finding in report.findings]
    result["capacity_warnings"] = report.warnings
    return result


def apply_tenants(
    connect: Connect,
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
    overcommit: Mapping | None = None,
    capacity_policy: str = "fail",
    tenant: str | None = None,
    ingress_namespace: str | None = None,
    check_mode: bool = False,
    diff: bool = False,
) -> dict[str, Any]:
    """Onboard or update tenants: every object of each chosen tenant in one server-side apply batch."""
    client, chosen, report = _prepare(connect, tenants, plans, platform_namespaces, overcommit, capacity_policy, tenant)
    existing = _namespaces_by_name(client)
    for item in chosen:
        for namespace in item.namespaces:
            owner = _owner(existing.get(namespace) or {})
            if owner is not None and owner != item.name:
                raise PlatykusError(
                    "Failed to apply tenant '%s': namespace '%s' already belongs to tenant '%s' (label %s); "
                    "rename the environment or offboard '%s' first" % (item.name, namespace, owner, TENANT_LABEL, owner)
                )
    enforced = _budget_enforced(client, [namespace for item in chosen for namespace in item.namespaces])
    objects = _leave_enforced_pods([obj for item in chosen for obj in render_tenant(item, ingress_namespace)], enforced)
    results = client.apply(objects, dry_run=check_mode, label_selector=MANAGED_SELECTOR)
    result = _summary_result(results, diff)
    result["budget_enforced"] = sorted(enforced)
    result["tenants"] = [item.to_dict() for item in chosen]
    result["namespaces"] = [namespace for item in chosen for namespace in item.namespaces]
    result["capacity"] = [finding.to_dict() for finding in report.findings]
    result["capacity_warnings"] = report.warnings
    return result


def _namespaced_list_paths(client: KubeClient) -> list[tuple[str, str, str]]:
    """``(apiVersion, kind, path)`` of every namespaced resource that can be listed (preferred versions)."""
    try:
        versions = ["v1"] + [
            group["preferredVersion"]["groupVersion"]
            for group in (client.request("GET", "/apis") or {}).get("groups", [])
        ]
    except ApiException as err:
        raise PlatykusError("API discovery failed: %s" % getattr(err, "reason", err)) from err
    found: list[tuple[str, str, str]] = []
    for version in versions:
        base = "/api/v1" if version == "v1" else "/apis/%s" % version
        try:
            listing = client.request("GET", base) or {}
        except ApiException as err:
            raise PlatykusError(
                "API discovery of %s failed (%s); fix the API service or set force: true"
                % (version, getattr(err, "reason", err))
            ) from err
        for res in listing.get("resources", []):
            if "/" in res["name"] or not res.get("namespaced") or "list" not in res.get("verbs", []):
                continue
            found.append((version, res["kind"], "%s/%s" % (base, res["name"])))
    return found


def find_tenant_data(client: KubeClient, namespaces: Iterable[str], workers: int = 8) -> list[str]:
    """Keys of the PVCs and the objects labelled platykus.io/data-service in ``namespaces``."""
    namespaces = set(namespaces)
    if not namespaces:
        return []

    def list_labelled(entry: tuple[str, str, str]) -> list[str]:
        api_version, kind, path = entry
        selector = None if kind == "PersistentVolumeClaim" and api_version == "v1" else DATA_SERVICE_LABEL
        keys = []
        token = None
        while True:
            try:
                page = client.request("GET", path, query={"labelSelector": selector, "limit": 500, "continue": token})
            except ApiException as err:
                raise PlatykusError(
                    "cannot check %s for tenant data (%s %s); fix access or set force: true"
                    % (kind, getattr(err, "status", "?"), getattr(err, "reason", err))
                ) from err
            for item in (page or {}).get("items", []):
                meta = item.get("metadata") or {}
                if meta.get("namespace") in namespaces:
                    item.setdefault("kind", kind)
                    keys.append(object_key(item))
            token = ((page or {}).get("metadata") or {}).get("continue")
            if not token:
                return keys

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = [key for keys in pool.map(list_labelled, _namespaced_list_paths(client)) for key in keys]
    return sorted(set(found))


def offboard_tenant(
    connect: Connect,
    tenant: str,
    confirm: str | None,
    force: bool = False,
    platform_namespaces: Iterable[str] = (),
    check_mode: bool = False,
) -> dict[str, Any]:
    """Delete every namespace labelled platykus.io/tenant=<tenant>, and nothing else.

    Requires ``confirm == tenant``; refuses while PVCs or data-service objects remain unless ``force``.
    """
    problem = dns_label_problem(tenant, 63)
    if problem:
        raise PlatykusError("tenant: %s" % problem, field="tenant")
    client = connect()
    namespaces = client.list("v1", "Namespace", label_selector="%s=%s" % (TENANT_LABEL, tenant))
    names = sorted(ns["metadata"]["name"] for ns in namespaces)
    if not names:
        return {"changed": False, "deleted": [], "terminating": [], "blockers": []}
    for name in names:
        reason = reserved_reason(name, platform_namespaces)
        if reason:
            raise PlatykusError(
                "Failed to offboard tenant '%s': namespace '%s' carries %s=%s but %s; remove the label by hand "
                "if it is wrong, nothing was deleted" % (tenant, name, TENANT_LABEL, tenant, reason)
            )
    if confirm != tenant:
        raise PlatykusError(
            "confirm: set confirm: %s to offboard tenant '%s'; this deletes namespaces %s and everything in them"
            % (tenant, tenant, ", ".join(names)),
            field="confirm",
        )
    blockers = find_tenant_data(client, names)
    if blockers and not force:
        raise PlatykusError(
            "Failed to offboard tenant '%s': it still holds data: %s; back it up and delete it, or set force: true"
            % (tenant, ", ".join(blockers)),
            field="force",
        )
    terminating = [ns["metadata"]["name"] for ns in namespaces if (ns.get("metadata") or {}).get("deletionTimestamp")]
    to_delete = [name for name in names if name not in terminating]
    deleted = [name for name in to_delete if client.delete("v1", "Namespace", name, dry_run=check_mode)]
    return {
        "changed": bool(deleted),
        "deleted": ["Namespace/%s" % name for name in deleted],
        "terminating": sorted(terminating),
        "blockers": blockers,
    }
