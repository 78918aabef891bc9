# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit against a fake API server: the rendered tenant objects, a small RBAC evaluator, Pod
Security and the token Secret policy, behind a real KubeClient whose ``call`` is faked."""

from __future__ import annotations

import re

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.admission import (
    binding_problems,
    judge_refusal,
    policy_problems,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.run import render_table, run_audit
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, Response
from ansible_collections.platykus.platform.plugins.module_utils._core.names import SA_TOKEN_POLICY_NAME, TENANT_LABEL
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import (
    SA_TOKEN_SECRET_TYPE,
    render_tenancy_policies,
    render_tenant,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants

CLUSTER_ADMIN_RULES = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
ADMISSION = "admissionregistration.k8s.io/v1"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
# (plural, kind, namespaced) per group version, as discovery lists them.
DISCOVERY = {
    "v1": [
        ("namespaces", "Namespace", False),
        ("pods", "Pod", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("resourcequotas", "ResourceQuota", True),
        ("limitranges", "LimitRange", True),
    ],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
    "authorization.k8s.io/v1": [("subjectaccessreviews", "SubjectAccessReview", False)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    ADMISSION: [
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False),
    ],
}
PLURAL = {kind: plural for resources in DISCOVERY.values() for plural, kind, _namespaced in resources}


def _matches(rule, attr):
    resource = attr["resource"] + ("/" + attr["subresource"] if attr.get("subresource") else "")
    return (
        ("*" in rule["apiGroups"] or attr["group"] in rule["apiGroups"])
        and ("*" in rule["resources"] or resource in rule["resources"])
        and ("*" in rule["verbs"] or attr["verb"] in rule["verbs"])
        and (not rule.get("resourceNames") or attr.get("name") in rule["resourceNames"])
    )


def _discovery(group_version):
    return {
        "resources": [
            {"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["list", "get", "create"]}
            for plural, kind, namespaced in DISCOVERY[group_version]
        ]
    }


class FakeCluster(KubeClient):
    """Objects by namespace and kind; RBAC evaluated from Roles/RoleBindings and ClusterRoleBindings;
    Pod Security by the namespace label; the token Secret policy when its objects are there."""

    def __init__(self, objects, cluster_role_bindings=(), pod_security_admission=True):
        super().__init__(api_client=None, retries=0)
        self.namespaces = {}
        self.objects = {}
        self.cluster = {}  # (plural, name) -> cluster-scoped object
        for obj in objects:
            if obj["kind"] == "Namespace":
                self.namespaces[obj["metadata"]["name"]] = obj
            elif obj["metadata"].get("namespace"):
                self.objects.setdefault((obj["metadata"]["namespace"], PLURAL[obj["kind"]]), []).append(obj)
            else:
                self.cluster[(PLURAL[obj["kind"]], obj["metadata"]["name"])] = obj
        self.cluster_role_bindings = list(cluster_role_bindings)
        self.cluster_roles = {"cluster-admin": CLUSTER_ADMIN_RULES}
        self.pod_security_admission = pod_security_admission
        self.impersonated = set()
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
                rules += (
                    roles[ref["name"]]["rules"] if ref["kind"] == "Role" else self.cluster_roles.get(ref["name"], [])
                )
        return rules

    def allowed(self, groups, attr):
        return any(_matches(rule, attr) for rule in self._rules(groups, attr.get("namespace")))

    def impersonate(self, client, user, group):
        assert client is self
        self.impersonated.add((user, group))
        return Identity(self, [group, "system:authenticated"])

    def call(self, method, path, body=None, query=None, content_type="application/json", verb=None, target=None):
        return self.serve(method, path, body, query, groups=None)

    def serve(self, method, path, body, query, groups):
        self.requests.append((method, path))
        if method == "POST":
            return self._post(path, body, query, groups)
        match = re.match(r"^/apis?(?:/([^/]+))?/v1$", path)
        if match:
            version = "%s/v1" % match.group(1) if match.group(1) else "v1"
            if version not in DISCOVERY:
                return Response(404, {"message": "the server could not find the requested resource"})
            return Response(200, _discovery(version))
        if path == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings":
            return Response(200, {"items": self.cluster_role_bindings, "metadata": {}})
        match = re.match(r"^/apis/rbac.authorization.k8s.io/v1/clusterroles/([^/]+)$", path)
        if match:
            rules = self.cluster_roles.get(match.group(1))
            return Response(200, {"metadata": {"name": match.group(1)}, "rules": rules}) if rules else Response(404, {})
        match = re.match(r"^/apis/admissionregistration.k8s.io/v1/([a-z]+)/([^/]+)$", path)
        if match:
            found = self.cluster.get(match.groups())
            return Response(200, found) if found else Response(404, {"message": "not found"})
        if path == "/api/v1/secrets":  # cluster-wide, by a label's presence (the key Secrets' selector)
            wanted = (query or {}).get("labelSelector")
            items = [
                i
                for (_ns, plural), found in self.objects.items()
                if plural == "secrets"
                for i in found
                if wanted in (i["metadata"].get("labels") or {})
            ]
            return Response(200, {"items": items, "metadata": {}})
        match = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
        if match:
            ns = self.namespaces.get(match.group(1))
            return Response(200, ns) if ns else Response(404, {"message": "not found"})
        match = re.match(r"^/api(?:s/[^/]+)?/v1/namespaces/([^/]+)/([a-z]+)(?:/([^/]+))?$", path)
        if match:
            namespace, plural, name = match.groups()
            items = self.objects.get((namespace, plural), [])
            if name:
                found = [i for i in items if i["metadata"]["name"] == name]
                return Response(200, found[0]) if found else Response(404, {"message": "not found"})
            return Response(200, {"items": items, "metadata": {}})
        raise AssertionError("unexpected request GET %s" % path)

    def _post(self, path, body, query, groups):
        if path == SAR_PATH:
            spec = body["spec"]
            return Response(201, {"status": {"allowed": self.allowed(spec["groups"], spec["resourceAttributes"])}})
        assert query == {"dryRun": "All"}
        namespace, plural = re.match(r"^/api/v1/namespaces/([^/]+)/([a-z]+)$", path).groups()
        if namespace not in self.namespaces:
            return Response(404, {"message": 'namespaces "%s" not found' % namespace})
        if plural == "pods":
            return self._admit_pod(namespace, body)
        return self._admit_secret(namespace, body, groups)

    def _admit_pod(self, namespace, body):
        level = self.namespaces[namespace]["metadata"]["labels"].get("pod-security.kubernetes.io/enforce")
        if self.pod_security_admission and level in ("baseline", "restricted"):
            return Response(403, {"message": 'pods "x" is forbidden: violates PodSecurity "%s:latest"' % level})
        return Response(201, body)

    def _admit_secret(self, namespace, body, groups):
        attr = {"verb": "create", "resource": "secrets", "group": "", "namespace": namespace}
        if groups is not None and not self.allowed(groups, attr):
            return Response(403, {"message": 'secrets is forbidden: User "u" cannot create resource "secrets"'})
        binding = self.cluster.get(("validatingadmissionpolicybindings", SA_TOKEN_POLICY_NAME))
        policy = self.cluster.get(("validatingadmissionpolicies", SA_TOKEN_POLICY_NAME))
        labelled = TENANT_LABEL in self.namespaces[namespace]["metadata"]["labels"]
        enforced = policy and binding and "Deny" in binding["spec"]["validationActions"] and labelled
        if enforced and body.get("type") == SA_TOKEN_SECRET_TYPE:
            return Response(403, {"message": "ValidatingAdmissionPolicy '%s' denied request" % SA_TOKEN_POLICY_NAME})
        return Response(201, body)


class Identity:
    """The fake cluster as one impersonated user sees it."""

    def __init__(self, cluster, groups):
        self.cluster = cluster
        self.groups = groups

    def call(self, method, path, body=None, query=None, content_type="application/json", verb=None, target=None):
        return self.cluster.serve(method, path, body, query, groups=self.groups)


def audit(cluster, tenants, *args, **kwargs):
    # The registered tenant admission policies have their own fake API server (test_audit_policies).
    return run_audit(cluster, tenants, *args, impersonate=cluster.impersonate, policies=(), **kwargs)


@pytest.fixture
def tenants(plans, acme_spec, beta_spec):
    return validate_tenants([acme_spec, beta_spec], plans)


def cluster_for(tenants, **kwargs):
    objects = [obj for tenant in tenants for obj in render_tenant(tenant, "ingress-nginx")]
    return FakeCluster(objects + render_tenancy_policies(), **kwargs)


def failed(report):
    return {(c.id, c.tenant, c.role, c.namespace) for c in report.failed}


def test_rendered_tenants_pass_every_check(tenants):
    cluster = cluster_for(tenants)
    report = audit(cluster, tenants, ["platykus-system"], workers=4)
    assert report.failed == [], render_table(report.failed)
    ids = {check.id for check in report.checks}
    assert {"MTB-1.1", "MTB-1.2", "MTB-1.3", "MTB-1.4", "MTB-1.5", "MTB-1.6", "MTB-1.7", "MTB-1.8", "MTB-1.9"} <= ids
    assert {"MTB-1.10", "MTB-1.11", "MTB-1.12", "MTB-1.13"} <= ids
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
    assert ("audit-acme-developer", "acme-devs") in cluster.impersonated


def test_group_bound_to_cluster_admin_fails(tenants):
    binding = {
        "metadata": {"name": "oops"},
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "acme-devs"}],
    }
    report = audit(cluster_for(tenants, cluster_role_bindings=[binding]), tenants, ["platykus-system"])
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
    tokens = next(c for c in report.failed if c.id == "MTB-1.7")
    assert "create serviceaccounts/token (cluster-wide)" in tokens.detail


def test_missing_default_deny_and_quota_fail(tenants):
    cluster = cluster_for(tenants)
    cluster.objects[("acme-dev", "networkpolicies")] = [
        p for p in cluster.objects[("acme-dev", "networkpolicies")] if p["metadata"]["name"] != "default-deny"
    ]
    cluster.objects[("acme-dev", "resourcequotas")] = []
    bad = failed(audit(cluster, tenants))
    assert bad == {("CIS-5.3.2", "acme", "-", "acme-dev"), ("MTB-3.1", "acme", "-", "acme-dev")}


def test_privileged_tenant_fails_pod_security_checks(plans, acme_spec, beta_spec):
    beta_spec["pod_security"] = "privileged"
    tenants = validate_tenants([acme_spec, beta_spec], plans)
    bad = failed(audit(cluster_for(tenants), tenants))
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
    report = audit(cluster, tenants)
    bad = failed(report)
    assert ("CIS-5.1.3", "beta", "-", "beta-prod") in bad
    assert ("MTB-1.10", "beta", "-", "beta-prod") in bad
    assert ("MTB-1.11", "beta", "-", "beta-prod") in bad
    assert ("CIS-5.1.5", "beta", "-", "beta-prod") in bad
    assert ("MTB-1.4", "beta", "developer", "*") in bad
    assert ("MTB-1.7", "beta", "developer", "*") in bad
    assert not [c for c in report.failed if c.tenant == "acme"]
    excess = next(c for c in report.failed if c.id == "MTB-1.11")
    assert "sloppy grants every verb on every resource" in excess.detail
    # edit here only creates pods, which the tenant roles grant: excess is judged by content
    assert "legacy-edit" not in excess.detail


def _bind_cluster_role(cluster, namespace, name, rules):
    if rules is not None:
        cluster.cluster_roles[name] = rules
    cluster.objects[(namespace, "rolebindings")].append(
        {
            "metadata": {"name": "by-hand"},
            "roleRef": {"kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "Group", "name": "acme-devs"}],
        }
    )


@pytest.mark.parametrize(
    "name, rules, ids, detail",
    [
        pytest.param(
            "admin",
            [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}],
            {"MTB-1.10", "MTB-1.11"},
            "by-hand grants create serviceaccounts/token",
            id="builtin-admin",
        ),
        pytest.param(
            "token-minter",
            [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}],
            {"MTB-1.11"},
            "by-hand grants create serviceaccounts/token",
            id="custom-cluster-role",
        ),
        pytest.param(
            "not-there-yet",
            None,
            {"MTB-1.11"},
            "roleRef ClusterRole not-there-yet does not exist, so what it grants is unknown",
            id="missing-cluster-role",
        ),
    ],
)
def test_binding_added_by_hand_is_caught(tenants, name, rules, ids, detail):
    cluster = cluster_for(tenants)
    _bind_cluster_role(cluster, "acme-dev", name, rules)
    report = audit(cluster, tenants)
    namespace_failures = {c.id for c in report.failed if c.namespace == "acme-dev" and c.role == "-"}
    assert namespace_failures == ids
    assert detail in next(c for c in report.failed if c.id == "MTB-1.11").detail


def test_missing_binding_fails_the_positive_check(tenants):
    cluster = cluster_for(tenants)
    for binding in cluster.objects[("acme-prod", "rolebindings")]:
        if binding["metadata"]["name"] == "tenant-viewer":
            binding["subjects"] = []
    bad = failed(audit(cluster, tenants))
    assert bad == {("MTB-1.9", "acme", "viewer", "*")}


def test_missing_namespace_is_reported(tenants):
    cluster = cluster_for(tenants)
    del cluster.namespaces["beta-prod"]
    report = audit(cluster, tenants)
    assert ("MTB-0.1", "beta", "-", "beta-prod") in failed(report)
    assert not [c for c in report.checks if c.namespace == "beta-prod" and c.id != "MTB-0.1"]


def test_audit_of_one_tenant_still_guards_the_others(tenants):
    cluster = cluster_for(tenants)
    report = audit(cluster, tenants[:1], everyone=tenants)
    assert {c.tenant for c in report.checks} == {"acme"}
    other = next(c for c in report.checks if c.id == "MTB-1.2" and c.role == "admin")
    assert other.detail.startswith("5 requests denied")


def test_sar_failure_raises(tenants):
    class Forbidden(FakeCluster):
        def _post(self, path, body, query, groups):
            return Response(403, {"message": "subjectaccessreviews is forbidden"})

    with pytest.raises(PlatykusError, match="needs create on subjectaccessreviews"):
        audit(Forbidden([]), tenants)


# -- the token Secret policy ---------------------------------------------------------------------


def _drop(cluster, plural):
    del cluster.cluster[(plural, SA_TOKEN_POLICY_NAME)]


def test_missing_policy_binding_fails_config_and_behaviour(tenants):
    cluster = cluster_for(tenants)
    _drop(cluster, "validatingadmissionpolicybindings")
    report = audit(cluster, tenants)
    bad = failed(report)
    assert {("MTB-1.12", tenant, "-", "*") for tenant in ("acme", "beta")} <= bad
    # developers and admins write Secrets, so each of their dry runs is admitted; viewers cannot
    token_secrets = {(c.tenant, c.role, c.namespace) for c in report.failed if c.id == "MTB-1.13"}
    assert token_secrets == {
        (tenant, role, ns)
        for tenant, namespaces in (("acme", ("acme-dev", "acme-prod")), ("beta", ("beta-prod",)))
        for role in ("admin", "developer")
        for ns in namespaces
    }
    check = next(c for c in report.failed if c.id == "MTB-1.13" and c.namespace == "acme-dev" and c.role == "developer")
    assert check.detail == "group acme-devs: a dry-run create was admitted"
    config = next(c for c in report.failed if c.id == "MTB-1.12")
    assert "ValidatingAdmissionPolicyBinding %s does not exist" % SA_TOKEN_POLICY_NAME in config.detail
    viewer = next(c for c in report.checks if c.id == "MTB-1.13" and c.role == "viewer")
    assert viewer.result == "pass" and "cannot create resource" in viewer.detail


def test_policy_in_warn_mode_fails(tenants):
    cluster = cluster_for(tenants)
    cluster.cluster[("validatingadmissionpolicybindings", SA_TOKEN_POLICY_NAME)]["spec"]["validationActions"] = ["Warn"]
    report = audit(cluster, tenants)
    assert {c.id for c in report.failed} == {"MTB-1.12", "MTB-1.13"}
    config = next(c for c in report.failed if c.id == "MTB-1.12")
    assert config.detail == "validationActions ['Warn'] do not include Deny"


def _set(obj, path, value):
    *parents, last = path.split(".")
    for key in parents:
        obj = obj.setdefault(key, {})
    obj[last] = value


@pytest.mark.parametrize(
    "index, path, value, problem",
    [
        (0, "spec.failurePolicy", "Ignore", "failurePolicy is Ignore"),
        (0, "spec.validations", [{"expression": "true"}], "no validation compares object.type"),
        (
            0,
            "spec.matchConstraints.resourceRules",
            [{"apiGroups": [""], "resources": ["secrets"], "operations": ["UPDATE"]}],
            "resourceRules do not match CREATE of secrets",
        ),
        (
            0,
            "spec.matchConstraints.resourceRules",
            [{"apiGroups": ["apps"], "resources": ["*"], "operations": ["*"]}],
            "resourceRules do not match CREATE of secrets",
        ),
        (0, "spec.matchConstraints.objectSelector", {"matchLabels": {"audited": "yes"}}, "has an objectSelector"),
        (1, "spec.policyName", "other", "the binding names policy other"),
        (1, "spec.validationActions", ["Audit"], "do not include Deny"),
        (1, "spec.matchResources.namespaceSelector", {"matchLabels": {TENANT_LABEL: "acme"}}, "does not select every"),
        (
            1,
            "spec.matchResources.namespaceSelector",
            {"matchExpressions": [{"key": TENANT_LABEL, "operator": "In", "values": ["acme"]}]},
            "does not select every",
        ),
        (
            1,
            "spec.matchResources.excludeResourceRules",
            [{"apiGroups": [""], "resources": ["secrets"], "operations": ["*"]}],
            "has excludeResourceRules",
        ),
        (
            1,
            "spec.matchResources.resourceRules",
            [{"apiGroups": [""], "resources": ["configmaps"], "operations": ["*"]}],
            "resourceRules do not match CREATE of secrets",
        ),
    ],
)
def test_policy_content_problems(index, path, value, problem):
    objects = render_tenancy_policies()
    _set(objects[index], path, value)
    problems = policy_problems(objects[0]) + binding_problems(objects[1])
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize(
    "index, path, value",
    [
        (0, "spec.matchConstraints.resourceRules", [{"apiGroups": ["*"], "resources": ["*"], "operations": ["*"]}]),
        (
            0,
            "spec.matchConstraints.resourceRules",
            [{"apiGroups": [""], "resources": ["secrets"], "operations": ["CREATE", "UPDATE"]}],
        ),
        (1, "spec.matchResources.namespaceSelector", {}),
        (1, "spec.validationActions", ["Deny", "Audit"]),
    ],
)
def test_policy_content_as_strong_or_stronger_passes(index, path, value):
    objects = render_tenancy_policies()
    _set(objects[index], path, value)
    assert policy_problems(objects[0]) + binding_problems(objects[1]) == []


def test_policy_and_binding_missing():
    assert policy_problems(None) == ["ValidatingAdmissionPolicy %s does not exist" % SA_TOKEN_POLICY_NAME]
    assert binding_problems(None) == ["ValidatingAdmissionPolicyBinding %s does not exist" % SA_TOKEN_POLICY_NAME]


def test_impersonation_refused_raises(tenants):
    class NoImpersonation(FakeCluster):
        def impersonate(self, client, user, group):
            identity = super().impersonate(client, user, group)
            identity.call = lambda *args, **kwargs: Response(
                403, {"message": 'users "%s" is forbidden: User "x" cannot impersonate resource "users"' % user}
            )
            return identity

    cluster = NoImpersonation([obj for t in tenants for obj in render_tenant(t)] + render_tenancy_policies())
    with pytest.raises(PlatykusError, match="needs impersonate on users and groups"):
        audit(cluster, tenants)


@pytest.mark.parametrize(
    "response, result",
    [
        (Response(201, {}), "fail"),
        (Response(403, {"message": 'violates PodSecurity "restricted:latest"'}), "pass"),
        (Response(400, {"message": 'admission webhook "policy" denied the request'}), "pass"),
        (Response(403, {"message": "ValidatingAdmissionPolicy 'x' with binding 'x' denied request"}), "pass"),
        (Response(403, {"message": "exceeded quota: tenant-quota"}), "fail"),
        (Response(404, {"message": 'namespaces "x" not found'}), "fail"),
        (Response(409, {"message": 'pods "platykus-audit-privileged" already exists'}), "fail"),
    ],
)
def test_judge_refusal(response, result):
    assert judge_refusal(response)[0] == result


def test_table(tenants):
    report = audit(cluster_for(tenants), tenants)
    table = report.to_dict()["table"].splitlines()
    assert table[0].split() == ["RESULT", "ID", "TENANT", "ROLE", "NAMESPACE", "CHECK", "DETAIL"]
    assert len(table) == len(report.checks) + 1
    assert all(line.startswith("PASS") for line in table[1:])
    assert report.to_dict()["failed_count"] == 0
