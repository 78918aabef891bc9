# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Isolation audit check HOST-1: the hostname and certificate admission policy, as configured.

The comparisons every tenant admission policy's audit shares (a served policy against the
rendered one, a binding that must deny in every tenant namespace); :mod:`_audit.policies` runs
them for each registered policy and adds the dry-run attacks.
"""

from __future__ import annotations

from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import render_hostname_policy

CHECK_ID = "HOST-1"
DESCRIPTION = "an admission policy refuses hostnames and certificates outside the tenant's domains"


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


def _rules(rules: list | None) -> list[tuple]:
    """Resource rules without the API server's defaults (scope)."""
    keys = ("apiGroups", "apiVersions", "operations", "resources")
    return sorted(tuple(tuple(sorted(rule.get(key) or [])) for key in keys) for rule in rules or [])


def policy_problems(policy: dict | None, want: dict) -> list[str]:
    """What keeps a served ValidatingAdmissionPolicy from being the rendered ``want``."""
    name = want["metadata"]["name"]
    if policy is None:
        return ["ValidatingAdmissionPolicy %s does not exist" % name]
    spec, wanted = policy.get("spec") or {}, want["spec"]
    problems = [
        "ValidatingAdmissionPolicy %s does not hold the platform's %s" % (name, key)
        for key in ("variables", "validations", "matchConditions")
        # The API server omits an empty list: absent and [] are the same rule.
        if (spec.get(key) or None) != (wanted.get(key) or None)
    ]
    match = spec.get("matchConstraints") or {}
    if _rules(match.get("resourceRules")) != _rules(wanted["matchConstraints"]["resourceRules"]):
        problems.append("ValidatingAdmissionPolicy %s does not match the platform's resource rules" % name)
    if match.get("objectSelector") or match.get("namespaceSelector") or match.get("excludeResourceRules"):
        problems.append("ValidatingAdmissionPolicy %s leaves objects out (a selector or excludeResourceRules)" % name)
    if spec.get("failurePolicy", "Fail") != "Fail":
        problems.append(
            "ValidatingAdmissionPolicy %s has failurePolicy %s, not Fail: a policy error would admit the object"
            % (name, spec["failurePolicy"])
        )
    return problems


def pair_problems(policy: dict | None, binding: dict | None, want_policy: dict, want_binding: dict) -> list[str]:
    """Both halves: the policy as rendered, the binding denying in every tenant namespace."""
    problems = policy_problems(policy, want_policy)
    if binding is None:
        problems.append("ValidatingAdmissionPolicyBinding %s does not exist" % want_binding["metadata"]["name"])
    else:
        problems += binding_problems(binding.get("spec") or {}, want_binding["spec"])
    return problems


def hostname_policy_problems(policy: dict | None, binding: dict | None) -> list[str]:
    """What keeps the hostname policy from refusing foreign hosts in every tenant namespace."""
    return pair_problems(policy, binding, *render_hostname_policy())
