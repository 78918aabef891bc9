# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a tenant's AWS slice real: its IAM identity with the scoped policy, and its bucket.

Takes boto3 clients (real AWS or the lab's endpoint) so the logic runs against moto in tests.
Each step reads before it writes; a rerun changes nothing except when asked for a new key.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.names import AWS_CLUSTER_TAG, AWS_TENANT_TAG
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    TenantAws,
    aws_tags,
    bucket_settings,
    tenant_policy,
    validate_scope,
)

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - the clients passed in come from boto3, which needs botocore
    ClientError = Exception

POLICY_NAME = "platykus-tenant-scope"


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def ensure_identity(iam: Any, scope: TenantAws) -> bool:
    """The tenant's IAM user with exactly the scoped inline policy; True when something changed."""
    validate_scope(scope)
    changed = False
    try:
        iam.get_user(UserName=scope.identity)
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        tags = [{"Key": k, "Value": v} for k, v in sorted(aws_tags(scope).items())]
        iam.create_user(UserName=scope.identity, Tags=tags)
        changed = True
    wanted = tenant_policy(scope)
    try:
        current = iam.get_user_policy(UserName=scope.identity, PolicyName=POLICY_NAME)["PolicyDocument"]
        current = json.loads(current) if isinstance(current, str) else current
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        current = None
    if current != wanted:
        iam.put_user_policy(UserName=scope.identity, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted))
        changed = True
    return changed


def access_keys(iam: Any, user: str) -> list[dict[str, Any]]:
    """The user's access keys as IAM lists them (AccessKeyId, Status, CreateDate); [] without the user."""
    try:
        return list(iam.list_access_keys(UserName=user)["AccessKeyMetadata"])
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        return []


def create_access_key(iam: Any, scope: TenantAws, keep: str = "") -> tuple[str, str]:
    """A new access key beside the one in use (``keep``); others go first, as IAM allows two per user."""
    for key in access_keys(iam, scope.identity):
        if key["AccessKeyId"] != keep:
            retire_access_key(iam, scope, key["AccessKeyId"])
    key = iam.create_access_key(UserName=scope.identity)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def retire_access_key(iam: Any, scope: TenantAws, key_id: str) -> None:
    """Deactivate, then delete: a key that fails to delete is at least refused from then on (gone already: fine)."""
    try:
        iam.update_access_key(UserName=scope.identity, AccessKeyId=key_id, Status="Inactive")
        iam.delete_access_key(UserName=scope.identity, AccessKeyId=key_id)
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise


def new_access_key(iam: Any, scope: TenantAws) -> tuple[str, str]:
    """A fresh access key for the identity, old ones deleted (AWS shows a secret only once)."""
    for key in iam.list_access_keys(UserName=scope.identity)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=scope.identity, AccessKeyId=key["AccessKeyId"])
    key = iam.create_access_key(UserName=scope.identity)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def ensure_bucket(s3: Any, scope: TenantAws) -> bool:
    """The tenant's bucket: encrypted, public access blocked, tagged; True when it was created."""
    validate_scope(scope)
    settings = bucket_settings(scope)
    created = False
    try:
        s3.head_bucket(Bucket=scope.bucket)
    except ClientError as err:
        if _error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        extra = (
            {} if scope.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": scope.region}}
        )
        s3.create_bucket(Bucket=scope.bucket, **extra)
        created = True
    s3.put_bucket_encryption(Bucket=scope.bucket, ServerSideEncryptionConfiguration=settings["encryption"])
    s3.put_public_access_block(Bucket=scope.bucket, PublicAccessBlockConfiguration=settings["public_access_block"])
    tag_set = [{"Key": k, "Value": v} for k, v in sorted(settings["tags"].items())]
    s3.put_bucket_tagging(Bucket=scope.bucket, Tagging={"TagSet": tag_set})
    return created


# -------------------------------------------------------------------------------------- removal
def identity_parts(iam: Any, user: str) -> list[str]:
    """What removing IAM user ``user`` deletes, by name (keys, inline and attached policies, the user);
    [] when it does not exist."""
    try:
        iam.get_user(UserName=user)
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        return []
    keys = access_keys(iam, user)
    inline = iam.list_user_policies(UserName=user)["PolicyNames"]
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    return (
        ["iam-key/%s/%s" % (user, k["AccessKeyId"]) for k in keys]
        + ["iam-user-policy/%s/%s" % (user, name) for name in inline]
        + ["iam-attached-policy/%s/%s" % (user, p["PolicyArn"]) for p in attached]
        + ["iam-user/%s" % user]
    )


def remove_identity(iam: Any, user: str) -> list[str]:
    """Remove IAM user ``user`` whole: keys deactivated then deleted, policies, the user. What went."""
    parts = identity_parts(iam, user)
    for part in parts:
        kind, rest = part.split("/", 1)
        if kind == "iam-key":
            key_id = rest.split("/", 1)[1]
            iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
            iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        elif kind == "iam-user-policy":
            iam.delete_user_policy(UserName=user, PolicyName=rest.split("/", 1)[1])
        elif kind == "iam-attached-policy":
            iam.detach_user_policy(UserName=user, PolicyArn=rest.split("/", 1)[1])
    if parts:
        iam.delete_user(UserName=user)
    return parts


def bucket_objects(s3: Any, bucket: str, limit: int = 1000) -> list[str] | None:
    """Up to ``limit`` object keys (and noncurrent versions) of ``bucket``; None when there is no bucket."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as err:
        if _error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        return None
    found = s3.list_object_versions(Bucket=bucket, MaxKeys=limit)
    return sorted({v["Key"] for v in found.get("Versions", []) + found.get("DeleteMarkers", [])})


def remove_bucket(s3: Any, bucket: str) -> int:
    """Empty ``bucket`` (every version and delete marker) and delete it; the number of versions deleted."""
    deleted = 0
    while True:
        found = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in found.get("Versions", []) + found.get("DeleteMarkers", [])
        ]
        if not versions:
            break
        s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
        deleted += len(versions)
    s3.delete_bucket(Bucket=bucket)
    return deleted


def tagged_identities(iam: Any, cluster: str, prefix: str) -> list[dict[str, Any]]:
    """IAM users and roles named ``prefix``* with the cluster's tag: name, kind, tenant tag, active keys."""
    found = []
    for kind, lister, key, tagger in (
        ("user", "list_users", "Users", "list_user_tags"),
        ("role", "list_roles", "Roles", "list_role_tags"),
    ):
        for page in iam.get_paginator(lister).paginate():
            for item in page[key]:
                name = item["UserName" if kind == "user" else "RoleName"]
                if not name.startswith(prefix):
                    continue
                arg = {"UserName": name} if kind == "user" else {"RoleName": name}
                tags = {t["Key"]: t["Value"] for t in getattr(iam, tagger)(**arg)["Tags"]}
                if tags.get(AWS_CLUSTER_TAG) != cluster:
                    continue
                keys = [k["AccessKeyId"] for k in access_keys(iam, name) if k["Status"] == "Active"]
                found.append({"name": name, "kind": kind, "tenant": tags.get(AWS_TENANT_TAG, ""), "active_keys": keys})
    return found
