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

from collections.abc import Iterable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons import SECRET_PREFIX
from ansible_collections.platykus.platform.plugins.module_utils._app_audit import binding_problems
from ansible_collections.platykus.platform.plugins.module_utils._audit_report import Check, Scope, fetched, summarize
from ansible_collections.platykus.platform.plugins.module_utils._kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
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
CHECK_ID = "ADDON-1"
DESCRIPTION = "admission policies refuse tenant changes to add-on connection Secrets and their ExternalSecrets"

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
    % (ADDON_LABEL, SECRET_PREFIX)
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
                    % (_IS_PLATFORM_OR_ESO, SECRET_PREFIX),
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


def _rules(rules: list | None) -> list[tuple]:
    """The resource rules without the API server's defaults (scope)."""
    keys = ("apiGroups", "apiVersions", "operations", "resources")
    return sorted(tuple(tuple(sorted(rule.get(key) or [])) for key in keys) for rule in rules or [])


def _rules_text(rules: list) -> str:
    """``UPDATE and DELETE of secrets``: what a policy's rules match, for a problem's text."""
    return "; ".join("%s of %s" % (" and ".join(rule["operations"]), ", ".join(rule["resources"])) for rule in rules)


def addon_policy_problems(
    policy: dict | None, binding: dict | None, wanted: list[dict[str, Any]] | None = None
) -> list[str]:
    """What keeps a policy (the Secret one unless ``wanted`` renders another) from refusing tenant
    changes in every tenant namespace."""
    want_policy, want_binding = wanted or render_addon_secret_policy()
    name = want_policy["metadata"]["name"]
    problems = []
    if policy is None:
        problems.append("ValidatingAdmissionPolicy %s does not exist" % name)
    else:
        spec, want = policy.get("spec") or {}, want_policy["spec"]
        for key in ("matchConditions", "variables", "validations"):
            if spec.get(key) != want.get(key):
                problems.append("ValidatingAdmissionPolicy %s does not hold the platform's %s" % (name, key))
        match = spec.get("matchConstraints") or {}
        wanted_rules = want["matchConstraints"]["resourceRules"]
        if _rules(match.get("resourceRules")) != _rules(wanted_rules):
            problems.append("ValidatingAdmissionPolicy %s does not match %s" % (name, _rules_text(wanted_rules)))
        if match.get("objectSelector") or match.get("excludeResourceRules") or match.get("namespaceSelector"):
            problems.append("the policy's matchConstraints leave objects out (a selector or excludeResourceRules)")
        if spec.get("failurePolicy") == "Ignore":
            problems.append("failurePolicy is Ignore: a policy error would admit the change")
    if binding is None:
        problems.append("ValidatingAdmissionPolicyBinding %s does not exist" % name)
    else:
        problems += binding_problems(binding.get("spec") or {}, want_binding["spec"])
    return problems


def addon_policy_checks(client: KubeClient, tenants: Iterable) -> list[Check]:
    """ADDON-1 per tenant (the policies are cluster-wide, so every tenant's row tells the same)."""
    problems: list[str] = []
    for wanted in (render_addon_secret_policy(), render_addon_externalsecret_policy()):
        name = wanted[0]["metadata"]["name"]
        policy, policy_error = fetched(client, API_VERSION, "ValidatingAdmissionPolicy", name)
        binding, binding_error = fetched(client, API_VERSION, "ValidatingAdmissionPolicyBinding", name)
        problems += [e for e in (policy_error, binding_error) if e] or addon_policy_problems(policy, binding, wanted)
    detail = summarize(problems) or (
        "%s denies tenant UPDATE and DELETE of Secrets labelled %s; %s keeps tenants off add-on ExternalSecrets"
        % (ADDON_SECRET_POLICY_NAME, ADDON_LABEL, ADDON_EXTERNALSECRET_POLICY_NAME)
    )
    return [Scope(tenant.name).check(CHECK_ID, DESCRIPTION, not problems, detail) for tenant in tenants]
