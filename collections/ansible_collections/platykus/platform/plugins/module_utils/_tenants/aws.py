# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's own slice of AWS: secret prefix, bucket, IAM identity, SecretStore; hostnames.

Beyond the namespace anchors, each tenant gets an AWS identity of its own (external-secrets#4642
asks for per-namespace store identity): its IAM policy reads only secrets under
``platykus/<tenant>/`` and reaches only the tenant's bucket, and the tenant's SecretStore
authenticates as that identity, never as a cluster-wide one. Hostnames a tenant may use (DNS
records, certificates) are under ``<tenant>.<platform zone>``.

Plain data in, plain dicts out: the same documents go to AWS (or the lab's moto) and to the
API server, and the checks run before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AWS_ACCESS_KEY_ID_ANNOTATION,
    AWS_ACCESS_KEY_LABEL,
    AWS_CLUSTER_TAG,
    AWS_COST_CENTER_TAG,
    AWS_MANAGED_BY_TAG,
    AWS_TENANT_TAG,
    COST_CENTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)

SECRET_ROOT = "platykus"
# In each tenant namespace on EKS: the SecretStore authenticating through IRSA. Earlier the lab and
# generic clusters had it too, with the identity's access key in CREDENTIALS_SECRET_NAME of the same
# namespace, which the tenant's developers could read: onboarding now removes both there.
SECRET_STORE_NAME = "platykus-secrets"
CREDENTIALS_SECRET_NAME = "platykus-aws-credentials"
# Every provider: the tenant's ClusterSecretStore (cluster_store_name), usable only from the tenant's
# namespaces (spec.conditions). Lab and generic: it reads the access key from key_secret_name in the
# platform namespace KEY_NAMESPACE, which no tenant role may read; EKS: IRSA, no key at all.
CLUSTER_STORE_PREFIX = "platykus-secrets-"
KEY_SECRET_PREFIX = "platykus-aws-"
KEY_NAMESPACE = "platykus-system"
# EKS: the ServiceAccount of each tenant namespace its IAM role trusts (IRSA), and the annotation.
IRSA_SERVICE_ACCOUNT = "platykus-aws"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
ACCESS_KEY_ID_KEY = "access-key-id"
SECRET_ACCESS_KEY_KEY = "secret-access-key"
# What reading a secret takes (external-secrets' AWS provider); no ListSecrets: it is not
# resource-scoped, and would show every tenant's secret names.
SECRET_READ_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "secretsmanager:GetSecretValue",
    "secretsmanager:ListSecretVersionIds",
)
BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
OBJECT_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
# What writing the records of one hosted zone takes (external-dns' AWS provider), on that zone's ARN only.
RECORD_ACTIONS = ("route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResource")
# Finding the zone and following a change: not resource-scoped (ListHostedZones) or per change, not per zone.
ZONE_LOOKUP_ACTIONS = ("route53:GetChange", "route53:ListHostedZones", "route53:ListHostedZonesByName")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_HOST_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# IAM user and role names: at most 64 characters.
IAM_NAME_MAX = 64


@dataclass(frozen=True)
class TenantAws:
    """Where a tenant's AWS resources live: account, region and partition, cluster and zone."""

    tenant: str
    cluster: str
    account_id: str
    region: str
    zone: str
    cost_center: str | None = None
    partition: str = "aws"

    @property
    def secret_prefix(self) -> str:
        return "%s/%s/" % (SECRET_ROOT, self.tenant)

    @property
    def identity(self) -> str:
        """The IAM user (lab, generic) or role (IRSA on EKS) the tenant's store authenticates as."""
        return "%s-tenant-%s" % (self.cluster, self.tenant)

    @property
    def bucket(self) -> str:
        return "%s-%s" % (self.cluster, self.tenant)

    @property
    def domain(self) -> str:
        return "%s.%s" % (self.tenant, self.zone)

    def secret_arn(self, pattern: str = "*") -> str:
        return "arn:%s:secretsmanager:%s:%s:secret:%s%s" % (
            self.partition,
            self.region,
            self.account_id,
            self.secret_prefix,
            pattern,
        )

    def bucket_arn(self, suffix: str = "") -> str:
        return "arn:%s:s3:::%s%s" % (self.partition, self.bucket, suffix)

    def zone_arn(self, zone_id: str) -> str:
        """The ARN of a hosted zone (``Z123``, ``/hostedzone/Z123``) in this scope's partition."""
        return hosted_zone_arn(zone_id, self.partition)


def hosted_zone_arn(zone_id: str, partition: str = "aws") -> str:
    return "arn:%s:route53:::hostedzone/%s" % (partition, zone_id.rstrip("/").split("/")[-1])


def validate_scope(scope: TenantAws) -> None:
    """Names AWS would refuse (or truncate) are refused here, naming the setting to change."""
    problems = []
    if len(scope.identity) > IAM_NAME_MAX:
        problems.append(
            "IAM name '%s' is longer than %d characters; shorten the cluster name" % (scope.identity, IAM_NAME_MAX)
        )
    if not _BUCKET_RE.match(scope.bucket) or "--" in scope.bucket:
        problems.append("bucket name '%s' is not a valid S3 bucket name (3-63 of a-z, 0-9, -)" % scope.bucket)
    if not re.match(r"^\d{12}$", scope.account_id):
        problems.append("account id '%s' must be 12 digits" % scope.account_id)
    if problems:
        raise PlatykusError("Invalid AWS settings for tenant '%s': %s" % (scope.tenant, "; ".join(problems)))


def tenant_policy(scope: TenantAws, zone_id: str | None = None) -> dict[str, Any]:
    """The identity's only IAM policy: read its own secrets, use its own bucket and, on EKS, write the
    records of its own hosted zone (``zone_id``, ``<tenant>.<zone>``); nothing else."""
    statements: list[dict[str, Any]] = []
    if zone_id:
        statements = [
            {
                "Sid": "OwnRecords",
                "Effect": "Allow",
                "Action": list(RECORD_ACTIONS),
                "Resource": [scope.zone_arn(zone_id)],
            },
            {"Sid": "FindZones", "Effect": "Allow", "Action": list(ZONE_LOOKUP_ACTIONS), "Resource": ["*"]},
        ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOwnSecrets",
                "Effect": "Allow",
                "Action": list(SECRET_READ_ACTIONS),
                "Resource": [scope.secret_arn()],
            },
            {"Sid": "OwnBucket", "Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": [scope.bucket_arn()]},
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": [scope.bucket_arn("/*")],
            },
        ]
        + statements,
    }


def resource_labels(scope: TenantAws) -> dict[str, str]:
    """Kubernetes labels on the objects made for the tenant's AWS access (Secret, ServiceAccount, SecretStore)."""
    labels = {TENANT_LABEL: scope.tenant, MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    if scope.cost_center:
        labels[COST_CENTER_LABEL] = scope.cost_center
    return labels


def aws_tags(scope: TenantAws) -> dict[str, str]:
    """AWS tags on every AWS resource made for the tenant (keys from _core.names): cost allocation reads
    tenant and cost centre."""
    tags = {AWS_CLUSTER_TAG: scope.cluster, AWS_MANAGED_BY_TAG: MANAGED_BY_VALUE, AWS_TENANT_TAG: scope.tenant}
    if scope.cost_center:
        tags[AWS_COST_CENTER_TAG] = str(scope.cost_center)
    return tags


def bucket_settings(scope: TenantAws) -> dict[str, Any]:
    """The bucket's encryption (SSE-S3 by default, as AWS now does), public-access block and tags,
    in the shapes of the S3 API (PutBucketEncryption, PutPublicAccessBlock, PutBucketTagging)."""
    return {
        "encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "public_access_block": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
        "tags": aws_tags(scope),
    }


def check_secret_key(scope: TenantAws, key: str) -> None:
    """A remote secret a tenant names must be under its own prefix (no '..', no other tenant's)."""
    parts = key.split("/")
    if not key.startswith(scope.secret_prefix) or len(parts) < 3 or any(p in ("", ".", "..") for p in parts):
        raise PlatykusError(
            "secret '%s' is outside tenant '%s''s prefix; name it %s<name>" % (key, scope.tenant, scope.secret_prefix)
        )


def check_hostname(scope: TenantAws, hostname: str) -> None:
    """A hostname for a tenant's record or certificate must be a valid name under ``<tenant>.<zone>``."""
    name = hostname.rstrip(".").lower()
    labels = name.split(".")
    if not all(_HOST_LABEL_RE.match(label) for label in labels) or len(name) > 253:
        raise PlatykusError("hostname '%s' is not a valid DNS name" % hostname)
    if not name.endswith("." + scope.domain):
        raise PlatykusError(
            "hostname '%s' is outside tenant '%s''s domain; use a name under %s"
            % (hostname, scope.tenant, scope.domain)
        )


def _meta(scope: TenantAws, namespace: str, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": resource_labels(scope)}


def render_credentials_secret(scope: TenantAws, namespace: str, key_id: str, secret_key: str) -> dict[str, Any]:
    """The identity's access key, for the SecretStore of clusters without IRSA (lab, generic)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(scope, namespace, CREDENTIALS_SECRET_NAME),
        "type": "Opaque",
        "stringData": {ACCESS_KEY_ID_KEY: key_id, SECRET_ACCESS_KEY_KEY: secret_key},
    }


def cluster_store_name(tenant: str) -> str:
    return CLUSTER_STORE_PREFIX + tenant


def key_secret_name(tenant: str) -> str:
    return KEY_SECRET_PREFIX + tenant


def secret_store_ref(tenant: str) -> dict[str, str]:
    """What a tenant's ExternalSecret names as its store (``spec.secretStoreRef``), on every provider."""
    return {"kind": "ClusterSecretStore", "name": cluster_store_name(tenant)}


def key_secret_labels(tenant: str) -> dict[str, str]:
    """Labels of the Secret holding a tenant's access key (platform namespace; no tenant label, so
    nothing that selects a tenant's objects by TENANT_LABEL takes it for one of theirs)."""
    return {AWS_ACCESS_KEY_LABEL: tenant, MANAGED_BY_LABEL: MANAGED_BY_VALUE}


def render_key_secret(tenant: str, namespace: str, key_id: str, secret_key: str) -> dict[str, Any]:
    """The identity's access key in the platform namespace (lab, generic): only the store reads it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": key_secret_name(tenant), "namespace": namespace, "labels": key_secret_labels(tenant)},
        "type": "Opaque",
        "stringData": {ACCESS_KEY_ID_KEY: key_id, SECRET_ACCESS_KEY_KEY: secret_key},
    }


def render_cluster_secret_store(
    scope: TenantAws,
    namespaces: tuple[str, ...] | list[str],
    key_namespace: str = KEY_NAMESPACE,
    irsa_service_account: str | None = None,
    key_id: str | None = None,
) -> dict[str, Any]:
    """The tenant's ClusterSecretStore: Secrets Manager as the tenant's identity, for ExternalSecrets
    of the tenant's ``namespaces`` only (external-secrets refuses any other namespace: spec.conditions).

    Lab and generic: the access key from key_secret_name in ``key_namespace`` (a platform namespace;
    the namespace is named, else external-secrets would read the ExternalSecret's own). EKS: IRSA
    through the ServiceAccount ``irsa_service_account`` of the tenant's first namespace. ``key_id``
    (lab, generic) is annotated, so a new key changes the store too.
    """
    if irsa_service_account:
        ref = {"name": irsa_service_account, "namespace": sorted(namespaces)[0]}
        auth: dict[str, Any] = {"jwt": {"serviceAccountRef": ref}}
    else:
        name = key_secret_name(scope.tenant)
        auth = {
            "secretRef": {
                "accessKeyIDSecretRef": {"name": name, "namespace": key_namespace, "key": ACCESS_KEY_ID_KEY},
                "secretAccessKeySecretRef": {"name": name, "namespace": key_namespace, "key": SECRET_ACCESS_KEY_KEY},
            }
        }
    meta: dict[str, Any] = {"name": cluster_store_name(scope.tenant), "labels": resource_labels(scope)}
    if key_id:
        meta["annotations"] = {AWS_ACCESS_KEY_ID_ANNOTATION: key_id}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": meta,
        "spec": {
            "conditions": [{"namespaces": sorted(namespaces)}],
            "provider": {"aws": {"service": "SecretsManager", "region": scope.region, "auth": auth}},
        },
    }


def render_secret_store(scope: TenantAws, namespace: str, irsa_service_account: str | None = None) -> dict[str, Any]:
    """The tenant's SecretStore in one of its namespaces: Secrets Manager as the tenant's identity.

    With IRSA (EKS) the store assumes the role through a ServiceAccount of the namespace; else it
    reads the access key from CREDENTIALS_SECRET_NAME in the same namespace. Either way, never a
    cluster-wide identity.
    """
    if irsa_service_account:
        auth: dict[str, Any] = {"jwt": {"serviceAccountRef": {"name": irsa_service_account}}}
    else:
        auth = {
            "secretRef": {
                "accessKeyIDSecretRef": {"name": CREDENTIALS_SECRET_NAME, "key": ACCESS_KEY_ID_KEY},
                "secretAccessKeySecretRef": {"name": CREDENTIALS_SECRET_NAME, "key": SECRET_ACCESS_KEY_KEY},
            }
        }
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": _meta(scope, namespace, SECRET_STORE_NAME),
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": scope.region, "auth": auth}}},
    }


# What tenant roles may do with the platform's certificate and secret APIs, only in their own
# namespaces (Roles, never ClusterRoles): request Certificates from the platform's issuers and
# sync secrets through their own SecretStore. No Issuers (a CA Issuer signs whatever it is
# asked), no SecretStores (a store names the AWS identity), nothing cluster-scoped: a
# ClusterIssuer or ClusterSecretStore would reach across tenants.
TENANT_READ = (
    ("cert-manager.io", ("certificaterequests", "certificates")),
    ("external-secrets.io", ("externalsecrets", "secretstores")),
)
TENANT_WRITE = (
    ("cert-manager.io", ("certificates",)),
    ("external-secrets.io", ("externalsecrets",)),
)
