# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant isolation audit: read-only checks of what each tenant role can and cannot do.

Three families of checks, each in its own module:

- :mod:`._audit_access`: SubjectAccessReviews per tenant role and owner group (cluster-scoped
  resources, other tenants' and platform namespaces, quotas, network policies, escalation,
  tokens, cluster-admin; and that the role can still do its job).
- :mod:`._audit_objects`: the objects isolation rests on, per tenant namespace (labels,
  default-deny policy, quota, limits, bindings, roles, service accounts) and the
  ClusterRoleBindings naming a tenant.
- :mod:`._audit_admission`: what admission refuses, by server-side dry runs (Pod Security
  probes; service-account-token Secrets, as each tenant role) and the token Secret policy.
- :mod:`._audit_policies`: each registered tenant admission policy (hostnames and certificates,
  HOST-1, ...) is in force and bound, and refuses its attacks as each tenant role (dry runs).
- :mod:`._aws_isolation` (on the aws provider, given the roles read back from IAM): no tenant's IAM
  role reaches another tenant's secrets, bucket or hosted zone, or the platform's zone (PLK-AWS-1).
- :mod:`._audit_credentials`: no tenant role can read an AWS access key the platform made (PLK-CRED-1)
  and, given the identities read from IAM, none is left of a removed tenant (PLK-AWS-2).

Check ids follow the Kubernetes Multi-Tenancy Benchmark (``MTB-``, numbered here) and the CIS
Kubernetes Benchmark section 5 (``CIS-5.x.y``). Nothing is written: SubjectAccessReviews are
not stored and every create is ``dryRun=All``. All traffic goes through one KubeClient (tests
pass one whose ``call`` is a fake API server); acting as a tenant role goes through
``impersonate``, injected for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._audit.access import (
    SAR_API_VERSION,
    role_checks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.admission import (
    Impersonate,
    RoleIdentity,
    impersonating,
    pod_security_checks,
    role_identities,
    token_policy_checks,
    token_secret_checks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.aws import audit as isolation_audit
from ansible_collections.platykus.platform.plugins.module_utils._audit.aws import entries as isolation_entries
from ansible_collections.platykus.platform.plugins.module_utils._audit.credentials import (
    credential_checks,
    leftover_checks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.objects import (
    RBAC_API_VERSION,
    cluster_binding_checks,
    namespace_object_checks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.platform_apis import platform_api_checks
from ansible_collections.platykus.platform.plugins.module_utils._audit.policies import (
    REGISTRY,
    PolicyEntry,
    policy_attack_checks,
    policy_config_checks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.policies import prime as prime_policy_kinds
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import (
    AuditReport,
    Check,
    Scope,
    fetched,
    render_table,
    run_parallel,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import (
    Tenant,
    select_tenants,
    validate_tenants,
)

__all__ = ["AuditReport", "Check", "audit_tenants", "aws_checks", "render_table", "run_audit"]

# The namespace column of the AWS side's checks (about a tenant's IAM role, not a namespace).
AWS_NAMESPACE = "aws"

# Kinds resolved before the worker threads start, so discovery runs once and serially.
# (The admission policy kinds are left to their check: a cluster without them fails that check.)
_KINDS = (
    ("v1", "Namespace"),
    ("v1", "Pod"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    (RBAC_API_VERSION, "Role"),
    (RBAC_API_VERSION, "RoleBinding"),
    (RBAC_API_VERSION, "ClusterRole"),
    (RBAC_API_VERSION, "ClusterRoleBinding"),
    (SAR_API_VERSION, "SubjectAccessReview"),
)


def _namespace_checks(
    client: KubeClient,
    tenant: Tenant,
    namespace: str,
    identities: list[RoleIdentity],
    policies: tuple[PolicyEntry, ...] = REGISTRY,
) -> list[Check]:
    """Everything about one tenant namespace; only MTB-0.1 when it does not exist."""
    scope = Scope(tenant.name, namespace=namespace)
    found, error = fetched(client, "v1", "Namespace", namespace)
    if found is None:
        return [scope.check("MTB-0.1", "namespace exists", False, error or "namespace %s does not exist" % namespace)]
    return (
        namespace_object_checks(client, tenant, scope, found)
        + pod_security_checks(client, scope)
        + token_secret_checks(client, scope, identities)
        + policy_attack_checks(client, scope, tenant.domains, identities, policies)
    )


def run_audit(
    client: KubeClient,
    tenants: list[Tenant],
    platform_namespaces: Iterable[str] = (),
    workers: int = 8,
    everyone: list[Tenant] | None = None,
    impersonate: Impersonate = impersonating,
    policies: Iterable[PolicyEntry] = REGISTRY,
) -> AuditReport:
    """Run every check for ``tenants``. The namespaces of ``everyone`` else (all tenants; defaults
    to ``tenants``) and ``platform_namespaces`` are the places a tenant must not reach; ``policies``:
    the tenant admission policies to audit (_audit.policies). Read-only."""
    tenants = list(tenants)
    everyone = list(everyone) if everyone is not None else tenants
    platform = sorted(set(platform_namespaces or ()))
    for api_version, kind in _KINDS:
        client.resource(api_version, kind)
    policies = tuple(policies)
    prime_policy_kinds(client, policies)
    checks = role_checks(client, tenants, everyone, platform, workers)
    identities = {tenant.name: role_identities(client, tenant, impersonate) for tenant in tenants}
    targets = [(tenant, ns) for tenant in tenants for ns in tenant.namespaces]
    for found in run_parallel(
        lambda target: _namespace_checks(client, target[0], target[1], identities[target[0].name], policies),
        targets,
        workers,
    ):
        checks.extend(found)
    checks.extend(cluster_binding_checks(client, tenants))
    checks.extend(token_policy_checks(client, tenants))
    checks.extend(policy_config_checks(client, tenants, policies))
    checks.extend(platform_api_checks(client, tenants))
    checks.extend(credential_checks(client, tenants, workers))
    order = {tenant.name: index for index, tenant in enumerate(tenants)}
    checks.sort(key=lambda c: (order.get(c.tenant, 0), c.role == "-", c.role, c.namespace, c.id))
    return AuditReport(checks=checks)


def aws_checks(aws: Mapping[str, Any], chosen: Iterable[str], everyone: Iterable[str] | None = None) -> list[Check]:
    """The AWS side (PLK-AWS-1) for the ``chosen`` tenants, on the policies amazon.aws read back from
    IAM (``aws``: ``tenants``, ``policies``, ``roles``, ``zone_ids``, ``platform_zone_id``; see
    _audit.aws.entries): one check per tenant role, naming the statements that reach too far.
    Given ``aws.identities`` (tenant_aws_info), PLK-AWS-2 names those of tenants not in ``everyone``."""
    chosen = list(chosen)
    leftovers = (
        leftover_checks(aws["identities"], everyone if everyone is not None else chosen)
        if aws.get("identities") is not None
        else []
    )
    found = isolation_audit(
        isolation_entries(aws.get("tenants") or [], aws.get("policies"), aws.get("roles"), aws.get("zone_ids")),
        aws.get("platform_zone_id"),
    )
    wanted = set(chosen)
    return [
        Check(
            c["id"], c["tenant"], c["role"], AWS_NAMESPACE, c["title"], "pass" if c["passed"] else "fail", c["detail"]
        )
        for c in found["checks"]
        if c["tenant"] in wanted
    ] + leftovers


def audit_tenants(
    connect: Callable[[], Any],
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
    tenant: str | None = None,
    workers: int = 8,
    aws: Mapping[str, Any] | None = None,
    kubernetes: bool = True,
) -> AuditReport:
    """Validate the tenant specs, then connect (``connect()`` returns a KubeClient) and audit the
    chosen tenant (or all) against the cluster and, given ``aws``, the tenants' IAM roles
    (``kubernetes=False``: only those, no connection)."""
    everyone = validate_tenants(tenants, plans, platform_namespaces)
    chosen = select_tenants(everyone, tenant)
    report = AuditReport()
    if kubernetes:
        report = run_audit(connect(), chosen, platform_namespaces, workers=workers, everyone=everyone)
    if aws:
        report.checks.extend(aws_checks(aws, [t.name for t in chosen], [t.name for t in everyone]))
    return report
