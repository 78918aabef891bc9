# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit against a fake API server: the rendered tenant objects plus a small RBAC evaluator."""

from __future__ import annotations

import re

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit import (
    SAR_PATH,
    Response,
    _judge_pod,
    render_table,
    run_audit,
)
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenant_objects import render_tenant
from ansible_collections.platykus.platform.plugins.module_utils._tenants import validate_tenants

CLUSTER_ADMIN_RULES = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
_PLURAL = {
    "NetworkPolicy": "networkpolicies",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
    "RoleBinding": "rolebindings",
    "Role": "roles",
    "ServiceAccount": "serviceaccounts",
}


def _matches(rule, attr):
    resource = attr["resource"] + ("/" + attr["subresource"] if attr.get("subresource") else "")
    return (
        ("*" in rule["apiGroups"] or attr["group"] in rule["apiGroups"])
        and ("*" in rule["resources"] or resource in rule["resources"])
        and ("*" in rule["verbs"] or attr["verb"] in rule["verbs"])
        and (not rule.get("resourceNames") or attr.get("name") in rule["resourceNames"])
    )


class FakeCluster:
    """Objects by namespace and kind, RBAC evaluated from Roles/RoleBindings and ClusterRoleBindings."""

    def __init__(self, objects, cluster_role_bindings=(), pod_security_admission=True):
        self.namespaces = {}
        self.objects = {}
        for obj in objects:
            if obj["kind"] == "Namespace":
                self.namespaces[obj["metadata"]["name"]] = obj
            else:
                self.objects.setdefault((obj["metadata"]["namespace"], _PLURAL[obj["kind"]]), []).append(obj)
        self.cluster_role_bindings = list(cluster_role_bindings)
        self.cluster_roles = {"cluster-admin": CLUSTER_ADMIN_RULES}
        self.pod_security_admission = pod_security_admission
        self.requests = []

    def _rules(self, groups, namespace):
        rules = []
        for binding in self.cluster_role_bindings:
            if any(s["kind"] == "Group" and s["name"] in groups for s in binding["subjects"]):
                rules += self.cluster_roles[binding["roleRef"]["name"]]
        if namespace:
            roles = {r["metadata"]["name"]: r for r in self.objects.get((namespace, "roles"), [])}
            for binding in self.objects.get((namespace, "rolebindings"), []):
                if not any(s["kind"] == "Group" and s["name"] in groups for s in binding["subjects"]):
                    continue
                ref = binding["roleRef"]
                rules += roles[ref["name"]]["rules"] if ref["kind"] == "Role" else self.cluster_roles[ref["name"]]
        return rules

    def request(self, method, path, body=None, query=None):
        self.requests.append((method, path))
        if method == "POST" and path == SAR_PATH:
            spec = body["spec"]
            attr = spec["resourceAttributes"]
            allowed = any(_matches(rule, attr) for rule in self._rules(spec["groups"], attr.get("namespace")))
            return Response(201, {"status": {"allowed": allowed}})
        if path == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings":
            return Response(200, {"items": self.cluster_role_bindings, "metadata": {}})
        match = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
        if match:
            ns = self.namespaces.get(match.group(1))
            return Response(200, ns) if ns else Response(404, {"message": "not found"})
        match = re.match(r"^/api/v1/namespaces/([^/]+)/pods$", path)
        if match and method == "POST":
            assert query == {"dryRun": "All"}
            level = self.namespaces[match.group(1)]["metadata"]["labels"].get("pod-security.kubernetes.io/enforce")
            if self.pod_security_admission and level in ("baseline", "restricted"):
                return Response(403, {"message": 'pods "x" is forbidden: violates PodSecurity "%s:latest"' % level})
            return Response(201, body)
        match = re.match(r"^/api(?:s/[^/]+)?/v1/namespaces/([^/]+)/([a-z]+)(?:/([^/]+))?$", path)
        if match:
            namespace, plural, name = match.groups()
            items = self.objects.get((namespace, plural), [])
            if name:
                found = [i for i in items if i["metadata"]["name"] == name]
                return Response(200, found[0]) if found else Response(404, {"message": "not found"})
            return Response(200, {"items": items, "metadata": {}})
        raise AssertionError("unexpected request %s %s" % (method, path))


@pytest.fixture
def tenants(plans, acme_spec, beta_spec):
    return validate_tenants([acme_spec, beta_spec], plans)


def cluster_for(tenants, **kwargs):
    objects = [obj for tenant in tenants for obj in render_tenant(tenant, "ingress-nginx")]
    return FakeCluster(objects, **kwargs)


def failed(report):
    return {(c.id, c.tenant, c.role, c.namespace) for c in report.failed}


def test_rendered_tenants_pass_every_check(tenants):
    cluster = cluster_for(tenants)
    report = run_audit(cluster.request, tenants, ["platykus-system"], workers=4)
    assert report.failed == [], render_table(report.failed)
    ids = {check.id for check in report.checks}
    assert {"MTB-1.1", "MTB-1.2", "MTB-1.3", "MTB-1.4", "MTB-1.5", "MTB-1.6", "MTB-1.7", "MTB-1.8", "MTB-1.9"} <= ids
    assert {
        "CIS-5.1.1",
        "CIS-5.1.2",
        "CIS-5.1.3",
        "CIS-5.1.5",
        "CIS-5.1.6",
        "CIS-5.1.8",
        "CIS-5.2.1",
        "CIS-5.3.2",
    } <= ids
    assert {"MTB-2.1", "MTB-2.2", "MTB-2.3", "MTB-2.4", "MTB-3.1", "MTB-3.2"} <= ids
    # beta has no viewer group: no viewer checks for it
    assert not [c for c in report.checks if c.tenant == "beta" and c.role == "viewer"]
    # read-only: only GETs and SubjectAccessReview / dry-run POSTs
    assert {method for method, _path in cluster.requests} <= {"GET", "POST"}


def test_group_bound_to_cluster_admin_fails(tenants):
    binding = {
        "metadata": {"name": "oops"},
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "acme-devs"}],
    }
    report = run_audit(cluster_for(tenants, cluster_role_bindings=[binding]).request, tenants, ["platykus-system"])
    bad = failed(report)
    for check_id in (
        "MTB-1.1",
        "MTB-1.2",
        "MTB-1.3",
        "MTB-1.4",
        "MTB-1.5",
        "MTB-1.6",
        "MTB-1.7",
        "MTB-1.8",
        "CIS-5.1.8",
    ):
        assert (check_id, "acme", "developer", "*") in bad
    assert ("CIS-5.1.1", "acme", "-", "*") in bad
    assert not [c for c in report.failed if c.tenant == "beta" or c.role == "admin"]
    leak = next(c for c in report.failed if c.id == "MTB-1.2")
    assert "group acme-devs may get secrets in beta-prod" in leak.detail


def test_missing_default_deny_and_quota_fail(tenants):
    cluster = cluster_for(tenants)
    cluster.objects[("acme-dev", "networkpolicies")] = [
        p for p in cluster.objects[("acme-dev", "networkpolicies")] if p["metadata"]["name"] != "default-deny"
    ]
    cluster.objects[("acme-dev", "resourcequotas")] = []
    bad = failed(run_audit(cluster.request, tenants))
    assert bad == {("CIS-5.3.2", "acme", "-", "acme-dev"), ("MTB-3.1", "acme", "-", "acme-dev")}


def test_privileged_tenant_fails_pod_security_checks(plans, acme_spec, beta_spec):
    beta_spec["pod_security"] = "privileged"
    tenants = validate_tenants([acme_spec, beta_spec], plans)
    bad = failed(run_audit(cluster_for(tenants).request, tenants))
    assert bad == {
        (check_id, "beta", "-", "beta-prod") for check_id in ("CIS-5.2.1", "MTB-2.1", "MTB-2.2", "MTB-2.3", "MTB-2.4")
    }


def test_wildcard_role_and_builtin_binding_fail(tenants):
    cluster = cluster_for(tenants)
    cluster.cluster_roles["edit"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    cluster.objects[("beta-prod", "roles")].append(
        {"metadata": {"name": "sloppy"}, "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]}
    )
    cluster.objects[("beta-prod", "rolebindings")] += [
        {
            "metadata": {"name": "sloppy"},
            "roleRef": {"kind": "Role", "name": "sloppy"},
            "subjects": [{"kind": "Group", "name": "beta-devs"}],
        },
        {
            "metadata": {"name": "legacy-edit"},
            "roleRef": {"kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "beta-prod"}],
        },
    ]
    report = run_audit(cluster.request, tenants)
    bad = failed(report)
    assert ("CIS-5.1.3", "beta", "-", "beta-prod") in bad
    assert ("MTB-1.10", "beta", "-", "beta-prod") in bad
    assert ("CIS-5.1.5", "beta", "-", "beta-prod") in bad
    assert ("MTB-1.4", "beta", "developer", "*") in bad
    assert ("MTB-1.7", "beta", "developer", "*") in bad
    assert not [c for c in report.failed if c.tenant == "acme"]


def test_missing_binding_fails_the_positive_check(tenants):
    cluster = cluster_for(tenants)
    for binding in cluster.objects[("acme-prod", "rolebindings")]:
        if binding["metadata"]["name"] == "tenant-viewer":
            binding["subjects"] = []
    bad = failed(run_audit(cluster.request, tenants))
    assert bad == {("MTB-1.9", "acme", "viewer", "*")}


def test_missing_namespace_is_reported(tenants):
    cluster = cluster_for(tenants)
    del cluster.namespaces["beta-prod"]
    report = run_audit(cluster.request, tenants)
    assert ("MTB-0.1", "beta", "-", "beta-prod") in failed(report)


def test_audit_of_one_tenant_still_guards_the_others(tenants):
    cluster = cluster_for(tenants)
    report = run_audit(cluster.request, tenants[:1], everyone=tenants)
    assert {c.tenant for c in report.checks} == {"acme"}
    other = next(c for c in report.checks if c.id == "MTB-1.2" and c.role == "admin")
    assert other.detail.startswith("5 requests denied")


def test_sar_failure_raises(tenants):
    def forbidden(method, path, body=None, query=None):
        return Response(403, {"message": "subjectaccessreviews is forbidden"})

    with pytest.raises(PlatykusError, match="needs create on subjectaccessreviews"):
        run_audit(forbidden, tenants)


@pytest.mark.parametrize(
    "response, result",
    [
        (Response(201, {}), "fail"),
        (Response(403, {"message": 'violates PodSecurity "restricted:latest"'}), "pass"),
        (Response(400, {"message": 'admission webhook "policy" denied the request'}), "pass"),
        (Response(403, {"message": "exceeded quota: tenant-quota"}), "fail"),
        (Response(404, {"message": 'namespaces "x" not found'}), "fail"),
    ],
)
def test_judge_pod(response, result):
    assert _judge_pod(response)[0] == result


def test_table(tenants):
    report = run_audit(cluster_for(tenants).request, tenants)
    table = report.to_dict()["table"].splitlines()
    assert table[0].split() == ["RESULT", "ID", "TENANT", "ROLE", "NAMESPACE", "CHECK", "DETAIL"]
    assert len(table) == len(report.checks) + 1
    assert all(line.startswith("PASS") for line in table[1:])
    assert report.to_dict()["failed_count"] == 0
