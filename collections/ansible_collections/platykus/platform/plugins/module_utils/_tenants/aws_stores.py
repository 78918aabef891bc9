# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding's Kubernetes side of a tenant's AWS slice: the objects and the old stores' move.

What ``_tenants.aws_onboard`` applies in its one batch (the ExternalSecrets the platform declares,
the tenant's ClusterSecretStore and new key Secret; on EKS the IRSA ServiceAccounts and their
SecretStores), and the move of the namespaced stores of before to the tenant's ClusterSecretStore.
The objects themselves are rendered by ``_tenants.aws``; this module picks them per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import EXTERNAL_SECRETS_API_VERSION
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    CREDENTIALS_SECRET_NAME,
    IRSA_ROLE_ANNOTATION,
    IRSA_SERVICE_ACCOUNT,
    SECRET_STORE_NAME,
    TenantAws,
    render_cluster_secret_store,
    render_key_secret,
    render_secret_store,
    resource_labels,
    secret_store_ref,
)


@dataclass(frozen=True)
class TenantSlice:
    """A tenant's AWS scope and the namespaces that get its SecretStore."""

    scope: TenantAws
    namespaces: tuple[str, ...]


def render_external_secret(secret: dict) -> dict[str, Any]:
    """An ExternalSecret the platform declares for a tenant, through the tenant's own store."""
    scope: TenantAws = secret["scope"]
    remote = {"key": secret["key"]}
    if secret.get("property"):
        remote["property"] = secret["property"]
    return {
        "apiVersion": EXTERNAL_SECRETS_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": secret["name"], "namespace": secret["namespace"], "labels": resource_labels(scope)},
        "spec": {
            "refreshInterval": secret.get("refresh_interval") or "1h",
            "secretStoreRef": secret_store_ref(scope.tenant),
            "target": {"name": secret["name"]},
            "data": [{"secretKey": secret.get("secret_key") or "value", "remoteRef": remote}],
        },
    }


def tenant_objects(
    item: TenantSlice, key: tuple[str, str] | None, key_namespace: str, key_id: str
) -> list[dict[str, Any]]:
    """The tenant's ClusterSecretStore (naming the id of the key in use), and the key Secret in the
    platform namespace when a new key was made."""
    objects = [render_key_secret(item.scope.tenant, key_namespace, *key)] if key is not None else []
    store = render_cluster_secret_store(item.scope, item.namespaces, key_namespace, key_id=key_id)
    return objects + [store]


def irsa_objects(item: TenantSlice) -> list[dict[str, Any]]:
    """IRSA (EKS): per namespace the ServiceAccount annotated with the tenant's role (made by
    aws-provision's aws_tenants role, trusted by exactly these accounts) and the SecretStore using it;
    the tenant's ClusterSecretStore through the first namespace's ServiceAccount. No key anywhere."""
    scope, objects = item.scope, []
    role_arn = "arn:%s:iam::%s:role/%s" % (scope.partition, scope.account_id, scope.identity)
    for namespace in item.namespaces:
        meta = {"name": IRSA_SERVICE_ACCOUNT, "namespace": namespace, "labels": resource_labels(scope)}
        meta["annotations"] = {IRSA_ROLE_ANNOTATION: role_arn}
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
        objects.append(render_secret_store(scope, namespace, irsa_service_account=IRSA_SERVICE_ACCOUNT))
    return objects + [render_cluster_secret_store(scope, item.namespaces, irsa_service_account=IRSA_SERVICE_ACCOUNT)]


def _uses_old_store(external_secret: dict) -> bool:
    ref = (external_secret.get("spec") or {}).get("secretStoreRef") or {}
    return ref.get("name") == SECRET_STORE_NAME and ref.get("kind", "SecretStore") == "SecretStore"


def migrate_old_stores(kube: KubeClient, slices: list[TenantSlice], check_mode: bool) -> tuple[list[str], list[str]]:
    """Lab and generic: the namespaced store and key Secret of before (its key readable by the tenant's
    developers) go; the tenant's ExternalSecrets naming that store are moved to the tenant's
    ClusterSecretStore (spec.secretStoreRef only). Returns (migrated ExternalSecrets, removed objects)."""
    migrated, removed = [], []
    for item in slices:
        patch = {"spec": {"secretStoreRef": secret_store_ref(item.scope.tenant)}}
        for namespace in item.namespaces:
            if kube.get("v1", "Namespace", namespace) is None:
                continue
            for found in kube.list_all(EXTERNAL_SECRETS_API_VERSION, "ExternalSecret", namespace=namespace):
                if not _uses_old_store(found):
                    continue
                name = found["metadata"]["name"]
                migrated.append("ExternalSecret/%s/%s" % (namespace, name))
                if not check_mode:
                    kube.checked(
                        "patch",
                        "ExternalSecret %s/%s" % (namespace, name),
                        "PATCH",
                        kube.path(EXTERNAL_SECRETS_API_VERSION, "ExternalSecret", namespace, name),
                        body=patch,
                        content_type="application/merge-patch+json",
                    )
            for api_version, kind, name in (
                (EXTERNAL_SECRETS_API_VERSION, "SecretStore", SECRET_STORE_NAME),
                ("v1", "Secret", CREDENTIALS_SECRET_NAME),
            ):
                if kube.get(api_version, kind, name, namespace) is not None:
                    removed.append("%s/%s/%s" % (kind, namespace, name))
                    if not check_mode:
                        kube.delete(api_version, kind, name, namespace)
    return migrated, removed
