# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The isolation audit's results (checks, report, table) and the helpers its check families share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient

MAX_DETAIL_ITEMS = 5
# The role column of checks that are not about one role, the namespace column of checks that
# span all of a tenant's namespaces.
ANY_ROLE = "-"
ANY_NAMESPACE = "*"

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Check:
    id: str
    tenant: str
    role: str
    namespace: str
    description: str
    result: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "role": self.role,
            "namespace": self.namespace,
            "description": self.description,
            "result": self.result,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Scope:
    """Where a check applies: one tenant, and one role and/or namespace of it."""

    tenant: str
    role: str = ANY_ROLE
    namespace: str = ANY_NAMESPACE

    def check(self, check_id: str, description: str, ok: bool, detail: str) -> Check:
        return Check(check_id, self.tenant, self.role, self.namespace, description, "pass" if ok else "fail", detail)


@dataclass
class AuditReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.result == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": [check.to_dict() for check in self.checks],
            # Not "failed"/"passed": Ansible reads a truthy "failed" key as a failed task.
            "failed_count": len(self.failed),
            "passed_count": len(self.checks) - len(self.failed),
            "table": render_table(self.checks),
        }


def render_table(checks: Iterable[Check], detail_width: int = 70) -> str:
    """A plain-text table: RESULT, ID, TENANT, ROLE, NAMESPACE, CHECK, DETAIL."""
    headers = ("RESULT", "ID", "TENANT", "ROLE", "NAMESPACE", "CHECK", "DETAIL")
    rows = []
    for check in checks:
        detail = check.detail if len(check.detail) <= detail_width else check.detail[: detail_width - 3] + "..."
        rows.append(
            (check.result.upper(), check.id, check.tenant, check.role, check.namespace, check.description, detail)
        )
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(headers)).rstrip()]
    lines += ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines)


def audit_user(tenant: str, role: str) -> str:
    """The user the audit asks about (or acts as) for one tenant role, always with an owner group."""
    return "audit-%s-%s" % (tenant, role)


def summarize(items: list[str]) -> str:
    shown = items[:MAX_DETAIL_ITEMS]
    more = len(items) - len(shown)
    return "; ".join(shown) + (" and %d more" % more if more > 0 else "")


def run_parallel(function: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(function, items))


# A read that fails becomes a failed check saying why, not an aborted audit: the other checks
# still tell the operator what holds.
def listed(
    client: KubeClient, api_version: str, kind: str, namespace: str | None = None
) -> tuple[list[dict], str | None]:
    """Every object of a kind, or ``([], error)``."""
    try:
        return client.list_all(api_version, kind, namespace=namespace), None
    except KubeApiError as err:
        return [], str(err)


def fetched(
    client: KubeClient, api_version: str, kind: str, name: str, namespace: str | None = None
) -> tuple[dict | None, str | None]:
    """One object (None when it does not exist), or ``(None, error)``."""
    try:
        return client.get(api_version, kind, name, namespace=namespace), None
    except KubeApiError as err:
        return None, str(err)
