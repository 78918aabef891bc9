# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding's AWS step against moto (in process) and the fake API server: checks first, then
identity, bucket, one key per identity, and the namespaces' credentials and SecretStores."""

from __future__ import annotations

import pytest
from moto import mock_aws

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants import aws_onboard as onboard
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
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
    monkeypatch.setitem(
        fake_api.KINDS, ("external-secrets.io/v1", "ClusterSecretStore"), ("clustersecretstores", False)
    )


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield onboard.boto3_clients("us-east-1", None)


@pytest.fixture
def api():
    namespaces = NAMESPACES + ("platykus-system",)
    return FakeApiServer([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces])


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
STORE = "platykus-secrets-acme"
KEY_SECRET = "platykus-aws-acme"


def _key_ids(iam) -> list[str]:
    return [k["AccessKeyId"] for k in iam.list_access_keys(UserName="lab-tenant-acme")["AccessKeyMetadata"]]


def test_check_mode_writes_nothing_then_real_run_then_idempotent(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    predicted = onboard.run(args, api.client, aws, check_mode=True)
    iam, s3 = aws()[:2]
    assert predicted["changed"] and predicted["aws"] == ["iam-user/lab-tenant-acme", "s3/lab-acme"]
    assert not iam.list_users()["Users"] and not s3.list_buckets()["Buckets"]
    assert api.find("ClusterSecretStore", STORE) is None

    first = onboard.run(args, api.client, aws, check_mode=False)
    assert first["changed"] and first["keys_rotated"] == ["acme"]
    assert sorted(first["created"]) == ["ClusterSecretStore/%s" % STORE, "Secret/platykus-system/%s" % KEY_SECRET]
    keys = _key_ids(iam)
    assert len(keys) == 1
    secret = api.find("Secret", KEY_SECRET, "platykus-system")
    assert secret["stringData"][ACCESS_KEY_ID_KEY] == keys[0]
    assert secret["metadata"]["labels"]["platykus.io/aws-access-key"] == "acme"
    for ns in NAMESPACES:  # nothing with a key in the tenant's namespaces
        assert api.find("Secret", CREDENTIALS_SECRET_NAME, ns) is None
        assert api.find("SecretStore", SECRET_STORE_NAME, ns) is None
    store = api.find("ClusterSecretStore", STORE)
    assert store["spec"]["conditions"] == [{"namespaces": sorted(NAMESPACES)}]
    auth = store["spec"]["provider"]["aws"]["auth"]["secretRef"]
    assert auth["accessKeyIDSecretRef"] == {"name": KEY_SECRET, "namespace": "platykus-system", "key": "access-key-id"}

    again = onboard.run(args, api.client, aws, check_mode=False)
    assert not again["changed"] and again["keys_rotated"] == [] and again["aws"] == [] and again["keys_retired"] == []
    assert not onboard.run(args, api.client, aws, check_mode=True)["changed"]


def test_a_key_iam_no_longer_knows_is_replaced(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    onboard.run(args, api.client, aws, check_mode=False)
    iam = aws()[0]
    for key_id in _key_ids(iam):
        iam.delete_access_key(UserName="lab-tenant-acme", AccessKeyId=key_id)
    result = onboard.run(args, api.client, aws, check_mode=False)
    assert result["keys_rotated"] == ["acme"]
    assert len(_key_ids(iam)) == 1


@pytest.fixture
def aged(monkeypatch):
    """Onboarding's clock moved forward by a number of hours."""

    def move(hours: float) -> None:
        later = onboard.datetime.now(onboard.UTC) + onboard.timedelta(hours=hours)
        monkeypatch.setattr(onboard, "_now", lambda: later)

    return move


def test_a_key_past_its_max_age_is_replaced_and_the_old_one_retired_after_the_secret(acme_spec, plans, aws, api, aged):
    args = params(acme_spec, plans, key_max_age_hours=24)
    onboard.run(args, api.client, aws, check_mode=False)
    iam = aws()[0]
    (old,) = _key_ids(iam)
    aged(23)
    assert not onboard.run(args, api.client, aws, check_mode=False)["changed"]  # younger than the max age
    aged(25)
    predicted = onboard.run(args, api.client, aws, check_mode=True)
    assert predicted["keys_rotated"] == ["acme"] and predicted["keys_retired"] == ["iam-key/lab-tenant-acme/" + old]
    assert _key_ids(iam) == [old]  # check mode: nothing made, nothing retired

    rotated = onboard.run(args, api.client, aws, check_mode=False)
    assert rotated["keys_rotated"] == ["acme"] and rotated["keys_retired"] == ["iam-key/lab-tenant-acme/" + old]
    (new,) = _key_ids(iam)
    assert new != old
    assert api.find("Secret", KEY_SECRET, "platykus-system")["stringData"][ACCESS_KEY_ID_KEY] == new
    # The store names the key in use, so it changes with it (external-secrets' session cache is keyed on it).
    assert api.find("ClusterSecretStore", STORE)["metadata"]["annotations"] == {"platykus.io/aws-access-key-id": new}
    aged(1)  # IAM dates the new key with the real clock: an hour later it is an hour old
    assert not onboard.run(args, api.client, aws, check_mode=False)["changed"]


def test_a_key_made_but_not_stored_is_retired_on_the_next_run(acme_spec, plans, aws, api):
    """A run that crashed between making a key and writing the Secret leaves a second key: it goes."""
    args = params(acme_spec, plans)
    onboard.run(args, api.client, aws, check_mode=False)
    iam = aws()[0]
    stray = iam.create_access_key(UserName="lab-tenant-acme")["AccessKey"]["AccessKeyId"]
    result = onboard.run(args, api.client, aws, check_mode=False)
    assert result["changed"] and result["keys_rotated"] == []
    assert result["keys_retired"] == ["iam-key/lab-tenant-acme/" + stray] and stray not in _key_ids(iam)


def test_a_negative_max_age_is_refused_naming_the_option(acme_spec, plans):
    with pytest.raises(PlatykusError, match="key_max_age_hours: -1 is not a number of hours"):
        onboard.run(params(acme_spec, plans, key_max_age_hours=-1), never, never, check_mode=False)


def test_the_old_namespaced_store_goes_and_its_external_secrets_move_to_the_cluster_store(acme_spec, plans, aws, api):
    old_ref = {"kind": "SecretStore", "name": SECRET_STORE_NAME}
    for ns in NAMESPACES:
        meta = {"name": SECRET_STORE_NAME, "namespace": ns}
        api.put({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": meta, "spec": {}})
        meta = {"name": CREDENTIALS_SECRET_NAME, "namespace": ns}
        api.put({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {ACCESS_KEY_ID_KEY: "AKIAOLD"}})
    spec = {
        "secretStoreRef": old_ref,
        "target": {"name": "db"},
        "data": [{"secretKey": "p", "remoteRef": {"key": "k"}}],
    }
    api.put({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
             "metadata": {"name": "db", "namespace": "acme-prod"}, "spec": spec})  # fmt: skip
    args = params(acme_spec, plans)
    predicted = onboard.run(args, api.client, aws, check_mode=True)
    assert predicted["migrated"] == ["ExternalSecret/acme-prod/db"]
    assert api.find("ExternalSecret", "db", "acme-prod")["spec"]["secretStoreRef"] == old_ref

    result = onboard.run(args, api.client, aws, check_mode=False)
    assert result["migrated"] == ["ExternalSecret/acme-prod/db"]
    assert sorted(result["removed"]) == sorted(
        "%s/%s/%s" % (kind, ns, name) for ns in NAMESPACES
        for kind, name in (("Secret", CREDENTIALS_SECRET_NAME), ("SecretStore", SECRET_STORE_NAME))
    )  # fmt: skip
    moved = api.find("ExternalSecret", "db", "acme-prod")["spec"]
    assert moved["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": STORE}
    assert moved["data"] == spec["data"]  # only the store reference changed
    again = onboard.run(args, api.client, aws, check_mode=False)
    assert not again["changed"] and again["migrated"] == [] and again["removed"] == []


def test_declared_external_secret_goes_through_the_tenants_store_and_diff_hides_credentials(acme_spec, plans, aws, api):
    args = params(acme_spec, plans)
    args["external_secrets"] = [
        {"namespace": "acme-prod", "name": "db", "key": "platykus/acme/db", "property": "password"}
    ]
    result = onboard.run(args, api.client, aws, check_mode=False, diff=True)
    external = api.find("ExternalSecret", "db", "acme-prod")
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": STORE}
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
    store = api.find("ClusterSecretStore", STORE)["spec"]
    assert store["conditions"] == [{"namespaces": sorted(NAMESPACES)}]
    assert store["provider"]["aws"]["auth"] == {
        "jwt": {"serviceAccountRef": {"name": "platykus-aws", "namespace": "acme-dev"}}
    }
    assert not onboard.run(args, api.client, never, check_mode=False)["changed"]
