"""Tenants' AWS credentials on the lab, against the real external-secrets v0.16.2 controller and the
lab's AWS (moto, IAM enforced): the store's key is out of the tenant's reach, the tenant's
ExternalSecrets still sync through its ClusterSecretStore and cannot use another tenant's, rotation
replaces the key (the old one refused by the lab's AWS), and offboarding removes the identity (its
key refused afterwards) while the audit fails as long as a removed tenant's identity is left.

Acts as a member of the tenant's developer group (kubectl --as/--as-group). Assertions are on the
API server, the lab's AWS and the synced Secrets. A throwaway tenant ``zeta`` (a copy of the lab
inventory with one more file) is the one offboarded, so the session's other tenants keep theirs.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import LAB_INVENTORY, wait_for

from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    ACCESS_KEY_ID_KEY,
    SECRET_ACCESS_KEY_KEY,
    cluster_store_name,
    key_secret_name,
)
from platykus_lab import aws as lab_aws

pytestmark = pytest.mark.lab

PLATFORM_NS = "platykus-system"
CLUSTER = "platykus-lab"
TEST_LABEL = "platykus.io/credentials-test"
DEVELOPER = ("--as", "someone@acme.example", "--as-group", "acme-devs")


def as_developer(lab, *args: str, **kwargs):
    return lab.kubectl(*DEVELOPER, *args, check=False, **kwargs)


def ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def stored_key(lab, tenant: str) -> dict[str, str]:
    """The key onboarding stored for ``tenant`` (read as the lab's admin)."""
    data = lab.get_json("secret", key_secret_name(tenant), "-n", PLATFORM_NS)["data"]
    return {
        "aws_access_key_id": base64.b64decode(data[ACCESS_KEY_ID_KEY]).decode(),
        "aws_secret_access_key": base64.b64decode(data[SECRET_ACCESS_KEY_KEY]).decode(),
    }


def caller(admin: dict, key: dict) -> str:
    """Who the lab's AWS says ``key`` is (raises ClientError when it refuses the key)."""
    return boto3.client("sts", **{**admin, **key}).get_caller_identity()["Arn"]


def put_secret(sm, name: str, value: str) -> None:
    try:
        sm.create_secret(Name=name, SecretString=json.dumps({"value": value}))
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=json.dumps({"value": value}))


def external_secret(namespace: str, name: str, key: str, store: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace, "labels": {TEST_LABEL: "true"}},
            "spec": {
                "refreshInterval": "2s",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
                "target": {"name": name},
                "data": [{"secretKey": "value", "remoteRef": {"key": key, "property": "value"}}],
            },
        }
    )


def synced_value(lab, namespace: str, name: str) -> str | None:
    proc = lab.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    encoded = json.loads(proc.stdout).get("data", {}).get("value")
    return base64.b64decode(encoded).decode() if encoded else None


@pytest.fixture(scope="module")
def admin(lab) -> dict:
    return lab_aws.client_kwargs(lab.lab)


@pytest.fixture(scope="module")
def onboarded(lab):
    run = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_capacity_policy": "warn"})
    assert run.ok, run.output[-4000:]
    for tenant in ("acme", "globex"):
        wait_for(
            "ClusterSecretStore %s Ready" % cluster_store_name(tenant),
            lambda t=tenant: ready(lab.get_json("clustersecretstore", cluster_store_name(t))),
            timeout=90,
        )
    yield lab
    lab.kubectl("delete", "externalsecrets,secrets", "-A", "-l", TEST_LABEL, check=False)


# -- the key is out of the developers' reach -----------------------------------------------------------
def test_a_developer_cannot_read_the_stores_key_anywhere(onboarded):
    lab = onboarded
    refused = as_developer(lab, "get", "secret", key_secret_name("acme"), "-n", PLATFORM_NS)
    assert refused.returncode != 0 and "forbidden" in refused.stderr, refused.stdout
    listed = as_developer(lab, "get", "secrets", "-n", PLATFORM_NS)
    assert listed.returncode != 0 and "forbidden" in listed.stderr
    # Nothing with a key is left in the tenant's own namespaces, where developers read every Secret.
    for namespace in ("acme-dev", "acme-prod"):
        mine = json.loads(as_developer(lab, "get", "secrets", "-n", namespace, "-o", "json").stdout)["items"]
        assert not [s for s in mine if s["metadata"]["name"] == "platykus-aws-credentials"]
        assert not [s for s in mine if "platykus.io/aws-access-key" in (s["metadata"].get("labels") or {})]
    # Nor may a developer read the ClusterSecretStore (which names the Secret) or make a store of their own.
    assert as_developer(lab, "get", "clustersecretstore", cluster_store_name("acme")).returncode != 0
    assert as_developer(lab, "auth", "can-i", "create", "secretstores", "-n", "acme-prod").stdout.strip() == "no"


def test_the_tenants_external_secret_syncs_through_its_store_and_not_through_another_tenants(onboarded, admin):
    lab = onboarded
    sm = boto3.client("secretsmanager", **admin)
    put_secret(sm, "platykus/acme/cred-test", "first")
    put_secret(sm, "platykus/globex/cred-test", "globex-only")
    own = external_secret("acme-prod", "cred-own", "platykus/acme/cred-test", cluster_store_name("acme"))
    assert as_developer(lab, "apply", "-f", "-", input=own).returncode == 0
    wait_for("acme-prod/cred-own synced", lambda: synced_value(lab, "acme-prod", "cred-own") == "first", timeout=90)

    # globex's store, named from acme's namespace: external-secrets refuses it (spec.conditions).
    stolen = external_secret("acme-prod", "cred-stolen", "platykus/globex/cred-test", cluster_store_name("globex"))
    assert as_developer(lab, "apply", "-f", "-", input=stolen).returncode == 0  # RBAC admits the object

    def refused():
        status = lab.get_json("externalsecret", "cred-stolen", "-n", "acme-prod").get("status", {})
        return [c for c in status.get("conditions", []) if c["type"] == "Ready" and c["status"] == "False"]

    condition = wait_for("acme-prod/cred-stolen refused", refused, timeout=90)[0]
    events = lab.get_json("events", "-n", "acme-prod", "--field-selector", "involvedObject.name=cred-stolen")["items"]
    messages = " ".join(e["message"] for e in events) + " " + condition.get("message", "")
    assert "not allowed" in messages or "denied by spec.condition" in messages, messages
    time.sleep(5)  # several refresh intervals: still nothing synced
    assert synced_value(lab, "acme-prod", "cred-stolen") is None


def test_rotation_replaces_the_key_and_the_old_one_is_refused(onboarded, admin):
    lab = onboarded
    sm = boto3.client("secretsmanager", **admin)
    put_secret(sm, "platykus/acme/cred-rotate", "before")
    es = external_secret("acme-prod", "cred-rotate", "platykus/acme/cred-rotate", cluster_store_name("acme"))
    assert as_developer(lab, "apply", "-f", "-", input=es).returncode == 0
    wait_for("cred-rotate synced", lambda: synced_value(lab, "acme-prod", "cred-rotate") == "before", timeout=90)
    old = stored_key(lab, "acme")
    assert caller(admin, old).endswith(":user/%s-tenant-acme" % CLUSTER)

    time.sleep(2)
    # A max age of about a second: every key is past it.
    run = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_aws_key_max_age_hours": 0.0003})
    assert run.ok, run.output[-4000:]
    assert re.search(r"keys rotated \[[^]]*'acme'", run.output), run.output[-3000:]
    new = stored_key(lab, "acme")
    assert new["aws_access_key_id"] != old["aws_access_key_id"]
    with pytest.raises(ClientError) as err:
        caller(admin, old)
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert caller(admin, new).endswith(":user/%s-tenant-acme" % CLUSTER)
    iam = boto3.client("iam", **admin)
    keys = iam.list_access_keys(UserName="%s-tenant-acme" % CLUSTER)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [new["aws_access_key_id"]]

    # The store moved to the new key: a new value still syncs.
    put_secret(sm, "platykus/acme/cred-rotate", "after")
    wait_for("cred-rotate follows", lambda: synced_value(lab, "acme-prod", "cred-rotate") == "after", timeout=90)
    again = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_capacity_policy": "warn"})
    assert again.ok and again.changed == 0, again.output[-3000:]


# -- offboarding and the audit ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_zeta(onboarded, tmp_path_factory) -> Path:
    """A copy of the lab inventory with one more tenant, zeta (one environment), onboarded."""
    inventory = tmp_path_factory.mktemp("creds") / "inv"
    shutil.copytree(LAB_INVENTORY, inventory)
    spec = {
        "name": "zeta",
        "display_name": "Zeta",
        "owners": {"admin": ["zeta-admins"], "developer": ["zeta-devs"]},
        "environments": ["dev"],
        "plan": "small",
        "cost_center": "cc-9009",
    }
    (inventory / "tenants" / "zeta.yml").write_text(yaml.safe_dump(spec))
    run = onboarded.playbook(
        "playbooks/tenant-onboarding.yml",
        inventory=inventory,
        extra_vars={"tenant": "zeta", "platykus_tenant_capacity_policy": "warn"},
    )
    assert run.ok, run.output[-4000:]
    return inventory


def offboard(lab, tenant: str, inventory: Path, check: bool = False, **extra):
    extra_vars = {"tenant": tenant, "confirm": tenant, **extra}
    return lab.playbook("playbooks/tenant-offboarding.yml", inventory=inventory, extra_vars=extra_vars, check=check)


def test_offboarding_removes_every_identity_and_the_old_key_stops_working(onboarded, admin, with_zeta):
    lab = onboarded
    iam, s3 = boto3.client("iam", **admin), boto3.client("s3", **admin)
    user, bucket = "%s-tenant-zeta" % CLUSTER, "%s-zeta" % CLUSTER
    key = stored_key(lab, "zeta")
    assert caller(admin, key).endswith(":user/" + user)
    s3.put_object(Bucket=bucket, Key="exports/ledger.csv", Body=b"data")
    acme_before = stored_key(lab, "acme")

    refused = offboard(lab, "zeta", with_zeta)
    assert not refused.ok
    assert "bucket %s still holds 1 object(s) (exports/ledger.csv)" % bucket in refused.output
    assert iam.get_user(UserName=user) and lab.kubectl("get", "namespace", "zeta-dev", check=False).returncode == 0

    predicted = offboard(lab, "zeta", with_zeta, check=True, force=True)
    assert predicted.ok, predicted.output[-3000:]
    assert "iam-user/%s" % user in predicted.output and "s3/%s" % bucket in predicted.output
    assert iam.get_user(UserName=user)  # check mode deleted nothing

    done = offboard(lab, "zeta", with_zeta, force=True)
    assert done.ok, done.output[-4000:]
    with pytest.raises(ClientError):
        iam.get_user(UserName=user)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert lab.kubectl("get", "clustersecretstore", cluster_store_name("zeta"), check=False).returncode != 0
    assert lab.kubectl("get", "secret", key_secret_name("zeta"), "-n", PLATFORM_NS, check=False).returncode != 0
    with pytest.raises(ClientError) as err:
        caller(admin, key)
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # Other tenants untouched: acme's key and store as before.
    assert stored_key(lab, "acme") == acme_before and caller(admin, acme_before)
    again = offboard(lab, "zeta", with_zeta, force=True)
    assert again.ok and again.changed == 0, again.output[-3000:]


def test_the_audit_fails_while_a_removed_tenants_identity_is_left_and_passes_after_cleanup(onboarded, admin):
    lab = onboarded
    iam = boto3.client("iam", **admin)
    ghost = "%s-tenant-ghost" % CLUSTER
    tags = [{"Key": "platykus:cluster", "Value": CLUSTER}, {"Key": "platykus:tenant", "Value": "ghost"}]
    try:
        iam.create_user(UserName=ghost, Tags=tags)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "EntityAlreadyExists"
    key_id = iam.create_access_key(UserName=ghost)["AccessKey"]["AccessKeyId"]
    try:
        audit = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
        assert not audit.ok and "PLK-AWS-2" in audit.output, audit.output[-3000:]
        assert re.search(r"FAIL\s+PLK-AWS-2\s+ghost\s+%s" % ghost, audit.output), audit.output[-3000:]
        assert key_id in audit.output
        # Offboarding finds it from the cluster's settings alone (ghost is in no inventory) and removes it.
        cleanup = offboard(lab, "ghost", LAB_INVENTORY)
        assert cleanup.ok, cleanup.output[-4000:]
    finally:  # never leave it for the session's other audits
        if iam.list_users()["Users"] and ghost in [u["UserName"] for u in iam.list_users()["Users"]]:
            for key in iam.list_access_keys(UserName=ghost)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=ghost, AccessKeyId=key["AccessKeyId"])
            iam.delete_user(UserName=ghost)
    audit = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
    assert not re.findall(r"FAIL\s+PLK-(AWS-2|CRED-1)", audit.output), audit.output[-3000:]
    assert re.search(r"PASS\s+PLK-CRED-1\s+acme\s+developer", audit.output), audit.output[-3000:]


def test_the_audit_fails_when_a_tenant_role_can_read_a_key(onboarded):
    """Plant the old layout's key Secret in acme-dev: PLK-CRED-1 fails for acme's roles."""
    lab = onboarded
    planted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "planted-key", "namespace": "acme-dev", "labels": {"platykus.io/aws-access-key": "acme"}},
        "stringData": {ACCESS_KEY_ID_KEY: "AKIAPLANTED"},
    }
    lab.apply(planted)
    try:
        audit = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
        assert re.search(r"FAIL\s+PLK-CRED-1\s+acme\s+developer", audit.output), audit.output[-3000:]
        assert "acme-dev/planted-key" in audit.output
    finally:
        lab.kubectl("delete", "secret", "planted-key", "-n", "acme-dev", check=False)
