# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a validated tenant's Kubernetes objects as plain dicts, in a fixed order.

Per environment namespace: Namespace, ServiceAccounts, Roles, RoleBindings, NetworkPolicies,
ResourceQuota, LimitRange. Every namespace always gets the same set of objects (an allow
policy with nothing to allow is rendered empty rather than left out), so switching a setting
off changes an object instead of leaving a stale one behind.

The Roles are written out resource by resource. Tenants get no RBAC writes, no
escalate/bind/impersonate, no wildcards, no ``serviceaccounts/token``, no cluster-scoped
access and no writes on resourcequotas, limitranges, networkpolicies or namespaces: the
platform owns those. Endpoints/EndpointSlices are read-only (writing them can point a Service
at another tenant's pods, CVE-2021-25740), and DaemonSets are read-only (one pod per node is
not a tenant's call on a shared cluster).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import render_addon_policies
from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import render_hostname_policy
from ansible_collections.platykus.platform.plugins.module_utils._admission.workloads import (
    priority_annotations,
    priority_quota_spec,
    render_workload_policies,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.domains import namespace_annotations
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADMISSION_API_VERSION,
    ADOPTED_ANNOTATION,
    CI_SERVICE_ACCOUNT,
    COST_CENTER_LABEL,
    DISPLAY_NAME_ANNOTATION,
    ENVIRONMENT_LABEL,
    LIMITS_NAME,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    NETWORKING_API_VERSION,
    PLAN_LABEL,
    PRIORITY_QUOTA_NAME,
    QUOTA_NAME,
    RBAC_API_VERSION,
    ROLE_NAMES,
    SA_TOKEN_POLICY_NAME,
    SA_TOKEN_SECRET_TYPE,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import format_quantity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import TENANT_READ, TENANT_WRITE
from ansible_collections.platykus.platform.plugins.module_utils._tenants.plans import NamespaceQuota
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Environment, Tenant

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
# Never granted to a tenant; the unit tests and the audit hold the Roles to this.
FORBIDDEN_VERBS = ("escalate", "bind", "impersonate", "*")
FORBIDDEN_WRITE_RESOURCES = (
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "namespaces",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "serviceaccounts/token",
    "endpoints",
    "endpointslices",
)

# (apiGroup, resources) a viewer may read.
_VIEW = (
    (
        "",
        (
            "configmaps",
            "endpoints",
            "events",
            "limitranges",
            "persistentvolumeclaims",
            "pods",
            "pods/log",
            "replicationcontrollers",
            "resourcequotas",
            "serviceaccounts",
            "services",
        ),
    ),
    ("apps", ("daemonsets", "deployments", "replicasets", "statefulsets")),
    ("autoscaling", ("horizontalpodautoscalers",)),
    ("batch", ("cronjobs", "jobs")),
    ("coordination.k8s.io", ("leases",)),
    ("discovery.k8s.io", ("endpointslices",)),
    ("events.k8s.io", ("events",)),
    ("networking.k8s.io", ("ingresses", "networkpolicies")),
    ("policy", ("poddisruptionbudgets",)),
)
# (apiGroup, resources) a developer may also write.
_DEVELOP = (
    ("", ("configmaps", "persistentvolumeclaims", "pods", "replicationcontrollers", "secrets", "services")),
    ("apps", ("deployments", "replicasets", "statefulsets")),
    ("apps", ("deployments/scale", "replicasets/scale", "statefulsets/scale")),
    ("autoscaling", ("horizontalpodautoscalers",)),
    ("batch", ("cronjobs", "jobs")),
    ("coordination.k8s.io", ("leases",)),
    ("networking.k8s.io", ("ingresses",)),
    ("policy", ("poddisruptionbudgets",)),
)


def _rule(group: str, resources: tuple[str, ...], verbs: tuple[str, ...]) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}


def role_rules(role: str) -> list[dict[str, Any]]:
    """The PolicyRules of ``tenant-<role>`` (admin, developer or viewer), explicit and least-privilege."""
    rules = [_rule(group, resources, READ) for group, resources in _VIEW + TENANT_READ]
    if role == "viewer":
        return rules
    rules += [_rule(group, resources, READ_WRITE) for group, resources in _DEVELOP + TENANT_WRITE]
    rules += [
        _rule("", ("pods/exec", "pods/portforward"), ("create", "get")),
        _rule("", ("pods/eviction",), ("create",)),
    ]
    if role == "developer":
        return rules
    if role != "admin":
        raise ValueError("unknown tenant role %r" % role)
    # The admin also manages service accounts (without minting tokens for them) and may read
    # who has access; people are granted roles through the owner groups in the tenant spec.
    rules += [
        _rule("", ("serviceaccounts",), WRITE),
        _rule("rbac.authorization.k8s.io", ("rolebindings", "roles"), READ),
    ]
    return rules


def _labels(tenant: Tenant, env: Environment) -> dict[str, str]:
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: tenant.name, ENVIRONMENT_LABEL: env.name}
    if tenant.cost_center:
        labels[COST_CENTER_LABEL] = tenant.cost_center
    return labels


def _meta(tenant: Tenant, env: Environment, name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = env.namespace
    meta["labels"] = _labels(tenant, env)
    return meta


def render_namespace(tenant: Tenant, env: Environment, adopted: bool = False) -> dict[str, Any]:
    meta = _meta(tenant, env, env.namespace, namespaced=False)
    labels = dict(tenant.labels)
    labels.update(meta["labels"])
    labels[PLAN_LABEL] = tenant.plan
    for mode in ("enforce", "audit", "warn"):
        labels["pod-security.kubernetes.io/%s" % mode] = tenant.pod_security
        labels["pod-security.kubernetes.io/%s-version" % mode] = "latest"
    meta["labels"] = dict(sorted(labels.items()))
    meta["annotations"] = {DISPLAY_NAME_ANNOTATION: tenant.display_name}
    if adopted:
        meta["annotations"][ADOPTED_ANNOTATION] = "true"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def render_service_accounts(tenant: Tenant, env: Environment) -> list[dict[str, Any]]:
    """``default`` with token automounting off (CIS 5.1.5) and ``ci-deployer`` for pipelines."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(tenant, env, name),
            "automountServiceAccountToken": False,
        }
        for name in ("default", CI_SERVICE_ACCOUNT)
    ]


def render_roles(tenant: Tenant, env: Environment) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": RBAC_API_VERSION,
            "kind": "Role",
            "metadata": _meta(tenant, env, ROLE_NAMES[role]),
            "rules": role_rules(role),
        }
        for role in ("admin", "developer", "viewer")
    ]


def render_role_bindings(tenant: Tenant, env: Environment) -> list[dict[str, Any]]:
    """One binding per role to its owner groups (rendered even with no groups, so removals apply)."""
    bindings = []
    for role in ("admin", "developer", "viewer"):
        subjects = [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
            for group in tenant.owners.get(role, ())
        ]
        bindings.append(
            {
                "apiVersion": RBAC_API_VERSION,
                "kind": "RoleBinding",
                "metadata": _meta(tenant, env, ROLE_NAMES[role]),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAMES[role]},
                "subjects": subjects,
            }
        )
    bindings.append(
        {
            "apiVersion": RBAC_API_VERSION,
            "kind": "RoleBinding",
            "metadata": _meta(tenant, env, CI_SERVICE_ACCOUNT),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAMES["developer"]},
            "subjects": [{"kind": "ServiceAccount", "name": CI_SERVICE_ACCOUNT, "namespace": env.namespace}],
        }
    )
    return bindings


def _policy(tenant: Tenant, env: Environment, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": NETWORKING_API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": _meta(tenant, env, name),
        "spec": dict({"podSelector": {}}, **spec),
    }


def render_network_policies(tenant: Tenant, env: Environment, ingress_namespace: str | None) -> list[dict[str, Any]]:
    """Default deny both ways, then allow DNS, the tenant's own namespaces, the ingress controller
    (when ``allow_from_ingress`` and an ingress namespace is given) and the extra egress CIDRs."""
    same_tenant = [{"namespaceSelector": {"matchLabels": {TENANT_LABEL: tenant.name}}}]
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    from_ingress: dict[str, Any] = {"policyTypes": ["Ingress"]}
    if tenant.allow_from_ingress and ingress_namespace:
        from_ingress["ingress"] = [
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ingress_namespace}}}]}
        ]
    egress_cidrs: dict[str, Any] = {"policyTypes": ["Egress"]}
    if tenant.egress_cidrs:
        egress_cidrs["egress"] = [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in tenant.egress_cidrs]}]
    return [
        _policy(tenant, env, "default-deny", {"policyTypes": ["Ingress", "Egress"]}),
        _policy(
            tenant,
            env,
            "allow-dns",
            {
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": dns_ports,
                    }
                ],
            },
        ),
        _policy(
            tenant,
            env,
            "allow-same-tenant",
            {"policyTypes": ["Ingress", "Egress"], "ingress": [{"from": same_tenant}], "egress": [{"to": same_tenant}]},
        ),
        _policy(tenant, env, "allow-from-ingress", from_ingress),
        _policy(tenant, env, "allow-egress-cidrs", egress_cidrs),
    ]


def quota_hard(quota: NamespaceQuota) -> dict[str, str]:
    """The ResourceQuota ``spec.hard`` of one namespace."""
    return {
        "requests.cpu": format_quantity(quota.cpu, "cpu"),
        "requests.memory": format_quantity(quota.memory, "bytes"),
        "limits.cpu": format_quantity(quota.limits_cpu, "cpu"),
        "limits.memory": format_quantity(quota.limits_memory, "bytes"),
        "requests.storage": format_quantity(quota.storage, "bytes"),
        "pods": str(quota.pods),
        "count/services": str(quota.services),
        "services.loadbalancers": str(quota.services_loadbalancers),
        "services.nodeports": str(quota.services_nodeports),
        "persistentvolumeclaims": str(quota.persistentvolumeclaims),
        "count/configmaps": str(quota.configmaps),
        "count/secrets": str(quota.secrets),
    }


def container_limits(quota: NamespaceQuota) -> dict[str, Any]:
    """The LimitRange item for containers: default limits and requests, and max when set."""
    item: dict[str, Any] = {
        "type": "Container",
        "default": {
            "cpu": format_quantity(quota.default_limit_cpu, "cpu"),
            "memory": format_quantity(quota.default_limit_memory, "bytes"),
        },
        "defaultRequest": {
            "cpu": format_quantity(quota.default_request_cpu, "cpu"),
            "memory": format_quantity(quota.default_request_memory, "bytes"),
        },
    }
    maximum = {}
    if quota.max_limit_cpu is not None:
        maximum["cpu"] = format_quantity(quota.max_limit_cpu, "cpu")
    if quota.max_limit_memory is not None:
        maximum["memory"] = format_quantity(quota.max_limit_memory, "bytes")
    if maximum:
        item["max"] = maximum
    return item


def render_quota_objects(tenant: Tenant, env: Environment) -> list[dict[str, Any]]:
    """ResourceQuota ``tenant-quota`` and LimitRange ``tenant-limits`` of one namespace."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta(tenant, env, QUOTA_NAME),
            "spec": {"hard": quota_hard(env.quota)},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": _meta(tenant, env, LIMITS_NAME),
            "spec": {"limits": [container_limits(env.quota)]},
        },
    ]


def render_environment(
    tenant: Tenant, env: Environment, ingress_namespace: str | None, adopted: bool = False
) -> list[dict[str, Any]]:
    """Every object of one environment namespace, Namespace first."""
    namespace = render_namespace(tenant, env, adopted)
    namespace["metadata"]["annotations"].update(namespace_annotations(tenant.domains))  # apps: hostname ownership
    namespace["metadata"]["annotations"].update(priority_annotations(tenant.priority_classes))  # scheduling
    return (
        [namespace]
        + render_service_accounts(tenant, env)
        + render_roles(tenant, env)
        + render_role_bindings(tenant, env)
        + render_network_policies(tenant, env, ingress_namespace)
        + render_quota_objects(tenant, env)
        + [render_priority_quota(tenant, env)]
    )


def render_priority_quota(tenant: Tenant, env: Environment) -> dict[str, Any]:
    """Scheduling: a ResourceQuota of zero pods for any PriorityClass the plan does not allow (_admission.workloads)."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(tenant, env, PRIORITY_QUOTA_NAME),
        "spec": priority_quota_spec(tenant.priority_classes),
    }


def render_tenant(
    tenant: Tenant, ingress_namespace: str | None = None, adopted: frozenset[str] | set[str] = frozenset()
) -> list[dict[str, Any]]:
    """Every object of a tenant, environment by environment in spec order; ``adopted`` namespaces
    are marked so offboarding leaves them (and what was in them before) in place."""
    objects: list[dict[str, Any]] = []
    for env in tenant.environments:
        objects.extend(render_environment(tenant, env, ingress_namespace, env.namespace in adopted))
    return objects


def render_tenancy_policies() -> list[dict[str, Any]]:
    """Cluster-wide admission policy (CEL, no webhook) shared by every tenant namespace.

    Tenant developers may write Secrets, and a Secret of type kubernetes.io/service-account-token
    is filled by the token controller with a token that never expires: that would hand a person
    the CI ServiceAccount's rights for good, around the ban on ``serviceaccounts/token``. The policy
    refuses creating such Secrets in any namespace labelled platykus.io/tenant. Only CREATE is
    matched: a Secret's type is immutable, and the token controller must still update old ones.
    """
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    policy = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": SA_TOKEN_POLICY_NAME, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["secrets"]}
                ]
            },
            "validations": [
                {
                    "expression": "!has(object.type) || object.type != '%s'" % SA_TOKEN_SECRET_TYPE,
                    "reason": "Forbidden",
                    "message": "tenant namespaces may not hold long-lived ServiceAccount token Secrets "
                    "(type %s); request a short-lived token from your platform team" % SA_TOKEN_SECRET_TYPE,
                }
            ],
        },
    }
    binding = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": SA_TOKEN_POLICY_NAME, "labels": labels},
        "spec": {
            "policyName": SA_TOKEN_POLICY_NAME,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
            },
        },
    }
    # apps: hostnames under the tenant's domains; add-ons: their connection Secrets are the platform's
    # scheduling and Services: the tenant PriorityClasses and their policies (_admission.workloads)
    return [policy, binding] + render_hostname_policy() + render_addon_policies() + render_workload_policies()


def render_tenant_quotas(tenant: Tenant) -> list[dict[str, Any]]:
    """Only the ResourceQuota and LimitRange of each of the tenant's namespaces."""
    objects: list[dict[str, Any]] = []
    for env in tenant.environments:
        objects.extend(render_quota_objects(tenant, env))
    return objects
