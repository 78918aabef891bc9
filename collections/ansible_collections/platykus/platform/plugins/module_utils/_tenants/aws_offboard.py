# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offboarding's AWS step on the lab and generic clusters, and the identities the audit looks for.

A removed tenant keeps nothing: its ClusterSecretStore and key Secret, its IAM user (keys deactivated
then deleted, inline and attached policies, the user), its secrets under ``platykus/<tenant>/`` and
its bucket. Named from the cluster's settings alone, so a tenant already dropped from the inventory
is found too. The bucket is data: while it holds objects the run is refused before anything is
deleted, naming them, unless forced. (The aws provider's offboarding is the aws_tenants role's.)

``leftover_identities`` is what the audit reads: the IAM users and roles tagged for this cluster,
with the tenant each was made for, so identities of tenants no longer in the inventory are named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    KEY_NAMESPACE,
    TenantAws,
    cluster_store_name,
    key_secret_name,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_apply import (
    ClientError,
    bucket_objects,
    identity_parts,
    remove_bucket,
    remove_identity,
    tagged_identities,
)

EXTERNAL_SECRET_API = "external-secrets.io/v1"
_TENANT_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# How many of a refused bucket's objects the message names.
NAMED_OBJECTS = 10


def _kube_parts(kube: KubeClient, tenant: str, key_namespace: str) -> list[tuple[str, str, str, str | None]]:
    """(apiVersion, kind, name, namespace) of the tenant's store and key Secret that exist."""
    wanted = [
        (EXTERNAL_SECRET_API, "ClusterSecretStore", cluster_store_name(tenant), None),
        ("v1", "Secret", key_secret_name(tenant), key_namespace),
    ]
    return [w for w in wanted if kube.get(w[0], w[1], w[2], w[3]) is not None]


def _secrets(sm: Any, scope: TenantAws) -> list[str]:
    """Names of the tenant's Secrets Manager secrets (under its prefix only)."""
    names = []
    for page in sm.get_paginator("list_secrets").paginate(Filters=[{"Key": "name", "Values": [scope.secret_prefix]}]):
        names += [s["Name"] for s in page["SecretList"] if s["Name"].startswith(scope.secret_prefix)]
    return sorted(names)


def _refuse_data(scope: TenantAws, objects: list[str] | None) -> None:
    if objects:
        named = ", ".join(objects[:NAMED_OBJECTS]) + (" …" if len(objects) > NAMED_OBJECTS else "")
        raise PlatykusError(
            "Failed to offboard tenant '%s' from AWS, nothing was deleted: bucket %s still holds %d object(s) (%s); "
            "empty it first, or rerun with force=true to delete them with the bucket"
            % (scope.tenant, scope.bucket, len(objects), named)
        )


def offboard(
    tenant: str,
    cluster: str,
    region: str,
    connect: Callable[[], KubeClient],
    aws_clients: Callable[[], tuple[Any, ...]],
    check_mode: bool,
    force: bool = False,
    key_namespace: str = KEY_NAMESPACE,
) -> dict[str, Any]:
    """Remove every AWS identity and resource of ``tenant``; refuse (before anything) a bucket with
    objects unless ``force``. Check mode lists what would go. Returns changed and ``removed``."""
    if not _TENANT_RE.match(tenant or ""):
        raise PlatykusError(
            "tenant: %r is not a tenant name (lower-case letters, digits and '-'); nothing was deleted" % tenant
        )
    iam, s3, sts, sm = aws_clients()[:4]
    scope = TenantAws(tenant, cluster, sts.get_caller_identity()["Account"], region, "")
    try:
        objects = bucket_objects(s3, scope.bucket)
        if not force:
            _refuse_data(scope, objects)
        kube = connect()
        parts = _kube_parts(kube, tenant, key_namespace)
        identity = identity_parts(iam, scope.identity)
        secrets = _secrets(sm, scope)
        removed = ["%s/%s" % (kind, "%s/%s" % (ns, name) if ns else name) for _v, kind, name, ns in parts]
        removed += identity + ["secretsmanager/%s" % name for name in secrets]
        removed += (["s3-object/%s/%s" % (scope.bucket, key) for key in objects] if objects else []) + (
            ["s3/%s" % scope.bucket] if objects is not None else []
        )
        if not check_mode:
            for api_version, kind, name, namespace in parts:
                kube.delete(api_version, kind, name, namespace)
            remove_identity(iam, scope.identity)
            for name in secrets:
                sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            if objects is not None:
                remove_bucket(s3, scope.bucket)
    except ClientError as err:
        raise PlatykusError("Failed to offboard tenant '%s' from AWS: %s" % (tenant, err)) from err
    return {"changed": bool(removed), "removed": removed, "identity": scope.identity, "bucket": scope.bucket}


def leftover_identities(cluster: str, aws_clients: Callable[[], tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The IAM users and roles of this cluster's tenants (``<cluster>-tenant-*``, tagged with the
    cluster): name, kind, tenant and active keys; the audit names those whose tenant is gone."""
    iam = aws_clients()[0]
    try:
        return tagged_identities(iam, cluster, "%s-tenant-" % cluster)
    except ClientError as err:
        raise PlatykusError("Failed to list the tenants' IAM identities: %s" % err) from err
