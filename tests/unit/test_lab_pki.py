"""The lab's PKI: who each certificate says it is, what it may be used for, and renewal."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from platykus_lab import pki


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory):
    return pki.ensure_pki(tmp_path_factory.mktemp("pki"))


def _subject(cert: x509.Certificate, oid) -> list[str]:
    return [attr.value for attr in cert.subject.get_attributes_for_oid(oid)]


def test_ca_is_a_ca(pki_files):
    ca = pki.load_cert(pki_files["ca_cert"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.issuer == ca.subject


@pytest.mark.parametrize(
    "stem, common_name, groups",
    [
        ("admin", "platykus-lab-admin", ["system:masters"]),
        ("controller-manager", "system:kube-controller-manager", []),
        ("scheduler", "system:kube-scheduler", []),
        ("kwok", "platykus-lab-kwok", ["system:masters"]),
    ],
)
def test_client_identities(pki_files, stem, common_name, groups):
    cert = pki.load_cert(pki_files[f"{stem}_cert"])
    assert _subject(cert, NameOID.COMMON_NAME) == [common_name]
    assert _subject(cert, NameOID.ORGANIZATION_NAME) == groups
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages and ExtendedKeyUsageOID.SERVER_AUTH not in usages


def test_apiserver_serving_names(pki_files):
    cert = pki.load_cert(pki_files["apiserver_cert"])
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes.default.svc"} <= set(sans.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1")} <= set(
        sans.get_values_for_type(x509.IPAddress)
    )
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_every_leaf_is_signed_by_its_ca(pki_files):
    ca = pki.load_cert(pki_files["ca_cert"])
    front_proxy_ca = pki.load_cert(pki_files["front-proxy-ca_cert"])
    for name, path in pki_files.items():
        if name.endswith("_cert") and name not in ("ca_cert", "front-proxy-ca_cert"):
            leaf = pki.load_cert(path)
            leaf.verify_directly_issued_by(front_proxy_ca if name.startswith("front-proxy") else ca)


def test_private_keys_are_private(pki_files):
    for name, path in pki_files.items():
        if name.endswith("_key"):
            assert path.stat().st_mode & 0o077 == 0, name


def test_ensure_pki_reuses_valid_material(tmp_path):
    first = pki.ensure_pki(tmp_path)
    before = {k: p.read_bytes() for k, p in first.items()}
    second = pki.ensure_pki(tmp_path)
    assert {k: p.read_bytes() for k, p in second.items()} == before


def test_expiring_leaf_is_renewed(tmp_path):
    files = pki.ensure_pki(tmp_path)
    ca_key = pki._load_key(files["ca_key"])
    ca = pki.load_cert(files["ca_cert"])
    key, cert = pki.issue(ca_key, ca, "platykus-lab-admin", ("system:masters",), client=True)
    # Rebuild the admin certificate so it expires tomorrow: inside the renewal margin.
    soon = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .sign(ca_key, pki.hashes.SHA256())
    )
    pki._write_cert(files["admin_cert"], soon)
    assert pki.needs_renewal(files["admin_cert"], ca)
    pki.ensure_pki(tmp_path)
    assert not pki.needs_renewal(files["admin_cert"], ca)


def test_new_ca_reissues_leaves(tmp_path):
    files = pki.ensure_pki(tmp_path)
    files["ca_cert"].unlink()
    renewed = pki.ensure_pki(tmp_path)
    pki.load_cert(renewed["admin_cert"]).verify_directly_issued_by(pki.load_cert(renewed["ca_cert"]))
