# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import render_hostname_policy
from ansible_collections.platykus.platform.plugins.module_utils._audit.hostnames import hostname_policy_problems

POLICY, BINDING = render_hostname_policy()


def served(obj):
    """As the API server returns it: defaults filled in."""
    out = copy.deepcopy(obj)
    if out["kind"].endswith("Binding"):
        out["spec"]["matchResources"].update(matchPolicy="Equivalent", objectSelector={})
    return out


def test_the_platforms_policy_passes():
    assert hostname_policy_problems(served(POLICY), served(BINDING)) == []


def test_missing_objects_are_named():
    assert hostname_policy_problems(None, None) == [
        "ValidatingAdmissionPolicy platykus-tenant-hostnames does not exist",
        "ValidatingAdmissionPolicyBinding platykus-tenant-hostnames does not exist",
    ]


def test_weakened_policy_or_binding_fails():
    policy = served(POLICY)
    policy["spec"]["validations"] = policy["spec"]["validations"][:1]
    binding = served(BINDING)
    binding["spec"]["validationActions"] = ["Audit"]
    binding["spec"]["matchResources"]["objectSelector"] = {"matchLabels": {"checked": "yes"}}
    problems = hostname_policy_problems(policy, binding)
    assert any("does not hold the platform's validations" in p for p in problems)
    assert any("do not include Deny" in p for p in problems)
    assert any("leaves objects out" in p for p in problems)
