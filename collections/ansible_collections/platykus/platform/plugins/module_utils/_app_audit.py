# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Isolation audit check HOST-1: the hostname admission policy and its binding are in force."""

from __future__ import annotations

from collections.abc import Iterable

from ansible_collections.platykus.platform.plugins.module_utils._app_policy import render_hostname_policy
from ansible_collections.platykus.platform.plugins.module_utils._audit_report import Check, Scope, fetched, summarize
from ansible_collections.platykus.platform.plugins.module_utils._kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._names import HOSTNAME_POLICY_NAME

CHECK_ID = "HOST-1"
DESCRIPTION = "an admission policy refuses hostnames outside the tenant's domains"


def binding_problems(spec: dict, want: dict) -> list[str]:
    """What keeps a policy binding from denying in every tenant namespace (``want``: the rendered spec)."""
    match = spec.get("matchResources") or {}
    problems = []
    if spec.get("policyName") != want["policyName"]:
        problems.append("the binding names policy %s, not %s" % (spec.get("policyName"), want["policyName"]))
    if "Deny" not in (spec.get("validationActions") or []):
        problems.append("validationActions %s do not include Deny" % (spec.get("validationActions") or []))
    if match.get("namespaceSelector") != want["matchResources"]["namespaceSelector"]:
        problems.append("the binding does not select every tenant namespace (%s)" % match.get("namespaceSelector"))
    if match.get("objectSelector") or match.get("excludeResourceRules"):
        problems.append("the binding leaves objects out (objectSelector or excludeResourceRules)")
    return problems


def hostname_policy_problems(policy: dict | None, binding: dict | None) -> list[str]:
    """What keeps the policy from refusing foreign hostnames in every tenant namespace."""
    want_policy, want_binding = render_hostname_policy()
    problems = []
    if policy is None:
        problems.append("ValidatingAdmissionPolicy %s does not exist" % HOSTNAME_POLICY_NAME)
    elif (policy.get("spec") or {}).get("validations") != want_policy["spec"]["validations"]:
        problems.append("ValidatingAdmissionPolicy %s does not hold the platform's validations" % HOSTNAME_POLICY_NAME)
    elif (policy.get("spec") or {}).get("failurePolicy") == "Ignore":
        problems.append("failurePolicy is Ignore: a policy error would admit the hostname")
    if binding is None:
        problems.append("ValidatingAdmissionPolicyBinding %s does not exist" % HOSTNAME_POLICY_NAME)
    else:
        problems += binding_problems(binding.get("spec") or {}, want_binding["spec"])
    return problems


def hostname_policy_checks(client: KubeClient, tenants: Iterable) -> list[Check]:
    """HOST-1 per tenant (the policy is cluster-wide, so every tenant's row tells the same)."""
    api = "admissionregistration.k8s.io/v1"
    policy, policy_error = fetched(client, api, "ValidatingAdmissionPolicy", HOSTNAME_POLICY_NAME)
    binding, binding_error = fetched(client, api, "ValidatingAdmissionPolicyBinding", HOSTNAME_POLICY_NAME)
    problems = [e for e in (policy_error, binding_error) if e] or hostname_policy_problems(policy, binding)
    detail = (
        summarize(problems)
        or "%s denies Ingress and external-dns hostnames outside platykus.io/domains" % HOSTNAME_POLICY_NAME
    )
    return [Scope(tenant.name).check(CHECK_ID, DESCRIPTION, not problems, detail) for tenant in tenants]
