# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostname and certificate ownership on the API server: a ValidatingAdmissionPolicy (CEL, no webhook).

In every namespace labelled platykus.io/tenant, whoever writes the object (a tenant, an app
playbook, cert-manager's ingress-shim), every name that becomes a DNS record or a certificate
must be under the domains in the namespace's ``platykus.io/domains`` annotation (onboarding
writes it from the tenant spec; tenants have no write on namespaces), spelled by the one rule of
:data:`_core.domains.HOST_PATTERN` (lowercase, no trailing dot, ``*.`` only as the whole first label).
The sources, enumerated from the pinned upstreams:

- external-dns v0.20.0 (sources service, ingress; the Gateway routes for later): the
  ``hostname`` and ``internal-hostname`` annotations (on Services, Ingresses, Gateway routes),
  Ingress rules' hosts, Gateway listeners' and routes' ``hostnames``; the ``target`` annotation
  (Services, Ingresses, Gateways, and Pods behind a headless Service) may only hold IP addresses
  or hosts under the tenant's domains. Its other annotations (ttl, alias, set-identifier, aws-*
  routing, access, endpoints-type, controller, ingress-hostname-source) only shape the tenant's
  own records and are left alone. ``spec.externalIPs`` and ExternalName targets are the Service
  policy's (issue 27, item 4).
- cert-manager v1.21 Certificates: ``dnsNames`` and ``commonName`` under the domains; no
  ``isCA``, ``literalSubject``, ``subject``, ``uris``, ``ipAddresses``, ``emailAddresses``,
  ``otherNames`` or ``nameConstraints``; ``usages`` only from :data:`LEAF_USAGES` (no cert sign,
  crl sign, any, ocsp signing...). The ingress-shim / gateway-shim annotations on Ingresses and
  Gateways are held to the same rule (``common-name``, ``alt-names`` under the domains; no
  ``ip-sans``, ``uri-sans``, ``email-sans``, ``subject-*``; leaf ``usages``), so a bad one fails
  at the Ingress, not silently in cert-manager (its Certificate would be refused anyway).
- CertificateRequests: no ``isCA``, leaf ``usages``. CEL cannot decode the PEM CSR they carry,
  so tenants get no create on them (RBAC; the audit's probes assert it): only cert-manager makes
  them, from Certificates this policy admitted.

The app validator checks the same hostname rule first (:mod:`_core.domains`), so a playbook fails
before the API server has to.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.domains import (
    DOMAINS_ANNOTATION,
    HOST_PATTERN,
    MAX_HOST_LENGTH,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AUDIT_LABEL,
    HOSTNAME_POLICY_NAME,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_CLUSTER_ISSUER,
    TENANT_LABEL,
)

API_VERSION = "admissionregistration.k8s.io/v1"
EXTERNAL_DNS_PREFIX = "external-dns.alpha.kubernetes.io/"
EXTERNAL_DNS_ANNOTATION = EXTERNAL_DNS_PREFIX + "hostname"
INTERNAL_HOSTNAME_ANNOTATION = EXTERNAL_DNS_PREFIX + "internal-hostname"
TARGET_ANNOTATION = EXTERNAL_DNS_PREFIX + "target"
CERT_MANAGER_PREFIX = "cert-manager.io/"
# ingress-shim / gateway-shim annotations naming hosts (checked like dnsNames) ...
SHIM_COMMON_NAME_ANNOTATION = CERT_MANAGER_PREFIX + "common-name"
SHIM_ALT_NAMES_ANNOTATION = CERT_MANAGER_PREFIX + "alt-names"
# ... and those carrying any other identity (refused).
SHIM_FORBIDDEN_ANNOTATIONS = tuple(
    CERT_MANAGER_PREFIX + k
    for k in (
        "ip-sans",
        "uri-sans",
        "email-sans",
        "subject-organizations",
        "subject-organizationalunits",
        "subject-countries",
        "subject-provinces",
        "subject-localities",
        "subject-streetaddresses",
        "subject-postalcodes",
        "subject-serialnumber",
    )
)
SHIM_USAGES_ANNOTATION = CERT_MANAGER_PREFIX + "usages"
# Certificate spec fields that make a CA or carry an identity other than the tenant's hosts.
CERTIFICATE_FORBIDDEN_FIELDS = (
    "literalSubject",
    "subject",
    "uris",
    "ipAddresses",
    "emailAddresses",
    "otherNames",
    "nameConstraints",
)
# The Certificate spec fields the rules above read, and those that carry no identity (key, lifetime,
# output, issuer: tenants cannot make Issuers, and the platform's ClusterIssuers are the platform's).
# Every field of the served CRD is in one of the three lists (tests/integration/test_lab_cert_policy.py).
CERTIFICATE_CHECKED_FIELDS = ("dnsNames", "commonName", "isCA", "usages")
CERTIFICATE_FREE_FIELDS = (
    "secretName",
    "secretTemplate",
    "issuerRef",
    "duration",
    "renewBefore",
    "renewBeforePercentage",
    "renewal",
    "privateKey",
    "keystores",
    "revisionHistoryLimit",
    "additionalOutputFormats",
    "encodeUsagesInRequest",
    "signatureAlgorithm",
)
# What a TLS leaf needs (cert-manager's default is digital signature + key encipherment).
LEAF_USAGES = ("signing", "digital signature", "key encipherment", "key agreement", "server auth", "client auth")
GATEWAY_GROUP = "gateway.networking.k8s.io"
LISTENER_SET_GROUP = "gateway.networking.x-k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute")
LISTENER_KINDS = ("Gateway", "ListenerSet", "XListenerSet")

_HOST_RE = "^(%s)$" % HOST_PATTERN.replace("\\", "\\\\")


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[%s]" % ", ".join("'%s'" % v for v in values)


def _kind_in(kinds: tuple[str, ...]) -> str:
    return "object.kind in %s" % _list(kinds)


def _split(key: str) -> str:
    """An external-dns list annotation as external-dns reads it (spaces removed, split on commas)."""
    return (
        f"('{key}' in variables.annotations ? variables.annotations['{key}'].replace(' ', '').trim().split(',')"
        ".filter(x, x != '') : [])"
    )


def _present(field: str) -> str:
    return f"(has(object.spec.{field}) ? ['spec.{field}'] : [])"


_SHIM_KINDS = ("Ingress",) + LISTENER_KINDS
_VARIABLES = [
    {
        "name": "domains",
        "expression": "has(namespaceObject.metadata.annotations) && '%s' in namespaceObject.metadata.annotations "
        "&& namespaceObject.metadata.annotations['%s'] != '' ? namespaceObject.metadata.annotations['%s'].split(',') : []"
        % ((DOMAINS_ANNOTATION,) * 3),
    },
    {
        "name": "annotations",
        "expression": "has(object.metadata.annotations) ? object.metadata.annotations : {}",
    },
    # Names external-dns publishes from annotations (any matched kind).
    {
        "name": "dnsHosts",
        "expression": "%s + %s" % (_split(EXTERNAL_DNS_ANNOTATION), _split(INTERNAL_HOSTNAME_ANNOTATION)),
    },
    {"name": "dnsTargets", "expression": _split(TARGET_ANNOTATION)},
    # Names in the spec: Ingress rules and TLS, Gateway listeners, routes' hostnames.
    {
        "name": "specHosts",
        "expression": "(object.kind == 'Ingress' && has(object.spec.rules) "
        "? object.spec.rules.filter(r, has(r.host)).map(r, r.host) : []) "
        "+ (%s && has(object.spec.listeners) "
        "? object.spec.listeners.filter(l, has(l.hostname)).map(l, l.hostname) : []) "
        "+ (%s && has(object.spec.hostnames) ? object.spec.hostnames : [])"
        % (_kind_in(LISTENER_KINDS), _kind_in(ROUTE_KINDS)),
    },
    # Names the platform CA would sign: a Certificate's, or those ingress-shim would put in one.
    {
        "name": "certHosts",
        "expression": "(object.kind == 'Certificate' "
        "? (has(object.spec.dnsNames) ? object.spec.dnsNames : []) "
        "+ (has(object.spec.commonName) ? [object.spec.commonName] : []) : []) "
        "+ (%s && '%s' in variables.annotations ? [variables.annotations['%s']] : []) "
        "+ (%s && '%s' in variables.annotations ? variables.annotations['%s'].split(',') : [])"
        % (
            (_kind_in(_SHIM_KINDS),)
            + (SHIM_COMMON_NAME_ANNOTATION,) * 2
            + (_kind_in(_SHIM_KINDS),)
            + (SHIM_ALT_NAMES_ANNOTATION,) * 2
        ),
    },
    # Identity and CA fields present (their paths), whatever their value.
    {
        "name": "certFields",
        "expression": "(object.kind in ['Certificate', 'CertificateRequest'] && has(object.spec.isCA) "
        "&& object.spec.isCA ? ['spec.isCA'] : []) "
        "+ (object.kind == 'Certificate' ? %s : []) "
        "+ (%s ? %s.filter(k, k in variables.annotations).map(k, 'annotation ' + k) : [])"
        % (
            " + ".join(_present(f) for f in CERTIFICATE_FORBIDDEN_FIELDS),
            _kind_in(_SHIM_KINDS),
            _list(SHIM_FORBIDDEN_ANNOTATIONS),
        ),
    },
    {
        "name": "usages",
        "expression": "(object.kind in ['Certificate', 'CertificateRequest'] && has(object.spec.usages) "
        "? object.spec.usages : []) "
        "+ (%s && '%s' in variables.annotations "
        "? variables.annotations['%s'].split(',').map(u, u.trim()) : [])"
        % (_kind_in(_SHIM_KINDS), SHIM_USAGES_ANNOTATION, SHIM_USAGES_ANNOTATION),
    },
]
# A host is allowed when spelled by the one rule and equal to or under a domain of the namespace
# (the pattern lets '*' in only as the whole first label, so '*.d' is under 'd' by endsWith).
_ALLOWED = "(size(h) <= %d && h.matches('%s') && variables.domains.exists(d, h == d || h.endsWith('.' + d)))" % (
    MAX_HOST_LENGTH,
    _HOST_RE,
)
_TARGET_ALLOWED = "(isIP(h) || (!h.startsWith('*') && %s))" % _ALLOWED
_MESSAGE = (
    "are outside the domains of this tenant (annotation %s of the namespace, from the tenant spec) or not "
    "spelled as lowercase DNS names without a trailing dot (*. only as the whole first label); use hostnames "
    "under them or ask the platform team to add a domain" % DOMAINS_ANNOTATION
)
_FIELDS_MESSAGE = (
    "are refused: the platform CA issues tenants leaf certificates for their hosts only "
    "(dnsNames/commonName under their domains); remove them"
)


def _validation(variable: str, what: str, allowed: str = _ALLOWED, message: str = _MESSAGE) -> dict[str, Any]:
    return {
        "expression": "variables.%s.all(h, %s)" % (variable, allowed),
        "messageExpression": "'%s ' + variables.%s.filter(h, !%s).join(', ') + ' %s'"
        % (what, variable, allowed, message),
        "reason": "Forbidden",
    }


_TLS_EXPRESSION = (
    "object.kind != 'Ingress' || !has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, %s))"
    % _ALLOWED
)
_TLS_OFFENDERS = (
    "object.spec.tls.map(t, has(t.hosts) ? t.hosts.filter(h, !%s).join(', ') : '').filter(s, s != '').join(', ')"
    % _ALLOWED
)
_VALIDATIONS = [
    _validation("specHosts", "hosts"),
    {
        "expression": _TLS_EXPRESSION,
        "messageExpression": "'Ingress TLS hosts ' + %s + ' %s'" % (_TLS_OFFENDERS, _MESSAGE),
        "reason": "Forbidden",
    },
    _validation("dnsHosts", "external-dns hostnames"),
    _validation(
        "dnsTargets",
        "external-dns targets",
        _TARGET_ALLOWED,
        "are neither IP addresses nor hosts under the domains of this tenant (annotation %s of the namespace)"
        % DOMAINS_ANNOTATION,
    ),
    _validation("certHosts", "certificate hosts"),
    {
        "expression": "size(variables.certFields) == 0",
        "messageExpression": "'certificate fields ' + variables.certFields.join(', ') + ' %s'" % _FIELDS_MESSAGE,
        "reason": "Forbidden",
    },
    {
        "expression": "variables.usages.all(u, u in %s)" % _list(LEAF_USAGES),
        "messageExpression": "'certificate usages ' + variables.usages.filter(u, !(u in %s)).join(', ') "
        "+ ' are refused: a tenant certificate is a leaf (allowed: %s)'" % (_list(LEAF_USAGES), ", ".join(LEAF_USAGES)),
        "reason": "Forbidden",
    },
]


def _rule(group: str, resources: list[str], versions: tuple[str, ...] = ("*",)) -> dict[str, Any]:
    return {
        "apiGroups": [group],
        "apiVersions": list(versions),
        "operations": ["CREATE", "UPDATE"],
        "resources": resources,
    }


def resource_rules() -> list[dict[str, Any]]:
    """Every kind that hands external-dns or cert-manager a name (Gateway API ones before their CRDs
    are installed: the API server admits rules for resources it does not serve)."""
    return [
        _rule("networking.k8s.io", ["ingresses"], ("v1",)),
        # pods: the target annotation of a headless Service's pods
        _rule("", ["services", "pods"], ("v1",)),
        _rule("cert-manager.io", ["certificates", "certificaterequests"]),
        _rule(
            GATEWAY_GROUP,
            ["gateways", "listenersets", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes"],
        ),
        _rule(LISTENER_SET_GROUP, ["listenersets", "xlistenersets"]),
    ]


def render_hostname_policy() -> list[dict[str, Any]]:
    """The policy and its binding (Deny in every tenant namespace)."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    policy = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": HOSTNAME_POLICY_NAME, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": resource_rules()},
            "variables": _VARIABLES,
            "validations": _VALIDATIONS,
        },
    }
    binding = {
        "apiVersion": API_VERSION,
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


# -- the attacks the audit tries (dry runs, as each tenant role) -----------------------------------
# A name no tenant may have (.invalid is reserved, RFC 2606), standing for another tenant's host.
FOREIGN_HOST = "login.platykus-audit.invalid"
_CA_USAGES = ("cert sign", "crl sign", "any", "ocsp signing")


def _meta(namespace: str, **annotations: str) -> dict[str, Any]:
    return {
        "generateName": "platykus-audit-",
        "namespace": namespace,
        "labels": {AUDIT_LABEL: "true"},
        "annotations": annotations,
    }


def _certificate(namespace: str, own: str, **spec: Any) -> dict[str, Any]:
    base = {
        "secretName": "platykus-audit-tls",
        "dnsNames": ["audit." + own],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": PLATFORM_CLUSTER_ISSUER},
    }
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(namespace),
        "spec": {**base, **spec},
    }


def _ingress(namespace: str, host: str, tls: str | None = None, **annotations: str) -> dict[str, Any]:
    backend = {"service": {"name": "platykus-audit", "port": {"number": 80}}}
    spec: dict[str, Any] = {
        "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]
    }
    if tls:
        spec["tls"] = [{"hosts": [tls], "secretName": "platykus-audit-tls"}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(namespace, **annotations),
        "spec": spec,
    }


def _service(namespace: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(namespace, **annotations),
        "spec": {"type": "ClusterIP", "selector": {"app": "platykus-audit"}, "ports": [{"port": 80}]},
    }


def _pod(namespace: str, **annotations: str) -> dict[str, Any]:
    """Restricted and small, so only this policy can refuse it."""
    container = {
        "name": "probe",
        "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    spec = {"containers": [container], "automountServiceAccountToken": False}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(namespace, **annotations), "spec": spec}


def _gateway_objects(namespace: str, host: str) -> list[tuple[str, dict[str, Any]]]:
    parent = {"parentRefs": [{"name": "platykus-audit"}], "hostnames": [host]}
    # HTTP: an HTTPS listener without certificateRefs fails the CRD's own validation first
    listener = {"name": "http", "port": 80, "protocol": "HTTP", "hostname": host}
    found = [
        ("Gateway listener hostname", "Gateway", "v1", {"gatewayClassName": "platykus-audit", "listeners": [listener]}),
        ("HTTPRoute hostnames", "HTTPRoute", "v1", parent),
        ("GRPCRoute hostnames", "GRPCRoute", "v1", parent),
        (
            "TLSRoute hostnames",
            "TLSRoute",
            "v1",
            {**parent, "rules": [{"backendRefs": [{"name": "x", "port": 443}]}]},
        ),
        (
            "ListenerSet listener hostname",
            "ListenerSet",
            "v1",
            {"parentRef": {"name": "platykus-audit"}, "listeners": [listener]},
        ),
    ]
    return [
        (
            what,
            {
                "apiVersion": "%s/%s" % (GATEWAY_GROUP, version),
                "kind": kind,
                "metadata": _meta(namespace),
                "spec": spec,
            },
        )
        for what, kind, version, spec in found
    ]


def _spelling_tricks(own: str) -> list[tuple[str, str]]:
    """Hosts that look like the tenant's own to a loose rule: each must be refused."""
    first, _dot, rest = own.partition(".")
    tricks = [
        # upper case in the labels only: external-dns's domain filter compares the zone case-sensitively
        ("upper case", "LOGIN.%s" % (first.upper() + ("." + rest if rest else ""))),
        ("trailing dot", "login.%s." % own),
        ("'*' inside a label", "a*.%s" % own),
        ("'*.' after the first label", "login.*.%s" % own),
    ]
    if len(first) > 1 and rest:
        # the example of issue 27: replace('*.', '', 1) turned a*.cme... into acme...
        tricks.append(("'*.' splitting the domain", "%s*.%s.%s" % (first[0], first[1:], rest)))
    return tricks


def hostname_attacks(namespace: str, domains: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """What the policy must refuse in ``namespace`` of a tenant owning ``domains`` (items 1 and 2 of issue 27)."""
    own = domains[0] if domains else "platykus-audit-own.invalid"
    foreign = FOREIGN_HOST

    def cert(**spec: Any) -> dict[str, Any]:
        return _certificate(namespace, own, **spec)

    attacks: list[tuple[str, dict[str, Any]]] = [
        ("Certificate isCA", cert(isCA=True)),
        ("Certificate literalSubject", cert(literalSubject="CN=%s" % foreign)),
        ("Certificate subject", cert(subject={"organizations": ["platykus"]})),
        ("Certificate uris", cert(uris=["spiffe://cluster.local/ns/platykus-system/sa/default"])),
        ("Certificate ipAddresses", cert(ipAddresses=["10.96.0.1"])),
        ("Certificate emailAddresses", cert(emailAddresses=["admin@platykus-audit.invalid"])),
        (
            "Certificate otherNames",
            cert(otherNames=[{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "admin@x.invalid"}]),
        ),
        ("Certificate nameConstraints", cert(isCA=False, nameConstraints={"permitted": {"dnsDomains": [own]}})),
        ("Certificate foreign dnsNames", cert(dnsNames=[foreign])),
        ("Certificate foreign commonName", cert(commonName=foreign)),
    ]
    attacks += [("Certificate usage %s" % u, cert(usages=["digital signature", u])) for u in _CA_USAGES]
    attacks += [
        (
            "CertificateRequest isCA",
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "CertificateRequest",
                "metadata": _meta(namespace),
                "spec": {
                    "request": "bm90IGEgQ1NS",  # "not a CSR": RBAC or this policy refuses first
                    "isCA": True,
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": PLATFORM_CLUSTER_ISSUER},
                },
            },
        ),
        ("Ingress foreign rule host", _ingress(namespace, foreign)),
        ("Ingress foreign TLS host", _ingress(namespace, "audit." + own, tls=foreign)),
        (
            "Ingress annotation common-name",
            _ingress(namespace, "audit." + own, **{SHIM_COMMON_NAME_ANNOTATION: foreign}),
        ),
        ("Ingress annotation alt-names", _ingress(namespace, "audit." + own, **{SHIM_ALT_NAMES_ANNOTATION: foreign})),
        ("Ingress annotation usages", _ingress(namespace, "audit." + own, **{SHIM_USAGES_ANNOTATION: "cert sign"})),
    ]
    attacks += [
        ("Ingress annotation %s" % key.split("/", 1)[1], _ingress(namespace, "audit." + own, **{key: value}))
        for key, value in zip(
            SHIM_FORBIDDEN_ANNOTATIONS[:4], ("10.96.0.1", "spiffe://x.invalid/sa", "admin@x.invalid", "platykus")
        )
    ]
    for key in (EXTERNAL_DNS_ANNOTATION, INTERNAL_HOSTNAME_ANNOTATION):
        short = key.split("/", 1)[1]
        attacks += [
            ("Service %s" % short, _service(namespace, **{key: foreign})),
            ("Ingress %s" % short, _ingress(namespace, "audit." + own, **{key: foreign})),
        ]
    attacks += [
        (
            "Service target",
            _service(namespace, **{EXTERNAL_DNS_ANNOTATION: "audit." + own, TARGET_ANNOTATION: foreign}),
        ),
        ("Ingress target", _ingress(namespace, "audit." + own, **{TARGET_ANNOTATION: foreign})),
        ("Pod target", _pod(namespace, **{TARGET_ANNOTATION: foreign})),
    ]
    for what, host in _spelling_tricks(own):
        attacks += [
            ("hostname annotation, %s" % what, _service(namespace, **{EXTERNAL_DNS_ANNOTATION: host})),
            ("Certificate dnsNames, %s" % what, cert(dnsNames=[host])),
        ]
    return attacks + _gateway_objects(namespace, foreign)


def hostname_controls(namespace: str, domains: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """What the policy must admit for a tenant owning ``domains`` (none without domains)."""
    if not domains:
        return []
    own = domains[0]
    ingress = _ingress(
        namespace,
        "shop." + own,
        tls="shop." + own,
        **{SHIM_COMMON_NAME_ANNOTATION: "shop." + own, SHIM_USAGES_ANNOTATION: "digital signature, server auth"},
    )
    leaf = _certificate(
        namespace, own, dnsNames=["*." + own, own], commonName=own, usages=["digital signature", "key encipherment"]
    )
    return [
        (
            "own hostnames with an IP target",
            _service(namespace, **{EXTERNAL_DNS_ANNOTATION: "a.%s, b.%s" % (own, own), TARGET_ANNOTATION: "192.0.2.1"}),
        ),
        (
            "own internal hostname with an own-host target",
            _service(namespace, **{INTERNAL_HOSTNAME_ANNOTATION: "db." + own, TARGET_ANNOTATION: "lb." + own}),
        ),
        ("Ingress for an own host with ingress-shim annotations", ingress),
        ("leaf Certificate for own hosts", leaf),
    ]
