# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PLK-CRED-1 and PLK-AWS-2 against the audit's fake cluster (its RBAC evaluator answers the
SubjectAccessReviews): a key Secret in the platform namespace passes, one a tenant role can read
fails naming the role and Secret, the old in-namespace key Secret fails; identities of removed
tenants fail naming them and their keys."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.credentials import credential_checks
from ansible_collections.platykus.platform.plugins.module_utils._audit.run import aws_checks
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import render_key_secret
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils._audit.test_run import cluster_for


@pytest.fixture
def tenants(plans, acme_spec, beta_spec):
    return validate_tenants([acme_spec, beta_spec], plans)


def _key_secret(namespace: str) -> dict:
    secret = render_key_secret("acme", namespace, "AKIAEXAMPLE", "secret")
    secret.pop("stringData")
    return secret


def _results(checks) -> dict:
    return {(c.tenant, c.role): (c.result, c.detail) for c in checks}


def test_a_key_secret_in_the_platform_namespace_passes_for_every_role(tenants):
    cluster = cluster_for(tenants)
    cluster.objects[("platykus-system", "secrets")] = [_key_secret("platykus-system")]
    found = _results(credential_checks(cluster, tenants))
    assert found and all(result == "pass" for result, _detail in found.values()), found
    assert found[("acme", "developer")][1] == "1 key Secret(s), none readable"


def test_a_key_secret_a_tenant_role_can_read_fails_naming_role_and_secret(tenants):
    cluster = cluster_for(tenants)
    cluster.objects[("acme-prod", "secrets")] = [_key_secret("acme-prod")]
    found = _results(credential_checks(cluster, tenants))
    result, detail = found[("acme", "developer")]
    assert result == "fail"
    assert "can get acme-prod/platykus-aws-acme" in detail and "can list acme-prod/platykus-aws-acme" in detail
    assert found[("acme", "viewer")][0] == "pass"  # viewers cannot read Secrets
    assert found[("beta", "developer")][0] == "pass"  # nor can another tenant


def test_the_old_key_secret_in_a_tenant_namespace_fails(tenants):
    cluster = cluster_for(tenants)
    old = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "platykus-aws-credentials", "namespace": "acme-dev"},
    }
    cluster.objects[("acme-dev", "secrets")] = [old]
    found = _results(credential_checks(cluster, tenants))
    assert found[("acme", "admin")][0] == "fail"
    assert "key Secret acme-dev/platykus-aws-credentials of earlier versions" in found[("acme", "admin")][1]


def test_identities_of_removed_tenants_fail_naming_them_and_their_keys():
    identities = [
        {"name": "lab-tenant-acme", "kind": "user", "tenant": "acme", "active_keys": ["AKIA1"]},
        {"name": "lab-tenant-gone", "kind": "user", "tenant": "gone", "active_keys": ["AKIA2"]},
    ]
    checks = aws_checks({"identities": identities}, ["acme"], ["acme", "beta"])
    assert [(c.id, c.tenant, c.role, c.result) for c in checks] == [("PLK-AWS-2", "gone", "lab-tenant-gone", "fail")]
    assert "IAM user lab-tenant-gone of removed tenant 'gone' still exists with active key(s) AKIA2" in checks[0].detail
    passed = aws_checks({"identities": identities[:1]}, ["acme"], ["acme"])
    assert [(c.id, c.result) for c in passed] == [("PLK-AWS-2", "pass")]
    assert aws_checks({}, ["acme"], ["acme"]) == []  # nothing read: nothing judged
