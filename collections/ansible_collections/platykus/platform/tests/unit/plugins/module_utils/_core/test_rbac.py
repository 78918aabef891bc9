# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""excess_rules and binding_excess: what RBAC rules grant beyond the tenant roles."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.names import TENANT_ROLES
from ansible_collections.platykus.platform.plugins.module_utils._core.rbac import (
    binding_excess,
    describe_grant,
    excess_rules,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import role_rules

TENANT_ALLOWED = [rule for role in TENANT_ROLES for rule in role_rules(role)]


def rule(groups, resources, verbs, names=None):
    found = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names is not None:
        found["resourceNames"] = list(names)
    return found


def urls(paths, verbs):
    return {"nonResourceURLs": list(paths), "verbs": list(verbs)}


@pytest.mark.parametrize(
    "rules, allowed, excess",
    [
        pytest.param([], [rule([""], ["pods"], ["get"])], [], id="nothing-granted"),
        pytest.param(
            [rule([""], ["pods"], ["get", "list"])], [rule([""], ["pods"], ["get", "list", "watch"])], [], id="subset"
        ),
        pytest.param(
            [rule([""], ["pods", "secrets"], ["get", "delete"])],
            [rule([""], ["pods"], ["get", "delete"]), rule([""], ["secrets"], ["get"])],
            ["delete secrets"],
            id="one-verb-too-many",
        ),
        pytest.param(
            [rule(["apps"], ["deployments"], ["create"])],
            [rule([""], ["deployments"], ["create"])],
            ["create deployments.apps"],
            id="group-matters",
        ),
        pytest.param(
            [rule([""], ["pods"], ["get"]), rule(["apps"], ["deployments"], ["get"])],
            [rule(["", "apps"], ["pods", "deployments"], ["get"])],
            [],
            id="allowed-cross-product",
        ),
        pytest.param(
            [rule(["*"], ["*"], ["*"])],
            TENANT_ALLOWED,
            ["every verb on every resource in every apiGroup"],
            id="cluster-admin",
        ),
        pytest.param([rule(["*"], ["*"], ["*"])], [rule(["*"], ["*"], ["*"])], [], id="same-wildcard"),
        pytest.param(
            [rule([""], ["*"], ["get"])],
            [rule([""], ["pods", "secrets"], ["get"])],
            ["get every resource"],
            id="resource-wildcard",
        ),
        pytest.param(
            [rule([""], ["pods"], ["*"])],
            [
                rule(
                    [""],
                    ["pods"],
                    list(("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")),
                )
            ],
            ["every verb on pods"],
            id="verb-wildcard-not-covered-by-every-verb",
        ),
        pytest.param(
            [rule(["*"], ["pods"], ["get"])],
            [rule([""], ["pods"], ["get"])],
            ["get pods in every apiGroup"],
            id="group-wildcard",
        ),
        pytest.param(
            [rule(["apps"], ["*/scale"], ["update"])],
            [rule(["apps"], ["deployments/scale"], ["update"])],
            ["update */scale.apps"],
            id="subresource-wildcard-in-rules",
        ),
        pytest.param(
            [rule(["apps"], ["deployments/scale"], ["update"])],
            [rule(["apps"], ["*/scale"], ["update"])],
            [],
            id="subresource-wildcard-allowed",
        ),
        pytest.param(
            [rule([""], ["pods/log"], ["get"])],
            [rule([""], ["pods"], ["get"])],
            ["get pods/log"],
            id="subresource-is-not-the-resource",
        ),
        pytest.param(
            [rule([""], ["pods"], ["get"])], [rule(["*"], ["*"], ["*"])], [], id="allowed-wildcard-covers-all"
        ),
        pytest.param(
            [rule([""], ["serviceaccounts/token"], ["create"], names=["ci-deployer"])],
            TENANT_ALLOWED,
            ["create serviceaccounts/token named ci-deployer"],
            id="token-for-one-sa",
        ),
        pytest.param(
            [rule([""], ["secrets"], ["get"], names=["app-tls"])],
            [rule([""], ["secrets"], ["get"])],
            [],
            id="names-covered-by-unrestricted",
        ),
        pytest.param(
            [rule([""], ["secrets"], ["get"], names=["a"])],
            [rule([""], ["secrets"], ["get"], names=["a", "b"])],
            [],
            id="names-subset",
        ),
        pytest.param(
            [rule([""], ["secrets"], ["get"], names=["a", "c"])],
            [rule([""], ["secrets"], ["get"], names=["a", "b"])],
            ["get secrets named a, c"],
            id="names-not-subset",
        ),
        pytest.param(
            [rule([""], ["secrets"], ["get"])],
            [rule([""], ["secrets"], ["get"], names=["a"])],
            ["get secrets"],
            id="unrestricted-not-covered-by-names",
        ),
        pytest.param([urls(["/metrics"], ["get"])], TENANT_ALLOWED, ["get nonResourceURL /metrics"], id="url"),
        pytest.param([urls(["/metrics"], ["get"])], [urls(["/metrics"], ["get"])], [], id="url-covered"),
        pytest.param([urls(["/logs/kubelet"], ["get"])], [urls(["/logs/*"], ["get"])], [], id="url-prefix-allowed"),
        pytest.param(
            [urls(["/logs/*"], ["get"])],
            [urls(["/logs/kubelet"], ["get"])],
            ["get nonResourceURL /logs/*"],
            id="url-wildcard-in-rules",
        ),
        pytest.param(
            [urls(["*"], ["*"])], [urls(["/healthz"], ["get"])], ["every verb on nonResourceURL *"], id="url-everything"
        ),
        pytest.param(
            [urls(["/healthz"], ["get"])],
            [rule(["*"], ["*"], ["*"])],
            ["get nonResourceURL /healthz"],
            id="resource-rules-do-not-cover-urls",
        ),
        pytest.param(
            [rule([""], ["pods"], ["get"]), rule([""], ["pods"], ["get"], names=["x"])],
            [],
            ["get pods", "get pods named x"],
            id="nothing-allowed-sorted",
        ),
    ],
)
def test_excess_rules(rules, allowed, excess):
    assert excess_rules(rules, allowed) == excess


@pytest.mark.parametrize("role", TENANT_ROLES)
def test_tenant_roles_are_within_the_tenant_roles(role):
    assert excess_rules(role_rules(role), TENANT_ALLOWED) == []


def test_viewer_is_narrower_than_developer():
    assert excess_rules(role_rules("viewer"), role_rules("developer")) == []
    developer_extra = excess_rules(role_rules("developer"), role_rules("viewer"))
    assert "create secrets" in developer_extra and "delete pods" in developer_extra


def test_duplicates_are_reported_once():
    rules = [rule([""], ["secrets"], ["create"]), rule([""], ["secrets"], ["create", "create"])]
    assert excess_rules(rules, []) == ["create secrets"]


def test_describe_grant():
    assert describe_grant("", "pods", "get") == "get pods"
    assert describe_grant("apps", "*", "*") == "every verb on every resource.apps"


def binding(kind, name):
    return {"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}}


BUILTIN_ADMIN = {
    "metadata": {"name": "admin"},
    "rules": [
        rule([""], ["serviceaccounts"], ["impersonate"]),
        rule([""], ["serviceaccounts/token"], ["create"]),
        rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], ["create", "get"]),
        rule([""], ["pods"], ["get"]),
    ],
}
ROLES = {"tenant-developer": {"metadata": {"name": "tenant-developer"}, "rules": role_rules("developer")}}


@pytest.mark.parametrize(
    "kind, name, excess",
    [
        pytest.param("Role", "tenant-developer", [], id="tenant-role"),
        pytest.param(
            "ClusterRole",
            "admin",
            [
                "create rolebindings.rbac.authorization.k8s.io",
                "create roles.rbac.authorization.k8s.io",
                "create serviceaccounts/token",
                "impersonate serviceaccounts",
            ],
            id="builtin-admin",
        ),
        pytest.param(
            "ClusterRole",
            "tenant-developer",
            ["roleRef ClusterRole tenant-developer does not exist, so what it grants is unknown"],
            id="kind-decides-where-to-look",
        ),
        pytest.param(
            "Role", "gone", ["roleRef Role gone does not exist, so what it grants is unknown"], id="missing-role"
        ),
        pytest.param(
            "ClusterRole",
            "gone",
            ["roleRef ClusterRole gone does not exist, so what it grants is unknown"],
            id="missing-cluster-role",
        ),
        pytest.param("Group", "x", ["roleRef Group x does not exist, so what it grants is unknown"], id="bad-kind"),
    ],
)
def test_binding_excess(kind, name, excess):
    assert binding_excess(binding(kind, name), ROLES, {"admin": BUILTIN_ADMIN}, TENANT_ALLOWED) == excess


def test_binding_without_role_ref_is_unknown():
    assert binding_excess({"metadata": {"name": "b"}}, ROLES, {}, TENANT_ALLOWED) == [
        "roleRef (no kind) (no name) does not exist, so what it grants is unknown"
    ]


def test_role_without_rules_grants_nothing():
    empty = {"metadata": {"name": "empty"}}
    assert binding_excess(binding("ClusterRole", "empty"), {}, {"empty": empty}, TENANT_ALLOWED) == []
