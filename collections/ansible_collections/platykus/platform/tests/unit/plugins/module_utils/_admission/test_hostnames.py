# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered hostname and certificate policy. Its CEL runs on the lab's real API server
(tests/integration/test_lab_cert_policy.py); here: what it matches, that it spells the one
hostname rule of _core.domains, and that the audit's attacks are shaped to be refused by it alone."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._admission import hostnames as policy_module
from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import (
    CERTIFICATE_FORBIDDEN_FIELDS,
    FOREIGN_HOST,
    GATEWAY_GROUP,
    LEAF_USAGES,
    _spelling_tricks,
    hostname_attacks,
    render_hostname_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.domains import (
    HOST_PATTERN,
    covered,
    hostname_problem,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AUDIT_LABEL, TENANT_LABEL

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


@pytest.mark.parametrize("what,host", _spelling_tricks(OWN))
def test_the_validator_refuses_the_spelling_tricks_the_audit_tries(what, host):
    assert hostname_problem(host, wildcard=True) is not None or not covered(host, [OWN]), what


@pytest.mark.parametrize("host", ["shop.%s" % OWN, "*.%s" % OWN, OWN])
def test_the_validator_accepts_own_hosts(host):
    assert hostname_problem(host, wildcard=True) is None and covered(host, [OWN])


def test_attacks_are_dry_run_shaped_and_name_no_own_host_alone():
    attacks = hostname_attacks("acme-dev", [OWN])
    whats = [what for what, _obj in attacks]
    assert len(whats) == len(set(whats))
    for what, obj in attacks:
        meta = obj["metadata"]
        assert meta["namespace"] == "acme-dev" and meta["generateName"] and meta["labels"] == {AUDIT_LABEL: "true"}, (
            what
        )
    kinds = {obj["kind"] for _w, obj in attacks}
    assert kinds >= {"Certificate", "CertificateRequest", "Ingress", "Service", "Pod", "Gateway", "HTTPRoute"}
    assert any(FOREIGN_HOST in str(obj) for _w, obj in attacks)


def test_attacks_without_domains_still_render():
    assert hostname_attacks("x", [])


def test_messages_hold_no_quote_that_would_end_a_cel_string():
    assert "'" not in policy_module._MESSAGE + policy_module._FIELDS_MESSAGE


def test_controls_are_own_names_only():
    controls = policy_module.hostname_controls("acme-dev", [OWN])
    assert controls and not any(FOREIGN_HOST in str(obj) for _w, obj in controls)
    assert policy_module.hostname_controls("acme-dev", []) == []
