# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered hostname and certificate policy. Its CEL runs on the lab's real API server
(tests/integration/test_lab_cert_policy.py); here: what it matches, that it spells the one
hostname rule of _core.domains (the audit's attacks: test_hostname_probes.py)."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._admission import hostnames as policy_module
from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import (
    CERTIFICATE_FORBIDDEN_FIELDS,
    GATEWAY_GROUP,
    LEAF_USAGES,
    render_hostname_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.domains import HOST_PATTERN
from ansible_collections.platykus.platform.plugins.module_utils._core.names import TENANT_LABEL

POLICY, BINDING = render_hostname_policy()
OWN = "acme.apps.example.com"


def expressions(policy=None) -> str:
    spec = (policy or POLICY)["spec"]
    return "\n".join(
        [v["expression"] for v in spec["variables"]]
        + [v["expression"] for v in spec["validations"]]
        + [v.get("messageExpression", "") for v in spec["validations"]]
    )


def test_policy_and_binding_deny_in_every_tenant_namespace():
    assert POLICY["metadata"]["name"] == BINDING["spec"]["policyName"] == "platykus-tenant-hostnames"
    assert POLICY["spec"]["failurePolicy"] == "Fail"
    assert BINDING["spec"]["validationActions"] == ["Deny"]
    assert BINDING["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
    }
    for validation in POLICY["spec"]["validations"]:
        assert validation["reason"] == "Forbidden"
        assert validation.get("message") or validation.get("messageExpression")


def test_every_source_of_a_name_is_matched_on_create_and_update():
    matched = {
        (group, resource)
        for rule in POLICY["spec"]["matchConstraints"]["resourceRules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {
        ("networking.k8s.io", "ingresses"),
        ("", "services"),
        ("", "pods"),
        ("cert-manager.io", "certificates"),
        ("cert-manager.io", "certificaterequests"),
        (GATEWAY_GROUP, "gateways"),
        (GATEWAY_GROUP, "httproutes"),
        (GATEWAY_GROUP, "grpcroutes"),
        (GATEWAY_GROUP, "tlsroutes"),
    } <= matched
    for rule in POLICY["spec"]["matchConstraints"]["resourceRules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]


@pytest.mark.parametrize(
    "text",
    [
        "external-dns.alpha.kubernetes.io/hostname",
        "external-dns.alpha.kubernetes.io/internal-hostname",
        "external-dns.alpha.kubernetes.io/target",
        "cert-manager.io/common-name",
        "cert-manager.io/alt-names",
        "cert-manager.io/ip-sans",
        "cert-manager.io/uri-sans",
        "cert-manager.io/email-sans",
        "cert-manager.io/subject-organizations",
        "cert-manager.io/subject-serialnumber",
        "cert-manager.io/usages",
        "object.spec.isCA",
        "object.spec.hostnames",
        "object.spec.listeners",
        "object.spec.rules",
        "object.spec.tls",
        "object.spec.dnsNames",
        "object.spec.commonName",
        "object.spec.usages",
        "isIP(h)",
    ],
)
def test_every_field_and_annotation_is_read(text):
    assert text in expressions()


def test_identity_and_ca_fields_of_a_certificate_are_refused_whatever_their_value():
    for field in (
        "literalSubject",
        "subject",
        "uris",
        "ipAddresses",
        "emailAddresses",
        "otherNames",
        "nameConstraints",
    ):
        assert field in CERTIFICATE_FORBIDDEN_FIELDS
        assert "has(object.spec.%s)" % field in expressions()
    assert not {"cert sign", "crl sign", "any", "ocsp signing"} & set(LEAF_USAGES)


def test_the_cel_rule_is_the_validators_pattern():
    # one home: the policy's RE2 pattern is _core.domains.HOST_PATTERN, anchored and escaped for CEL
    assert policy_module._HOST_RE == "^(%s)$" % HOST_PATTERN.replace("\\", "\\\\")
    assert policy_module._HOST_RE in expressions()
    # the loose rule of issue 27 is gone
    assert "replace('*.'" not in expressions()


def test_messages_hold_no_quote_that_would_end_a_cel_string():
    assert "'" not in policy_module._MESSAGE + policy_module._FIELDS_MESSAGE
