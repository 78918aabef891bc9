# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding's AWS step: each tenant's identity, bucket, credentials and SecretStore.

Data flows one way: tenant specs -> checks (every problem at once, before any connection) ->
the tenants' scopes -> AWS (identity with the scoped policy, bucket) -> one batched apply of the
credentials Secrets, SecretStores and ExternalSecrets. The logic is in _tenant_aws (scope,
policy, checks, objects) and _tenant_aws_apply (AWS writes); this module orders them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._kube import BatchSummary, KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import (
    ACCESS_KEY_ID_KEY,
    CREDENTIALS_SECRET_NAME,
    IRSA_ROLE_ANNOTATION,
    IRSA_SERVICE_ACCOUNT,
    SECRET_STORE_NAME,
    TenantAws,
    aws_tags,
    check_hostname,
    check_secret_key,
    render_credentials_secret,
    render_secret_store,
    resource_labels,
    tenant_policy,
    validate_scope,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws_apply import (
    POLICY_NAME,
    ClientError,
    ensure_bucket,
    ensure_identity,
    new_access_key,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants import select_tenants, validate_tenants


@dataclass(frozen=True)
class TenantSlice:
    """A tenant's AWS scope and the namespaces that get its SecretStore."""

    scope: TenantAws
    namespaces: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    cluster: str
    zone: str
    region: str
    account_id: str = ""
    # EKS: the tenants' roles come from aws-provision (IRSA); no user, key or bucket is made here.
    irsa: bool = False


# ------------------------------------------------------------------------------------- checks
def _domain_problem(scope: TenantAws, domain: str) -> str | None:
    """A tenant's domain must be its own name under the platform zone, or a name under that."""
    if domain.rstrip(".").lower() == scope.domain:
        return None
    try:
        check_hostname(scope, domain)
    except PlatykusError as err:
        return str(err)
    return None


def _secret_problem(scope: TenantAws, key: str) -> str | None:
    try:
        check_secret_key(scope, key)
    except PlatykusError as err:
        return str(err)
    return None


def check_inputs(slices: list[TenantSlice], domains: dict[str, tuple[str, ...]], secrets: list[dict]) -> list[dict]:
    """Every hostname and secret path checked before anything is written; one error lists all.

    Returns the external secrets with their tenant's scope resolved (``scope`` added).
    """
    problems = []
    by_tenant = {s.scope.tenant: s for s in slices}
    for item in slices:
        for index, domain in enumerate(domains.get(item.scope.tenant, ())):
            problem = _domain_problem(item.scope, domain)
            if problem:
                problems.append("tenants[%s].domains[%d]: %s" % (item.scope.tenant, index, problem))
    resolved = []
    for index, secret in enumerate(secrets):
        owner = next((s for s in slices if secret.get("namespace") in s.namespaces), None)
        where = "external_secrets[%d]" % index
        if owner is None:
            known = ", ".join(ns for s in by_tenant.values() for ns in s.namespaces)
            problems.append(
                "%s.namespace: '%s' is not a tenant namespace (%s)" % (where, secret.get("namespace"), known)
            )
            continue
        problem = _secret_problem(owner.scope, str(secret.get("key", "")))
        if problem:
            problems.append("%s.key: %s" % (where, problem))
        resolved.append(dict(secret, scope=owner.scope))
    if problems:
        raise PlatykusError("Failed to onboard the tenants' AWS, nothing was written: " + "; ".join(problems))
    return resolved


def tenant_slices(params: dict, settings: Settings) -> tuple[list[TenantSlice], dict[str, tuple[str, ...]]]:
    """The selected tenants' scopes and namespaces, and their declared domains (validated specs)."""
    tenants = select_tenants(
        validate_tenants(params["tenants"], params["plans"], params.get("platform_namespaces") or ()),
        params.get("tenant"),
    )
    slices = [
        TenantSlice(
            TenantAws(
                t.name,
                settings.cluster,
                settings.account_id or "000000000000",
                settings.region,
                settings.zone,
                t.cost_center,
            ),
            t.namespaces,
        )
        for t in tenants
    ]
    return slices, {t.name: t.domains for t in tenants}


# ---------------------------------------------------------------------------------------- AWS
def _with_account(slices: list[TenantSlice], account_id: str) -> list[TenantSlice]:
    out = []
    for item in slices:
        scope = TenantAws(**dict(item.scope.__dict__, account_id=account_id))
        validate_scope(scope)
        out.append(TenantSlice(scope, item.namespaces))
    return out


def _identity_pending(iam: Any, scope: TenantAws) -> bool:
    """Would ensure_identity change anything? (reads only)"""
    try:
        iam.get_user(UserName=scope.identity)
        document = iam.get_user_policy(UserName=scope.identity, PolicyName=POLICY_NAME)["PolicyDocument"]
    except ClientError:
        return True
    return (json.loads(document) if isinstance(document, str) else document) != tenant_policy(scope)


def _bucket_pending(s3: Any, scope: TenantAws) -> bool:
    try:
        s3.head_bucket(Bucket=scope.bucket)
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=scope.bucket)["TagSet"]}
    except ClientError:
        return True
    return tags != aws_tags(scope)


def _stored_key_id(secret: dict | None) -> str:
    """The access key id a credentials Secret holds ("" when none); stringData before the server merges it."""
    secret = secret or {}
    encoded = (secret.get("data") or {}).get(ACCESS_KEY_ID_KEY)
    return (
        base64.b64decode(encoded).decode() if encoded else (secret.get("stringData") or {}).get(ACCESS_KEY_ID_KEY, "")
    )


def _live_key(kube: KubeClient, iam: Any, item: TenantSlice) -> bool:
    """Every namespace holds a credentials Secret whose key IAM still knows (one key per identity)."""
    try:
        live = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=item.scope.identity)["AccessKeyMetadata"]}
    except ClientError:
        return False
    for namespace in item.namespaces:
        if _stored_key_id(kube.get("v1", "Secret", CREDENTIALS_SECRET_NAME, namespace)) not in live:
            return False
    return True


def ensure_aws(iam: Any, s3: Any, item: TenantSlice, check_mode: bool) -> list[str]:
    """The tenant's identity and bucket; what changed (or would) by name."""
    scope = item.scope
    pending = {
        "iam-user/%s" % scope.identity: _identity_pending(iam, scope),
        "s3/%s" % scope.bucket: _bucket_pending(s3, scope),
    }
    if not check_mode:
        ensure_identity(iam, scope)
        ensure_bucket(s3, scope)
    return [name for name, changed in pending.items() if changed]


# ----------------------------------------------------------------------------------- objects
def render_external_secret(secret: dict) -> dict[str, Any]:
    """An ExternalSecret the platform declares for a tenant, through the tenant's own store."""
    scope: TenantAws = secret["scope"]
    remote = {"key": secret["key"]}
    if secret.get("property"):
        remote["property"] = secret["property"]
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": secret["name"], "namespace": secret["namespace"], "labels": resource_labels(scope)},
        "spec": {
            "refreshInterval": secret.get("refresh_interval") or "1h",
            "secretStoreRef": {"kind": "SecretStore", "name": SECRET_STORE_NAME},
            "target": {"name": secret["name"]},
            "data": [{"secretKey": secret.get("secret_key") or "value", "remoteRef": remote}],
        },
    }


def tenant_objects(item: TenantSlice, key: tuple[str, str] | None) -> list[dict[str, Any]]:
    """Per namespace: the SecretStore, and the credentials Secret when a new key was made."""
    objects = []
    for namespace in item.namespaces:
        if key is not None:
            objects.append(render_credentials_secret(item.scope, namespace, key[0], key[1]))
        objects.append(render_secret_store(item.scope, namespace))
    return objects


# ------------------------------------------------------------------------------------------ run
def _key_pass(
    iam: Any, s3: Any, kube: KubeClient, slices: list[TenantSlice], check_mode: bool
) -> tuple[list, list, list]:
    """Access keys (lab, generic): identities and buckets, a key where none is live, and the objects."""
    aws_changed, objects, rotated = [], [], []
    for item in slices:
        aws_changed += ensure_aws(iam, s3, item, check_mode)
        key = None
        if not _live_key(kube, iam, item):
            rotated.append(item.scope.tenant)
            key = ("<new key>", "<new key>") if check_mode else new_access_key(iam, item.scope)
        objects += tenant_objects(item, key)
    return aws_changed, objects, rotated


def irsa_objects(item: TenantSlice) -> list[dict[str, Any]]:
    """IRSA (EKS): per namespace the ServiceAccount annotated with the tenant's role (made by
    aws-provision's aws_tenants role, trusted by exactly these accounts) and the store using it."""
    scope, objects = item.scope, []
    role_arn = "arn:%s:iam::%s:role/%s" % (scope.partition, scope.account_id, scope.identity)
    for namespace in item.namespaces:
        meta = {"name": IRSA_SERVICE_ACCOUNT, "namespace": namespace, "labels": resource_labels(scope)}
        meta["annotations"] = {IRSA_ROLE_ANNOTATION: role_arn}
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
        objects.append(render_secret_store(scope, namespace, irsa_service_account=IRSA_SERVICE_ACCOUNT))
    return objects


def _apply(kube: KubeClient, objects: list[dict], check_mode: bool, diff: bool) -> BatchSummary:
    absent: list[str] = []
    if check_mode:  # namespaces onboarding has not created yet: predicted as created
        objects, absent = _in_existing_namespaces(kube, objects)
    summary = BatchSummary.from_results(kube.apply(objects, dry_run=check_mode), with_diff=diff)
    summary.created += absent
    summary.changed = summary.changed or bool(absent)
    return summary


def onboard(
    slices: list[TenantSlice],
    secrets: list[dict],
    connect: Callable[[], KubeClient],
    aws_clients: Callable[[], tuple[Any, Any, Any]],
    check_mode: bool,
    diff: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """AWS first (identities, buckets, keys; with IRSA nothing), then one batched apply."""
    settings = settings or Settings("", "", "")
    clients = None if settings.irsa and settings.account_id else aws_clients()
    account = settings.account_id or clients[2].get_caller_identity()["Account"]
    slices = _with_account(slices, account)
    kube = connect()
    if settings.irsa:
        aws_changed, rotated, objects = [], [], [o for item in slices for o in irsa_objects(item)]
    else:
        aws_changed, objects, rotated = _key_pass(clients[0], clients[1], kube, slices, check_mode)
    summary = _apply(kube, objects + [render_external_secret(s) for s in secrets], check_mode, diff)
    result = {
        "changed": bool(aws_changed or rotated or summary.changed),
        "aws": aws_changed,
        "keys_rotated": rotated,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "tenants": [_describe(item) for item in slices],
    }
    if diff:  # never a credential in the diff
        result["diff"] = [d for d in summary.diffs if not d["before_header"].startswith("Secret/")]
    return result


def _in_existing_namespaces(kube: KubeClient, objects: list[dict]) -> tuple[list[dict], list[str]]:
    namespaces = {o["metadata"]["namespace"] for o in objects}
    present = {ns for ns in namespaces if kube.get("v1", "Namespace", ns) is not None}
    absent = [object_key(o) for o in objects if o["metadata"]["namespace"] not in present]
    return [o for o in objects if o["metadata"]["namespace"] in present], absent


def _describe(item: TenantSlice) -> dict[str, Any]:
    scope = item.scope
    return {
        "name": scope.tenant,
        "identity": scope.identity,
        "bucket": scope.bucket,
        "secret_prefix": scope.secret_prefix,
        "domain": scope.domain,
        "namespaces": list(item.namespaces),
    }


# --------------------------------------------------------------------------------- the module's
ARGUMENT_SPEC = dict(
    tenants=dict(type="list", elements="raw", required=True),
    plans=dict(type="raw", required=True),
    platform_namespaces=dict(type="list", elements="str", default=[]),
    tenant=dict(type="str"),
    cluster_name=dict(type="str", required=True),
    zone=dict(type="str", required=True),
    region=dict(type="str", default="us-east-1"),
    endpoint_url=dict(type="str"),
    account_id=dict(type="str"),
    irsa=dict(type="bool", default=False),
    # Declared ExternalSecrets (names and remote keys), not secret values: checked against the prefix.
    external_secrets=dict(type="list", elements="dict", default=[], no_log=False),
    validate_only=dict(type="bool", default=False),
)


def boto3_clients(region: str, endpoint_url: str | None) -> Callable[[], tuple[Any, Any, Any]]:
    """IAM, S3 and STS clients (credentials and AWS_ENDPOINT_URL from the environment as boto3 reads them)."""

    def connect() -> tuple[Any, Any, Any]:
        try:
            import boto3
        except ImportError as err:
            raise PlatykusError("boto3 is required to onboard the tenants' AWS (pip install boto3): %s" % err) from err
        session = boto3.session.Session(region_name=region)
        return tuple(session.client(name, endpoint_url=endpoint_url or None) for name in ("iam", "s3", "sts"))

    return connect


def run(
    params: dict[str, Any],
    connect: Callable[[], KubeClient],
    aws_clients: Callable[[], tuple[Any, Any, Any]],
    check_mode: bool,
    diff: bool = False,
) -> dict[str, Any]:
    """Check every tenant's domains and declared secrets, then (unless validate_only) onboard."""
    settings = Settings(
        params["cluster_name"],
        params["zone"].rstrip(".").lower(),
        params["region"],
        params.get("account_id") or "",
        bool(params.get("irsa")),
    )
    slices, domains = tenant_slices(params, settings)
    secrets = check_inputs(slices, domains, params.get("external_secrets") or [])
    if params.get("validate_only"):
        return {"changed": False, "tenants": [_describe(item) for item in slices]}
    try:
        return onboard(slices, secrets, connect, aws_clients, check_mode, diff, settings)
    except ClientError as err:
        raise PlatykusError("Failed to onboard the tenants' AWS: %s" % err) from err
