# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module flows against a fake KubeClient (no network): validation first, guards, offboarding."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants import ops
from ansible_collections.platykus.platform.plugins.module_utils._tenants.ops import (
    apply_tenant_quotas,
    apply_tenants,
    offboard_tenant,
)
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer


def namespace(name, tenant=None, **meta):
    labels = {"platykus.io/tenant": tenant} if tenant else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": dict({"name": name, "labels": labels}, **meta)}


def node(name, cpu="32"):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {},
        "status": {"allocatable": {"cpu": cpu, "memory": "128Gi", "pods": "110"}},
    }


def cluster(*objects, nodes=3):
    """An in-memory API server with the ``default`` namespace, nodes and ``objects``."""
    return FakeApiServer([namespace("default")] + [node("n%d" % i) for i in range(nodes)] + list(objects))


def connect(api):
    return api.client


def binding(name, ns, role_kind, role, labels=None):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "someone"}],
    }


def cluster_role(name, rules):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


ADMIN_CLUSTER_ROLE = cluster_role("admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
VIEW_CLUSTER_ROLE = cluster_role("view", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])


def never_connect():
    raise AssertionError("connected before the specs were validated")


def test_bad_spec_fails_before_connecting(plans, acme_spec):
    acme_spec["plan"] = "xl"
    with pytest.raises(PlatykusError, match=r"tenants\[acme\].plan"):
        apply_tenants(never_connect, [acme_spec], plans)
    with pytest.raises(PlatykusError, match=r"tenants\[acme\].plan"):
        apply_tenant_quotas(never_connect, [acme_spec], plans)


def test_quota_needs_existing_tenant_namespaces(plans, acme_spec):
    api = cluster(namespace("acme-dev", "acme"), namespace("acme-prod", "someone-else"))
    with pytest.raises(PlatykusError) as raised:
        apply_tenant_quotas(connect(api), [acme_spec], plans)
    assert "namespace 'acme-prod' exists but is labelled platykus.io/tenant=someone-else" in str(raised.value)
    api.store.pop(("v1", "Namespace", None, "acme-prod"))
    with pytest.raises(PlatykusError, match="namespace 'acme-prod' of tenant 'acme' does not exist"):
        apply_tenant_quotas(connect(api), [acme_spec], plans)
    assert api.keys("ResourceQuota") == []


def test_quota_applies_only_quota_and_limits_in_check_mode(plans, acme_spec, beta_spec):
    api = cluster(*[namespace(n, "acme") for n in ("acme-dev", "acme-prod")])
    result = apply_tenant_quotas(connect(api), [acme_spec, beta_spec], plans, tenant="acme", check_mode=True, diff=True)
    assert sorted(result["created"]) == [
        "LimitRange/acme-dev/tenant-limits",
        "LimitRange/acme-prod/tenant-limits",
        "ResourceQuota/acme-dev/tenant-quota",
        "ResourceQuota/acme-prod/tenant-quota",
    ]
    assert sorted(result["quotas"]) == ["acme-dev", "acme-prod"]
    assert result["quotas"]["acme-prod"]["hard"]["requests.cpu"] == "8"
    assert result["changed"] is True and len(result["diff"]) == 4
    assert api.keys("ResourceQuota") == [] and api.keys("LimitRange") == []


def test_budget_lowered_pods_limit_is_left_alone(plans, acme_spec):
    lowered = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": "tenant-quota",
            "namespace": "acme-dev",
            "annotations": {"platykus.io/budget-original-pods": "40"},
        },
        "spec": {"hard": {"pods": "0"}},
    }
    api = cluster(*[namespace(n, "acme") for n in ("acme-dev", "acme-prod")], lowered)
    result = apply_tenants(connect(api), [acme_spec], plans)
    assert "pods" not in api.find("ResourceQuota", "tenant-quota", "acme-dev")["spec"]["hard"]
    assert api.find("ResourceQuota", "tenant-quota", "acme-prod")["spec"]["hard"]["pods"] == "60"
    assert result["budget_enforced"] == ["acme-dev"]


def test_onboarding_writes_the_tenancy_policies_and_is_idempotent(plans, acme_spec):
    api = cluster()
    first = apply_tenants(connect(api), [acme_spec], plans)
    assert "ValidatingAdmissionPolicy/platykus-deny-sa-token-secrets" in first["created"]
    assert "ValidatingAdmissionPolicyBinding/platykus-deny-sa-token-secrets" in first["created"]
    assert api.keys("Namespace") == ["acme-dev", "acme-prod", "default"]
    second = apply_tenants(connect(api), [acme_spec], plans)
    assert second["changed"] is False and second["created"] == [] and second["updated"] == []


def test_tenant_refuses_namespace_of_another_tenant(plans, acme_spec):
    api = cluster(namespace("acme-dev", "beta"))
    with pytest.raises(PlatykusError, match="namespace 'acme-dev' already belongs to tenant 'beta'"):
        apply_tenants(connect(api), [acme_spec], plans)
    assert api.keys("ServiceAccount") == []


def test_existing_namespace_is_not_adopted_silently(plans, acme_spec):
    api = cluster(namespace("acme-dev"), binding("legacy", "acme-dev", "ClusterRole", "admin"), ADMIN_CLUSTER_ROLE)
    with pytest.raises(PlatykusError) as raised:
        apply_tenants(connect(api), [acme_spec], plans)
    assert "namespace 'acme-dev' already exists and Platykus did not create it; set adopt: true" in str(raised.value)
    assert api.keys("Namespace") == ["acme-dev", "default"] and api.keys("RoleBinding") == ["acme-dev/legacy"]


def test_adoption_reports_what_it_found_and_marks_the_namespace(plans, acme_spec):
    api = cluster(namespace("acme-dev"), binding("viewers", "acme-dev", "ClusterRole", "view"), VIEW_CLUSTER_ROLE)
    acme_spec["adopt"] = True
    result = apply_tenants(connect(api), [acme_spec], plans)
    assert result["adopted"] == {"acme-dev": ["RoleBinding/acme-dev/viewers"]}
    assert api.find("Namespace", "acme-dev")["metadata"]["annotations"]["platykus.io/adopted"] == "true"
    assert "platykus.io/adopted" not in api.find("Namespace", "acme-prod")["metadata"]["annotations"]
    # A binding that grants less than tenant-admin is left in place.
    assert result["pruned"] == [] and "acme-dev/viewers" in api.keys("RoleBinding")


@pytest.mark.parametrize("check_mode", [False, True])
def test_bindings_granting_more_than_tenant_admin_are_pruned(plans, acme_spec, check_mode):
    api = cluster(ADMIN_CLUSTER_ROLE, VIEW_CLUSTER_ROLE)
    apply_tenants(connect(api), [acme_spec], plans)
    api.put(binding("by-hand", "acme-dev", "ClusterRole", "admin"))
    api.put(binding("viewers", "acme-dev", "ClusterRole", "view"))
    result = apply_tenants(connect(api), [acme_spec], plans, check_mode=check_mode)
    assert result["pruned"] == ["RoleBinding/acme-dev/by-hand"] and result["changed"] is True
    assert ("acme-dev/by-hand" in api.keys("RoleBinding")) is check_mode
    assert "acme-dev/viewers" in api.keys("RoleBinding")


def test_excess_rbac_can_refuse_instead(plans, acme_spec):
    api = cluster(ADMIN_CLUSTER_ROLE)
    apply_tenants(connect(api), [acme_spec], plans)
    api.put(binding("by-hand", "acme-dev", "ClusterRole", "admin"))
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in api.store.items()}
    with pytest.raises(PlatykusError, match="RoleBinding/acme-dev/by-hand .*set unmanaged_rbac: prune"):
        apply_tenants(connect(api), [acme_spec], plans, unmanaged_rbac="fail")
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in api.store.items()} == versions


def test_a_refused_object_leaves_no_namespace_behind(plans, acme_spec):
    api = cluster()
    api.refuse = lambda obj: "spec.hard: Invalid value" if obj["metadata"]["name"] == "tenant-quota" else None
    with pytest.raises(PlatykusError, match="refused 2 of .* nothing was written"):
        apply_tenants(connect(api), [acme_spec], plans)
    assert api.keys("Namespace") == ["default"]


def test_capacity_is_checked_over_all_tenants(plans, acme_spec):
    api = cluster(nodes=0)
    api.put(node("small", cpu="4"))
    with pytest.raises(PlatykusError, match="tenants exceed cluster cpu capacity"):
        apply_tenants(connect(api), [acme_spec], plans)
    result = apply_tenants(connect(api), [acme_spec], plans, capacity_policy="warn")
    assert result["capacity_warnings"]


def offboard_cluster(*objects):
    return cluster(
        namespace("acme-dev", "acme"), namespace("acme-prod", "acme"), namespace("beta-prod", "beta"), *objects
    )


def test_offboard_requires_confirmation():
    api = offboard_cluster()
    with pytest.raises(PlatykusError, match="confirm: set confirm: acme .* deletes namespaces acme-dev, acme-prod"):
        offboard_tenant(connect(api), "acme", confirm="beta")
    assert api.keys("Namespace") == ["acme-dev", "acme-prod", "beta-prod", "default"]


def test_offboard_refuses_while_data_remains():
    def obj(kind, api_version, name, ns, **labels):
        return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels}}

    api = offboard_cluster(
        obj("PersistentVolumeClaim", "v1", "data-0", "acme-prod"),
        obj("Database", "example.io/v1", "orders", "acme-dev", **{"platykus.io/data-service": "postgresql"}),
        obj("Database", "example.io/v1", "scratch", "acme-dev"),
        obj("PersistentVolumeClaim", "v1", "data-0", "beta-prod"),
    )
    with pytest.raises(PlatykusError) as raised:
        offboard_tenant(connect(api), "acme", confirm="acme")
    assert "Database/acme-dev/orders, PersistentVolumeClaim/acme-prod/data-0;" in str(raised.value)
    assert "beta-prod" not in str(raised.value) and "scratch" not in str(raised.value)
    assert "acme-dev" in api.keys("Namespace")
    result = offboard_tenant(connect(api), "acme", confirm="acme", force=True)
    assert result["deleted"] == ["Namespace/acme-dev", "Namespace/acme-prod"]


@pytest.mark.parametrize("check_mode", [True, False])
def test_offboard_deletes_only_the_tenant_namespaces(check_mode):
    api = offboard_cluster()
    result = offboard_tenant(connect(api), "acme", confirm="acme", check_mode=check_mode)
    assert result["changed"] is True and result["deleted"] == ["Namespace/acme-dev", "Namespace/acme-prod"]
    left = ["beta-prod", "default"] if not check_mode else ["acme-dev", "acme-prod", "beta-prod", "default"]
    assert api.keys("Namespace") == left


def test_offboard_leaves_an_adopted_namespace_and_what_was_there(plans, acme_spec):
    own = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "legacy-bot", "namespace": "acme-dev"}}
    api = cluster(namespace("acme-dev"), own)
    acme_spec["adopt"] = True
    apply_tenants(connect(api), [acme_spec], plans)
    result = offboard_tenant(connect(api), "acme", confirm="acme")
    assert result["deleted"] == ["Namespace/acme-prod"]
    assert "RoleBinding/acme-dev/tenant-admin" in result["released"]
    assert api.keys("Namespace") == ["acme-dev", "default"]
    assert api.keys("ServiceAccount") == ["acme-dev/default", "acme-dev/legacy-bot"]
    assert api.keys("RoleBinding") == [] and api.keys("ResourceQuota") == []


def test_offboard_is_idempotent():
    api = offboard_cluster()
    api.store.pop(("v1", "Namespace", None, "acme-dev"))
    api.find("Namespace", "acme-prod")["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    result = offboard_tenant(connect(api), "acme", confirm="acme")
    assert result == {"changed": False, "deleted": [], "released": [], "terminating": ["acme-prod"], "blockers": []}
    assert offboard_tenant(connect(cluster()), "acme", confirm="acme")["changed"] is False


def test_offboard_never_deletes_platform_namespaces():
    api = cluster(namespace("monitoring", "acme"))
    with pytest.raises(PlatykusError, match="namespace 'monitoring' carries platykus.io/tenant=acme"):
        offboard_tenant(connect(api), "acme", confirm="acme", platform_namespaces=["monitoring"])
    assert "monitoring" in api.keys("Namespace")


TERMINATING = {"deletionTimestamp": "2026-11-26T12:00:00Z"}


def test_onboarding_waits_for_a_namespace_still_being_deleted(plans, acme_spec, monkeypatch):
    """Re-onboarding right after an offboarding: the old namespace goes first, then the new one is made."""
    api = cluster(namespace("acme-dev", "acme", **TERMINATING))
    waits = []

    def deletion_finishes(seconds):
        waits.append(seconds)
        api.client().delete("v1", "Namespace", "acme-dev")

    monkeypatch.setattr(ops.time, "sleep", deletion_finishes)
    apply_tenants(connect(api), [acme_spec], plans)
    assert waits == [1.0]
    assert "deletionTimestamp" not in api.client().get("v1", "Namespace", "acme-dev")["metadata"]


def test_onboarding_refuses_a_namespace_that_stays_terminating(plans, acme_spec, monkeypatch):
    api = cluster(namespace("acme-dev", "acme", **TERMINATING))
    monkeypatch.setattr(ops, "TERMINATING_WAIT_SECONDS", 0.0)
    with pytest.raises(PlatykusError, match=r"nothing was written: namespace\(s\) acme-dev are still being deleted"):
        apply_tenants(connect(api), [acme_spec], plans)
    assert api.keys("ServiceAccount") == []
