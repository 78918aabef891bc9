# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's credential checks: no tenant role can read an AWS access key the platform made.

- PLK-CRED-1 (per tenant role): every Secret labelled AWS_ACCESS_KEY_LABEL, wherever it is, must be
  refused to the role for get, list and watch (SubjectAccessReviews as ``audit-<tenant>-<role>`` in
  each owner group); and no tenant namespace may still hold the key Secret of earlier versions
  (CREDENTIALS_SECRET_NAME), which tenant developers can read.
- PLK-AWS-2 (per identity, given the identities tenant_aws_info read from IAM): no IAM user or role
  made for a tenant that is no longer in the inventory; a removed tenant's key must not keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._audit.access import Attr, _ask
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import (
    Check,
    Scope,
    audit_user,
    run_parallel,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AWS_ACCESS_KEY_LABEL, TENANT_ROLES
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import CREDENTIALS_SECRET_NAME
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

CRED_CHECK = "PLK-CRED-1"
CRED_TITLE = "cannot read any AWS access key the platform made"
LEFTOVER_CHECK = "PLK-AWS-2"
LEFTOVER_TITLE = "no IAM identity of a tenant no longer in the inventory"
READ_VERBS = ("get", "list", "watch")


def _key_secrets(client: KubeClient, tenants: list[Tenant]) -> tuple[list[tuple[str, str]], list[str]]:
    """(namespace, name) of the platform's key Secrets (by label, cluster-wide); the old in-namespace ones."""
    labelled = [
        (s["metadata"]["namespace"], s["metadata"]["name"])
        for s in client.list_all("v1", "Secret", label_selector=AWS_ACCESS_KEY_LABEL)
    ]
    old = [
        "%s/%s" % (ns, CREDENTIALS_SECRET_NAME)
        for tenant in tenants
        for ns in tenant.namespaces
        if client.get("v1", "Secret", CREDENTIALS_SECRET_NAME, ns) is not None
    ]
    return labelled, old


def credential_checks(client: KubeClient, tenants: list[Tenant], workers: int = 8) -> list[Check]:
    """PLK-CRED-1 per tenant role with owner groups: name every key Secret it can read."""
    labelled, old = _key_secrets(client, tenants)
    subjects = [(tenant, role, tuple(tenant.owners.get(role, ()))) for tenant in tenants for role in TENANT_ROLES]
    subjects = [s for s in subjects if s[2]]
    questions = sorted(
        {
            (audit_user(tenant.name, role), group, _attr(verb, namespace, name))
            for tenant, role, groups in subjects
            for group in groups
            for namespace, name in labelled
            for verb in READ_VERBS
        },
        key=repr,
    )
    answers = dict(zip(questions, run_parallel(lambda q: _ask(client, q), questions, workers)))
    checks = []
    for tenant, role, groups in subjects:
        user = audit_user(tenant.name, role)
        readable = [
            "%s %s/%s" % (verb, namespace, name)
            for namespace, name in labelled
            for verb in READ_VERBS
            if any(answers[(user, group, _attr(verb, namespace, name))] for group in groups)
        ]
        problems = ["can " + r for r in readable] + [
            "key Secret %s of earlier versions is in a tenant namespace (rerun tenant-onboarding)" % ref
            for ref in old
            if ref.split("/", 1)[0] in tenant.namespaces
        ]
        detail = "; ".join(problems) or "%d key Secret(s), none readable" % len(labelled)
        checks.append(Scope(tenant.name, role).check(CRED_CHECK, CRED_TITLE, not problems, detail))
    return checks


def _attr(verb: str, namespace: str, name: str) -> Attr:
    return Attr(verb, "secrets", namespace=namespace, name=name if verb == "get" else "")


def leftover_checks(identities: Iterable[Mapping[str, Any]], everyone: Iterable[str]) -> list[Check]:
    """PLK-AWS-2: one failed check per identity whose tenant is gone (naming its active keys), or one pass."""
    known, identities = set(everyone), list(identities)
    gone = [i for i in identities if i.get("tenant") not in known]
    checks = [
        Scope(str(i.get("tenant") or "?"), str(i.get("name")), "aws").check(
            LEFTOVER_CHECK,
            LEFTOVER_TITLE,
            False,
            "IAM %s %s of removed tenant '%s' still exists%s; run tenant-offboarding.yml -e tenant=%s"
            % (
                i.get("kind", "user"),
                i.get("name"),
                i.get("tenant"),
                " with active key(s) %s" % ", ".join(i["active_keys"]) if i.get("active_keys") else "",
                i.get("tenant"),
            ),
        )
        for i in gone
    ]
    if not checks:
        detail = "%d identities, each of a tenant in the inventory" % len(identities)
        checks.append(Scope("-", "-", "aws").check(LEFTOVER_CHECK, LEFTOVER_TITLE, True, detail))
    return checks
