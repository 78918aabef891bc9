# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module flows against a fake KubeClient (no network): validation first, guards, offboarding."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._kube import ApplyResult, object_key
from ansible_collections.platykus.platform.plugins.module_utils._tenant_ops import (
    apply_tenant_quotas,
    apply_tenants,
    offboard_tenant,
)


def namespace(name, tenant=None, **meta):
    labels = {"platykus.io/tenant": tenant} if tenant else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": dict({"name": name, "labels": labels}, **meta)}


class FakeClient:
    def __init__(self, namespaces=(), quotas=(), pvcs=(), labelled=()):
        self.namespaces = list(namespaces)
        self.quotas = list(quotas)
        self.pvcs = list(pvcs)
        self.labelled = list(labelled)
        self.applied = []
        self.deleted = []
        self.nodes = [
            {
                "metadata": {"name": "n%d" % i},
                "spec": {},
                "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}},
            }
            for i in range(3)
        ]

    def iter_list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "Node":
            return iter(self.nodes)
        if kind == "ResourceQuota":
            return iter(self.quotas)
        if kind == "Namespace":
            items = self.namespaces
            if label_selector:
                key, value = label_selector.split("=")
                items = [ns for ns in items if ns["metadata"]["labels"].get(key) == value]
            return iter(items)
        raise AssertionError(kind)

    def list(self, api_version, kind, **kwargs):
        return list(self.iter_list(api_version, kind, **kwargs))

    def apply(self, objects, dry_run=False, label_selector=None):
        self.applied.append((dry_run, list(objects)))
        return [ApplyResult(key=object_key(o), before=None, after=o, changed=True) for o in objects]

    def delete(self, api_version, kind, name, namespace=None, dry_run=False):
        self.deleted.append((name, dry_run))
        return True

    def request(self, method, path, body=None, query=None):
        if path == "/apis":
            return {"groups": [{"preferredVersion": {"groupVersion": "example.io/v1"}}]}
        if path == "/api/v1":
            return {
                "resources": [
                    {
                        "name": "persistentvolumeclaims",
                        "kind": "PersistentVolumeClaim",
                        "namespaced": True,
                        "verbs": ["list"],
                    }
                ]
            }
        if path == "/apis/example.io/v1":
            return {"resources": [{"name": "databases", "kind": "Database", "namespaced": True, "verbs": ["list"]}]}
        if path.endswith("/persistentvolumeclaims"):
            return {"items": self.pvcs}
        if path.endswith("/databases"):
            assert query["labelSelector"] == "platykus.io/data-service"
            return {"items": self.labelled}
        raise AssertionError(path)


def never_connect():
    raise AssertionError("connected before the specs were validated")


def test_bad_spec_fails_before_connecting(plans, acme_spec):
    acme_spec["plan"] = "xl"
    with pytest.raises(PlatykusError, match=r"tenants\[acme\].plan"):
        apply_tenants(never_connect, [acme_spec], plans)
    with pytest.raises(PlatykusError, match=r"tenants\[acme\].plan"):
        apply_tenant_quotas(never_connect, [acme_spec], plans)


def test_quota_needs_existing_tenant_namespaces(plans, acme_spec):
    client = FakeClient(namespaces=[namespace("acme-dev", "acme"), namespace("acme-prod", "someone-else")])
    with pytest.raises(PlatykusError) as raised:
        apply_tenant_quotas(lambda: client, [acme_spec], plans)
    assert "namespace 'acme-prod' exists but is labelled platykus.io/tenant=someone-else" in str(raised.value)
    client.namespaces = [namespace("acme-dev", "acme")]
    with pytest.raises(PlatykusError, match="namespace 'acme-prod' of tenant 'acme' does not exist"):
        apply_tenant_quotas(lambda: client, [acme_spec], plans)
    assert client.applied == []


def test_quota_applies_only_quota_and_limits_in_check_mode(plans, acme_spec, beta_spec):
    client = FakeClient(namespaces=[namespace(n, "acme") for n in ("acme-dev", "acme-prod")])
    result = apply_tenant_quotas(
        lambda: client, [acme_spec, beta_spec], plans, tenant="acme", check_mode=True, diff=True
    )
    ((dry_run, objects),) = client.applied
    assert dry_run is True
    assert {o["kind"] for o in objects} == {"ResourceQuota", "LimitRange"}
    assert sorted(result["quotas"]) == ["acme-dev", "acme-prod"]
    assert result["quotas"]["acme-prod"]["hard"]["requests.cpu"] == "8"
    assert result["changed"] is True and len(result["diff"]) == 4


def test_budget_lowered_pods_limit_is_left_alone(plans, acme_spec):
    lowered = {
        "metadata": {
            "name": "tenant-quota",
            "namespace": "acme-dev",
            "annotations": {"platykus.io/budget-original-pods": "40"},
        }
    }
    client = FakeClient(namespaces=[namespace(n, "acme") for n in ("acme-dev", "acme-prod")], quotas=[lowered])
    result = apply_tenants(lambda: client, [acme_spec], plans)
    quotas = {o["metadata"]["namespace"]: o for o in client.applied[0][1] if o["kind"] == "ResourceQuota"}
    assert "pods" not in quotas["acme-dev"]["spec"]["hard"]
    assert quotas["acme-prod"]["spec"]["hard"]["pods"] == "60"
    assert result["budget_enforced"] == ["acme-dev"]


def test_tenant_refuses_namespace_of_another_tenant(plans, acme_spec):
    client = FakeClient(namespaces=[namespace("acme-dev", "beta")])
    with pytest.raises(PlatykusError, match="namespace 'acme-dev' already belongs to tenant 'beta'"):
        apply_tenants(lambda: client, [acme_spec], plans)


def test_capacity_is_checked_over_all_tenants(plans, acme_spec):
    client = FakeClient()
    client.nodes = client.nodes[:1]
    client.nodes[0]["status"]["allocatable"]["cpu"] = "4"
    with pytest.raises(PlatykusError, match="tenants exceed cluster cpu capacity"):
        apply_tenants(lambda: client, [acme_spec], plans)
    result = apply_tenants(lambda: client, [acme_spec], plans, capacity_policy="warn")
    assert result["capacity_warnings"]


def offboard_client(**kwargs):
    return FakeClient(
        namespaces=[namespace("acme-dev", "acme"), namespace("acme-prod", "acme"), namespace("beta-prod", "beta")],
        **kwargs,
    )


def test_offboard_requires_confirmation():
    client = offboard_client()
    with pytest.raises(PlatykusError, match="confirm: set confirm: acme .* deletes namespaces acme-dev, acme-prod"):
        offboard_tenant(lambda: client, "acme", confirm="beta")
    assert client.deleted == []


def test_offboard_refuses_while_data_remains():
    pvc = {"metadata": {"name": "data-0", "namespace": "acme-prod"}}
    db = {"metadata": {"name": "orders", "namespace": "acme-dev"}}
    other = {"metadata": {"name": "data-0", "namespace": "beta-prod"}}
    client = offboard_client(pvcs=[pvc, other], labelled=[db])
    with pytest.raises(PlatykusError) as raised:
        offboard_tenant(lambda: client, "acme", confirm="acme")
    assert "Database/acme-dev/orders, PersistentVolumeClaim/acme-prod/data-0" in str(raised.value)
    assert "beta-prod" not in str(raised.value)
    assert client.deleted == []
    result = offboard_tenant(lambda: client, "acme", confirm="acme", force=True)
    assert result["deleted"] == ["Namespace/acme-dev", "Namespace/acme-prod"]


@pytest.mark.parametrize("check_mode", [True, False])
def test_offboard_deletes_only_the_tenant_namespaces(check_mode):
    client = offboard_client()
    result = offboard_tenant(lambda: client, "acme", confirm="acme", check_mode=check_mode)
    assert result["changed"] is True
    assert client.deleted == [("acme-dev", check_mode), ("acme-prod", check_mode)]


def test_offboard_is_idempotent():
    client = offboard_client()
    client.namespaces[1]["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    client.namespaces.pop(0)
    result = offboard_tenant(lambda: client, "acme", confirm="acme")
    assert result == {"changed": False, "deleted": [], "terminating": ["acme-prod"], "blockers": []}
    assert offboard_tenant(FakeClient, "acme", confirm="acme")["changed"] is False


def test_offboard_never_deletes_platform_namespaces():
    client = FakeClient(namespaces=[namespace("monitoring", "acme")])
    with pytest.raises(PlatykusError, match="namespace 'monitoring' carries platykus.io/tenant=acme"):
        offboard_tenant(lambda: client, "acme", confirm="acme", platform_namespaces=["monitoring"])
    assert client.deleted == []
