# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the hostname and certificate policy (:mod:`_admission.hostnames`) must refuse and admit:
the objects the audit (HOST-1, :mod:`_audit.policies`) dry-run creates as each tenant role, and
the legitimate ones it tries as itself."""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import (
    EXTERNAL_DNS_ANNOTATION,
    GATEWAY_GROUP,
    INTERNAL_HOSTNAME_ANNOTATION,
    SHIM_ALT_NAMES_ANNOTATION,
    SHIM_COMMON_NAME_ANNOTATION,
    SHIM_FORBIDDEN_ANNOTATIONS,
    SHIM_USAGES_ANNOTATION,
    TARGET_ANNOTATION,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AUDIT_LABEL,
    CERT_MANAGER_API_VERSION,
    NETWORKING_API_VERSION,
    PLATFORM_CLUSTER_ISSUER,
)

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
        "apiVersion": CERT_MANAGER_API_VERSION,
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
        "apiVersion": NETWORKING_API_VERSION,
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
                "apiVersion": CERT_MANAGER_API_VERSION,
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
