# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Isolation through the platform's secret and certificate APIs (external-secrets, cert-manager).

Read-only object checks per tenant namespace (see _tenants.aws for the rules they enforce):

- PLK-SEC-1: every SecretStore authenticates as the namespace's own identity (a Secret or a
  ServiceAccount of the same namespace), never a credential of another namespace;
- PLK-SEC-2: no ClusterSecretStore reaches the namespace (one without conditions reaches all) but the
  tenant's own (``platykus-secrets-<tenant>``, whose conditions other tenants' namespaces fail here);
  conditions are read as external-secrets does: names, label selectors (matchLabels and
  matchExpressions) and namespaceRegexes (unanchored, as Go's MatchString);
- PLK-CERT-1: no Issuer in the namespace (a CA Issuer signs whatever it is asked): tenants
  request Certificates from the platform's ClusterIssuer only.

A cluster without the API (external-secrets or cert-manager not installed) passes, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._audit.report import Check, Scope
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import cluster_store_name
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

ESO_API = "external-secrets.io/v1"
CERT_MANAGER_API = "cert-manager.io/v1"


def _listed(client: KubeClient, api_version: str, kind: str, namespace: str | None = None) -> list[dict] | None:
    """The objects, or None when the cluster does not serve the kind."""
    try:
        return client.list_all(api_version, kind, namespace=namespace)
    except KubeApiError as err:
        if err.status == 404:
            return None
        raise


def _refs(auth: Any) -> Iterator[tuple[str, dict]]:
    """Every (path, ref) naming a Secret or ServiceAccount in a provider's auth block."""
    if isinstance(auth, dict):
        for key, value in auth.items():
            if (
                isinstance(value, dict)
                and key.endswith(("SecretRef", "serviceAccountRef", "secretRef"))
                and "name" in value
            ):
                yield key, value
            yield from _refs(value)
    elif isinstance(auth, list):
        for item in auth:
            yield from _refs(item)


def _foreign_refs(store: dict, namespace: str) -> list[str]:
    provider = (store.get("spec") or {}).get("provider") or {}
    return [
        "%s/%s -> %s/%s" % (store["metadata"]["name"], key, ref["namespace"], ref["name"])
        for key, ref in _refs(provider)
        if ref.get("namespace") not in (None, "", namespace)
    ]


def _store_check(client: KubeClient, scope: Scope, namespace: str) -> Check:
    stores = _listed(client, ESO_API, "SecretStore", namespace)
    if stores is None:
        return scope.check(
            "PLK-SEC-1", "secret stores use the namespace's own identity", True, "external-secrets not installed"
        )
    foreign = [ref for store in stores for ref in _foreign_refs(store, namespace)]
    detail = "; ".join(foreign) if foreign else "%d store(s), each on this namespace's credentials" % len(stores)
    return scope.check("PLK-SEC-1", "secret stores use the namespace's own identity", not foreign, detail)


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against ``labels``."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(operator, True):  # an operator we do not know: count it as matching (the audit's safe side)
            return False
    return True


def _regex_reaches(pattern: str, namespace: str) -> bool:
    try:
        return re.search(pattern, namespace) is not None
    except re.error:
        return True  # Go's syntax Python cannot read: count it as reaching


def _reaches(store: dict, namespace: str, labels: dict[str, str]) -> bool:
    conditions = (store.get("spec") or {}).get("conditions") or []
    if not conditions:
        return True
    for condition in conditions:
        if namespace in (condition.get("namespaces") or []):
            return True
        if any(_regex_reaches(p, namespace) for p in condition.get("namespaceRegexes") or []):
            return True
        selector = condition.get("namespaceSelector")
        if selector is not None and _selects(selector, labels):
            return True
    return False


def _cluster_store_check(
    scope: Scope, namespace: str, labels: dict[str, str], cluster_stores: list[dict] | None
) -> Check:
    if cluster_stores is None:
        return scope.check(
            "PLK-SEC-2", "no ClusterSecretStore but the tenant's own reaches the namespace", True,
            "external-secrets not installed",
        )  # fmt: skip
    own = cluster_store_name(scope.tenant)
    reaching = [s["metadata"]["name"] for s in cluster_stores if _reaches(s, namespace, labels)]
    foreign = [name for name in reaching if name != own]
    detail = "reached by ClusterSecretStore %s" % ", ".join(foreign) if foreign else "only %s reaches it" % own
    if not reaching:
        detail = "none reaches it"
    return scope.check(
        "PLK-SEC-2", "no ClusterSecretStore but the tenant's own reaches the namespace", not foreign, detail
    )


def _issuer_check(client: KubeClient, scope: Scope, namespace: str) -> Check:
    issuers = _listed(client, CERT_MANAGER_API, "Issuer", namespace)
    if issuers is None:
        return scope.check("PLK-CERT-1", "no Issuer in the namespace", True, "cert-manager not installed")
    names = [i["metadata"]["name"] for i in issuers]
    detail = "Issuer %s; use the platform's ClusterIssuer" % ", ".join(names) if names else "none"
    return scope.check("PLK-CERT-1", "no Issuer in the namespace", not names, detail)


def platform_api_checks(client: KubeClient, tenants: list[Tenant]) -> list[Check]:
    """PLK-SEC-1, PLK-SEC-2 and PLK-CERT-1 for every existing namespace of every tenant."""
    cluster_stores = _listed(client, ESO_API, "ClusterSecretStore")
    checks = []
    for tenant in tenants:
        for namespace in tenant.namespaces:
            scope = Scope(tenant.name, namespace=namespace)
            found = client.get("v1", "Namespace", namespace)
            if found is None:
                continue  # MTB-0.1 reports it; nothing else is checked there
            labels = (found.get("metadata") or {}).get("labels") or {}
            checks += [
                _store_check(client, scope, namespace),
                _cluster_store_check(scope, namespace, labels, cluster_stores),
                _issuer_check(client, scope, namespace),
            ]
    return checks
