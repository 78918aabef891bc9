# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The isolation audit's AWS side (PLK-AWS-1): no tenant role's policy reaches another tenant's
resources (secrets, bucket, objects, hosted zone records) or the platform's zone, and each reaches
its own (so the check can fail both ways); a failure names the policy and statement that reach.

Evaluated on the policy documents, not with IAM's policy simulator: moto 5.2.5 answers
SimulatePrincipalPolicy and SimulateCustomPolicy with "not implemented". The evaluation follows
IAM's rules for identity policies without conditions: an explicit Deny wins, otherwise an Allow whose
Action (or NotAction) and Resource (or NotResource) match; ``*`` and ``?`` are wildcards, actions
match case-insensitively. A statement with a Condition counts as allowing (the safe side for an
audit that looks for reach). Resource policies (bucket policies) and SCPs are not considered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    BUCKET_ACTIONS,
    OBJECT_ACTIONS,
    RECORD_ACTIONS,
    SECRET_READ_ACTIONS,
    TenantAws,
    hosted_zone_arn,
)

CHECK_ID = "PLK-AWS-1"


@lru_cache(maxsize=512)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile("^%s$" % body, re.IGNORECASE if ignore_case else 0)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    return any(_pattern(p, ignore_case).match(value) for p in _listed(patterns))


def statement_matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    """Whether ``statement`` applies to ``action`` on ``resource`` (its Effect aside)."""
    if "NotAction" in statement:
        acts = not _matches(statement["NotAction"], action, True)
    else:
        acts = _matches(statement.get("Action"), action, True)
    if "NotResource" in statement:
        reaches = not _matches(statement["NotResource"], resource, False)
    else:
        reaches = _matches(statement.get("Resource"), resource, False)
    return acts and reaches


def policies_allow(policies: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    """IAM's decision for identity policies: an explicit Deny wins, then any Allow, else denied."""
    statements = [s for policy in policies for s in _listed_statements(policy)]
    if any(s.get("Effect") == "Deny" and statement_matches(s, action, resource) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and statement_matches(s, action, resource) for s in statements)


def _listed_statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def probes(scope: TenantAws, zone_id: str | None = None) -> list[tuple[str, str]]:
    """(action, ARN) pairs that reach the tenant's own resources: a secret under its prefix (with the
    random suffix Secrets Manager appends), its bucket, an object in it and, given its hosted zone's
    id, that zone's records."""
    secret = scope.secret_arn("db-AbCdEf")
    return (
        [(action, secret) for action in SECRET_READ_ACTIONS]
        + [(action, scope.bucket_arn()) for action in BUCKET_ACTIONS]
        + [(action, scope.bucket_arn("/data/file")) for action in OBJECT_ACTIONS]
        + ([(action, scope.zone_arn(zone_id)) for action in RECORD_ACTIONS] if zone_id else [])
    )


def _named(policies: Iterable[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, document) per policy: ``{"name": ..., "document": ...}`` as read from IAM, or a bare
    document (named by its position)."""
    named = []
    for index, policy in enumerate(policies):
        if isinstance(policy, Mapping) and "document" in policy:
            named.append((str(policy.get("name") or "#%d" % index), policy["document"] or {}))
        else:
            named.append(("#%d" % index, policy))
    return named


def granting(policies: Iterable[Any], action: str, resource: str) -> list[str]:
    """The statements (``<policy> statement <Sid or #n>``) that let ``action`` on ``resource`` through,
    or [] when the policies deny it (no Allow matches, or an explicit Deny wins)."""
    named = _named(policies)
    if not policies_allow([document for _name, document in named], action, resource):
        return []
    return [
        "%s statement %s" % (name, statement.get("Sid") or "#%d" % index)
        for name, document in named
        for index, statement in enumerate(_listed_statements(document))
        if statement.get("Effect") == "Allow" and statement_matches(statement, action, resource)
    ]


def _targets(tenants: list[Mapping[str, Any]], platform_zone_id: str | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Whose resources a tenant must not reach: every tenant's (their probes), and the platform's zone."""
    targets = [(t["scope"].tenant, probes(t["scope"], t.get("zone_id"))) for t in tenants]
    if platform_zone_id:
        targets.append(("platform zone", [(a, hosted_zone_arn(platform_zone_id)) for a in RECORD_ACTIONS]))
    return targets


def _foreign(tenant: Mapping[str, Any], targets: list[tuple[str, list[tuple[str, str]]]]) -> list[str]:
    """What one tenant's policies reach of the others', by statement (one line per statement)."""
    reached: dict[str, list[str]] = {}
    for owner, pairs in targets:
        if owner == tenant["scope"].tenant:
            continue
        for action, arn in pairs:
            for statement in granting(tenant["policies"], action, arn):
                reached.setdefault(statement, []).append("%s on %s (%s)" % (action, arn, owner))
    return ["%s allows %s" % (statement, ", ".join(found)) for statement, found in reached.items()]


def audit(tenants: Iterable[Mapping[str, Any]], platform_zone_id: str | None = None) -> dict[str, Any]:
    """``tenants``: each with ``scope`` (TenantAws), ``policies`` (the role's inline policies as IAM
    holds them: documents, or ``{"name", "document"}``), optionally ``role`` (its IAM name), ``zone_id``
    (its hosted zone) and ``attached`` (managed policy ARNs: a tenant role has none, so any is a
    failure, whatever it grants). ``platform_zone_id``: the platform's zone, which no tenant may
    write. Returns checks (one per tenant, each naming the statements that reach too far),
    passed_count, failed_count."""
    tenants = [dict(t, policies=list(t["policies"])) for t in tenants]
    targets = _targets(tenants, platform_zone_id)
    checks = []
    for tenant in tenants:
        scope = tenant["scope"]
        own_missing = [
            "%s on %s" % probe
            for probe in probes(scope, tenant.get("zone_id"))
            if not granting(tenant["policies"], *probe)
        ]
        problems = ["reaches: " + f for f in _foreign(tenant, targets)]
        problems += ["cannot reach its own: " + m for m in own_missing]
        if tenant.get("attached"):
            problems.append("has managed policies attached: " + ", ".join(tenant["attached"]))
        checks.append(
            {
                "id": CHECK_ID,
                "tenant": scope.tenant,
                "role": tenant.get("role") or scope.identity,
                "title": "the tenant role's policy reaches its own resources and no other tenant's",
                "passed": not problems,
                "detail": "; ".join(problems) or "checked against %d other tenants" % (len(tenants) - 1),
            }
        )
    failed = sum(1 for c in checks if not c["passed"])
    return {"checks": checks, "passed_count": len(checks) - failed, "failed_count": failed}


def entries(
    tenants: Iterable[Mapping[str, Any]],
    policies: Iterable[Mapping[str, Any]] | None = None,
    roles: Iterable[Mapping[str, Any]] | None = None,
    zone_ids: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The audit's entries from what amazon.aws read back: ``tenants`` (aws_stack's tenant entries:
    ``tenant``, ``role``, ``scope``) with, in the same order, the iam_policy_info results of their
    roles (``policies``: inline policy names and documents) and the iam_role_info results
    (``roles``: attached managed policies); ``zone_ids``: tenant -> its hosted zone id."""
    tenants = list(tenants or [])
    policies = list(policies or [{}] * len(tenants))
    roles = list(roles or [{}] * len(tenants))
    if not len(tenants) == len(policies) == len(roles):
        raise PlatykusError(
            "aws: %d tenants but %d policy and %d role results; read one of each per tenant, in order"
            % (len(tenants), len(policies), len(roles))
        )
    found = []
    for tenant, inline, role in zip(tenants, policies, roles):
        try:
            scope = TenantAws(**tenant["scope"])
        except (KeyError, TypeError) as err:
            raise PlatykusError("aws.tenants: %r is not a tenant entry of aws_stack (%s)" % (tenant, err)) from err
        named = [
            {"name": p.get("policy_name"), "document": json.loads(d) if isinstance(d, str) else d}
            for p in inline.get("policies") or []
            for d in [p.get("policy_document")]
            if d
        ]
        attached = [a.get("policy_arn") for r in role.get("iam_roles") or [] for a in r.get("attached_policies") or []]
        found.append(
            {
                "scope": scope,
                "role": tenant.get("role") or scope.identity,
                "policies": named,
                "attached": attached,
                "zone_id": (zone_ids or {}).get(scope.tenant),
            }
        )
    return found
