# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offboarding's AWS step (lab, generic) against moto in process and the fake API server: a tenant's
store, key Secret, IAM user, secrets and bucket go; a bucket with objects is refused unless forced;
check mode lists what would go; other tenants are untouched; the audit's identity listing."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants import aws_onboard as onboard
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_offboard import leftover_identities
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils._tenants.test_aws_onboard import (
    api,
    aws,
    external_secrets_kinds,
    params,
)

# The onboarding tests' fixtures: the fake API server's external-secrets kinds (autouse), moto, the fake API server.
__all__ = ["api", "aws", "external_secrets_kinds"]


def _globex(acme_spec: dict) -> dict:
    spec = dict(acme_spec, name="globex", owners={"admin": ["globex-admins"]}, environments=["prod"])
    spec.pop("domains", None)
    return spec


@pytest.fixture
def onboarded(acme_spec, plans, aws, api):
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "globex-prod"}})
    args = params(acme_spec, plans)
    args["tenants"] = [args["tenants"][0], _globex(acme_spec)]
    result = onboard.run(args, api.client, aws, check_mode=False)
    assert result["keys_rotated"] == ["acme", "globex"]
    return args


DENY_ALL = '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}'


def absent(**extra) -> dict:
    return {**dict(state="absent", tenant="acme", cluster_name="lab", region="us-east-1", force=False), **extra}


def _as_key(iam, user: str) -> dict:
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def test_offboarding_removes_every_identity_and_resource_then_changes_nothing(onboarded, aws, api):
    iam, s3, _sts, sm = aws()
    sm.create_secret(Name="platykus/acme/db", SecretString="x")
    sm.create_secret(Name="platykus/globex/db", SecretString="y")
    extra = iam.create_policy(PolicyName="extra", PolicyDocument=DENY_ALL)
    iam.attach_user_policy(UserName="lab-tenant-acme", PolicyArn=extra["Policy"]["Arn"])

    predicted = onboard.run(absent(), api.client, aws, check_mode=True)
    (key_id,) = [k["AccessKeyId"] for k in iam.list_access_keys(UserName="lab-tenant-acme")["AccessKeyMetadata"]]
    assert predicted["changed"] and predicted["removed"] == [
        "ClusterSecretStore/platykus-secrets-acme",
        "Secret/platykus-system/platykus-aws-acme",
        "iam-key/lab-tenant-acme/" + key_id,
        "iam-user-policy/lab-tenant-acme/platykus-tenant-scope",
        "iam-attached-policy/lab-tenant-acme/arn:aws:iam::123456789012:policy/extra",
        "iam-user/lab-tenant-acme",
        "secretsmanager/platykus/acme/db",
        "s3/lab-acme",
    ]
    assert iam.get_user(UserName="lab-tenant-acme") and api.find("ClusterSecretStore", "platykus-secrets-acme")

    done = onboard.run(absent(), api.client, aws, check_mode=False)
    assert done["removed"] == predicted["removed"]
    with pytest.raises(ClientError):
        iam.get_user(UserName="lab-tenant-acme")
    assert "lab-acme" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["platykus/globex/db"]
    assert api.find("ClusterSecretStore", "platykus-secrets-acme") is None
    assert api.find("Secret", "platykus-aws-acme", "platykus-system") is None
    # globex untouched
    assert iam.get_user(UserName="lab-tenant-globex") and api.find("Secret", "platykus-aws-globex", "platykus-system")
    assert "lab-globex" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    again = onboard.run(absent(), api.client, aws, check_mode=False)
    assert not again["changed"] and again["removed"] == []


def test_a_bucket_with_objects_is_refused_naming_them_unless_forced(onboarded, aws, api):
    _iam, s3, _sts, _sm = aws()
    for key in ("reports/q1.csv", "reports/q2.csv"):
        s3.put_object(Bucket="lab-acme", Key=key, Body=b"data")
    for check_mode in (True, False):
        with pytest.raises(PlatykusError) as err:
            onboard.run(absent(), api.client, aws, check_mode=check_mode)
        assert str(err.value) == (
            "Failed to offboard tenant 'acme' from AWS, nothing was deleted: bucket lab-acme still holds 2 object(s) "
            "(reports/q1.csv, reports/q2.csv); empty it first, or rerun with force=true to delete them with the bucket"
        )
    assert api.find("ClusterSecretStore", "platykus-secrets-acme")  # nothing deleted
    forced = onboard.run(absent(force=True), api.client, aws, check_mode=False)
    assert "s3-object/lab-acme/reports/q1.csv" in forced["removed"] and "s3/lab-acme" in forced["removed"]
    assert "lab-acme" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_bad_tenant_name_is_refused_before_any_connection():
    def never():
        raise AssertionError("connected")

    with pytest.raises(PlatykusError, match="tenant: 'Acme/..' is not a tenant name"):
        onboard.run(absent(tenant="Acme/.."), never, never, check_mode=False)


def test_the_old_key_stops_working_once_offboarded(onboarded, aws, api, monkeypatch):
    """moto checks signatures once INITIAL_NO_AUTH_ACTION_COUNT is 0: the key works, then is refused."""
    iam, _s3, _sts, _sm = aws()
    credentials = _as_key(iam, "lab-tenant-acme")
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", 0)
    as_acme = boto3.client("sts", region_name="us-east-1", **credentials)
    assert as_acme.get_caller_identity()["Arn"].endswith(":user/lab-tenant-acme")
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    onboard.run(absent(), api.client, aws, check_mode=False)
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", 0)
    with pytest.raises(ClientError) as err:
        as_acme.get_caller_identity()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_leftover_identities_name_the_tenant_each_was_made_for(onboarded, aws):
    found = {i["name"]: i for i in leftover_identities("lab", aws)}
    assert sorted(found) == ["lab-tenant-acme", "lab-tenant-globex"]
    assert found["lab-tenant-acme"]["tenant"] == "acme" and found["lab-tenant-acme"]["kind"] == "user"
    assert len(found["lab-tenant-acme"]["active_keys"]) == 1
    assert leftover_identities("other-cluster", aws) == []  # another cluster's tag: not ours
