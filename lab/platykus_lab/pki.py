"""The lab's PKI, made with `cryptography`: one CA and the identities the control plane needs."""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Lab certificates live as long as a lab reasonably does; `up` renews any that are near expiry.
CERT_VALIDITY = _dt.timedelta(days=365)
RENEW_BEFORE = _dt.timedelta(days=30)

# The DNS names and IPs the apiserver answers as, inside and outside the cluster.
APISERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user name, O the groups."""

    file_stem: str
    common_name: str
    organizations: tuple[str, ...] = ()


# Admin is in system:masters; the controller manager and scheduler have the names the
# default RBAC bootstrap policy binds; kwok acts for the simulated kubelets.
CLIENT_IDENTITIES = (
    ClientIdentity("admin", "platykus-lab-admin", ("system:masters",)),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    ClientIdentity("kwok", "platykus-lab-kwok", ("system:masters",)),
)


# The common name the API server's aggregation proxy presents (--requestheader-allowed-names).
FRONT_PROXY_CLIENT = "front-proxy-client"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _new_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(common_name: str = "platykus-lab-ca"):
    """A self-signed CA (key, certificate)."""
    key = _new_ec_key()
    now = _now()
    subject = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY * 3)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca_key,
    ca_cert: x509.Certificate,
    common_name: str,
    organizations: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
):
    """Issue a leaf certificate signed by the CA; returns (key, certificate)."""
    key = _new_ec_key()
    now = _now()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    sans = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def needs_renewal(cert_path: Path, ca_cert: x509.Certificate | None = None) -> bool:
    """True when a certificate is missing, expires soon, or was not issued by the current CA."""
    if not cert_path.exists():
        return True
    cert = load_cert(cert_path)
    if cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return True
    return ca_cert is not None and cert.issuer != ca_cert.subject


def ensure_pki(pki_dir: Path, service_ip: str = "10.96.0.1") -> dict[str, Path]:
    """Create the lab PKI under ``pki_dir`` once; reuse what is valid. Returns the file paths."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    pki_dir.chmod(0o700)
    paths: dict[str, Path] = {}

    ca_key_path, ca_cert_path = pki_dir / "ca.key", pki_dir / "ca.crt"
    if needs_renewal(ca_cert_path) or not ca_key_path.exists():
        ca_key, ca_cert = make_ca()
        _write_key(ca_key_path, ca_key)
        _write_cert(ca_cert_path, ca_cert)
        # A new CA invalidates every leaf.
        for stale in pki_dir.glob("*.crt"):
            if stale.name != "ca.crt":
                stale.unlink()
    ca_key, ca_cert = _load_key(ca_key_path), load_cert(ca_cert_path)
    paths.update(ca_key=ca_key_path, ca_cert=ca_cert_path)

    leaves = [
        (
            "apiserver",
            dict(
                common_name="kube-apiserver",
                server=True,
                dns_names=APISERVER_DNS_NAMES,
                ip_addresses=("127.0.0.1", service_ip),
            ),
        ),
        (
            "etcd-server",
            dict(common_name="etcd", server=True, client=True, dns_names=("localhost",), ip_addresses=("127.0.0.1",)),
        ),
        ("apiserver-etcd-client", dict(common_name="kube-apiserver-etcd-client", client=True)),
        (
            "apiserver-kubelet-client",
            dict(common_name="kube-apiserver-kubelet-client", organizations=("system:masters",), client=True),
        ),
    ]
    leaves += [
        (ident.file_stem, dict(common_name=ident.common_name, organizations=ident.organizations, client=True))
        for ident in CLIENT_IDENTITIES
    ]
    for stem, spec in leaves:
        key_path, cert_path = pki_dir / f"{stem}.key", pki_dir / f"{stem}.crt"
        if needs_renewal(cert_path, ca_cert) or not key_path.exists():
            key, cert = issue(ca_key, ca_cert, **spec)
            _write_key(key_path, key)
            _write_cert(cert_path, cert)
        paths[f"{stem}_key"], paths[f"{stem}_cert"] = key_path, cert_path

    # Service-account tokens are signed with an RSA key (RS256, what every client verifies).
    sa_key_path, sa_pub_path = pki_dir / "sa.key", pki_dir / "sa.pub"
    if not sa_key_path.exists():
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(sa_key_path, sa_key)
        sa_pub_path.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    paths.update(sa_key=sa_key_path, sa_pub=sa_pub_path)
    paths.update(_ensure_front_proxy(pki_dir))
    return paths


def _ensure_front_proxy(pki_dir: Path) -> dict[str, Path]:
    """The aggregation layer's CA and the client the API server proxies to extension API servers
    (metrics-server) with. A CA of its own, as kubeadm does: a certificate it signs may assert any
    user in a request header, so no other lab certificate may come from it."""
    ca_key_path, ca_cert_path = pki_dir / "front-proxy-ca.key", pki_dir / "front-proxy-ca.crt"
    key_path, cert_path = pki_dir / "front-proxy-client.key", pki_dir / "front-proxy-client.crt"
    if needs_renewal(ca_cert_path) or not ca_key_path.exists():
        ca_key, ca_cert = make_ca("platykus-lab-front-proxy-ca")
        _write_key(ca_key_path, ca_key)
        _write_cert(ca_cert_path, ca_cert)
        cert_path.unlink(missing_ok=True)
    ca_key, ca_cert = _load_key(ca_key_path), load_cert(ca_cert_path)
    if needs_renewal(cert_path, ca_cert) or not key_path.exists():
        key, cert = issue(ca_key, ca_cert, FRONT_PROXY_CLIENT, client=True)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
    return {
        "front-proxy-ca_cert": ca_cert_path,
        "front-proxy-client_cert": cert_path,
        "front-proxy-client_key": key_path,
    }


def ensure_client(pki_dir: Path, stem: str, common_name: str, organizations: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A client certificate from the lab CA for one more identity (a platform controller's, say);
    reused while valid and still naming the same subject. Returns (certificate, key) paths."""
    ca_key, ca_cert = _load_key(pki_dir / "ca.key"), load_cert(pki_dir / "ca.crt")
    cert_path, key_path = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    subject = _name(common_name, organizations)
    if needs_renewal(cert_path, ca_cert) or not key_path.exists() or load_cert(cert_path).subject != subject:
        key, cert = issue(ca_key, ca_cert, common_name, organizations, client=True)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
    return cert_path, key_path


def ensure_server(
    pki_dir: Path, stem: str, common_name: str, dns_names: tuple[str, ...] = (), ip_addresses: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """A serving certificate from the lab CA (a real node's kubelet, say); reused while valid and
    naming the same addresses. Returns (certificate, key) paths."""
    ca_key, ca_cert = _load_key(pki_dir / "ca.key"), load_cert(pki_dir / "ca.crt")
    cert_path, key_path = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"
    wanted = {*dns_names, *ip_addresses}
    fresh = not needs_renewal(cert_path, ca_cert) and key_path.exists()
    if fresh:
        sans = load_cert(cert_path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        fresh = {str(v) for v in sans.get_values_for_type(x509.DNSName)} | {
            str(v) for v in sans.get_values_for_type(x509.IPAddress)
        } == wanted
    if not fresh:
        key, cert = issue(ca_key, ca_cert, common_name, server=True, dns_names=dns_names, ip_addresses=ip_addresses)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
    return cert_path, key_path
