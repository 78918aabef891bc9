# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform CA: what it is made with, when a stored one is kept or replaced, and the hand-over
from cert-manager's old CA Certificate (an in-memory API server; verification is tried for real)."""

from __future__ import annotations

import base64
import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform import ca
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
ZONE = "apps.example.test"
NS = "platykus-system"


def spec(**kwargs):
    args = dict(namespace=NS, secret="platykus-ca", common_name="c1 platform CA", domains=[ZONE])
    args.update(kwargs)
    return ca.render_spec(**{"issuers": ["platykus-default"], **args})


class Api(fake_api.FakeApiServer):
    """The fake, with what the CA needs besides: stringData stored as data, PUT by resourceVersion,
    and a Certificate's status subresource."""

    def _answer(self, method, path, query, body):
        if path.endswith("/status") and method == "PATCH":
            version, kind, namespace, name = self._route(path[: -len("/status")])
            obj = self.store[(version, kind, namespace, name)]
            obj.setdefault("status", {}).update(body["status"])
            return obj
        if method == "PUT":
            version, kind, namespace, name = self._route(path)
            current = self.store.get((version, kind, namespace, name))
            if current is None or current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
                raise fake_api._error(409, "the object has been modified")
        if isinstance(body, dict) and "stringData" in body:
            body = dict(body, data={k: base64.b64encode(v.encode()).decode() for k, v in body["stringData"].items()})
            del body["stringData"]
        return super()._answer(method, path, query, body)


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setitem(fake_api.KINDS, ("cert-manager.io/v1", "Certificate"), ("certificates", True))
    return Api([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])


def stored(api):
    data = api.find("Secret", "platykus-ca", NS)["data"]
    return x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"])), base64.b64decode(data["tls.key"])


def certificate(namespace, name, issuer="platykus-default", kind="ClusterIssuer"):
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "generation": 2},
        "spec": {"secretName": name, "issuerRef": {"kind": kind, "name": issuer, "group": "cert-manager.io"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def sign(issuer, issuer_key, sans, is_ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    if is_ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256()), key


def verifies(root, leaf, chain, host):
    verifier = PolicyBuilder().store(Store([root])).time(NOW).build_server_verifier(x509.DNSName(host))
    try:
        verifier.verify(leaf, chain)
    except VerificationError as err:
        return str(err)
    return True


# -- the certificate -------------------------------------------------------------------------------------
def test_new_ca_has_path_length_zero_key_usage_and_name_constraints():
    key_pem, cert_pem = ca.make_ca(spec(), NOW)
    cert = x509.load_pem_x509_certificate(cert_pem)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert x509.DNSName(ZONE) in constraints.value.permitted_subtrees
    assert {n.value for n in constraints.value.excluded_subtrees} == {
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
    }
    assert cert.subject == cert.issuer and cert.not_valid_after_utc - NOW > datetime.timedelta(days=3649)
    assert ca.ca_problems(cert_pem, key_pem, spec(), NOW) == []


def test_without_zones_the_ca_has_only_the_path_length():
    _key, cert_pem = ca.make_ca(spec(domains=[]), NOW)
    cert = x509.load_pem_x509_certificate(cert_pem)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


@pytest.mark.parametrize(
    "sans, host, refusal",
    [
        ([x509.DNSName("shop.acme." + ZONE)], "shop.acme." + ZONE, None),
        ([x509.DNSName("portal.example.org")], "portal.example.org", "no permitted name constraints matched"),
        (
            [x509.DNSName("a." + ZONE), x509.IPAddress(ipaddress.ip_address("10.96.0.1"))],
            "a." + ZONE,
            "excluded name constraint matched",
        ),
        (
            [x509.DNSName("a." + ZONE), x509.UniformResourceIdentifier("spiffe://cluster.local/ns/g/sa/x")],
            "a." + ZONE,
            "unsupported name constraint",
        ),
    ],
)
def test_leaves_verify_only_inside_the_zones(sans, host, refusal):
    key_pem, cert_pem = ca.make_ca(spec(), NOW)
    root, key = x509.load_pem_x509_certificate(cert_pem), serialization.load_pem_private_key(key_pem, None)
    leaf, _leaf_key = sign(root, key, sans)
    outcome = verifies(root, leaf, [], host)
    assert outcome is True if refusal is None else refusal in outcome


def test_a_sub_ca_signs_nothing_that_verifies():
    key_pem, cert_pem = ca.make_ca(spec(), NOW)
    root, key = x509.load_pem_x509_certificate(cert_pem), serialization.load_pem_private_key(key_pem, None)
    sub, sub_key = sign(root, key, [x509.DNSName("acme." + ZONE)], is_ca=True)
    leaf, _leaf_key = sign(sub, sub_key, [x509.DNSName("portal.globex." + ZONE)])
    assert "path length constraint violated" in verifies(root, leaf, [sub], "portal.globex." + ZONE)


# -- keep or replace -------------------------------------------------------------------------------------
def unconstrained_ca():
    """A CA like cert-manager's isCA Certificate makes: CA:TRUE, no path length, no name constraints."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ), cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "no CA is stored"),
        ("garbage", "cannot be read"),
        ("unconstrained", "not a CA of path length 0 (found CA:True pathlen:None)"),
        ("other zone", "name constraints are not the zones'"),
        ("other key", "key does not match"),
        ("near its end", "within 365 days"),
    ],
)
def test_reasons_to_replace(case, expected):
    key_pem, cert_pem = ca.make_ca(spec(), NOW)
    if case == "missing":
        key_pem = None
    elif case == "garbage":
        cert_pem = b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    elif case == "unconstrained":
        key_pem, cert_pem = unconstrained_ca()
    elif case == "other zone":
        key_pem, cert_pem = ca.make_ca(spec(domains=["other.test"]), NOW)
    elif case == "other key":
        key_pem = ca.make_ca(spec(), NOW)[0]
    elif case == "near its end":
        key_pem, cert_pem = ca.make_ca(spec(validity_days=100, renew_before_days=10), NOW)
    problems = ca.ca_problems(cert_pem, key_pem, spec(), NOW)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"domains": ["Not A Zone"]}, "domains[0]"),
        ({"common_name": " "}, "common_name"),
        ({"validity_days": 5}, "validity_days"),
        ({"renew_before_days": 4000}, "renew_before_days"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(kwargs, field):
    with pytest.raises(PlatykusError) as err:
        spec(**kwargs)
    assert field in str(err.value) and "nothing was written" in str(err.value)


# -- ensure ----------------------------------------------------------------------------------------------
def test_made_once_then_kept(api):
    check = ca.ensure_platform_ca(api.client, spec(), check_mode=True, now=NOW)
    assert (
        check["changed"] and check["reasons"] == ["no CA is stored"] and api.find("Secret", "platykus-ca", NS) is None
    )
    made = ca.ensure_platform_ca(api.client, spec(), now=NOW)
    assert made["changed"] and not made["replaced"] and made["subject"] == "CN=c1 platform CA"
    secret = api.find("Secret", "platykus-ca", NS)
    assert secret["type"] == "kubernetes.io/tls" and set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert secret["metadata"]["labels"]["platykus.io/platform-ca"] == "true"
    version = secret["metadata"]["resourceVersion"]
    for check_mode in (True, False):
        again = ca.ensure_platform_ca(api.client, spec(), check_mode=check_mode, now=NOW)
        assert not again["changed"] and again["sha256_fingerprint"] == made["sha256_fingerprint"]
    assert api.find("Secret", "platykus-ca", NS)["metadata"]["resourceVersion"] == version
    # The key never leaves the Secret: the result names the CA, not its key.
    assert "PRIVATE KEY" not in repr(made)


def test_upgrade_replaces_cert_managers_ca_and_renews_the_leaves(api):
    key_pem, cert_pem = unconstrained_ca()
    api.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": "platykus-ca",
                "namespace": NS,
                "annotations": {"cert-manager.io/certificate-name": "platykus-ca"},
            },
            "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()},
        }
    )
    old = certificate(NS, "platykus-ca", issuer="platykus-selfsigned")
    for obj in (old, certificate("acme-prod", "shop"), certificate("globex-prod", "own", "theirs", "Issuer")):
        api.put(obj)
    predicted = ca.ensure_platform_ca(api.client, spec(), check_mode=True, now=NOW)
    assert predicted["changed"] and predicted["replaced"] and api.find("Certificate", "platykus-ca", NS)
    result = ca.ensure_platform_ca(api.client, spec(), now=NOW)
    assert result["replaced"] and result["renewed"] == ["acme-prod/shop"]
    assert any("path length 0" in reason for reason in result["reasons"])
    # cert-manager's Certificate is gone (it would write the Secret back); the Secret holds the new root only.
    assert api.find("Certificate", "platykus-ca", NS) is None
    secret = api.find("Secret", "platykus-ca", NS)
    assert "annotations" not in secret["metadata"]
    root, _key = stored(api)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    conditions = api.find("Certificate", "shop", "acme-prod")["status"]["conditions"]
    assert {"type": "Issuing", "status": "True", "reason": "ManuallyTriggered"}.items() <= conditions[-1].items()
    assert conditions[0]["type"] == "Ready"
    assert "status" not in api.find("Certificate", "own", "globex-prod") or all(
        c["type"] != "Issuing" for c in api.find("Certificate", "own", "globex-prod")["status"]["conditions"]
    )
    assert not ca.ensure_platform_ca(api.client, spec(), now=NOW)["changed"]


def test_new_zones_replace_the_ca(api):
    ca.ensure_platform_ca(api.client, spec(), now=NOW)
    moved = ca.ensure_platform_ca(api.client, spec(domains=[ZONE, "more.test"]), now=NOW)
    assert moved["replaced"] and moved["reasons"] == ["its name constraints are not the zones' (%s, more.test)" % ZONE]
    root, _key = stored(api)
    permitted = root.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees
    assert x509.DNSName("more.test") in permitted
