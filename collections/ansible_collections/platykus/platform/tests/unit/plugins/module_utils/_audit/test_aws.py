# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.aws import (
    audit,
    policies_allow,
    probes,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import TenantAws, tenant_policy


def scope(name: str) -> TenantAws:
    return TenantAws(tenant=name, cluster="platykus", account_id="123456789012", region="eu-west-1", zone="x.io")


# "ac" is a prefix of "acme": its policy must still not reach acme's bucket or secrets.
NAMES = ["acme", "ac", "globex"]


def tenants(**policies):
    return [{"scope": scope(n), "policies": policies.get(n, [tenant_policy(scope(n))])} for n in NAMES]


def test_the_shipped_tenant_policies_are_isolated():
    report = audit(tenants())
    assert report["failed_count"] == 0, report["checks"]
    assert [c["tenant"] for c in report["checks"]] == NAMES


@pytest.mark.parametrize(
    ("statement", "reach"),
    [
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::platykus-*"}, "arn:aws:s3:::platykus-acme"),
        ({"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"}, "secret:platykus/acme/"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::*/*"}, "platykus-acme/data/file"),
        ({"Effect": "Allow", "Action": "S3:GETOBJECT", "NotResource": "arn:aws:s3:::platykus-ac/*"}, "acme/data"),
    ],
)
def test_a_broader_policy_fails_naming_what_it_reaches(statement, reach):
    widened = tenant_policy(scope("ac"))
    widened = dict(widened, Statement=widened["Statement"] + [statement])
    report = audit(tenants(ac=[widened]))
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["tenant"] for c in failed] == ["ac"]
    assert reach in failed[0]["detail"] and "(acme)" in failed[0]["detail"]
    # The statement that reaches is named (by position: the widened one has no Sid).
    assert "#0 statement #3 allows" in failed[0]["detail"]


def test_a_policy_that_cannot_reach_its_own_resources_fails():
    report = audit(tenants(globex=[{"Version": "2012-10-17", "Statement": []}]))
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["tenant"] for c in failed] == ["globex"]
    assert "cannot reach its own: secretsmanager:GetSecretValue" in failed[0]["detail"]


def test_an_explicit_deny_wins():
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::platykus-acme/*"}
    policies = [{"Statement": [allow]}, {"Statement": deny}]
    assert not policies_allow(policies, "s3:GetObject", "arn:aws:s3:::platykus-acme/a")
    assert policies_allow(policies, "s3:GetObject", "arn:aws:s3:::platykus-globex/a")


def test_probes_name_the_tenants_own_arns():
    arns = {arn for _action, arn in probes(scope("acme"))}
    assert arns == {
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:platykus/acme/db-AbCdEf",
        "arn:aws:s3:::platykus-acme",
        "arn:aws:s3:::platykus-acme/data/file",
    }


def test_an_attached_managed_policy_fails():
    entries = tenants()
    entries[0]["attached"] = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    (failed,) = [c for c in audit(entries)["checks"] if not c["passed"]]
    assert failed["tenant"] == "acme" and "AmazonS3ReadOnlyAccess" in failed["detail"]


ZONES = {"acme": "ZACME", "ac": "/hostedzone/ZAC", "globex": "ZGLOBEX"}


def zoned(**policies):
    return [
        {
            "scope": scope(n),
            "role": "platykus-tenant-" + n,
            "zone_id": ZONES[n],
            "policies": policies.get(
                n, [{"name": "platykus-tenant-scope", "document": tenant_policy(scope(n), ZONES[n])}]
            ),
        }
        for n in NAMES
    ]


def test_tenant_policies_with_their_zones_are_isolated_and_reach_their_own_records():
    report = audit(zoned(), platform_zone_id="/hostedzone/ZPLATFORM")
    assert report["failed_count"] == 0, report["checks"]
    assert policies_allow(
        [tenant_policy(scope("ac"), "/hostedzone/ZAC")],
        "route53:ChangeResourceRecordSets",
        "arn:aws:route53:::hostedzone/ZAC",
    )


def test_a_policy_widened_to_every_zone_names_tenant_role_and_statement():
    widened = tenant_policy(scope("globex"), "ZGLOBEX")
    widened["Statement"][-2]["Resource"] = ["arn:aws:route53:::hostedzone/*"]
    report = audit(zoned(globex=[{"name": "platykus-tenant-scope", "document": widened}]), platform_zone_id="ZPLATFORM")
    (failed,) = [c for c in report["checks"] if not c["passed"]]
    assert (failed["tenant"], failed["role"]) == ("globex", "platykus-tenant-globex")
    assert failed["detail"].startswith("reaches: platykus-tenant-scope statement OwnRecords allows ")
    assert "route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/ZACME (acme)" in failed["detail"]
    assert "on arn:aws:route53:::hostedzone/ZPLATFORM (platform zone)" in failed["detail"]


def test_a_policy_without_its_zone_cannot_reach_its_own_records():
    entries = zoned(acme=[tenant_policy(scope("acme"))])
    (failed,) = [c for c in audit(entries)["checks"] if not c["passed"]]
    assert failed["tenant"] == "acme"
    assert (
        "cannot reach its own: route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/ZACME"
        in failed["detail"]
    )
