# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering of the scheduling and Service policies; what they refuse is proved on the lab
(tests/integration/test_scheduling_services_policy.py)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._admission.workloads import (
    LB_ADDRESS_ANNOTATIONS,
    MAX_TENANT_PRIORITY,
    TEMPLATE_KINDS,
    priority_attacks,
    priority_quota_spec,
    render_priority_classes,
    render_priority_policy,
    render_service_policy,
    render_workload_policies,
    service_attacks,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.quota import check_fits
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    DEFAULT_TENANT_PRIORITY_CLASSES,
    PRIORITY_CLASSES_ANNOTATION,
    PRIORITY_POLICY_NAME,
    PRIORITY_QUOTA_NAME,
    SERVICE_POLICY_NAME,
    TENANT_LABEL,
    TENANT_PRIORITY_CLASSES,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import (
    render_environment,
    render_tenancy_policies,
    role_rules,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG, spec

# Resources whose objects carry a pod spec (a pod itself or a template the controllers copy).
POD_CARRIERS = {("", "pods")} | set(TEMPLATE_KINDS)


def _matched(policy: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, operation)
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for operation in rule["operations"]
    }


def test_tenant_classes_are_below_every_platform_class_and_never_preempt(repo_file):
    defaults = repo_file("roles/platform_base/defaults/main.yml")
    platform = yaml.safe_load(defaults.read_text())["platform_base_priority_classes"]
    lowest_platform = min(int(item["value"]) for item in platform)
    classes = render_priority_classes()
    assert [c["metadata"]["name"] for c in classes] == list(TENANT_PRIORITY_CLASSES)
    for item in classes:
        assert 0 < item["value"] < lowest_platform
        assert item["preemptionPolicy"] == "Never" and item["globalDefault"] is False
        assert not item["metadata"]["name"].startswith("system-")
    assert MAX_TENANT_PRIORITY == max(c["value"] for c in classes)
    assert set(DEFAULT_TENANT_PRIORITY_CLASSES) <= set(TENANT_PRIORITY_CLASSES)


@pytest.mark.parametrize(
    "render, name", [(render_priority_policy, PRIORITY_POLICY_NAME), (render_service_policy, SERVICE_POLICY_NAME)]
)
def test_policies_deny_in_every_tenant_namespace(render, name):
    policy, binding = render()
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == name
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
    }
    for validation in policy["spec"]["validations"]:
        assert validation["reason"] == "Forbidden"
        assert validation.get("message") or validation.get("messageExpression")


def test_priority_policy_matches_every_pod_carrier_a_tenant_may_write():
    matched = _matched(render_priority_policy()[0])
    assert ("", "pods", "CREATE") in matched
    for group, resource in TEMPLATE_KINDS:
        assert {(group, resource, "CREATE"), (group, resource, "UPDATE")} <= matched
    # Whatever the tenant roles may create that carries a pod spec is matched (DaemonSets are read-only
    # for tenants today and matched anyway).
    writable = {
        (group, resource)
        for role in ("developer", "admin")
        for rule in role_rules(role)
        if "create" in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert writable & POD_CARRIERS <= {(g, r) for g, r, _op in matched}


def test_priority_policy_reads_the_namespace_annotation_and_the_template_of_each_kind():
    spec = render_priority_policy()[0]["spec"]
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    assert PRIORITY_CLASSES_ANNOTATION in variables["allowed"]
    assert "object.spec.jobTemplate.spec.template.spec" in variables["pod"]
    assert "object.spec.template.spec" in variables["pod"]
    expressions = " ".join(v["expression"] for v in spec["validations"])
    assert "variables.className in variables.allowed" in expressions
    assert "priority <= %d" % MAX_TENANT_PRIORITY in expressions
    assert "preemptionPolicy == 'Never'" in expressions


def test_service_policy_covers_each_field_with_the_same_meaning():
    policy = render_service_policy()[0]
    assert _matched(policy) == {("", "services", "CREATE"), ("", "services", "UPDATE")}
    expressions = " ".join(v["expression"] for v in policy["spec"]["validations"])
    for field in ("externalIPs", "externalName", "'ExternalName'", "loadBalancerIP"):
        assert "object.spec.%s" % field.strip("'") in expressions or field in expressions
    for annotation in LB_ADDRESS_ANNOTATIONS:
        assert annotation in expressions
    # Only the ExternalName rule lets the platform through (the local add-on provider writes them).
    platform = [v for v in policy["spec"]["validations"] if "request.userInfo" in v["expression"]]
    assert len(platform) == 1 and "ExternalName" in platform[0]["expression"]


def test_quota_gives_any_other_class_zero_pods():
    spec = priority_quota_spec(["platykus-tenant-high", "platykus-tenant"])
    assert spec["hard"] == {"pods": "0"}
    assert spec["scopeSelector"]["matchExpressions"] == [
        {"scopeName": "PriorityClass", "operator": "Exists"},  # a pod with no class is not selected
        {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["platykus-tenant", "platykus-tenant-high"]},
    ]


def test_onboarding_writes_the_annotation_the_quota_and_the_cluster_objects(plans, acme_spec):
    plans["small"]["priority_classes"] = ["platykus-tenant", "platykus-tenant-high"]
    (tenant,) = validate_tenants([acme_spec], plans)
    objects = render_environment(tenant, tenant.environments[0], None)
    namespace = objects[0]
    assert namespace["metadata"]["annotations"][PRIORITY_CLASSES_ANNOTATION] == "platykus-tenant,platykus-tenant-high"
    (quota,) = [o for o in objects if o["metadata"]["name"] == PRIORITY_QUOTA_NAME]
    assert quota["kind"] == "ResourceQuota" and quota["metadata"]["namespace"] == "acme-dev"
    assert quota["spec"] == priority_quota_spec(tenant.priority_classes)
    shared = {(o["kind"], o["metadata"]["name"]) for o in render_tenancy_policies()}
    assert {(o["kind"], o["metadata"]["name"]) for o in render_workload_policies()} <= shared


def test_tenants_cannot_write_what_would_bypass_the_service_policy():
    for role in ("developer", "admin"):
        written = {
            (group, resource)
            for rule in role_rules(role)
            if set(rule["verbs"]) & {"create", "update", "patch"}
            for group in rule["apiGroups"]
            for resource in rule["resources"]
        }
        for forbidden in (("", "services/status"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices")):
            assert forbidden not in written, (role, forbidden)


def test_attacks_are_in_the_namespace_and_cover_every_kind():
    priority = priority_attacks("acme-dev", ["acme.apps.example.com"])
    services = service_attacks("acme-dev", ["acme.apps.example.com"])
    for what, obj in priority + services:
        assert what and obj["metadata"]["namespace"] == "acme-dev"
    names = [obj["metadata"]["name"] for _what, obj in priority + services]
    assert len(names) == len(set(names))
    kinds = {obj["kind"] for _what, obj in priority}
    assert kinds == {"Pod"} | set(TEMPLATE_KINDS.values()) - {"DaemonSet"}  # tenants cannot create DaemonSets
    pod_classes = {obj["spec"].get("priorityClassName") for _what, obj in priority if obj["kind"] == "Pod"}
    assert {"system-cluster-critical", "system-node-critical"} <= pod_classes
    # Classes a bare cluster may not have yet go in templates, which only the policy reads.
    deployments = [obj["spec"]["template"]["spec"] for _what, obj in priority if obj["kind"] == "Deployment"]
    assert {"platykus-platform-critical", "made-up-priority"} <= {d.get("priorityClassName") for d in deployments}
    assert any(obj["spec"].get("externalIPs") for _w, obj in services)
    assert any(obj["spec"].get("loadBalancerIP") for _w, obj in services)
    targets = {obj["spec"].get("externalName") for _w, obj in services}
    assert {"kubernetes.default.svc.cluster.local", "web.globex-prod.svc", "web", "10.96.0.1"} <= targets
    assert "www.acme.apps.example.com" in targets


def test_the_app_deploy_check_leaves_the_scoped_quota_out():
    app = validate_app(spec(), validate_catalog(CATALOG), None)
    scoped = {
        "metadata": {"name": PRIORITY_QUOTA_NAME, "namespace": "acme-dev"},
        "spec": priority_quota_spec(DEFAULT_TENANT_PRIORITY_CLASSES),
        "status": {"hard": {"pods": "0"}, "used": {}},
    }
    plain = {"metadata": {"name": "tenant-quota", "namespace": "acme-dev"}, "spec": {"hard": {"pods": "40"}}}
    check_fits(app, [plain, scoped], [], {})  # the app's pods name no class: the scoped quota does not count them
