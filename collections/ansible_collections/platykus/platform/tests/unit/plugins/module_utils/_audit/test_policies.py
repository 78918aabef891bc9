# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant admission policy audit kit against a fake API server that serves the registered
policy and refuses (or not) its attacks, as the real one does (the lab's test: test_lab_cert_policy)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.admission import RoleIdentity
from ansible_collections.platykus.platform.plugins.module_utils._audit.policies import (
    REGISTRY,
    PolicyEntry,
    policy_attack_checks,
    policy_config_checks,
    prime,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import Scope
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, Response
from ansible_collections.platykus.platform.plugins.module_utils._core.names import TENANT_LABEL

ADMISSION = "admissionregistration.k8s.io/v1"
DISCOVERY = {
    "/api/v1": [("services", "Service"), ("pods", "Pod")],
    "/apis/example.io/v1": [("widgets", "Widget")],
    "/apis/%s" % ADMISSION: [
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy"),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding"),
    ],
}


def render_widget_policy():
    labels = {"app.kubernetes.io/managed-by": "platykus"}
    rule = {"apiGroups": ["example.io"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["widgets"]}
    return [
        {
            "apiVersion": ADMISSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "widget-policy", "labels": labels},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [rule]},
                "validations": [{"expression": "object.spec.size < 3"}],
            },
        },
        {
            "apiVersion": ADMISSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "widget-policy", "labels": labels},
            "spec": {
                "policyName": "widget-policy",
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
                },
            },
        },
    ]


def widget(namespace, kind="Widget", api="example.io/v1"):
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"generateName": "a-", "namespace": namespace},
        "spec": {"size": 9},
    }


def widget_attacks(namespace, domains):
    return [("big widget", widget(namespace)), ("big gadget", widget(namespace, "Gadget", "gadgets.io/v1"))]


ENTRY = PolicyEntry("WID-1", "an admission policy refuses big widgets", render_widget_policy, widget_attacks)


class Fake(KubeClient):
    """Serves the entry's objects (as the API server returns them); a dry-run create is answered by
    ``answer(groups)``."""

    def __init__(self, objects, answer):
        super().__init__(api_client=None, retries=0)
        self.objects = {(o["kind"], o["metadata"]["name"]): copy.deepcopy(o) for o in objects}
        self.answer = answer
        self.groups = None
        self.posts = []

    def call(self, method, path, body=None, query=None, content_type="application/json", verb=None, target=None):
        if method == "POST":
            assert query == {"dryRun": "All"}
            self.posts.append((self.groups, path, body["kind"]))
            return self.answer(self.groups)
        if path in DISCOVERY:
            return Response(
                200,
                {
                    "resources": [
                        {"name": p, "kind": k, "namespaced": True, "verbs": ["create"]} for p, k in DISCOVERY[path]
                    ]
                },
            )
        if path.startswith("/apis/%s/" % ADMISSION):
            plural, name = path.rsplit("/", 2)[-2:]
            kind = "ValidatingAdmissionPolicy" + ("Binding" if plural.endswith("bindings") else "")
            found = self.objects.get((kind, name))
            return Response(200, found) if found else Response(404, {"message": "not found"})
        return Response(404, {"message": "the server could not find the requested resource"})

    def acting(self, group):
        other = Fake([], self.answer)
        other._resources, other._discovered_groups = self._resources, self._discovered_groups
        other.groups, other.posts = [group], self.posts
        return other


class Tenant:
    name = "acme"


def refused_by_policy(groups):
    return Response(
        422,
        {
            "message": "widgets is forbidden: ValidatingAdmissionPolicy 'widget-policy' with binding 'widget-policy' denied request: no"
        },
    )


def identities(fake):
    return [
        RoleIdentity("admin", "acme-admins", fake.acting("acme-admins")),
        RoleIdentity("developer", "acme-devs", fake.acting("acme-devs")),
    ]


def attack_checks(fake):
    prime(fake, [ENTRY])
    return policy_attack_checks(fake, Scope("acme", namespace="acme-dev"), [], identities(fake), [ENTRY])


def test_in_force_and_refusing_passes_and_says_what_was_not_served():
    fake = Fake(render_widget_policy(), refused_by_policy)
    config = policy_config_checks(fake, [Tenant()], [ENTRY])
    assert [(c.id, c.result) for c in config] == [("WID-1", "pass")]
    checks = attack_checks(fake)
    assert [(c.id, c.role, c.namespace, c.result) for c in checks] == [
        ("WID-1", "admin", "acme-dev", "pass"),
        ("WID-1", "developer", "acme-dev", "pass"),
    ]
    assert "refused by widget-policy" in checks[0].detail and "not tried: Gadget" in checks[0].detail
    # each role's groups tried the served attack, nothing else
    assert sorted((g[0], kind) for g, _p, kind in fake.posts) == [("acme-admins", "Widget"), ("acme-devs", "Widget")]


def test_an_admitted_attack_fails_naming_the_check_and_the_attack():
    checks = attack_checks(Fake(render_widget_policy(), lambda groups: Response(201, {})))
    assert {(c.id, c.result) for c in checks} == {("WID-1", "fail")}
    assert "big widget as acme-devs: admitted" in checks[1].detail


def test_rbac_refusal_passes_and_another_refusal_proves_nothing():
    def answer(groups):
        if groups == ["acme-admins"]:
            return Response(403, {"message": 'widgets is forbidden: User "u" cannot create resource "widgets"'})
        return Response(403, {"message": "exceeded quota: tenant-quota"})

    admin, developer = attack_checks(Fake(render_widget_policy(), answer))
    assert admin.result == "pass" and admin.detail.startswith("1 attacks refused (refused by RBAC)")
    assert developer.result == "fail" and "another reason" in developer.detail


def test_impersonation_refused_raises():
    def answer(groups):
        return Response(403, {"message": 'users "x" is forbidden: User "a" cannot impersonate resource "users"'})

    with pytest.raises(PlatykusError, match="impersonate"):
        attack_checks(Fake(render_widget_policy(), answer))


@pytest.mark.parametrize(
    "change,problem",
    [
        (lambda p, b: p.clear(), "ValidatingAdmissionPolicy widget-policy does not exist"),
        (lambda p, b: b.clear(), "ValidatingAdmissionPolicyBinding widget-policy does not exist"),
        (lambda p, b: p["spec"].update(failurePolicy="Ignore"), "failurePolicy Ignore, not Fail"),
        (lambda p, b: p["spec"]["validations"].clear(), "does not hold the platform's validations"),
        (
            lambda p, b: p["spec"]["matchConstraints"]["resourceRules"][0].update(operations=["UPDATE"]),
            "resource rules",
        ),
        (
            lambda p, b: p["spec"]["matchConstraints"].update(objectSelector={"matchLabels": {"a": "b"}}),
            "leaves objects out",
        ),
        (lambda p, b: b["spec"].update(validationActions=["Warn"]), "do not include Deny"),
        (
            lambda p, b: b["spec"]["matchResources"].update(namespaceSelector={}),
            "does not select every tenant namespace",
        ),
    ],
)
def test_a_weakened_or_missing_policy_fails_the_config_check(change, problem):
    policy, binding = render_widget_policy()
    change(policy, binding)
    fake = Fake([o for o in (policy, binding) if o], refused_by_policy)
    [check] = policy_config_checks(fake, [Tenant()], [ENTRY])
    assert check.id == "WID-1" and check.result == "fail" and problem in check.detail, check.detail


def test_the_registry_holds_the_hostname_policy():
    assert [e.check_id for e in REGISTRY] == ["HOST-1", "ADDON-2", "SCHED-1", "SVC-1"]
    for entry in REGISTRY:
        rendered = entry.render()
        assert {o["kind"] for o in rendered} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
        assert entry.attacks("acme-dev", ["acme.apps.example.com"])


def widget_controls(namespace, domains):
    return [("small widget", widget(namespace))]


CONTROLLED = PolicyEntry(
    "WID-1", "an admission policy refuses big widgets", render_widget_policy, widget_attacks, widget_controls
)


@pytest.mark.parametrize("admitted", [True, False])
def test_controls_are_tried_as_the_audits_identity(admitted):
    def answer(groups):
        if groups is None:  # the audit's own identity: the control
            return (
                Response(201, {})
                if admitted
                else Response(
                    403, {"message": "ValidatingAdmissionPolicy 'widget-policy' denied: expression resulted in error"}
                )
            )
        return refused_by_policy(groups)

    fake = Fake(render_widget_policy(), answer)
    prime(fake, [CONTROLLED])
    checks = policy_attack_checks(fake, Scope("acme", namespace="acme-dev"), [], identities(fake), [CONTROLLED])
    [control] = [c for c in checks if c.role == "-"]
    assert (control.id, control.namespace, control.result) == ("WID-1", "acme-dev", "pass" if admitted else "fail")
    assert admitted or "small widget refused" in control.detail
