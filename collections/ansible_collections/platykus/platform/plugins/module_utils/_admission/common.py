# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every tenant admission policy shares: who counts as the platform, and the shapes of a
policy, its resource rules and its binding (Deny in every namespace labelled TENANT_LABEL).

A policy family is one module beside this one (``render_*() -> [policy, binding, ...]`` and the
attacks it must refuse) and one entry in :data:`_audit.policies.REGISTRY`.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADMISSION_API_VERSION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_WRITER_GROUPS,
    TENANT_LABEL,
)

# The control plane's controllers: kube-controller-manager's per-controller ServiceAccounts
# (--use-service-account-credentials) or its own user when it runs without them.
CONTROLLER_USER_PREFIX = "system:serviceaccount:kube-system:"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
# Who else counts as the platform: whoever RBAC lets `manage` the virtual resource
# addons.platykus.io in the namespace. cluster-admin (`*` on `*`) has it, so an EKS creator or an
# access entry with AmazonEKSClusterAdminPolicy passes without being mapped to a group; tenant
# roles never grant it, and RBAC's escalation check keeps a tenant admin from granting it.
MANAGE_API_GROUP = "platykus.io"
MANAGE_RESOURCE = "addons"
MANAGE_VERB = "manage"
# CEL: the request comes from the platform (a member of PLATFORM_WRITER_GROUPS, a control-plane
# controller, or anyone allowed to manage addons.platykus.io in the namespace).
IS_PLATFORM_REQUEST = (
    "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in [%s])) "
    "|| request.userInfo.username.startsWith('%s') || request.userInfo.username == '%s' "
    "|| authorizer.group('%s').resource('%s').namespace(request.namespace).check('%s').allowed()"
    % (
        ", ".join("'%s'" % g for g in PLATFORM_WRITER_GROUPS),
        CONTROLLER_USER_PREFIX,
        CONTROLLER_MANAGER_USER,
        MANAGE_API_GROUP,
        MANAGE_RESOURCE,
        MANAGE_VERB,
    )
)


def managed_labels() -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE}


def tenant_namespaces() -> dict[str, Any]:
    """The namespaceSelector of every tenant namespace."""
    return {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}


def resource_rule(
    group: str, resources: list[str], operations: list[str] | tuple[str, ...], versions: tuple[str, ...] = ("v1",)
) -> dict[str, Any]:
    """The resources a policy matches (``versions``: ``*`` for CRDs whose versions move)."""
    return {
        "apiGroups": [group],
        "apiVersions": list(versions),
        "operations": list(operations),
        "resources": resources,
    }


def render_policy(
    name: str,
    rules: list[dict[str, Any]],
    validations: list[dict[str, Any]],
    variables: list[dict[str, Any]] | None = None,
    match_conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ValidatingAdmissionPolicy that fails closed (``variables``/``match_conditions`` only when given)."""
    spec: dict[str, Any] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": rules}}
    if match_conditions is not None:
        spec["matchConditions"] = match_conditions
    if variables is not None:
        spec["variables"] = variables
    spec["validations"] = validations
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": managed_labels()},
        "spec": spec,
    }


def render_binding(name: str) -> dict[str, Any]:
    """The binding of policy ``name``: Deny in every namespace labelled TENANT_LABEL."""
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": managed_labels()},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": tenant_namespaces()},
        },
    }
