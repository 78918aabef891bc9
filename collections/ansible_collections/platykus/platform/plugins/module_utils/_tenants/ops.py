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

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import KUBE_ARGUMENT_SPEC
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import KubeApiError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADOPTED_ANNOTATION,
    BUDGET_ORIGINAL_PODS_ANNOTATION,
    DATA_SERVICE_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    MANAGED_SELECTOR,
    NETWORKING_API_VERSION,
    QUOTA_NAME,
    RBAC_API_VERSION,
    TENANT_LABEL,
    tenant_selector,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import dns_label_problem
from ansible_collections.platykus.platform.plugins.module_utils._core.rbac import binding_excess, excess_rules
from ansible_collections.platykus.platform.plugins.module_utils._tenants.capacity import check_capacity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import (
    container_limits,
    quota_hard,
    render_tenancy_policies,
    render_tenant,
    render_tenant_quotas,
    role_rules,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import (
    Tenant,
    reserved_reason,
    select_tenants,
    validate_tenants,
)

# Options shared by the tenant modules: the tenant set (always validated whole) and the capacity check.
# Elements are checked by validate_tenants, which names the field (Ansible's own check would not).
TENANT_SET_ARGUMENT_SPEC = dict(
    tenants=dict(type="list", elements="raw", required=True),
    plans=dict(type="raw", required=True),
    platform_namespaces=dict(type="list", elements="str", default=[]),
    tenant=dict(type="str"),
    **KUBE_ARGUMENT_SPEC,
)
CAPACITY_ARGUMENT_SPEC = dict(
    overcommit=dict(type="dict", default={}),
    capacity_policy=dict(type="str", choices=["fail", "warn"], default="fail"),
)
# What onboarding does with Roles and RoleBindings in tenant namespaces that Platykus did not
# write and that grant more than tenant-admin: delete them, refuse to run, or leave them.
UNMANAGED_RBAC_CHOICES = ("prune", "fail", "keep")
# How long onboarding waits for a tenant namespace that is still being deleted (a re-onboarding right
# after an offboarding): objects written meanwhile would be refused, or lost with the namespace.
TERMINATING_WAIT_SECONDS = 180.0
# The kinds onboarding writes into a namespace; offboarding an adopted namespace removes these.
_NAMESPACED_KINDS = (
    ("v1", "ServiceAccount"),
    (RBAC_API_VERSION, "Role"),
    (RBAC_API_VERSION, "RoleBinding"),
    (NETWORKING_API_VERSION, "NetworkPolicy"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
)


def tenant_set_params(params: Mapping) -> dict[str, Any]:
    """The TENANT_SET_ARGUMENT_SPEC options, as keyword arguments of the functions below."""
    return {key: params[key] for key in ("tenants", "plans", "platform_namespaces", "tenant")}


def capacity_params(params: Mapping) -> dict[str, Any]:
    """The CAPACITY_ARGUMENT_SPEC options, as keyword arguments of the functions below."""
    return {key: params[key] for key in CAPACITY_ARGUMENT_SPEC}


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
    nodes = client.list_all("v1", "Node")
    report = check_capacity(validated, nodes, overcommit, capacity_policy)
    return client, chosen, report


def _namespaces_by_name(client: KubeClient) -> dict[str, dict]:
    return {ns["metadata"]["name"]: ns for ns in client.iter_list("v1", "Namespace")}


def _terminating(existing: Mapping[str, dict], wanted: Iterable[str]) -> list[str]:
    return sorted(
        name for name in wanted if ((existing.get(name) or {}).get("metadata") or {}).get("deletionTimestamp")
    )


def _after_terminations(client: KubeClient, existing: dict[str, dict], chosen: list[Tenant]) -> dict[str, dict]:
    """The namespaces once none of the chosen tenants' is still terminating (bounded wait, then a clear error)."""
    wanted = [namespace for item in chosen for namespace in item.namespaces]
    deadline = time.monotonic() + TERMINATING_WAIT_SECONDS
    while _terminating(existing, wanted):
        if time.monotonic() >= deadline:
            raise PlatykusError(
                "Failed to apply tenants, nothing was written: namespace(s) %s are still being deleted after %d s "
                "(an offboarding in progress; see their status.conditions for what blocks it); rerun once "
                "`kubectl get namespace` no longer lists them"
                % (", ".join(_terminating(existing, wanted)), TERMINATING_WAIT_SECONDS)
            )
        time.sleep(1.0)
        existing = _namespaces_by_name(client)
    return existing


def _owner(namespace: Mapping) -> str | None:
    return ((namespace.get("metadata") or {}).get("labels") or {}).get(TENANT_LABEL)


def _budget_enforced(client: KubeClient, namespaces: Iterable[str]) -> set[str]:
    """Namespaces whose ``tenant-quota`` pods limit is currently lowered by tenant_budget."""
    wanted = set(namespaces)
    enforced = set()
    for quota in client.iter_list("v1", "ResourceQuota", field_selector="metadata.name=%s" % QUOTA_NAME):
        meta = quota.get("metadata") or {}
        if meta.get("namespace") in wanted and BUDGET_ORIGINAL_PODS_ANNOTATION in (meta.get("annotations") or {}):
            enforced.add(meta["namespace"])
    return enforced


def _leave_enforced_pods(objects: list[dict], enforced: set[str]) -> list[dict]:
    """Drop ``spec.hard.pods`` from the quotas tenant_budget has lowered, so a plan re-apply does not
    undo budget enforcement; tenant_budget restores the plan's value when the tenant is back in budget."""
    for obj in objects:
        if (
            obj["kind"] == "ResourceQuota"
            and obj["metadata"]["name"] == QUOTA_NAME
            and obj["metadata"]["namespace"] in enforced
        ):
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


def _claimed_namespaces(chosen: list[Tenant], existing: Mapping[str, dict]) -> set[str]:
    """Check who owns each tenant namespace that exists; return the ones the tenants adopt.

    A namespace labelled for another tenant is refused. One that exists without Platykus's labels
    is refused too unless the spec says ``adopt: true``; once adopted it stays marked, so
    offboarding leaves it and what was in it before in place. Every problem is reported at once.
    """
    problems, adopted = [], set()
    for item in chosen:
        for namespace in item.namespaces:
            found = existing.get(namespace)
            if found is None:
                continue
            owner = _owner(found)
            annotations = (found.get("metadata") or {}).get("annotations") or {}
            if owner is not None and owner != item.name:
                problems.append(
                    "namespace '%s' already belongs to tenant '%s' (label %s); rename the environment or "
                    "offboard '%s' first" % (namespace, owner, TENANT_LABEL, owner)
                )
            elif owner is None and not item.adopt:
                problems.append(
                    "namespace '%s' already exists and Platykus did not create it; set adopt: true in tenant "
                    "'%s''s spec to take it over (offboarding will then leave the namespace and its other objects), "
                    "or rename the environment" % (namespace, item.name)
                )
            elif owner is None or annotations.get(ADOPTED_ANNOTATION) == "true":
                adopted.add(namespace)
    if problems:
        raise PlatykusError("Failed to apply tenants, nothing was written: " + "; ".join(problems))
    return adopted


def _excess_rbac(client: KubeClient, namespaces: set[str]) -> list[tuple[dict, list[str]]]:
    """Roles and RoleBindings in ``namespaces`` that Platykus did not write and that grant more than
    tenant-admin (a binding of the built-in ``admin`` ClusterRole added by hand, for example)."""
    if not namespaces:
        return []
    rbac = RBAC_API_VERSION
    roles = [role for role in client.list_all(rbac, "Role") if _meta_of(role).get("namespace") in namespaces]
    bindings = [item for item in client.list_all(rbac, "RoleBinding") if _meta_of(item).get("namespace") in namespaces]
    foreign_roles = [role for role in roles if not _is_managed(role)]
    foreign_bindings = [binding for binding in bindings if not _is_managed(binding)]
    if not foreign_roles and not foreign_bindings:
        return []
    allowed = role_rules("admin")
    cluster_roles = {role["metadata"]["name"]: role for role in client.list_all(rbac, "ClusterRole")}
    found = [(role, excess_rules(role.get("rules") or [], allowed)) for role in foreign_roles]
    for binding in foreign_bindings:
        namespace = binding["metadata"]["namespace"]
        in_namespace = {role["metadata"]["name"]: role for role in roles if role["metadata"]["namespace"] == namespace}
        found.append((binding, binding_excess(binding, in_namespace, cluster_roles, allowed)))
    return [(obj, excess) for obj, excess in found if excess]


def _meta_of(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def _is_managed(obj: Mapping) -> bool:
    return (_meta_of(obj).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def _describe_excess(excess: list[tuple[dict, list[str]]]) -> list[str]:
    return ["%s (grants %s)" % (object_key(obj), ", ".join(reasons[:5])) for obj, reasons in excess]


def _prune(client: KubeClient, excess: list[tuple[dict, list[str]]], check_mode: bool) -> list[str]:
    pruned = []
    for obj, _reasons in excess:
        meta = obj["metadata"]
        if client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"], dry_run=check_mode):
            pruned.append(object_key(obj))
    return pruned


def _adoption_report(client: KubeClient, adopted: set[str]) -> dict[str, list[str]]:
    """What each adopted namespace held that Platykus did not write: its Roles and RoleBindings."""
    report: dict[str, list[str]] = {namespace: [] for namespace in sorted(adopted)}
    for kind in ("Role", "RoleBinding"):
        for item in client.list_all(RBAC_API_VERSION, kind):
            meta = item.get("metadata") or {}
            if meta.get("namespace") in adopted and not _is_managed(item):
                report[meta["namespace"]].append(object_key(item))
    return report


def _render_onboarding(
    client: KubeClient, chosen: list[Tenant], adopted: set[str], ingress_namespace: str | None
) -> tuple[list[dict], set[str]]:
    """The tenancy policies, then every chosen tenant's objects (budget-lowered pods limits kept)."""
    enforced = _budget_enforced(client, [namespace for item in chosen for namespace in item.namespaces])
    objects = [obj for item in chosen for obj in render_tenant(item, ingress_namespace, adopted)]
    return render_tenancy_policies() + _leave_enforced_pods(objects, enforced), enforced


def apply_tenants(
    connect: Connect,
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
    overcommit: Mapping | None = None,
    capacity_policy: str = "fail",
    tenant: str | None = None,
    ingress_namespace: str | None = None,
    unmanaged_rbac: str = "prune",
    check_mode: bool = False,
    diff: bool = False,
) -> dict[str, Any]:
    """Onboard or update tenants: every object of each chosen tenant in one server-side apply batch,
    dry-run whole first; then prune Roles/RoleBindings that grant more than tenant-admin."""
    client, chosen, report = _prepare(connect, tenants, plans, platform_namespaces, overcommit, capacity_policy, tenant)
    existing = _after_terminations(client, _namespaces_by_name(client), chosen)
    adopted = _claimed_namespaces(chosen, existing)
    excess = _excess_rbac(client, {ns for item in chosen for ns in item.namespaces if ns in existing})
    if excess and unmanaged_rbac == "fail":
        raise PlatykusError(
            "Failed to apply tenants, nothing was written: tenant namespaces hold RBAC that grants more than "
            "tenant-admin: %s; delete it, or set unmanaged_rbac: prune" % "; ".join(_describe_excess(excess)),
            field="unmanaged_rbac",
        )
    adoption = _adoption_report(client, adopted) if adopted else {}
    objects, enforced = _render_onboarding(client, chosen, adopted, ingress_namespace)
    results = client.apply(objects, dry_run=check_mode, label_selector=MANAGED_SELECTOR)
    pruned = _prune(client, excess, check_mode) if unmanaged_rbac == "prune" else []
    result = _summary_result(results, diff)
    result["changed"] = result["changed"] or bool(pruned)
    result["pruned"] = pruned
    result["excess_rbac"] = _describe_excess(excess)
    result["adopted"] = adoption
    result["budget_enforced"] = sorted(enforced)
    result["tenants"] = [item.to_dict() for item in chosen]
    result["namespaces"] = [namespace for item in chosen for namespace in item.namespaces]
    result["capacity"] = [finding.to_dict() for finding in report.findings]
    result["capacity_warnings"] = report.warnings
    return result


def find_tenant_data(client: KubeClient, namespaces: Iterable[str], workers: int = 8) -> list[str]:
    """Keys of the PVCs and the objects labelled platykus.io/data-service in ``namespaces``."""
    namespaces = set(namespaces)
    if not namespaces:
        return []

    def list_labelled(resource: Any) -> list[str]:
        is_pvc = resource.kind == "PersistentVolumeClaim" and resource.api_version == "v1"
        try:
            items = client.list_all(
                resource.api_version, resource.kind, label_selector=None if is_pvc else DATA_SERVICE_LABEL
            )
        except KubeApiError as err:
            raise PlatykusError("%s; fix access or set force: true" % err) from err
        return [object_key(item) for item in items if (item.get("metadata") or {}).get("namespace") in namespaces]

    try:
        resources = client.namespaced_resources("list")
    except KubeApiError as err:
        raise PlatykusError("%s; fix the API service or set force: true" % err) from err
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = [key for keys in pool.map(list_labelled, resources) for key in keys]
    return sorted(set(found))


def _release_adopted(client: KubeClient, namespaces: list[str], check_mode: bool) -> list[str]:
    """Remove Platykus's objects from adopted namespaces and give the namespaces back.

    Each namespace's own ``default`` ServiceAccount and the namespace itself are kept: applying
    them empty under Platykus's field manager drops only the labels and settings Platykus set.
    """
    removed: list[str] = []
    bare: list[dict] = []
    for namespace in namespaces:
        bare.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for api_version, kind in _NAMESPACED_KINDS:
            for item in client.list_all(api_version, kind, namespace=namespace, label_selector=MANAGED_SELECTOR):
                name = item["metadata"]["name"]
                if kind == "ServiceAccount" and name == "default":
                    bare.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}})
                elif client.delete(api_version, kind, name, namespace, dry_run=check_mode):
                    removed.append(object_key(item))
    results = client.apply(bare, dry_run=check_mode)
    return removed + [result.key for result in results if result.changed]


def _offboard_guards(
    client: KubeClient, tenant: str, names: list[str], confirm: str | None, platform_namespaces: Iterable[str]
) -> None:
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


def offboard_tenant(
    connect: Connect,
    tenant: str,
    confirm: str | None,
    force: bool = False,
    platform_namespaces: Iterable[str] = (),
    check_mode: bool = False,
) -> dict[str, Any]:
    """Delete the namespaces Platykus created for ``tenant`` (label platykus.io/tenant=<tenant>), and
    from namespaces it adopted only its own objects. Nothing else.

    Requires ``confirm == tenant``; refuses while PVCs or data-service objects remain unless ``force``.
    """
    problem = dns_label_problem(tenant, 63)
    if problem:
        raise PlatykusError("tenant: %s" % problem, field="tenant")
    client = connect()
    namespaces = client.list_all("v1", "Namespace", label_selector=tenant_selector(tenant))
    names = sorted(ns["metadata"]["name"] for ns in namespaces)
    if not names:
        return {"changed": False, "deleted": [], "released": [], "terminating": [], "blockers": []}
    _offboard_guards(client, tenant, names, confirm, platform_namespaces)
    adopted = sorted(
        ns["metadata"]["name"]
        for ns in namespaces
        if ((ns.get("metadata") or {}).get("annotations") or {}).get(ADOPTED_ANNOTATION) == "true"
    )
    owned = [name for name in names if name not in adopted]
    blockers = find_tenant_data(client, owned)
    if blockers and not force:
        raise PlatykusError(
            "Failed to offboard tenant '%s': it still holds data: %s; back it up and delete it, or set force: true"
            % (tenant, ", ".join(blockers)),
            field="force",
        )
    terminating = [ns["metadata"]["name"] for ns in namespaces if (ns.get("metadata") or {}).get("deletionTimestamp")]
    to_delete = [name for name in owned if name not in terminating]
    deleted = [name for name in to_delete if client.delete("v1", "Namespace", name, dry_run=check_mode)]
    released = _release_adopted(client, adopted, check_mode)
    return {
        "changed": bool(deleted or released),
        "deleted": ["Namespace/%s" % name for name in deleted],
        "released": released,
        "terminating": sorted(terminating),
        "blockers": blockers,
    }
