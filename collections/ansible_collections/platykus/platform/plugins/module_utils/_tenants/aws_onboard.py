# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding's AWS step: each tenant's identity, bucket, credentials and SecretStore.

Data flows one way: tenant specs -> checks (every problem at once, before any connection) ->
the tenants' scopes -> AWS (identity with the scoped policy, bucket) -> one batched apply of the
credentials Secrets, SecretStores and ExternalSecrets. The logic is in _tenants.aws (scope,
policy, checks, objects) and _tenants.aws_apply (AWS writes); this module orders them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    ACCESS_KEY_ID_KEY,
    CREDENTIALS_SECRET_NAME,
    IRSA_ROLE_ANNOTATION,
    IRSA_SERVICE_ACCOUNT,
    KEY_NAMESPACE,
    SECRET_STORE_NAME,
    TenantAws,
    aws_tags,
    check_hostname,
    check_secret_key,
    key_secret_name,
    render_cluster_secret_store,
    render_key_secret,
    render_secret_store,
    resource_labels,
    secret_store_ref,
    tenant_policy,
    validate_scope,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_apply import (
    POLICY_NAME,
    ClientError,
    access_keys,
    create_access_key,
    ensure_bucket,
    ensure_identity,
    retire_access_key,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_offboard import offboard
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import select_tenants, validate_tenants

EXTERNAL_SECRET_API = "external-secrets.io/v1"
# A key in use longer than this is replaced on the next onboarding run (the schedules rerun it daily).
DEFAULT_KEY_MAX_AGE_HOURS = 24


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
    # Lab and generic: where the access keys' Secrets live (a platform namespace), and their max age.
    key_namespace: str = KEY_NAMESPACE
    key_max_age: timedelta | None = timedelta(hours=DEFAULT_KEY_MAX_AGE_HOURS)


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


@dataclass(frozen=True)
class KeyPlan:
    """One identity's keys: why a new one is made ("" for none), the one kept, and those retired
    once the Secret and the store hold the new one."""

    reason: str
    keep: str
    retire: tuple[str, ...]


def _age(created: Any, now: datetime) -> timedelta:
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return now - created


def key_plan(keys: list[dict], stored: str, max_age: timedelta | None, now: datetime) -> KeyPlan:
    """Decide from IAM's keys and the key id the platform Secret holds: a new key when none is in use,
    or the one in use is older than ``max_age``; every other key retired."""
    current = next((k for k in keys if k["AccessKeyId"] == stored and k.get("Status") == "Active"), None)
    if current is None:
        reason = "no key in use" if not stored else "the stored key %s is not active in IAM" % stored
    elif max_age is not None and _age(current["CreateDate"], now) >= max_age:
        reason = "key %s is older than %s" % (stored, _hours(max_age))
    else:
        reason = ""
    keep = stored if current is not None and not reason else ""
    return KeyPlan(reason, keep, tuple(k["AccessKeyId"] for k in keys if k["AccessKeyId"] != keep))


def _now() -> datetime:
    return datetime.now(UTC)


def _hours(delta: timedelta) -> str:
    return "%gh" % (delta.total_seconds() / 3600)


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


# ------------------------------------------------------------------------------------------ run
@dataclass
class KeyPass:
    """What the key pass did (or would): AWS changes, objects to apply, rotations, keys to retire."""

    aws: list[str] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    retire: list[tuple[TenantAws, str]] = field(default_factory=list)


def _key_pass(
    iam: Any, s3: Any, kube: KubeClient, slices: list[TenantSlice], settings: Settings, check_mode: bool
) -> KeyPass:
    """Access keys (lab, generic): identities and buckets, a new key where none is in use or the one in
    use is past its max age (the old one kept until the Secret and store hold the new), and the objects."""
    found = KeyPass()
    now = _now()
    for item in slices:
        found.aws += ensure_aws(iam, s3, item, check_mode)
        scope = item.scope
        stored = _stored_key_id(kube.get("v1", "Secret", key_secret_name(scope.tenant), settings.key_namespace))
        plan = key_plan(access_keys(iam, scope.identity), stored, settings.key_max_age, now)
        key = None
        found.retire += [(scope, key_id) for key_id in plan.retire]
        if plan.reason:
            found.rotated.append(scope.tenant)
            key = ("<new key>", "<new key>") if check_mode else create_access_key(iam, scope, keep=stored)
        found.objects += tenant_objects(item, key, settings.key_namespace, key[0] if key else stored)
    return found


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


def _apply(kube: KubeClient, objects: list[dict], check_mode: bool, diff: bool) -> BatchSummary:
    absent: list[str] = []
    if check_mode:  # namespaces onboarding has not created yet: predicted as created
        objects, absent = _in_existing_namespaces(kube, objects)
    summary = BatchSummary.from_results(kube.apply(objects, dry_run=check_mode), with_diff=diff)
    summary.created += absent
    summary.changed = summary.changed or bool(absent)
    return summary


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
            for found in kube.list_all(EXTERNAL_SECRET_API, "ExternalSecret", namespace=namespace):
                if not _uses_old_store(found):
                    continue
                name = found["metadata"]["name"]
                migrated.append("ExternalSecret/%s/%s" % (namespace, name))
                if not check_mode:
                    kube.checked(
                        "patch",
                        "ExternalSecret %s/%s" % (namespace, name),
                        "PATCH",
                        kube.path(EXTERNAL_SECRET_API, "ExternalSecret", namespace, name),
                        body=patch,
                        content_type="application/merge-patch+json",
                    )
            for api_version, kind, name in (
                (EXTERNAL_SECRET_API, "SecretStore", SECRET_STORE_NAME),
                ("v1", "Secret", CREDENTIALS_SECRET_NAME),
            ):
                if kube.get(api_version, kind, name, namespace) is not None:
                    removed.append("%s/%s/%s" % (kind, namespace, name))
                    if not check_mode:
                        kube.delete(api_version, kind, name, namespace)
    return migrated, removed


def onboard(
    slices: list[TenantSlice],
    secrets: list[dict],
    connect: Callable[[], KubeClient],
    aws_clients: Callable[[], tuple[Any, ...]],
    check_mode: bool,
    diff: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """AWS first (identities, buckets, new keys; with IRSA nothing), then one batched apply, then the old
    stores' ExternalSecrets moved and the old stores removed, then the replaced keys retired."""
    settings = settings or Settings("", "", "")
    clients = None if settings.irsa and settings.account_id else aws_clients()
    account = settings.account_id or clients[2].get_caller_identity()["Account"]
    slices = _with_account(slices, account)
    kube = connect()
    if settings.irsa:
        found = KeyPass(objects=[o for item in slices for o in irsa_objects(item)])
        migrated, removed = [], []
    else:
        found = _key_pass(clients[0], clients[1], kube, slices, settings, check_mode)
    summary = _apply(kube, found.objects + [render_external_secret(s) for s in secrets], check_mode, diff)
    if not settings.irsa:
        migrated, removed = migrate_old_stores(kube, slices, check_mode)
    for scope, key_id in [] if check_mode else found.retire:
        retire_access_key(clients[0], scope, key_id)
    result = {
        "changed": bool(found.aws or found.rotated or found.retire or migrated or removed or summary.changed),
        "aws": found.aws,
        "keys_rotated": found.rotated,
        "keys_retired": ["iam-key/%s/%s" % (scope.identity, key_id) for scope, key_id in found.retire],
        "migrated": migrated,
        "removed": removed,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "tenants": [_describe(item) for item in slices],
    }
    if diff:  # never a credential in the diff
        result["diff"] = [d for d in summary.diffs if not d["before_header"].startswith("Secret/")]
    return result


def _in_existing_namespaces(kube: KubeClient, objects: list[dict]) -> tuple[list[dict], list[str]]:
    """The objects whose namespace exists (cluster-scoped ones always), and the others' names."""
    namespaces = {o["metadata"].get("namespace") for o in objects} - {None}
    present = {ns for ns in namespaces if kube.get("v1", "Namespace", ns) is not None} | {None}
    absent = [object_key(o) for o in objects if o["metadata"].get("namespace") not in present]
    return [o for o in objects if o["metadata"].get("namespace") in present], absent


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
    state=dict(type="str", choices=["present", "absent"], default="present"),
    # state=absent: the one tenant to remove (it may be gone from the inventory), and whether its bucket's
    # objects may go with it.
    force=dict(type="bool", default=False),
    tenants=dict(type="list", elements="raw"),
    plans=dict(type="raw"),
    platform_namespaces=dict(type="list", elements="str", default=[]),
    tenant=dict(type="str"),
    cluster_name=dict(type="str", required=True),
    zone=dict(type="str", required=True),
    region=dict(type="str", default="us-east-1"),
    endpoint_url=dict(type="str"),
    account_id=dict(type="str"),
    irsa=dict(type="bool", default=False),
    key_namespace=dict(type="str", default=KEY_NAMESPACE, no_log=False),
    key_max_age_hours=dict(type="float", default=DEFAULT_KEY_MAX_AGE_HOURS, no_log=False),
    # Declared ExternalSecrets (names and remote keys), not secret values: checked against the prefix.
    external_secrets=dict(type="list", elements="dict", default=[], no_log=False),
    validate_only=dict(type="bool", default=False),
)


def boto3_clients(region: str, endpoint_url: str | None) -> Callable[[], tuple[Any, ...]]:
    """IAM, S3, STS and Secrets Manager clients (credentials and AWS_ENDPOINT_URL from the environment as
    boto3 reads them)."""

    def connect() -> tuple[Any, ...]:
        try:
            import boto3
        except ImportError as err:
            raise PlatykusError("boto3 is required to onboard the tenants' AWS (pip install boto3): %s" % err) from err
        session = boto3.session.Session(region_name=region)
        return tuple(
            session.client(name, endpoint_url=endpoint_url or None) for name in ("iam", "s3", "sts", "secretsmanager")
        )

    return connect


def _max_age(hours: Any) -> timedelta | None:
    """key_max_age_hours: 0 never rotates on age; a negative number is refused."""
    hours = DEFAULT_KEY_MAX_AGE_HOURS if hours is None else hours
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0:
        raise PlatykusError(
            "key_max_age_hours: %r is not a number of hours; write one like 24 (0: never by age)" % hours
        )
    return timedelta(hours=hours) if hours else None


def run(
    params: dict[str, Any],
    connect: Callable[[], KubeClient],
    aws_clients: Callable[[], tuple[Any, ...]],
    check_mode: bool,
    diff: bool = False,
) -> dict[str, Any]:
    """Check every tenant's domains and declared secrets, then (unless validate_only) onboard; or, with
    state=absent, remove the one ``tenant``'s AWS identity and resources (_tenants.aws_offboard)."""
    if params.get("state") == "absent":
        return offboard(
            params.get("tenant") or "",
            params["cluster_name"],
            params["region"],
            connect,
            aws_clients,
            check_mode,
            bool(params.get("force")),
            params.get("key_namespace") or KEY_NAMESPACE,
        )
    missing = [name for name in ("tenants", "plans") if params.get(name) is None]
    if missing:
        raise PlatykusError("state=present needs %s: the inventory's tenant specs and plans" % " and ".join(missing))
    settings = Settings(
        params["cluster_name"],
        params["zone"].rstrip(".").lower(),
        params["region"],
        params.get("account_id") or "",
        bool(params.get("irsa")),
        params.get("key_namespace") or KEY_NAMESPACE,
        _max_age(params.get("key_max_age_hours")),
    )
    slices, domains = tenant_slices(params, settings)
    secrets = check_inputs(slices, domains, params.get("external_secrets") or [])
    if params.get("validate_only"):
        return {"changed": False, "tenants": [_describe(item) for item in slices]}
    try:
        return onboard(slices, secrets, connect, aws_clients, check_mode, diff, settings)
    except ClientError as err:
        raise PlatykusError("Failed to onboard the tenants' AWS: %s" % err) from err
