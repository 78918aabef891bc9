# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The isolation audit's AWS side (PLK-AWS-1): no tenant role's policy reaches another tenant's
resources, and each reaches its own (so the check can fail both ways).

Evaluated on the policy documents, not with IAM's policy simulator: moto 5.2.5 answers
SimulatePrincipalPolicy and SimulateCustomPolicy with "not implemented". The evaluation follows
IAM's rules for identity policies without conditions: an explicit Deny wins, otherwise an Allow whose
Action (or NotAction) and Resource (or NotResource) match; ``*`` and ``?`` are wildcards, actions
match case-insensitively. A statement with a Condition counts as allowing (the safe side for an
audit that looks for reach). Resource policies (bucket policies) and SCPs are not considered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import (
    BUCKET_ACTIONS,
    OBJECT_ACTIONS,
    SECRET_READ_ACTIONS,
    TenantAws,
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


def probes(scope: TenantAws) -> list[tuple[str, str]]:
    """(action, ARN) pairs that reach the tenant's own resources: a secret under its prefix (with the
    random suffix Secrets Manager appends), its bucket, an object in it."""
    secret = scope.secret_arn("db-AbCdEf")
    return (
        [(action, secret) for action in SECRET_READ_ACTIONS]
        + [(action, scope.bucket_arn()) for action in BUCKET_ACTIONS]
        + [(action, scope.bucket_arn("/data/file")) for action in OBJECT_ACTIONS]
    )


def audit(tenants: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``tenants``: each with ``scope`` (TenantAws), ``policies`` (the role's inline policy documents as
    IAM holds them) and optionally ``attached`` (managed policy ARNs: a tenant role has none, so any
    is a failure, whatever it grants). Returns checks (one per tenant), passed_count, failed_count."""
    tenants = list(tenants)
    checks = []
    for tenant in tenants:
        scope, policies = tenant["scope"], list(tenant["policies"])
        own_missing = [
            "%s on %s" % probe for probe in probes(scope) if not policies_allow(policies, *probe)
        ]  # fmt: skip
        foreign = [
            "%s on %s (tenant %s)" % (action, arn, other["scope"].tenant)
            for other in tenants
            if other["scope"].tenant != scope.tenant
            for action, arn in probes(other["scope"])
            if policies_allow(policies, action, arn)
        ]
        problems = ["reaches " + f for f in foreign] + ["cannot reach its own: " + m for m in own_missing]
        if tenant.get("attached"):
            problems.append("has managed policies attached: " + ", ".join(tenant["attached"]))
        checks.append(
            {
                "id": CHECK_ID,
                "tenant": scope.tenant,
                "title": "the tenant role's policy reaches its own resources and no other tenant's",
                "passed": not problems,
                "detail": "; ".join(problems) or "checked against %d other tenants" % (len(tenants) - 1),
            }
        )
    failed = sum(1 for c in checks if not c["passed"])
    return {"checks": checks, "passed_count": len(checks) - failed, "failed_count": failed}
