# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_audit's AWS side: PLK-AWS-1 from the amazon.aws results, without an API server."""

from __future__ import annotations

import json

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.run import audit_tenants
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.aws_stack import tenant_identity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import TenantAws, tenant_policy

ZONE_IDS = {"acme": "ZACME", "beta": "ZBETA"}


def _aws(widen: str | None = None, attached: str | None = None) -> dict:
    identities = [tenant_identity(n, "platykus", "123456789012", "eu-west-1", "example.com") for n in ZONE_IDS]
    policies, roles = [], []
    for identity in identities:
        document = tenant_policy(TenantAws(**identity["scope"]), ZONE_IDS[identity["tenant"]])
        if identity["tenant"] == widen:
            document["Statement"].append({"Sid": "ByHand", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
        # as amazon.aws.iam_policy_info returns it: the document as a JSON string
        policies.append(
            {"policies": [{"policy_name": "platykus-tenant-scope", "policy_document": json.dumps(document)}]}
        )
        arns = [{"policy_arn": attached}] if attached and identity["tenant"] == "beta" else []
        roles.append({"iam_roles": [{"role_name": identity["role"], "attached_policies": arns}]})
    return {"tenants": identities, "policies": policies, "roles": roles, "zone_ids": ZONE_IDS, "platform_zone_id": "ZP"}


def _never():
    raise AssertionError("kubernetes=False must not connect")


def test_aws_side_alone_passes_without_an_api_server(plans, acme_spec, beta_spec):
    report = audit_tenants(_never, [acme_spec, beta_spec], plans, aws=_aws(), kubernetes=False)
    assert [(c.id, c.tenant, c.role, c.namespace, c.result) for c in report.checks] == [
        ("PLK-AWS-1", "acme", "platykus-tenant-acme", "aws", "pass"),
        ("PLK-AWS-1", "beta", "platykus-tenant-beta", "aws", "pass"),
    ]


def test_a_widened_statement_is_named_with_tenant_and_role(plans, acme_spec, beta_spec):
    report = audit_tenants(_never, [acme_spec, beta_spec], plans, aws=_aws(widen="acme"), kubernetes=False)
    (failed,) = report.failed
    assert (failed.tenant, failed.role) == ("acme", "platykus-tenant-acme")
    assert failed.detail.startswith("reaches: platykus-tenant-scope statement ByHand allows s3:GetBucketLocation")
    assert "arn:aws:s3:::platykus-beta/data/file (beta)" in failed.detail


def test_one_tenant_and_an_attached_policy(plans, acme_spec, beta_spec):
    aws = _aws(attached="arn:aws:iam::aws:policy/AdministratorAccess")
    report = audit_tenants(_never, [acme_spec, beta_spec], plans, tenant="beta", aws=aws, kubernetes=False)
    (check,) = report.checks
    assert check.tenant == "beta" and check.result == "fail" and "AdministratorAccess" in check.detail


def test_results_that_do_not_pair_up_are_refused(plans, acme_spec, beta_spec):
    aws = _aws()
    aws["roles"] = aws["roles"][:1]
    with pytest.raises(PlatykusError, match="2 tenants but 2 policy and 1 role results"):
        audit_tenants(_never, [acme_spec, beta_spec], plans, aws=aws, kubernetes=False)
