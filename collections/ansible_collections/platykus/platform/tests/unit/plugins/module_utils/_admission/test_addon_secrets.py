# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The add-on Secret admission policies: what they match and who they let through (their audit,
ADDON-1 and ADDON-2: _audit/test_policies.py).

The CEL itself is evaluated by the lab's API server (tests/integration/test_addons_local.py)."""

from __future__ import annotations

import yaml

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import (
    render_addon_externalsecret_policy,
    render_addon_secret_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
    EXTERNAL_SECRETS_USER,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import render_tenancy_policies

POLICY, BINDING = render_addon_secret_policy()
ES_POLICY, ES_BINDING = render_addon_externalsecret_policy()


def test_policy_matches_update_and_delete_of_addon_secrets_only():
    spec = POLICY["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE", "DELETE"], "resources": ["secrets"]}
    ]
    # the label is read from the Secret as stored (oldObject): removing it is refused as well
    assert spec["matchConditions"] == [
        {"name": "addon-secret", "expression": "has(oldObject.metadata.labels) && '%s' in oldObject.metadata.labels"
         % ADDON_LABEL}
    ]  # fmt: skip
    expression = spec["validations"][0]["expression"]
    allowed_by = (
        "'system:masters'",
        "'platykus:platform'",
        "system:serviceaccount:kube-system:",
        "'%s'" % EXTERNAL_SECRETS_USER,
        "authorizer.group('platykus.io').resource('addons').namespace(request.namespace).check('manage')",
    )
    for allowed in allowed_by:
        assert allowed in expression
    assert "addon-rotate.yml" in spec["validations"][0]["message"]
    assert BINDING["spec"]["validationActions"] == ["Deny"]
    assert BINDING["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "platykus.io/tenant", "operator": "Exists"}]
    }


def test_onboarding_applies_it_with_the_other_tenancy_policies():
    names = {(o["kind"], o["metadata"]["name"]) for o in render_tenancy_policies()}
    for name in (ADDON_SECRET_POLICY_NAME, ADDON_EXTERNALSECRET_POLICY_NAME):
        assert ("ValidatingAdmissionPolicy", name) in names
        assert ("ValidatingAdmissionPolicyBinding", name) in names


def test_externalsecret_companion_keeps_tenants_off_addon_targets():
    spec = ES_POLICY["spec"]
    assert spec["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["external-secrets.io"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE", "DELETE"],
            "resources": ["externalsecrets"],
        }
    ]
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    assert "object.spec.target.name" in variables["target"] and "object.metadata.name" in variables["target"]
    assert "oldObject" in variables["platformOwned"] and ADDON_LABEL in variables["platformOwned"]
    expression = spec["validations"][0]["expression"]
    assert "!variables.platformOwned && !variables.target.startsWith('addon-')" in expression
    assert "'platykus:platform'" in expression and EXTERNAL_SECRETS_USER in expression
    assert ES_BINDING["spec"]["policyName"] == ADDON_EXTERNALSECRET_POLICY_NAME


def test_the_external_secrets_user_is_the_catalogs_release(repo_file):
    service = yaml.safe_load(repo_file("catalog/services.yml").read_text())["platykus_catalog_services"][
        "external-secrets"
    ]
    assert EXTERNAL_SECRETS_USER == "system:serviceaccount:%s:%s" % (service["namespace"], service["release"])
