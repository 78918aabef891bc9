# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    CREDENTIALS_SECRET_NAME,
    SECRET_STORE_NAME,
    TenantAws,
    bucket_settings,
    check_hostname,
    check_secret_key,
    render_credentials_secret,
    render_secret_store,
    tenant_policy,
    validate_scope,
)

ACME = TenantAws(
    tenant="acme", cluster="platykus-lab", account_id="123456789012", region="us-east-1",
    zone="apps.platykus-lab.test", cost_center="cc-1001",
)  # fmt: skip


def test_names_derive_from_tenant_and_cluster():
    assert ACME.secret_prefix == "platykus/acme/"
    assert ACME.identity == "platykus-lab-tenant-acme"
    assert ACME.bucket == "platykus-lab-acme"
    assert ACME.domain == "acme.apps.platykus-lab.test"
    validate_scope(ACME)


def test_policy_reaches_only_the_tenants_prefix_and_bucket():
    statements = {s["Sid"]: s for s in tenant_policy(ACME)["Statement"]}
    assert statements["ReadOwnSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:platykus/acme/*"
    ]
    assert statements["OwnBucket"]["Resource"] == ["arn:aws:s3:::platykus-lab-acme"]
    assert statements["OwnObjects"]["Resource"] == ["arn:aws:s3:::platykus-lab-acme/*"]
    actions = [a for s in statements.values() for a in s["Action"]]
    # No wildcard action, nothing unscoped (ListSecrets would list every tenant's secret names).
    assert not any("*" in a for a in actions) and "secretsmanager:ListSecrets" not in actions
    assert all(s["Effect"] == "Allow" and "*" not in s["Resource"] for s in statements.values())


def test_bucket_is_encrypted_private_and_tagged():
    settings = bucket_settings(ACME)
    assert settings["encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(settings["public_access_block"].values()) and len(settings["public_access_block"]) == 4
    assert settings["tags"] == {
        "platykus:tenant": "acme", "platykus:cost-center": "cc-1001", "platykus:managed-by": "platykus",
        "platykus:cluster": ACME.cluster,
    }  # fmt: skip


@pytest.mark.parametrize("key", ["platykus/acme/db", "platykus/acme/team/api-key"])
def test_secret_keys_under_the_prefix_pass(key):
    check_secret_key(ACME, key)


@pytest.mark.parametrize(
    "key",
    [
        "platykus/globex/db",
        "platykus/acme",
        "platykus/acme/",
        "platykus/acme/../globex/db",
        "acme/db",
        "platykus/acmex/db",
    ],
)
def test_secret_keys_outside_the_prefix_are_refused(key):
    with pytest.raises(PlatykusError, match="outside tenant 'acme''s prefix; name it platykus/acme/<name>"):
        check_secret_key(ACME, key)


@pytest.mark.parametrize(
    "host", ["shop.acme.apps.platykus-lab.test", "a.b.acme.apps.platykus-lab.test.", "API.acme.apps.platykus-lab.test"]
)
def test_hostnames_in_the_tenant_domain_pass(host):
    check_hostname(ACME, host)


@pytest.mark.parametrize(
    "host",
    [
        "shop.globex.apps.platykus-lab.test",
        "acme.apps.platykus-lab.test",
        "shop.apps.platykus-lab.test",
        "evil-acme.apps.platykus-lab.test",
        "example.com",
    ],
)
def test_hostnames_outside_the_tenant_domain_are_refused(host):
    with pytest.raises(
        PlatykusError, match="outside tenant 'acme''s domain; use a name under acme.apps.platykus-lab.test"
    ):
        check_hostname(ACME, host)


@pytest.mark.parametrize(
    "host", ["bad_name.acme.apps.platykus-lab.test", "-x.acme.apps.platykus-lab.test", "a..acme.apps.platykus-lab.test"]
)
def test_invalid_hostnames_are_refused(host):
    with pytest.raises(PlatykusError, match="not a valid DNS name"):
        check_hostname(ACME, host)


def test_secret_store_uses_the_tenants_own_key_without_irsa():
    store = render_secret_store(ACME, "acme-dev")
    assert store["kind"] == "SecretStore" and store["metadata"]["name"] == SECRET_STORE_NAME
    assert store["metadata"]["namespace"] == "acme-dev"
    aws = store["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager" and aws["region"] == "us-east-1"
    refs = aws["auth"]["secretRef"]
    assert {refs[k]["name"] for k in refs} == {CREDENTIALS_SECRET_NAME}
    secret = render_credentials_secret(ACME, "acme-dev", "AKIA1", "s3cr3t")
    assert secret["stringData"] == {"access-key-id": "AKIA1", "secret-access-key": "s3cr3t"}


def test_secret_store_with_irsa_names_a_service_account_of_the_namespace():
    store = render_secret_store(ACME, "acme-prod", irsa_service_account="platykus-secrets")
    assert store["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "platykus-secrets"}}}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"cluster": "c" * 60}, "longer than 64 characters"),
        ({"cluster": "Bad_Cluster"}, "not a valid S3 bucket name"),
        ({"account_id": "12345"}, "must be 12 digits"),
    ],
)
def test_invalid_scopes_are_refused_naming_the_setting(change, message):
    with pytest.raises(PlatykusError, match=message):
        validate_scope(dataclasses.replace(ACME, **change))
