# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's secret-store and issuer checks against the fake API server."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._audit.platform_apis import platform_api_checks
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    TenantAws,
    render_cluster_secret_store,
    render_secret_store,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

SCOPE = TenantAws("beta", "lab", "123456789012", "us-east-1", "apps.example.test")


@pytest.fixture
def platform_kinds(monkeypatch):
    for kind, plural, namespaced in (
        ("SecretStore", "secretstores", True),
        ("ClusterSecretStore", "clustersecretstores", False),
    ):
        monkeypatch.setitem(fake_api.KINDS, ("external-secrets.io/v1", kind), (plural, namespaced))
    monkeypatch.setitem(fake_api.KINDS, ("cert-manager.io/v1", "Issuer"), ("issuers", True))


def results(api, plans, beta_spec) -> dict[str, tuple[str, str]]:
    tenants = validate_tenants([beta_spec], plans)
    return {c.id: (c.result, c.detail) for c in platform_api_checks(api.client(), tenants)}


def namespace(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"platykus.io/tenant": "beta"}},
    }


def test_without_the_apis_every_check_passes_saying_so(plans, beta_spec):
    found = results(FakeApiServer([namespace("beta-prod")]), plans, beta_spec)
    assert found["PLK-SEC-1"] == ("pass", "external-secrets not installed")
    assert found["PLK-CERT-1"] == ("pass", "cert-manager not installed")


def test_the_tenants_own_store_passes(platform_kinds, plans, beta_spec):
    api = FakeApiServer([namespace("beta-prod"), render_secret_store(SCOPE, "beta-prod")])
    assert {k: v[0] for k, v in results(api, plans, beta_spec).items()} == {
        "PLK-SEC-1": "pass", "PLK-SEC-2": "pass", "PLK-CERT-1": "pass"
    }  # fmt: skip


def test_foreign_credentials_cluster_stores_and_issuers_fail(platform_kinds, plans, beta_spec):
    store = render_secret_store(SCOPE, "beta-prod")
    store["spec"]["provider"]["aws"]["auth"]["secretRef"]["accessKeyIDSecretRef"]["namespace"] = "platykus-system"
    cluster_store = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "shared"},
        "spec": {},
    }
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "own-ca", "namespace": "beta-prod"},
    }
    found = results(FakeApiServer([namespace("beta-prod"), store, cluster_store, issuer]), plans, beta_spec)
    assert found["PLK-SEC-1"][0] == "fail" and "platykus-system/platykus-aws-credentials" in found["PLK-SEC-1"][1]
    assert found["PLK-SEC-2"] == ("fail", "reached by ClusterSecretStore shared")
    assert found["PLK-CERT-1"] == ("fail", "Issuer own-ca; use the platform's ClusterIssuer")


def test_a_cluster_store_limited_to_other_namespaces_passes(platform_kinds, plans, beta_spec):
    cluster_store = {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": "platform"},
        "spec": {"conditions": [{"namespaces": ["platykus-system"]}, {"namespaceSelector": {"matchLabels": {"platykus.io/tenant": "acme"}}}]},
    }  # fmt: skip
    assert results(FakeApiServer([namespace("beta-prod"), cluster_store]), plans, beta_spec)["PLK-SEC-2"][0] == "pass"


def test_the_tenants_own_cluster_store_passes_and_another_tenants_reaching_it_fails(platform_kinds, plans, beta_spec):
    own = render_cluster_secret_store(SCOPE, ["beta-prod"])
    acme = render_cluster_secret_store(TenantAws("acme", "lab", "123456789012", "us-east-1", "z"), ["beta-prod"])
    found = results(FakeApiServer([namespace("beta-prod"), own]), plans, beta_spec)
    assert found["PLK-SEC-2"] == ("pass", "only platykus-secrets-beta reaches it")
    found = results(FakeApiServer([namespace("beta-prod"), own, acme]), plans, beta_spec)
    assert found["PLK-SEC-2"] == ("fail", "reached by ClusterSecretStore platykus-secrets-acme")


@pytest.mark.parametrize(
    "condition",
    [
        {"namespaceRegexes": ["prod"]},  # unanchored, as external-secrets matches it
        {"namespaceSelector": {"matchExpressions": [{"key": "platykus.io/tenant", "operator": "Exists"}]}},
        {"namespaceSelector": {"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["y"]}]}},
        {"namespaceSelector": {}},  # an empty selector selects every namespace
    ],
)
def test_every_condition_form_that_reaches_the_namespace_fails(platform_kinds, plans, beta_spec, condition):
    store = {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": "wide"},
        "spec": {"conditions": [condition]},
    }  # fmt: skip
    found = results(FakeApiServer([namespace("beta-prod"), store]), plans, beta_spec)
    assert found["PLK-SEC-2"] == ("fail", "reached by ClusterSecretStore wide")
