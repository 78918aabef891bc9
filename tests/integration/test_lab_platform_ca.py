"""The platform CA on the lab: pathlen 0 and name constraints, with the real cert-manager signing.

The certificates stage (site.yml --tags base,certificates, stand-in charts; the lab runs cert-manager
v1.21.2 itself) runs over the CA the catalog made before (SelfSigned -> isCA Certificate -> CA issuer,
unconstrained), as an upgrade would. Then:

- the platform CA replaced it (CA:TRUE, pathlen:0, critical name constraints for the lab's zone, IPs
  excluded), the old Certificate is gone and cert-manager does not write the Secret back;
- the leaf cert-manager signed with the old CA is re-issued by the new one;
- a leaf cert-manager signs for a tenant host verifies with cryptography's strict verifier, Python ssl
  (a TLS handshake in memory) and ``openssl verify``;
- a leaf signed by a sub-CA the platform CA signed (the test holds the platform CA key, as an attacker
  with a CA from the issuer would hold a sub-CA) verifies nowhere, while the same chain under the old
  CA did (the control);
- leaves the platform CA signs for a name outside the zone, an IP address, a URI of another tenant, or a
  subject CN outside the zone with no SAN, verify nowhere that honours name constraints.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import run_module, wait_for
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from standin_charts import ChartServer, build_repository  # noqa: E402

pytestmark = pytest.mark.lab

NS = "platykus-system"
ZONE = "apps.platykus-lab.test"
TEST_NS = "platykus-ca-test"
TENANT_HOST = "shop.acme." + ZONE
OTHER_HOST = "portal.globex." + ZONE
# What catalog/services.yml held before the platform made its CA: cert-manager's unconstrained root.
OLD_CATALOG = [
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "platykus-selfsigned"},
        "spec": {"selfSigned": {}},
    },
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "platykus-ca", "namespace": NS},
        "spec": {
            "isCA": True,
            "commonName": "platykus-lab platform CA",
            "secretName": "platykus-ca",
            "duration": "87600h",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platykus-selfsigned"},
        },
    },
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "platykus-default"},
        "spec": {"ca": {"secretName": "platykus-ca"}},
    },
]
MODULE_ARGS = {
    "namespace": NS,
    "secret_name": "platykus-ca",
    "common_name": "platykus-lab platform CA",
    "domains": [ZONE],
    "issuers": ["platykus-default"],
}


def ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def secret_data(lab, namespace: str, name: str) -> dict[str, bytes]:
    proc = lab.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        return {}
    return {k: base64.b64decode(v) for k, v in (yaml.safe_load(proc.stdout).get("data") or {}).items()}


def load_ca(lab) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The platform CA and its key, read as the lab's admin."""
    data = secret_data(lab, NS, "platykus-ca")
    return x509.load_pem_x509_certificate(data["tls.crt"]), serialization.load_pem_private_key(data["tls.key"], None)


def leaf_certificate(name: str, hosts: list[str]) -> dict:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": TEST_NS},
        "spec": {
            "secretName": name,
            "dnsNames": hosts,
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platykus-default"},
        },
    }


def issued_by(lab, name: str, root: x509.Certificate) -> x509.Certificate | None:
    """The Certificate's leaf once the Secret holds one signed by ``root``."""
    pem = secret_data(lab, TEST_NS, name).get("tls.crt")
    if not pem:
        return None
    leaf = x509.load_pem_x509_certificate(pem)
    try:
        leaf.verify_directly_issued_by(root)
    except (ValueError, TypeError, x509.InvalidSignature):
        return None
    return leaf


# -- signing and verifying ------------------------------------------------------------------------------
def authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI pointing at ``issuer``'s SKI (cert-manager derives its SKI its own way: copy it)."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def sign(issuer: x509.Certificate, issuer_key, sans: list, is_ca: bool = False, cn: str = "leaf"):
    """A certificate ``issuer_key`` signs, as a CA (or the holder of a sub-CA) would: a TLS server
    leaf, or a CA. Returns it with its new key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(authority_key_id(issuer), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if is_ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256()), key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def by_cryptography(root: x509.Certificate, leaf: x509.Certificate, chain: list, host: str) -> str:
    """'ok', or the refusal of cryptography's strict (CA/B Forum) server verifier."""
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(host))
    try:
        verifier.verify(leaf, chain)
    except VerificationError as err:
        return str(err)
    return "ok"


def by_openssl(root: x509.Certificate, leaf: x509.Certificate, chain: list, host: str) -> str:
    """'ok', or `openssl verify`'s error (the chain checked for ``host``)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, content in (("root", pem(root)), ("chain", b"".join(map(pem, chain))), ("leaf", pem(leaf))):
            paths[name] = os.path.join(tmp, name + ".pem")
            Path(paths[name]).write_bytes(content)
        args = ["openssl", "verify", "-CAfile", paths["root"], "-verify_hostname", host]
        args += ["-untrusted", paths["chain"]] if chain else []
        proc = subprocess.run([*args, paths["leaf"]], capture_output=True, text=True)
    return "ok" if proc.returncode == 0 else " ".join((proc.stdout + proc.stderr).split())


def by_python_ssl(root: x509.Certificate, leaf: x509.Certificate, chain: list, key, host: str) -> str:
    """'ok', or the verify message of a Python ssl client (default context, trusting only ``root``) in a
    TLS handshake, in memory, with a server presenting ``leaf`` and ``chain``."""
    with tempfile.TemporaryDirectory() as tmp:
        certfile, keyfile = os.path.join(tmp, "chain.pem"), os.path.join(tmp, "key.pem")
        Path(certfile).write_bytes(pem(leaf) + b"".join(map(pem, chain)))
        Path(keyfile).write_bytes(key_pem(key))
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(certfile, keyfile)
    client_ctx = ssl.create_default_context(cadata=pem(root).decode())
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(to_client, to_server, server_hostname=host)
    server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _round in range(20):
        for name, side in (("client", client), ("server", server)):
            if done[name]:
                continue
            try:
                side.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as err:
                return err.verify_message
            except ssl.SSLError as err:
                if name == "server":  # the client's alert after it refused
                    continue
                return str(err)
        server_in.write(to_server.read())
        to_client.write(server_out.read())
        if all(done.values()):
            return "ok"
    return "handshake did not finish"


def verdicts(root, leaf, chain, key, host) -> dict[str, str]:
    return {
        "cryptography": by_cryptography(root, leaf, chain, host),
        "openssl": by_openssl(root, leaf, chain, host),
        "python ssl": by_python_ssl(root, leaf, chain, key, host),
    }


# -- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mirror(lab, tmp_path_factory):
    repo = build_repository(tmp_path_factory.mktemp("charts"), helm=str(lab.lab.binaries / "helm"))
    with ChartServer(repo) as server:
        yield server.url


@pytest.fixture(scope="module")
def before(lab):
    """The old catalog's CA, made by the real cert-manager, and a leaf it signed in TEST_NS."""
    lab.kubectl("delete", "secret", "platykus-ca", "-n", NS, "--ignore-not-found")
    lab.kubectl("delete", "namespace", TEST_NS, "--ignore-not-found", "--wait=true")
    lab.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TEST_NS}})
    lab.apply(OLD_CATALOG)
    wait_for("the old CA Certificate Ready", lambda: ready(lab.get_json("certificate", "platykus-ca", "-n", NS)))
    wait_for("ClusterIssuer platykus-default Ready", lambda: ready(lab.get_json("clusterissuer", "platykus-default")))
    root, key = load_ca(lab)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length is None
    lab.apply(leaf_certificate("old-leaf", [TENANT_HOST]))
    old_leaf = wait_for("a leaf signed by the old CA", lambda: issued_by(lab, "old-leaf", root))
    return {"root": root, "key": key, "leaf": old_leaf}


@pytest.fixture(scope="module")
def stage(lab, mirror, before):
    """The certificates stage over the old CA, as an upgrade runs it."""
    run = lab.playbook("site.yml", "--tags", "base,certificates", extra_vars={"platykus_chart_mirror": mirror})
    assert run.ok, run.output[-4000:]
    wait_for("ClusterIssuer platykus-default Ready", lambda: ready(lab.get_json("clusterissuer", "platykus-default")))
    return run


@pytest.fixture(scope="module")
def platform_ca(lab, stage):
    return load_ca(lab)


# -- the CA ---------------------------------------------------------------------------------------------
def test_upgrade_replaces_the_unconstrained_ca(lab, before, stage, platform_ca):
    root, _key = platform_ca
    assert "Make the platform CA of each CA ClusterIssuer" in stage.output
    assert root.public_key() != before["root"].public_key()
    basic = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    constraints = root.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical and x509.DNSName(ZONE) in constraints.value.permitted_subtrees
    excluded = {name.value for name in constraints.value.excluded_subtrees}
    assert excluded == {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}
    # cert-manager's Certificate, which would write the Secret back, is gone; the Secret stays ours.
    assert lab.kubectl("get", "certificate", "platykus-ca", "-n", NS, check=False).returncode != 0
    secret = lab.get_json("secret", "platykus-ca", "-n", NS)
    assert "cert-manager.io/certificate-name" not in (secret["metadata"].get("annotations") or {})
    assert secret["metadata"]["labels"]["platykus.io/platform-ca"] == "true"


def test_the_leaf_of_the_old_ca_is_reissued_by_the_new_one(lab, before, platform_ca):
    root, _key = platform_ca
    leaf = wait_for("old-leaf re-issued by the new CA", lambda: issued_by(lab, "old-leaf", root))
    assert leaf.serial_number != before["leaf"].serial_number
    assert secret_data(lab, TEST_NS, "old-leaf")["ca.crt"] == pem(root)


def test_rerun_keeps_the_ca(lab, platform_ca):
    root, _key = platform_ca
    status, result = run_module(lab, "platform_ca", MODULE_ARGS)
    assert status == "SUCCESS" and result["changed"] is False, result
    assert result["sha256_fingerprint"] == root.fingerprint(hashes.SHA256()).hex(":")
    assert "PRIVATE KEY" not in str(result)
    assert load_ca(lab)[0] == root


# -- what verifies --------------------------------------------------------------------------------------
def test_a_tenant_leaf_from_cert_manager_verifies_everywhere(lab, platform_ca):
    root, _key = platform_ca
    lab.apply(leaf_certificate("tenant-leaf", [TENANT_HOST]))
    leaf = wait_for("tenant-leaf signed by the platform CA", lambda: issued_by(lab, "tenant-leaf", root))
    key = serialization.load_pem_private_key(secret_data(lab, TEST_NS, "tenant-leaf")["tls.key"], None)
    assert verdicts(root, leaf, [], key, TENANT_HOST) == {"cryptography": "ok", "openssl": "ok", "python ssl": "ok"}


def test_a_sub_ca_signs_nothing_that_verifies(before, platform_ca):
    root, root_key = platform_ca
    sub, sub_key = sign(root, root_key, [x509.DNSName("acme." + ZONE)], is_ca=True, cn="acme sub-CA")
    leaf, key = sign(sub, sub_key, [x509.DNSName(OTHER_HOST)])
    found = verdicts(root, leaf, [sub], key, OTHER_HOST)
    assert "path length constraint violated" in found["cryptography"], found
    assert "path length constraint exceeded" in found["openssl"], found
    assert "path length constraint exceeded" in found["python ssl"], found
    # The control: the same attack under the CA cert-manager made before verifies everywhere.
    old_sub, old_sub_key = sign(before["root"], before["key"], [x509.DNSName("acme." + ZONE)], is_ca=True)
    old_leaf, old_key = sign(old_sub, old_sub_key, [x509.DNSName(OTHER_HOST)])
    assert verdicts(before["root"], old_leaf, [old_sub], old_key, OTHER_HOST) == {
        "cryptography": "ok",
        "openssl": "ok",
        "python ssl": "ok",
    }


@pytest.mark.parametrize(
    "case, sans, cn, host, refused_by",
    [
        (
            "a name outside the zone",
            [x509.DNSName("portal.example.org")],
            "leaf",
            "portal.example.org",
            {"cryptography": "no permitted name constraints matched", "openssl": "permitted subtree violation"},
        ),
        (
            "an IP address (the API service IP)",
            [x509.DNSName(TENANT_HOST), x509.IPAddress(ipaddress.ip_address("10.96.0.1"))],
            "leaf",
            TENANT_HOST,
            {"cryptography": "excluded name constraint matched", "openssl": "excluded subtree violation"},
        ),
        (
            "a URI of another tenant's ServiceAccount",
            [x509.DNSName(TENANT_HOST), x509.UniformResourceIdentifier("spiffe://cluster.local/ns/globex-prod/sa/web")],
            "leaf",
            TENANT_HOST,
            {"cryptography": "unsupported name constraint", "openssl": "permitted subtree violation"},
        ),
        (
            "a subject CN outside the zone and no SAN",
            [],
            "portal.example.org",
            "portal.example.org",
            {"cryptography": "no subjectAltName", "openssl": "permitted subtree violation"},
        ),
    ],
)
def test_leaves_outside_the_zone_do_not_verify(platform_ca, case, sans, cn, host, refused_by):
    root, root_key = platform_ca
    leaf, key = sign(root, root_key, sans, cn=cn)
    found = verdicts(root, leaf, [], key, host)
    assert refused_by["cryptography"] in found["cryptography"], (case, found)
    assert refused_by["openssl"] in found["openssl"], (case, found)
    # Python ssl is OpenSSL's verifier: the same refusal.
    assert refused_by["openssl"] in found["python ssl"], (case, found)
