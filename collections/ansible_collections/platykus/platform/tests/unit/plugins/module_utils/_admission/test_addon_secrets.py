# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The add-on Secret admission policy: what it matches, who it lets through, and its audit (ADDON-1).

The CEL itself is evaluated by the lab's API server (tests/integration/test_addons_local.py)."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import (
    render_addon_externalsecret_policy,
    render_addon_secret_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.addon_secrets import (
    addon_policy_checks,
    addon_policy_problems,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
    EXTERNAL_SECRETS_USER,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import render_tenancy_policies

POLICY, BINDING = render_addon_secret_policy()
ES_POLICY, ES_BINDING = render_addon_externalsecret_policy()


def served(obj):
    """As the API server returns it: defaults filled in."""
    out = copy.deepcopy(obj)
    if out["kind"].endswith("Binding"):
        out["spec"]["matchResources"].update(matchPolicy="Equivalent", objectSelector={})
    else:
        match = out["spec"]["matchConstraints"]
        match.update(matchPolicy="Equivalent", namespaceSelector={}, objectSelector={})
        for rule in match["resourceRules"]:
            rule["scope"] = "*"
    return out


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
    assert addon_policy_problems(served(ES_POLICY), served(ES_BINDING), [ES_POLICY, ES_BINDING]) == []
    widened = served(ES_POLICY)
    widened["spec"]["variables"][1]["expression"] = "false"
    assert addon_policy_problems(widened, served(ES_BINDING), [ES_POLICY, ES_BINDING]) == [
        "ValidatingAdmissionPolicy %s does not hold the platform's variables" % ADDON_EXTERNALSECRET_POLICY_NAME
    ]


def test_the_external_secrets_user_is_the_catalogs_release(repo_file):
    service = yaml.safe_load(repo_file("catalog/services.yml").read_text())["platykus_catalog_services"][
        "external-secrets"
    ]
    assert EXTERNAL_SECRETS_USER == "system:serviceaccount:%s:%s" % (service["namespace"], service["release"])


def test_the_platforms_policy_as_served_passes():
    assert addon_policy_problems(served(POLICY), served(BINDING)) == []


def test_missing_objects_are_named():
    assert addon_policy_problems(None, None) == [
        "ValidatingAdmissionPolicy %s does not exist" % ADDON_SECRET_POLICY_NAME,
        "ValidatingAdmissionPolicyBinding %s does not exist" % ADDON_SECRET_POLICY_NAME,
    ]


@pytest.mark.parametrize(
    "change, words",
    [
        (
            lambda p, b: p["spec"]["validations"][0].update(expression="true"),
            "does not hold the platform's validations",
        ),
        (lambda p, b: p["spec"].update(matchConditions=[]), "does not hold the platform's matchConditions"),
        (
            lambda p, b: p["spec"]["matchConstraints"]["resourceRules"][0].update(operations=["UPDATE"]),
            "does not match UPDATE and DELETE of secrets",
        ),
        (lambda p, b: p["spec"].update(failurePolicy="Ignore"), "failurePolicy is Ignore"),
        (lambda p, b: b["spec"].update(validationActions=["Audit"]), "do not include Deny"),
        (
            lambda p, b: b["spec"]["matchResources"].update(objectSelector={"matchLabels": {"x": "y"}}),
            "leaves objects out",
        ),
        (
            lambda p, b: b["spec"]["matchResources"].update(namespaceSelector={"matchLabels": {"x": "y"}}),
            "does not select every tenant namespace",
        ),
    ],
)
def test_weakened_policy_or_binding_fails(change, words):
    policy, binding = served(POLICY), served(BINDING)
    change(policy, binding)
    problems = addon_policy_problems(policy, binding)
    assert any(words in p for p in problems), problems


class FakeClient:
    def __init__(self, objects, error=None):
        self.objects, self.error = objects, error

    def get(self, api_version, kind, name, namespace=None, missing="none"):
        if self.error:
            raise self.error
        return copy.deepcopy(self.objects.get((kind, name)))


class T:
    def __init__(self, name):
        self.name = name


def test_audit_rows_per_tenant():
    client = FakeClient({("ValidatingAdmissionPolicy", ADDON_SECRET_POLICY_NAME): served(POLICY)})
    checks = addon_policy_checks(client, [T("acme"), T("globex")])
    assert [(c.id, c.tenant, c.result) for c in checks] == [("ADDON-1", "acme", "fail"), ("ADDON-1", "globex", "fail")]
    assert "ValidatingAdmissionPolicyBinding %s does not exist" % ADDON_SECRET_POLICY_NAME in checks[0].detail
    served_all = {(o["kind"], o["metadata"]["name"]): served(o) for o in (POLICY, BINDING, ES_POLICY, ES_BINDING)}
    ok = addon_policy_checks(FakeClient(served_all), [T("acme")])
    assert ok[0].result == "pass" and ADDON_SECRET_POLICY_NAME in ok[0].detail
    del served_all[("ValidatingAdmissionPolicyBinding", ADDON_EXTERNALSECRET_POLICY_NAME)]
    missing = addon_policy_checks(FakeClient(served_all), [T("acme")])
    assert missing[0].result == "fail" and ADDON_EXTERNALSECRET_POLICY_NAME in missing[0].detail


def test_audit_reports_a_read_error():
    error = KubeApiError("get", "ValidatingAdmissionPolicy", 403, "forbidden")
    checks = addon_policy_checks(FakeClient({}, error), [T("acme")])
    assert checks[0].result == "fail" and "403" in checks[0].detail
