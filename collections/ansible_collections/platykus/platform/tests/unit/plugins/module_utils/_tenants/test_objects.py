# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import object_key
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import (
    FORBIDDEN_VERBS,
    FORBIDDEN_WRITE_RESOURCES,
    READ,
    render_tenant,
    render_tenant_quotas,
    role_rules,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants


@pytest.fixture
def acme(plans, acme_spec):
    return validate_tenants([acme_spec], plans)[0]


def by_key(objects):
    return {object_key(obj): obj for obj in objects}


@pytest.mark.parametrize("role", ["admin", "developer", "viewer"])
def test_roles_hold_no_forbidden_verbs_resources_or_wildcards(role):
    for rule in role_rules(role):
        assert set(rule) == {"apiGroups", "resources", "verbs"}
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
        assert not set(rule["verbs"]) & set(FORBIDDEN_VERBS), rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"] or set(rule["verbs"]) <= set(READ)
        for resource in rule["resources"]:
            assert not resource.endswith("/token")
            if resource in FORBIDDEN_WRITE_RESOURCES:
                assert set(rule["verbs"]) <= set(READ), (role, resource, rule["verbs"])
            assert resource not in ("nodes", "namespaces", "persistentvolumes", "clusterroles", "clusterrolebindings")


def test_viewer_cannot_read_secrets_and_developer_can():
    def can(role, verb, resource):
        return any(resource in rule["resources"] and verb in rule["verbs"] for rule in role_rules(role))

    assert not can("viewer", "get", "secrets")
    assert can("developer", "get", "secrets")
    assert not can("viewer", "create", "pods")
    assert can("developer", "create", "pods")
    assert can("developer", "create", "pods/exec")
    assert not can("developer", "create", "serviceaccounts")
    assert can("admin", "create", "serviceaccounts")
    assert not can("admin", "create", "daemonsets")
    assert not can("admin", "create", "endpoints")


def test_roles_grow_with_the_role():
    def grants(role):
        return {
            (group, res, verb)
            for rule in role_rules(role)
            for group in rule["apiGroups"]
            for res in rule["resources"]
            for verb in rule["verbs"]
        }

    assert grants("viewer") < grants("developer") < grants("admin")


def test_render_is_deterministic_and_ordered(acme):
    first = render_tenant(acme, "ingress-nginx")
    assert first == render_tenant(acme, "ingress-nginx")
    keys = [object_key(obj) for obj in first]
    assert keys[:18] == [
        "Namespace/acme-dev",
        "ServiceAccount/acme-dev/default",
        "ServiceAccount/acme-dev/ci-deployer",
        "Role/acme-dev/tenant-admin",
        "Role/acme-dev/tenant-developer",
        "Role/acme-dev/tenant-viewer",
        "RoleBinding/acme-dev/tenant-admin",
        "RoleBinding/acme-dev/tenant-developer",
        "RoleBinding/acme-dev/tenant-viewer",
        "RoleBinding/acme-dev/ci-deployer",
        "NetworkPolicy/acme-dev/default-deny",
        "NetworkPolicy/acme-dev/allow-dns",
        "NetworkPolicy/acme-dev/allow-same-tenant",
        "NetworkPolicy/acme-dev/allow-from-ingress",
        "NetworkPolicy/acme-dev/allow-egress-cidrs",
        "ResourceQuota/acme-dev/tenant-quota",
        "LimitRange/acme-dev/tenant-limits",
        "ResourceQuota/acme-dev/tenant-quota-priority",
    ]
    assert len(keys) == 36 and keys[18] == "Namespace/acme-prod"


def test_every_object_carries_the_platform_labels(acme):
    for obj in render_tenant(acme, "ingress-nginx"):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "platykus"
        assert labels["platykus.io/tenant"] == "acme"
        assert labels["platykus.io/environment"] in ("dev", "prod")
        assert labels["platykus.io/cost-center"] == "cc-1234"


def test_namespace(acme):
    ns = by_key(render_tenant(acme, None))["Namespace/acme-prod"]
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/%s" % mode] == "restricted"
        assert labels["pod-security.kubernetes.io/%s-version" % mode] == "latest"
    assert labels["team"] == "payments"
    assert labels["platykus.io/plan"] == "small"
    assert ns["metadata"]["annotations"] == {
        "platykus.io/display-name": "ACME Corp",
        "platykus.io/priority-classes": "platykus-tenant",
    }


def test_bindings_go_to_owner_groups_and_ci_account(acme):
    objects = by_key(render_tenant(acme, None))
    admin = objects["RoleBinding/acme-dev/tenant-admin"]
    assert admin["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant-admin"}
    assert admin["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "acme-admins"}]
    ci = objects["RoleBinding/acme-dev/ci-deployer"]
    assert ci["roleRef"]["name"] == "tenant-developer"
    assert ci["subjects"] == [{"kind": "ServiceAccount", "name": "ci-deployer", "namespace": "acme-dev"}]
    for obj in objects.values():
        if obj["kind"] == "RoleBinding":
            assert obj["roleRef"]["kind"] == "Role"
        if obj["kind"] == "ServiceAccount":
            assert obj["automountServiceAccountToken"] is False


def test_binding_without_groups_is_rendered_empty(plans, beta_spec):
    beta = validate_tenants([beta_spec], plans)[0]
    viewer = by_key(render_tenant(beta, None))["RoleBinding/beta-prod/tenant-viewer"]
    assert viewer["subjects"] == []


def test_network_policies(acme):
    objects = by_key(render_tenant(acme, "ingress-nginx"))
    deny = objects["NetworkPolicy/acme-dev/default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = objects["NetworkPolicy/acme-dev/allow-dns"]["spec"]["egress"][0]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    same = objects["NetworkPolicy/acme-dev/allow-same-tenant"]["spec"]
    assert same["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"platykus.io/tenant": "acme"}}}]
    assert same["egress"][0]["to"] == same["ingress"][0]["from"]
    ingress = objects["NetworkPolicy/acme-dev/allow-from-ingress"]["spec"]
    assert ingress["ingress"][0]["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
    }
    egress = objects["NetworkPolicy/acme-dev/allow-egress-cidrs"]["spec"]
    assert egress["egress"] == [{"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}]


@pytest.mark.parametrize("allow, ingress_namespace", [(False, "ingress-nginx"), (True, None)])
def test_ingress_policy_allows_nothing_when_off(plans, acme_spec, allow, ingress_namespace):
    acme_spec["network"]["allow_from_ingress"] = allow
    acme = validate_tenants([acme_spec], plans)[0]
    policy = by_key(render_tenant(acme, ingress_namespace))["NetworkPolicy/acme-dev/allow-from-ingress"]
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_quota_objects(acme):
    quota, limits = render_tenant_quotas(acme)[2:4]
    assert quota["metadata"]["namespace"] == "acme-prod"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "8",
        "requests.memory": "12Gi",
        "limits.cpu": "16",
        "limits.memory": "12Gi",
        "requests.storage": "100Gi",
        "pods": "60",
        "count/services": "20",
        "services.loadbalancers": "1",
        "services.nodeports": "2",
        "persistentvolumeclaims": "10",
        "count/configmaps": "50",
        "count/secrets": "50",
    }
    assert limits["metadata"]["name"] == "tenant-limits"
    assert limits["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "max": {"cpu": "2", "memory": "4Gi"},
        }
    ]
