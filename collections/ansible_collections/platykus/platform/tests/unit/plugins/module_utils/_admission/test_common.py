# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shapes every tenant admission policy shares, written once: who is the platform, the binding."""

from __future__ import annotations

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import render_addon_policies
from ansible_collections.platykus.platform.plugins.module_utils._admission.common import (
    IS_PLATFORM_REQUEST,
    render_binding,
)
from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import render_hostname_policy
from ansible_collections.platykus.platform.plugins.module_utils._admission.workloads import render_workload_policies
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    PLATFORM_WRITER_GROUPS,
    SERVICE_POLICY_NAME,
    TENANT_LABEL,
)

RENDERED = render_hostname_policy() + render_addon_policies() + render_workload_policies()


def test_the_platform_is_its_groups_the_controllers_and_who_may_manage_addons():
    for group in PLATFORM_WRITER_GROUPS:
        assert "'%s'" % group in IS_PLATFORM_REQUEST
    assert "system:serviceaccount:kube-system:" in IS_PLATFORM_REQUEST
    assert "authorizer.group('platykus.io').resource('addons')" in IS_PLATFORM_REQUEST


def test_every_policy_that_lets_the_platform_through_uses_the_one_expression():
    readers = {
        o["metadata"]["name"]
        for o in RENDERED
        if o["kind"] == "ValidatingAdmissionPolicy"
        and any("request.userInfo" in v["expression"] for v in o["spec"]["validations"])
    }
    assert SERVICE_POLICY_NAME in readers and len(readers) == 3
    for obj in RENDERED:
        if obj["metadata"]["name"] in readers and obj["kind"] == "ValidatingAdmissionPolicy":
            assert any(IS_PLATFORM_REQUEST in v["expression"] for v in obj["spec"]["validations"])


def test_every_binding_denies_in_every_tenant_namespace():
    bindings = [o for o in RENDERED if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert len(bindings) == 5
    for binding in bindings:
        assert binding == render_binding(binding["metadata"]["name"])
    assert bindings[0]["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
    }
