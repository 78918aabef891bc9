# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects isolation rests on, as the API server holds them: one function per concern.

Per tenant namespace: the Namespace's labels (Pod Security, tenant), the default-deny
NetworkPolicy, the ResourceQuota and LimitRange, the RoleBindings and Roles, the ServiceAccounts.
Per tenant: the ClusterRoleBindings that name its groups or service accounts. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.platykus.platform.plugins.module_utils._audit.report import (
    Check,
    Scope,
    fetched,
    listed,
    summarize,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    CI_SERVICE_ACCOUNT,
    TENANT_LABEL,
    TENANT_ROLES,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.rbac import binding_excess
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import role_rules
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
# Every grant a tenant holds through Platykus; any RoleBinding in a tenant namespace beyond it
# was added by hand (MTB-1.11).
TENANT_GRANTS = [rule for role in TENANT_ROLES for rule in role_rules(role)]
QUOTA_MUST_CAP = {"requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods"}
# Referring to these from a tenant namespace hands out serviceaccount impersonation, token
# creation and RBAC writes, whatever the tenant roles say.
BUILTIN_CLUSTER_ROLES = ("admin", "edit")


@dataclass
class Listing:
    """Objects of one kind in one namespace, or why they could not be read."""

    items: list[dict]
    error: str | None

    @classmethod
    def of(cls, client: KubeClient, api_version: str, kind: str, namespace: str) -> Listing:
        return cls(*listed(client, api_version, kind, namespace))

    def names(self) -> str:
        return ", ".join(sorted(item["metadata"]["name"] for item in self.items))

    def check(self, scope: Scope, check_id: str, description: str, ok: bool, detail: str) -> Check:
        """A check on these objects; it fails, saying why, when they could not be read."""
        return scope.check(check_id, description, self.error is None and ok, self.error or detail)


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


# -- the Namespace ------------------------------------------------------------------------------


def namespace_label_checks(scope: Scope, tenant: Tenant, namespace: dict) -> list[Check]:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    enforce = labels.get("pod-security.kubernetes.io/enforce")
    return [
        scope.check(
            "CIS-5.2.1",
            "Pod Security Admission enforces baseline or restricted",
            enforce in ("baseline", "restricted"),
            "enforce=%s (spec asks for %s)" % (enforce or "(unset)", tenant.pod_security),
        ),
        scope.check(
            "MTB-0.2",
            "namespace is labelled for its tenant",
            labels.get(TENANT_LABEL) == tenant.name,
            "%s=%s" % (TENANT_LABEL, labels.get(TENANT_LABEL) or "(unset)"),
        ),
    ]


# -- NetworkPolicy, ResourceQuota, LimitRange ----------------------------------------------------


def _default_deny(policies: list[dict]) -> bool:
    for policy in policies:
        spec = policy.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if selector.get("matchLabels") or selector.get("matchExpressions"):
            continue
        if (
            set(spec.get("policyTypes") or []) >= {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return True
    return False


def network_policy_check(scope: Scope, policies: Listing) -> Check:
    return policies.check(
        scope,
        "CIS-5.3.2",
        "a default-deny NetworkPolicy (ingress and egress) is in place",
        _default_deny(policies.items),
        "%d NetworkPolicies: %s" % (len(policies.items), policies.names()),
    )


def quota_check(scope: Scope, quotas: Listing) -> Check:
    covered: set[str] = set()
    for quota in quotas.items:
        covered |= set(((quota.get("spec") or {}).get("hard") or {}).keys())
    missing = sorted(QUOTA_MUST_CAP - covered)
    detail = "missing %s" % ", ".join(missing) if missing else "capped by %d ResourceQuota(s)" % len(quotas.items)
    return quotas.check(scope, "MTB-3.1", "a ResourceQuota caps cpu, memory and pods", not missing, detail)


def limit_range_check(scope: Scope, ranges: Listing) -> Check:
    has_defaults = any(
        item.get("type") == "Container" and item.get("default") and item.get("defaultRequest")
        for limit_range in ranges.items
        for item in (limit_range.get("spec") or {}).get("limits") or []
    )
    return ranges.check(
        scope, "MTB-3.2", "a LimitRange sets container defaults", has_defaults, "%d LimitRange(s)" % len(ranges.items)
    )


# -- RoleBindings and Roles ---------------------------------------------------------------------


def _cluster_role_refs(bindings: list[dict], names: tuple[str, ...]) -> list[dict]:
    return [
        b
        for b in bindings
        if (b.get("roleRef") or {}).get("kind") == "ClusterRole" and b["roleRef"].get("name") in names
    ]


def cluster_admin_binding_check(scope: Scope, bindings: Listing) -> Check:
    bound = [_name(b) for b in _cluster_role_refs(bindings.items, ("cluster-admin",))]
    detail = "bound by %s" % ", ".join(bound) if bound else "%d RoleBindings checked" % len(bindings.items)
    return bindings.check(scope, "CIS-5.1.1", "no RoleBinding grants cluster-admin", not bound, detail)


def builtin_binding_check(scope: Scope, bindings: Listing) -> Check:
    # By name as well as by content (MTB-1.11): these roles aggregate, so what they grant grows.
    found = [
        "%s -> %s" % (_name(b), b["roleRef"]["name"]) for b in _cluster_role_refs(bindings.items, BUILTIN_CLUSTER_ROLES)
    ]
    return bindings.check(
        scope,
        "MTB-1.10",
        "no RoleBinding uses the built-in admin or edit ClusterRoles",
        not found,
        ", ".join(found) or "none",
    )


def _referenced_cluster_roles(client: KubeClient, bindings: list[dict]) -> tuple[dict[str, dict], list[str]]:
    names = {b["roleRef"]["name"] for b in bindings if (b.get("roleRef") or {}).get("kind") == "ClusterRole"}
    found: dict[str, dict] = {}
    errors = []
    for name in sorted(names):
        role, error = fetched(client, RBAC_API_VERSION, "ClusterRole", name)
        if role is not None:
            found[name] = role
        if error:
            errors.append(error)
    return found, errors


def _first(grants: list[str], shown: int = 3) -> str:
    # The built-in admin ClusterRole alone exceeds the tenant roles by a hundred grants.
    more = len(grants) - shown
    return ", ".join(grants[:shown]) + (" and %d more" % more if more > 0 else "")


def binding_excess_check(client: KubeClient, scope: Scope, bindings: Listing, roles: Listing) -> Check:
    """Every RoleBinding, resolved to its rules, grants nothing the tenant roles do not."""
    cluster_roles, errors = _referenced_cluster_roles(client, bindings.items)
    errors += [error for error in (bindings.error, roles.error) if error]
    by_name = {_name(role): role for role in roles.items}
    excess = [
        "%s grants %s" % (_name(binding), _first(grants))
        for binding in bindings.items
        for grants in [binding_excess(binding, by_name, cluster_roles, TENANT_GRANTS)]
        if grants
    ]
    detail = summarize(errors + excess) or "%d RoleBindings within the tenant roles" % len(bindings.items)
    return scope.check(
        "MTB-1.11", "no RoleBinding grants more than the tenant roles", not errors and not excess, detail
    )


def _wildcards(roles: list[dict]) -> list[str]:
    found = []
    for role in roles:
        for rule in role.get("rules") or []:
            for key in ("verbs", "resources", "apiGroups"):
                if "*" in (rule.get(key) or []):
                    found.append("Role %s has '*' in %s" % (_name(role), key))
    return sorted(set(found))


def role_wildcard_check(scope: Scope, roles: Listing) -> Check:
    wildcards = _wildcards(roles.items)
    return roles.check(
        scope,
        "CIS-5.1.3",
        "no wildcards in Roles",
        not wildcards,
        summarize(wildcards) if wildcards else "%d Roles checked" % len(roles.items),
    )


# -- ServiceAccounts ----------------------------------------------------------------------------


def _default_bound(bindings: list[dict], namespace: str) -> list[str]:
    return [
        _name(b)
        for b in bindings
        for s in b.get("subjects") or []
        if s.get("kind") == "ServiceAccount"
        and s.get("name") == "default"
        and s.get("namespace", namespace) == namespace
    ]


def default_service_account_check(scope: Scope, account: dict | None, bindings: Listing) -> Check:
    problems = []
    if account is None or account.get("automountServiceAccountToken") is not False:
        problems.append("default ServiceAccount automounts its token")
    bound = _default_bound(bindings.items, scope.namespace)
    if bound:
        problems.append("default ServiceAccount is bound by %s" % ", ".join(bound))
    return scope.check(
        "CIS-5.1.5",
        "the default ServiceAccount is not used",
        not problems,
        "; ".join(problems) or "automount off, no bindings",
    )


def ci_service_account_check(scope: Scope, account: dict | None) -> Check:
    if account is None:
        detail = "%s missing" % CI_SERVICE_ACCOUNT
    else:
        detail = "%s automountServiceAccountToken=%s" % (
            CI_SERVICE_ACCOUNT,
            account.get("automountServiceAccountToken"),
        )
    return scope.check(
        "CIS-5.1.6",
        "ServiceAccount tokens are only mounted where needed",
        account is not None and account.get("automountServiceAccountToken") is False,
        detail,
    )


def service_account_checks(client: KubeClient, scope: Scope, bindings: Listing) -> list[Check]:
    # A ServiceAccount that cannot be read counts as missing: both checks then fail.
    default, _error = fetched(client, "v1", "ServiceAccount", "default", scope.namespace)
    ci, _error = fetched(client, "v1", "ServiceAccount", CI_SERVICE_ACCOUNT, scope.namespace)
    return [default_service_account_check(scope, default, bindings), ci_service_account_check(scope, ci)]


# -- one namespace, one tenant ------------------------------------------------------------------


def namespace_object_checks(client: KubeClient, tenant: Tenant, scope: Scope, namespace: dict) -> list[Check]:
    """Every object check of one existing tenant namespace."""
    name = scope.namespace
    bindings = Listing.of(client, RBAC_API_VERSION, "RoleBinding", name)
    roles = Listing.of(client, RBAC_API_VERSION, "Role", name)
    return (
        namespace_label_checks(scope, tenant, namespace)
        + [
            network_policy_check(scope, Listing.of(client, "networking.k8s.io/v1", "NetworkPolicy", name)),
            quota_check(scope, Listing.of(client, "v1", "ResourceQuota", name)),
            limit_range_check(scope, Listing.of(client, "v1", "LimitRange", name)),
            cluster_admin_binding_check(scope, bindings),
            builtin_binding_check(scope, bindings),
            binding_excess_check(client, scope, bindings, roles),
            role_wildcard_check(scope, roles),
        ]
        + service_account_checks(client, scope, bindings)
    )


def _tenant_subject(subject: dict, groups: set[str], namespaces: list[str]) -> bool:
    kind = subject.get("kind")
    return (kind == "Group" and subject.get("name") in groups) or (
        kind == "ServiceAccount" and subject.get("namespace") in namespaces
    )


def cluster_binding_checks(client: KubeClient, tenants: list[Tenant]) -> list[Check]:
    """Per tenant: no ClusterRoleBinding names its owner groups or its ServiceAccounts."""
    bindings, error = listed(client, RBAC_API_VERSION, "ClusterRoleBinding")
    checks = []
    for tenant in tenants:
        groups = {group for role in TENANT_ROLES for group in tenant.owners.get(role, ())}
        found = sorted(
            "%s binds %s %s to ClusterRole %s" % (_name(b), s["kind"], s["name"], b["roleRef"]["name"])
            for b in bindings
            for s in b.get("subjects") or []
            if _tenant_subject(s, groups, list(tenant.namespaces))
        )
        detail = error or (summarize(found) if found else "%d ClusterRoleBindings checked" % len(bindings))
        checks.append(
            Scope(tenant.name).check(
                "CIS-5.1.1",
                "no ClusterRoleBinding names the tenant's groups or service accounts",
                not (error or found),
                detail,
            )
        )
    return checks
