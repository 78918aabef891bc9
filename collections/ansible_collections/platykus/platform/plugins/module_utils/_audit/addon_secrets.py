# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Isolation audit check ADDON-1: the add-on Secret and ExternalSecret admission policies, as configured."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import (
    API_VERSION,
    render_addon_externalsecret_policy,
    render_addon_secret_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.hostnames import binding_problems
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import Check, Scope, fetched, summarize
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
)

CHECK_ID = "ADDON-1"
DESCRIPTION = "admission policies refuse tenant changes to add-on connection Secrets and their ExternalSecrets"


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
