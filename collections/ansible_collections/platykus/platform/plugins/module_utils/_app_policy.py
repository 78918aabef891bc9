# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostname ownership on the API server: a ValidatingAdmissionPolicy (CEL, no webhook).

In every namespace labelled platykus.io/tenant, an Ingress (its rules' and TLS hosts), the
external-dns hostname annotation of an Ingress or a Service, and a cert-manager Certificate (its
dnsNames and commonName, which the platform CA would sign) may only name hosts under the
domains in the namespace's ``platykus.io/domains`` annotation, which onboarding writes from the
tenant spec and tenants cannot change (they have no write on namespaces). The app validator
checks the same rule first (:mod:`_domains`), so a playbook fails before the API server has to.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._domains import DOMAINS_ANNOTATION
from ansible_collections.platykus.platform.plugins.module_utils._names import (
    HOSTNAME_POLICY_NAME,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)

EXTERNAL_DNS_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname"
# A host is allowed when it (without a leading "*.") is a domain of the namespace or under one.
_ALLOWED = "variables.domains.exists(d, h.replace('*.', '', 1) == d || h.endsWith('.' + d))"
_VARIABLES = [
    {
        "name": "domains",
        "expression": "has(namespaceObject.metadata.annotations) && '%s' in namespaceObject.metadata.annotations "
        "&& namespaceObject.metadata.annotations['%s'] != '' ? namespaceObject.metadata.annotations['%s'].split(',') : []"
        % ((DOMAINS_ANNOTATION,) * 3),
    },
    {
        "name": "dnsHosts",
        "expression": "has(object.metadata.annotations) && '%s' in object.metadata.annotations "
        "? object.metadata.annotations['%s'].split(',').map(h, h.trim()) : []" % ((EXTERNAL_DNS_ANNOTATION,) * 2),
    },
    {
        "name": "ruleHosts",
        "expression": "object.kind == 'Ingress' && has(object.spec.rules) "
        "? object.spec.rules.filter(r, has(r.host)).map(r, r.host) : []",
    },
    {
        "name": "certHosts",
        "expression": "object.kind == 'Certificate' "
        "? (has(object.spec.dnsNames) ? object.spec.dnsNames : []) "
        "+ (has(object.spec.commonName) ? [object.spec.commonName] : []) : []",
    },
]
_MESSAGE = (
    "are outside the domains of this tenant (annotation %s of the namespace, from the tenant spec); "
    "use a hostname under them or ask the platform team to add a domain" % DOMAINS_ANNOTATION
)
_TLS = (
    "object.kind != 'Ingress' || !has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, %s))"
    % _ALLOWED
)


def _validation(variable: str, what: str) -> dict[str, Any]:
    return {
        "expression": "variables.%s.all(h, %s)" % (variable, _ALLOWED),
        "messageExpression": "'%s ' + variables.%s.filter(h, !(%s)).join(', ') + ' %s'"
        % (what, variable, _ALLOWED, _MESSAGE),
        "reason": "Forbidden",
    }


def render_hostname_policy() -> list[dict[str, Any]]:
    """The policy and its binding (Deny in every tenant namespace)."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    rules = [
        {
            "apiGroups": ["networking.k8s.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["ingresses"],
        },
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["services"]},
        {
            "apiGroups": ["cert-manager.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["certificates"],
        },
    ]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": HOSTNAME_POLICY_NAME, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": rules},
            "variables": _VARIABLES,
            "validations": [
                _validation("ruleHosts", "Ingress hosts"),
                {"expression": _TLS, "message": "Ingress TLS hosts %s" % _MESSAGE, "reason": "Forbidden"},
                _validation("dnsHosts", "external-dns hostnames"),
                _validation("certHosts", "Certificate hosts"),
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": HOSTNAME_POLICY_NAME, "labels": labels},
        "spec": {
            "policyName": HOSTNAME_POLICY_NAME,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
            },
        },
    }
    return [policy, binding]
