# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform CA of generic and lab: a root that can sign leaves only, for the platform's zones.

cert-manager's CA ClusterIssuer signs tenants' certificates with the key pair in one Secret. cert-manager
cannot put a path length in a certificate it makes (v1.21 passes no MaxPathLen anywhere), so the platform
makes that root itself, in memory, and stores it as the Secret the issuer reads:

- ``basicConstraints CA:TRUE, pathlen:0``: a CA certificate the root signs (for a tenant that got
  ``isCA: true`` past admission, or anyone holding a sub-CA) signs nothing a verifier accepts;
- ``nameConstraints`` (critical): DNS names, URI hosts and e-mail domains only in the platform's zones,
  no IP address at all (v4 and v6 excluded);
- ``keyUsage`` keyCertSign and cRLSign (critical), a subject key identifier for the leaves' AKI.

Stages: :func:`render_spec` (validate the input) → :func:`ca_problems` (why the stored CA must be
replaced, if at all) → :func:`make_ca` (key and certificate, never on disk) → :func:`ensure_platform_ca`
(write the Secret; on a replacement, hand it over from a cert-manager Certificate that wrote it before,
and renew the leaves the issuers signed with the old root).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ansible_collections.platykus.platform.plugins.module_utils._core.domains import hostname_problem
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, describe
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    CERT_MANAGER_API_VERSION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_CA_LABEL,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR: Exception | None = None
except ImportError as err:  # pragma: no cover - the module reports it
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = err

# The CA's path length: the root signs leaves only.
PATH_LENGTH = 0
# Every address, v4 and v6: excluded, so no leaf with an IP SAN verifies.
EXCLUDED_NETWORKS = ("0.0.0.0/0", "::/0")
# cert-manager's annotation on a Secret its Certificate wrote (the old catalog's platykus-ca).
CERTIFICATE_NAME_ANNOTATION = "cert-manager.io/certificate-name"


@dataclass(frozen=True)
class CaSpec:
    """What the platform CA must be, validated."""

    namespace: str
    secret: str
    common_name: str
    domains: tuple[str, ...]
    issuers: tuple[str, ...]
    validity_days: int
    renew_before_days: int


def render_spec(
    namespace: str,
    secret: str,
    common_name: str,
    domains: Iterable[str],
    issuers: Iterable[str] = (),
    validity_days: int = 3650,
    renew_before_days: int = 365,
) -> CaSpec:
    """Validate the module's input; every problem at once, each naming its field and the fix."""
    problems = []
    domains = list(domains)
    for index, domain in enumerate(domains):
        problem = hostname_problem(domain)
        if problem:
            problems.append("domains[%d]: %s" % (index, problem))
    if not common_name.strip():
        problems.append("common_name: empty; name the CA, like 'platykus-lab platform CA'")
    if validity_days < 30:
        problems.append(
            "validity_days: %d is too short; give the CA at least 30 days (3650 is ten years)" % validity_days
        )
    if not 0 <= renew_before_days < validity_days:
        problems.append(
            "renew_before_days: %d must be at least 0 and below validity_days (%d)" % (renew_before_days, validity_days)
        )
    if problems:
        raise PlatykusError("Failed to make the platform CA, nothing was written: " + "; ".join(problems))
    return CaSpec(
        namespace,
        secret,
        common_name.strip(),
        tuple(dict.fromkeys(d.rstrip(".") for d in domains)),
        tuple(issuers),
        validity_days,
        renew_before_days,
    )


# -- the certificate -----------------------------------------------------------------------------------
def name_constraints(domains: Iterable[str]) -> x509.NameConstraints | None:
    """Names permitted under each zone (DNS names, URI hosts, mailboxes), every IP address excluded;
    None without zones (the CA is then only path-length constrained)."""
    domains = list(domains)
    if not domains:
        return None
    permitted: list[x509.GeneralName] = []
    for domain in domains:
        permitted.append(x509.DNSName(domain))
        # RFC 5280 4.2.1.10: a URI or mailbox constraint "d" is that host/domain, ".d" any below it.
        permitted += [x509.UniformResourceIdentifier(domain), x509.UniformResourceIdentifier("." + domain)]
        permitted += [x509.RFC822Name(domain), x509.RFC822Name("." + domain)]
    excluded = [x509.IPAddress(ipaddress.ip_network(net)) for net in EXCLUDED_NETWORKS]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded)


def make_ca(spec: CaSpec, now: datetime.datetime) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 key and its self-signed root (PEM key, PEM certificate), in memory."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=spec.validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=PATH_LENGTH), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    constraints = name_constraints(spec.domains)
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=True)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _names(value: Iterable[x509.GeneralName] | None) -> set:
    return {(type(name).__name__, name.value) for name in value or ()}


def ca_problems(cert_pem: bytes | None, key_pem: bytes | None, spec: CaSpec, now: datetime.datetime) -> list[str]:
    """Why the stored CA cannot stay (empty when it can): unreadable, not a CA of path length 0, other
    name constraints than the zones ask for, a key that does not match, or near its end."""
    if not cert_pem or not key_pem:
        return ["no CA is stored"]
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as err:
        return ["the stored CA cannot be read (%s)" % err]
    problems = []
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is None or not basic.ca or basic.path_length != PATH_LENGTH:
        problems.append(
            "it is not a CA of path length %d (found %s)"
            % (
                PATH_LENGTH,
                "no basicConstraints" if basic is None else "CA:%s pathlen:%s" % (basic.ca, basic.path_length),
            )
        )
    try:
        found = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        found = None
    wanted = name_constraints(spec.domains)
    if (found is None) != (wanted is None) or (
        wanted is not None
        and (
            _names(found.permitted_subtrees) != _names(wanted.permitted_subtrees)
            or _names(found.excluded_subtrees) != _names(wanted.excluded_subtrees)
        )
    ):
        problems.append("its name constraints are not the zones' (%s)" % (", ".join(spec.domains) or "none"))
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        problems.append("its key does not match the certificate")
    if cert.not_valid_after_utc - now < datetime.timedelta(days=spec.renew_before_days):
        problems.append("it expires on %s, within %d days" % (cert.not_valid_after_utc.date(), spec.renew_before_days))
    return problems


# -- the Secret ----------------------------------------------------------------------------------------
def render_secret(spec: CaSpec, key_pem: bytes, cert_pem: bytes) -> dict:
    """The kubernetes.io/tls Secret a CA issuer reads (tls.crt, tls.key; ca.crt is the root itself)."""
    text = cert_pem.decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": spec.secret,
            "namespace": spec.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, PLATFORM_CA_LABEL: "true"},
        },
        "stringData": {"tls.crt": text, "tls.key": key_pem.decode(), "ca.crt": text},
    }


def _stored(secret: dict | None) -> tuple[bytes | None, bytes | None]:
    import base64

    data = (secret or {}).get("data") or {}
    pems = [data.get(key) for key in ("tls.crt", "tls.key")]
    return tuple(base64.b64decode(pem) if pem else None for pem in pems)  # type: ignore[return-value]


def _describe_ca(cert_pem: bytes) -> dict:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return {
        "subject": cert.subject.rfc4514_string(),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":"),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "certificate": cert_pem.decode(),
    }


def _issued_by(certificate: dict, issuers: tuple[str, ...]) -> bool:
    ref = (certificate.get("spec") or {}).get("issuerRef") or {}
    return (
        ref.get("kind") == "ClusterIssuer"
        and ref.get("group", "cert-manager.io") in ("", "cert-manager.io")
        and ref.get("name") in issuers
    )


def renew_certificates(client: KubeClient, issuers: tuple[str, ...], now: datetime.datetime) -> list[str]:
    """Ask cert-manager to re-issue every Certificate of ``issuers`` now (what ``cmctl renew`` does: an
    Issuing condition, ManuallyTriggered). cert-manager re-issues on its own only when a Certificate's
    spec, key or expiry calls for it, never because its issuer's CA changed."""
    renewed = []
    for certificate in client.list_all(CERT_MANAGER_API_VERSION, "Certificate") if issuers else ():
        if not _issued_by(certificate, issuers):
            continue
        meta = certificate["metadata"]
        conditions = [
            c for c in (certificate.get("status") or {}).get("conditions") or [] if c.get("type") != "Issuing"
        ]
        conditions.append(
            {
                "type": "Issuing",
                "status": "True",
                "reason": "ManuallyTriggered",
                "message": "The platform CA was replaced: re-issued by the new root",
                "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "observedGeneration": meta.get("generation", 1),
            }
        )
        client.checked(
            "renew",
            describe("Certificate", meta["name"], meta["namespace"]),
            "PATCH",
            client.path(CERT_MANAGER_API_VERSION, "Certificate", meta["namespace"], meta["name"]) + "/status",
            body={"status": {"conditions": conditions}},
            content_type="application/merge-patch+json",
        )
        renewed.append("%s/%s" % (meta["namespace"], meta["name"]))
    return renewed


def ensure_platform_ca(
    connect: Callable[[], KubeClient], spec: CaSpec, check_mode: bool = False, now: datetime.datetime | None = None
) -> dict:
    """Keep the stored CA while it is what ``spec`` asks; otherwise make a new one and store it.

    A replacement first deletes the cert-manager Certificate that wrote the Secret (the catalog's
    SelfSigned -> Certificate chain before this CA), so cert-manager cannot write it back, then renews
    every Certificate of ``spec.issuers`` (none on a new cluster): their leaves were signed by the old root.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    client = connect()
    current = client.get("v1", "Secret", spec.secret, spec.namespace)
    cert_pem, key_pem = _stored(current)
    reasons = ca_problems(cert_pem, key_pem, spec, now)
    if not reasons:
        return {"changed": False, "replaced": False, "reasons": [], "renewed": [], **_describe_ca(cert_pem)}
    result = {"changed": True, "replaced": current is not None, "reasons": reasons, "renewed": []}
    if check_mode:
        return result
    annotations = ((current or {}).get("metadata") or {}).get("annotations") or {}
    owner = annotations.get(CERTIFICATE_NAME_ANNOTATION)
    if owner:
        client.delete(CERT_MANAGER_API_VERSION, "Certificate", owner, spec.namespace)
    key_pem, cert_pem = make_ca(spec, now)
    secret = render_secret(spec, key_pem, cert_pem)
    if current is None:
        client.create(secret)
    else:
        # A replace, not an apply: the old writer's annotations and data keys go with the old CA.
        secret["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        client.checked(
            "replace",
            describe("Secret", spec.secret, spec.namespace),
            "PUT",
            client.path("v1", "Secret", spec.namespace, spec.secret),
            body=secret,
        )
    # Leaves the issuers signed before (with a root now gone) verify against nothing clients trust.
    result["renewed"] = renew_certificates(client, spec.issuers, now)
    return {**result, **_describe_ca(cert_pem)}
