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

from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import (
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
