# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-on connection Secrets are the platform's: a ValidatingAdmissionPolicy (CEL, no webhook).

Tenant developers may write Secrets in their namespaces (their apps need them), which would let
them edit or delete an add-on's connection Secret: a Secret whose password no longer matches the
server, or an add-on that still runs (and is charged) with no Secret. In every namespace labelled
platykus.io/tenant, the policy refuses UPDATE and DELETE of Secrets carrying ADDON_LABEL (on the
Secret as stored, so removing the label is refused too) unless the request comes from the
platform: a member of PLATFORM_WRITER_GROUPS, anyone RBAC lets `manage` addons.platykus.io in
that namespace (cluster-admin does), or a control-plane controller (the namespace controller when
a tenant is offboarded, the garbage collector). Create, resize, rotation and
destroy (the addon module, as the platform's identity) are unaffected; tenants still read them.

The audit (ADDON-1, next to the token policy's MTB-1.12) compares what the API server holds with
:func:`render_addon_secret_policy`.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
    ADDON_SECRET_PREFIX,
    EXTERNAL_SECRETS_USER,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_WRITER_GROUPS,
    TENANT_LABEL,
)

API_VERSION = "admissionregistration.k8s.io/v1"
# The control plane's controllers: kube-controller-manager's per-controller ServiceAccounts
# (--use-service-account-credentials) or its own user when it runs without them.
CONTROLLER_USER_PREFIX = "system:serviceaccount:kube-system:"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"

_IS_ADDON_SECRET = "has(oldObject.metadata.labels) && '%s' in oldObject.metadata.labels" % ADDON_LABEL
# Who else counts as the platform: whoever RBAC lets `manage` the virtual resource
# addons.platykus.io in the namespace. cluster-admin (`*` on `*`) has it, so an EKS creator or an
# access entry with AmazonEKSClusterAdminPolicy passes without being mapped to a group; tenant
# roles never grant it, and RBAC's escalation check keeps a tenant admin from granting it.
MANAGE_API_GROUP = "platykus.io"
MANAGE_RESOURCE = "addons"
MANAGE_VERB = "manage"
_IS_PLATFORM = (
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
# external-secrets' controller writes the Secrets of the aws provider's add-on ExternalSecrets
# (creation, refresh after a rotation): it may, since tenants can neither change those
# ExternalSecrets nor make one that targets an add-on Secret (the companion policy below).
_IS_PLATFORM_OR_ESO = "%s || request.userInfo.username == '%s'" % (_IS_PLATFORM, EXTERNAL_SECRETS_USER)
EXTERNAL_SECRETS_GROUP = "external-secrets.io"
_ES_VARIABLES = [
    {
        "name": "target",
        "expression": "object == null ? '' : (has(object.spec.target) && has(object.spec.target.name) "
        "? object.spec.target.name : object.metadata.name)",
    },
    {
        "name": "platformOwned",
        "expression": "oldObject != null && has(oldObject.metadata.labels) && '%s' in oldObject.metadata.labels"
        % ADDON_LABEL,
    },
]
ES_MESSAGE = (
    "add-on ExternalSecrets (label %s) and the Secrets named %s* belong to the platform: tenants cannot change "
    "or delete them, nor make an ExternalSecret that writes one; name your ExternalSecret's target otherwise"
    % (ADDON_LABEL, ADDON_SECRET_PREFIX)
)
MESSAGE = (
    "add-on connection Secrets (label %s) belong to the platform: tenants cannot change or delete them; "
    "rotate the password with playbooks/addon-rotate.yml, destroy the add-on with playbooks/addon-destroy.yml"
    % ADDON_LABEL
)


def render_addon_secret_policy() -> list[dict[str, Any]]:
    """The policy and its binding (Deny in every tenant namespace)."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    policy = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": ADDON_SECRET_POLICY_NAME, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE", "DELETE"],
                        "resources": ["secrets"],
                    }
                ]
            },
            "matchConditions": [{"name": "addon-secret", "expression": _IS_ADDON_SECRET}],
            "validations": [{"expression": _IS_PLATFORM_OR_ESO, "reason": "Forbidden", "message": MESSAGE}],
        },
    }
    return [policy, _binding(ADDON_SECRET_POLICY_NAME)]


def render_addon_externalsecret_policy() -> list[dict[str, Any]]:
    """The ExternalSecret companion and its binding: only the platform changes or deletes an add-on's
    ExternalSecret (label on the stored object) or makes one whose target is an add-on Secret name."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    rule = {
        "apiGroups": [EXTERNAL_SECRETS_GROUP],
        "apiVersions": ["*"],
        "operations": ["CREATE", "UPDATE", "DELETE"],
        "resources": ["externalsecrets"],
    }
    policy = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": ADDON_EXTERNALSECRET_POLICY_NAME, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [rule]},
            "variables": _ES_VARIABLES,
            "validations": [
                {
                    "expression": "%s || (!variables.platformOwned && !variables.target.startsWith('%s'))"
                    % (_IS_PLATFORM_OR_ESO, ADDON_SECRET_PREFIX),
                    "reason": "Forbidden",
                    "message": ES_MESSAGE,
                }
            ],
        },
    }
    return [policy, _binding(ADDON_EXTERNALSECRET_POLICY_NAME)]


def _binding(name: str) -> dict[str, Any]:
    """Deny in every namespace labelled TENANT_LABEL."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
            },
        },
    }


def render_addon_policies() -> list[dict[str, Any]]:
    """Both policies and their bindings, as onboarding applies them."""
    return render_addon_secret_policy() + render_addon_externalsecret_policy()
