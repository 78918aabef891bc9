"""Certificates, secrets and buckets on the lab, by the real controllers against the lab's AWS.

cert-manager v1.21.2 (our main over its packages) and external-secrets v0.16.2 run beside the lab
(`platykus-lab up`); the lab's AWS is moto with IAM enforced. The platform CA is made by the
platform_ca module with the catalog's lab CA issuer; a tenant's AWS slice (identity, policy, bucket,
ClusterSecretStore, key in platykus-system) is made by tenant-onboarding.yml. Assertions are on the API server, the lab's
AWS and the certificate bytes.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import ROOT, run_module
from cryptography import x509

from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    ACCESS_KEY_ID_KEY,
    SECRET_ACCESS_KEY_KEY,
    TenantAws,
    cluster_store_name,
    key_secret_name,
    secret_store_ref,
)
from platykus_lab import aws as lab_aws

pytestmark = pytest.mark.lab

CLUSTER = "platykus-lab"
PLATFORM_NS = "platykus-system"
ZONE = "apps.platykus-lab.test"
TEST_LABEL = "platykus.io/tls-secrets-test"
TENANTS = {"acme": "cc-1001", "globex": "cc-2002"}


def wait_for(what: str, check, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.5)


def ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def catalog_objects(service: str, provider: str = "lab") -> list[dict]:
    """The catalog's non-chart objects of a service for a provider, parameters filled in."""
    catalog = yaml.safe_load((ROOT / "catalog" / "services.yml").read_text())
    entries = catalog["platykus_catalog_services"][service]["objects"]
    text = yaml.safe_dump([e for e in entries if provider in e.get("providers", [provider])])
    objects = []
    for entry in yaml.safe_load(text.replace("${platykus_cluster_name}", CLUSTER)):
        definition = entry["definition"]
        if entry.get("namespaced"):
            definition["metadata"]["namespace"] = PLATFORM_NS
        objects.append(definition)
    return objects


def as_developer(lab, tenant: str, *args: str, **kwargs):
    """kubectl as a member of the tenant's developer group (the tenant-developer Role)."""
    return lab.kubectl("--as", "%s-dev-user" % tenant, "--as-group", "%s-devs" % tenant, *args, **kwargs)


def scope(tenant: str, lab) -> TenantAws:
    return TenantAws(tenant, CLUSTER, lab_aws.ACCOUNT_ID, lab_aws.region(lab.lab), ZONE, TENANTS[tenant])


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tenants_onboarded(lab):
    run = lab.playbook("playbooks/tenant-onboarding.yml")
    assert run.ok, run.output
    return run


@pytest.fixture(scope="module")
def platform_ca(lab) -> x509.Certificate:
    """The platform CA (made by the platform_ca module, as the certificates stage does) and the catalog's
    CA ClusterIssuer, Ready."""
    status, result = run_module(
        lab,
        "platform_ca",
        {
            "namespace": PLATFORM_NS,
            "secret_name": "platykus-ca",
            "common_name": "%s platform CA" % CLUSTER,
            "domains": [ZONE],
        },
    )
    assert status in ("SUCCESS", "CHANGED"), result
    lab.apply(catalog_objects("cert-manager"))
    wait_for("ClusterIssuer platykus-default Ready", lambda: ready(lab.get_json("clusterissuer", "platykus-default")))
    secret = lab.get_json("secret", "platykus-ca", "-n", PLATFORM_NS)
    return x509.load_pem_x509_certificate(_b64(secret["data"]["tls.crt"]))


@pytest.fixture(scope="module")
def admin(lab) -> dict:
    return lab_aws.client_kwargs(lab.lab)


@pytest.fixture(scope="module")
def tenant_keys(lab, admin, tenants_onboarded) -> dict[str, dict]:
    """Each tenant's access key as onboarding stored it (platykus-system, read as the lab's admin), once
    its ClusterSecretStore is Ready."""
    keys = {}
    for tenant in TENANTS:
        wait_for(
            "ClusterSecretStore of %s Ready" % tenant,
            lambda t=tenant: ready(lab.get_json("clustersecretstore", cluster_store_name(t))),
        )
        data = lab.get_json("secret", key_secret_name(tenant), "-n", PLATFORM_NS)["data"]
        keys[tenant] = {
            "aws_access_key_id": _b64(data[ACCESS_KEY_ID_KEY]).decode(),
            "aws_secret_access_key": _b64(data[SECRET_ACCESS_KEY_KEY]).decode(),
        }
    return keys


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def put_secret(sm, name: str, password: str) -> None:
    """Create the secret, or give it a new current value (a kept lab already has it)."""
    value = json.dumps({"password": password})
    try:
        sm.create_secret(Name=name, SecretString=value)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=value)


def external_secret(namespace: str, name: str, key: str) -> dict:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace, "labels": {TEST_LABEL: "true"}},
        "spec": {
            "refreshInterval": "2s",
            "secretStoreRef": secret_store_ref(namespace.split("-")[0]),
            "target": {"name": name},
            "data": [{"secretKey": "password", "remoteRef": {"key": key, "property": "password"}}],
        },
    }


def certificate(namespace: str, name: str, hosts: list[str], **spec) -> dict:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "labels": {TEST_LABEL: "true"}},
        "spec": {
            "secretName": name + "-tls",
            "dnsNames": hosts,
            "issuerRef": {"kind": "ClusterIssuer", "name": "platykus-default"},
            **spec,
        },
    }


def issued(lab, namespace: str, secret: str) -> x509.Certificate:
    data = wait_for(
        "Secret %s/%s with tls.crt" % (namespace, secret), lambda: _secret_data(lab, namespace, secret, "tls.crt")
    )
    return x509.load_pem_x509_certificate(data)


def _secret_data(lab, namespace: str, name: str, key: str) -> bytes | None:
    proc = lab.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    return _b64(json.loads(proc.stdout).get("data", {}).get(key, "")) or None


# -- certificates ----------------------------------------------------------------------------------
def test_tenant_certificate_is_issued_by_the_platform_ca(lab, platform_ca, tenants_onboarded):
    hosts = ["shop.acme.%s" % ZONE, "api.acme.%s" % ZONE]
    # The tenant's own developers may request it (tenant-developer grants Certificates).
    as_developer(lab, "acme", "apply", "-f", "-", input=yaml.safe_dump(certificate("acme-prod", "shop", hosts)))
    wait_for("Certificate acme-prod/shop Ready", lambda: ready(lab.get_json("certificate", "shop", "-n", "acme-prod")))
    leaf = issued(lab, "acme-prod", "shop-tls")
    leaf.verify_directly_issued_by(platform_ca)  # raises unless the platform CA signed it
    assert leaf.issuer == platform_ca.subject
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(hosts)
    assert platform_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_short_certificate_is_renewed_before_expiry(lab, platform_ca, tenants_onboarded):
    # cert-manager's shortest duration is 1h; renewing 10s after issuance is "before expiry".
    cert = certificate("acme-prod", "short", ["short.acme.%s" % ZONE], duration="1h", renewBefore="59m50s")
    lab.apply(cert)
    first = issued(lab, "acme-prod", "short-tls")

    def renewed():
        current = x509.load_pem_x509_certificate(_secret_data(lab, "acme-prod", "short-tls", "tls.crt"))
        return current if current.serial_number != first.serial_number else None

    second = wait_for("the certificate to be renewed", renewed, timeout=120)
    second.verify_directly_issued_by(platform_ca)
    assert second.not_valid_after_utc > first.not_valid_after_utc
    assert first.not_valid_after_utc > second.not_valid_before_utc  # renewed while the first was valid
    assert lab.get_json("certificate", "short", "-n", "acme-prod")["status"]["revision"] >= 2


def test_tenants_cannot_make_issuers_or_cluster_wide_objects(lab, tenants_onboarded):
    for kind in (
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
        "secretstores.external-secrets.io",
        "clustersecretstores.external-secrets.io",
    ):
        proc = as_developer(lab, "acme", "auth", "can-i", "create", kind, "-n", "acme-prod", check=False)
        assert proc.stdout.strip() == "no", kind
    for kind in ("certificates.cert-manager.io", "externalsecrets.external-secrets.io"):
        assert as_developer(lab, "acme", "auth", "can-i", "create", kind, "-n", "acme-prod").stdout.strip() == "yes"
        proc = as_developer(lab, "acme", "auth", "can-i", "create", kind, "-n", "globex-prod", check=False)
        assert proc.stdout.strip() == "no", kind


# -- secrets ---------------------------------------------------------------------------------------
def test_tenant_secret_is_synced_and_follows_updates(lab, admin, tenant_keys):
    sm = boto3.client("secretsmanager", **admin)
    put_secret(sm, "platykus/acme/db", "first")
    as_developer(
        lab, "acme", "apply", "-f", "-", input=yaml.safe_dump(external_secret("acme-prod", "db", "platykus/acme/db"))
    )
    wait_for("Secret acme-prod/db", lambda: _secret_data(lab, "acme-prod", "db", "password") == b"first")

    put_secret(sm, "platykus/acme/db", "second")
    wait_for("Secret acme-prod/db to follow", lambda: _secret_data(lab, "acme-prod", "db", "password") == b"second")


def test_tenant_cannot_read_another_tenants_prefix(lab, admin, tenant_keys):
    sm = boto3.client("secretsmanager", **admin)
    put_secret(sm, "platykus/globex/db", "globex-only")
    lab.apply(external_secret("acme-prod", "stolen", "platykus/globex/db"))
    try:
        _refused_in_cluster_and_by_iam(lab, admin, tenant_keys)
    finally:
        # Other modules on the same session lab read acme-prod's ExternalSecrets.
        lab.kubectl("delete", "externalsecret", "stolen", "-n", "acme-prod", "--ignore-not-found")


def _refused_in_cluster_and_by_iam(lab, admin, tenant_keys):
    def refused():
        status = lab.get_json("externalsecret", "stolen", "-n", "acme-prod").get("status", {})
        return [c for c in status.get("conditions", []) if c["type"] == "Ready" and c["status"] == "False"]

    assert wait_for("ExternalSecret acme-prod/stolen refused", refused)[0]["reason"] == "SecretSyncedError"

    def refusal_events():
        events = lab.get_json("events", "-n", "acme-prod", "--field-selector", "involvedObject.name=stolen")["items"]
        return [e["message"] for e in events if "status code: 403" in e["message"]]

    # moto answers IAM refusals in XML, which the JSON protocol's decoder cannot read: the 403 is what shows.
    assert "platykus/globex/db" in wait_for("a 403 event on acme-prod/stolen", refusal_events)[0]
    assert _secret_data(lab, "acme-prod", "stolen", "password") is None
    # The same request as acme's identity, straight to the lab's AWS: refused by IAM.
    as_acme = boto3.client("secretsmanager", **{**admin, **tenant_keys["acme"]})
    with pytest.raises(ClientError) as err:
        as_acme.get_secret_value(SecretId="platykus/globex/db")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert json.loads(as_acme.get_secret_value(SecretId="platykus/acme/db")["SecretString"])["password"] == "second"


# -- buckets ---------------------------------------------------------------------------------------
def test_tenant_bucket_is_encrypted_private_tagged_and_isolated(lab, admin, tenant_keys):
    s3 = boto3.client("s3", **admin)
    bucket = scope("acme", lab).bucket
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["platykus:tenant"] == "acme" and tags["platykus:cost-center"] == "cc-1001"

    as_acme = boto3.client("s3", **{**admin, **tenant_keys["acme"]})
    as_acme.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    assert [o["Key"] for o in as_acme.list_objects_v2(Bucket=bucket)["Contents"]] == ["hello.txt"]
    with pytest.raises(ClientError) as err:
        as_acme.list_objects_v2(Bucket=scope("globex", lab).bucket)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
