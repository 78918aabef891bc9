# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding's AWS step against moto (in process) and the fake API server: checks first, then
identity, bucket, one key per identity, and the namespaces' credentials and SecretStores."""

from __future__ import annotations

import pytest
from moto import mock_aws

from ansible_collections.platykus.platform.plugins.module_utils import _tenant_aws_onboard as onboard
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import (
    ACCESS_KEY_ID_KEY,
    CREDENTIALS_SECRET_NAME,
    SECRET_STORE_NAME,
)
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

ZONE = "apps.example.test"
NAMESPACES = ("acme-dev", "acme-prod")


@pytest.fixture(autouse=True)
def external_secrets_kinds(monkeypatch):
    monkeypatch.setitem(fake_api.KINDS, ("external-secrets.io/v1", "SecretStore"), ("secretstores", True))
    monkeypatch.setitem(fake_api.KINDS, ("external-secrets.io/v1", "ExternalSecret"), ("externalsecrets", True))


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield onboard.boto3_clients("us-east-1", None)


@pytest.fixture
def api():
    return FakeApiServer([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in NAMESPACES])


def params(acme_spec, plans, **extra):
    acme_spec["domains"] = ["acme.%s" % ZONE]
    return dict(
        tenants=[acme_spec], plans=plans, platform_namespaces=["platykus-system"], tenant=None,
        cluster_name="lab", zone=ZONE, region="us-east-1", endpoint_url=None, external_secrets=[],
        validate_only=False, **extra,
    )  # fmt: skip


def never():
    raise AssertionError("connected before the inputs were checked")


# -- checks before anything ------------------------------------------------------------------------
def test_bad_domains_and_secret_paths_are_refused_together_before_any_connection(acme_spec, plans):
    args = params(acme_spec, plans)
    args["tenants"][0]["domains"] = ["shop.globex.%s" % ZONE]
    args["external_secrets"] = [
        {"namespace": "acme-prod", "name": "db", "key": "platykus/globex/db"},
        {"namespace": "kube-system", "name": "x", "key": "platykus/acme/x"},
    ]
    with pytest.raises(PlatykusError) as err:
        onboard.run(args, never, never, check_mode=False)
    message = str(err.value)
    assert message.startswith("Failed to onboard the tenants' AWS, nothing was written")
    assert "tenants[acme].domains[0]: hostname 'shop.globex.%s' is outside tenant 'acme''s domain" % ZONE in message
    assert (
        "external_secrets[0].key: secret 'platykus/globex/db' is outside tenant 'acme''s prefix; name it platykus/acme/<name>"
        in message
    )
    assert "external_secrets[1].namespace: 'kube-system' is not a tenant namespace" in message


def test_validate_only_connects_to_nothing(acme_spec, plans):
    args = params(acme_spec, plans)
    args["validate_only"] = True
    result = onboard.run(args, never, never, check_mode=False)
    assert result["changed"] is False
    assert result["tenants"][0]["identity"] == "lab-tenant-acme" and result["tenants"][0]["domain"] == "acme.%s" % ZONE


# -- onboarding ------------------------------------------------------------------------------------
def test_check_mode_writes_nothing_then_real_run_then_idempotent(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    predicted = onboard.run(args, api.client, aws, check_mode=True)
    iam, s3, _sts = aws()
    assert predicted["changed"] and predicted["aws"] == ["iam-user/lab-tenant-acme", "s3/lab-acme"]
    assert not iam.list_users()["Users"] and not s3.list_buckets()["Buckets"]
    assert api.find("SecretStore", SECRET_STORE_NAME, "acme-dev") is None

    first = onboard.run(args, api.client, aws, check_mode=False)
    assert first["changed"] and first["keys_rotated"] == ["acme"]
    assert sorted(first["created"]) == sorted(
        "%s/%s/%s" % (kind, ns, name) for ns in NAMESPACES
        for kind, name in (("Secret", CREDENTIALS_SECRET_NAME), ("SecretStore", SECRET_STORE_NAME))
    )  # fmt: skip
    keys = iam.list_access_keys(UserName="lab-tenant-acme")["AccessKeyMetadata"]
    assert len(keys) == 1
    for ns in NAMESPACES:
        assert (
            api.find("Secret", CREDENTIALS_SECRET_NAME, ns)["stringData"][ACCESS_KEY_ID_KEY] == keys[0]["AccessKeyId"]
        )

    again = onboard.run(args, api.client, aws, check_mode=False)
    assert not again["changed"] and again["keys_rotated"] == [] and again["aws"] == []
    assert not onboard.run(args, api.client, aws, check_mode=True)["changed"]


def test_a_key_iam_no_longer_knows_is_replaced(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    onboard.run(args, api.client, aws, check_mode=False)
    iam, _s3, _sts = aws()
    for key in iam.list_access_keys(UserName="lab-tenant-acme")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="lab-tenant-acme", AccessKeyId=key["AccessKeyId"])
    result = onboard.run(args, api.client, aws, check_mode=False)
    assert result["keys_rotated"] == ["acme"]
    assert len(iam.list_access_keys(UserName="lab-tenant-acme")["AccessKeyMetadata"]) == 1


def test_declared_external_secret_goes_through_the_tenants_store_and_diff_hides_credentials(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    args["external_secrets"] = [
        {"namespace": "acme-prod", "name": "db", "key": "platykus/acme/db", "property": "password"}
    ]
    result = onboard.run(args, api.client, aws, check_mode=False, diff=True)
    external = api.find("ExternalSecret", "db", "acme-prod")
    assert external["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": SECRET_STORE_NAME}
    assert external["spec"]["data"][0]["remoteRef"] == {"key": "platykus/acme/db", "property": "password"}
    assert result["diff"] and not [d for d in result["diff"] if d["before_header"].startswith("Secret/")]


def test_irsa_annotates_a_service_account_per_namespace_and_makes_no_aws_identity(acme_spec, plans, api):
    args = params(acme_spec, plans, account_id="123456789012", irsa=True)
    result = onboard.run(args, api.client, never, check_mode=False)
    assert result["aws"] == [] and result["keys_rotated"] == []
    for ns in NAMESPACES:
        account = api.find("ServiceAccount", "platykus-aws", ns)
        assert account["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/lab-tenant-acme"
        }
        auth = api.find("SecretStore", SECRET_STORE_NAME, ns)["spec"]["provider"]["aws"]["auth"]
        assert auth == {"jwt": {"serviceAccountRef": {"name": "platykus-aws"}}}
        assert api.find("Secret", CREDENTIALS_SECRET_NAME, ns) is None
    assert not onboard.run(args, api.client, never, check_mode=False)["changed"]
