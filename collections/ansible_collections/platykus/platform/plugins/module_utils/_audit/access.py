# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each tenant role may do, as the API server's authorizer answers SubjectAccessReviews.

For every tenant role with owner groups, user ``audit-<tenant>-<role>`` in each group (and in
``system:authenticated``, as every real user is) is asked about things a tenant must not do
and about what the role is for (a binding that silently went missing passes every "cannot"
check). The questions are collected first, asked once each in parallel, then judged.
SubjectAccessReviews are not stored, so this writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._audit.report import (
    ANY_NAMESPACE,
    Check,
    Scope,
    audit_user,
    run_parallel,
    summarize,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import CI_SERVICE_ACCOUNT, TENANT_ROLES
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

RBAC_GROUP = "rbac.authorization.k8s.io"
SAR_API_VERSION = "authorization.k8s.io/v1"
WRITE_VERBS = ("create", "update", "patch", "delete")
CLUSTER_RESOURCES = (
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    (RBAC_GROUP, "clusterroles"),
    (RBAC_GROUP, "clusterrolebindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
)


@dataclass(frozen=True)
class Attr:
    """The resourceAttributes of one SubjectAccessReview."""

    verb: str
    resource: str
    group: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""

    def describe(self) -> str:
        # Written like the REST path: serviceaccounts/ci-deployer/token.
        what = self.resource + ("/" + self.name if self.name else "")
        what += "/" + self.subresource if self.subresource else ""
        if self.group:
            what = "%s.%s" % (what, self.group)
        where = " in %s" % self.namespace if self.namespace else " (cluster-wide)"
        return "%s %s%s" % (self.verb, what, where)


def sar_body(user: str, groups: Iterable[str], attr: Attr) -> dict[str, Any]:
    resource = {"verb": attr.verb, "resource": attr.resource, "group": attr.group}
    for key in ("namespace", "name", "subresource"):
        if getattr(attr, key):
            resource[key] = getattr(attr, key)
    return {
        "apiVersion": SAR_API_VERSION,
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": list(groups), "resourceAttributes": resource},
    }


# -- what a role must not do, concern by concern ---------------------------------------------


@dataclass(frozen=True)
class Reach:
    """The namespaces one tenant is audited against: its own, other tenants', the platform's."""

    own: tuple[str, ...]
    others: tuple[str, ...]
    platform: tuple[str, ...]


def _cluster_scope_probes(reach: Reach) -> list[Attr]:
    return [Attr(verb, resource, group) for group, resource in CLUSTER_RESOURCES for verb in ("list", "create")]


def _foreign_probes(namespaces: Iterable[str]) -> list[Attr]:
    return [
        probe
        for ns in namespaces
        for probe in (
            Attr("get", "secrets", namespace=ns),
            Attr("list", "secrets", namespace=ns),
            Attr("list", "pods", namespace=ns),
            Attr("create", "pods", namespace=ns),
            Attr("list", "configmaps", namespace=ns),
        )
    ]


def _quota_probes(reach: Reach) -> list[Attr]:
    return [
        Attr(verb, resource, namespace=ns)
        for ns in reach.own
        for resource in ("resourcequotas", "limitranges")
        for verb in WRITE_VERBS
    ]


def _network_policy_probes(reach: Reach) -> list[Attr]:
    return [
        Attr(verb, "networkpolicies", "networking.k8s.io", namespace=ns) for ns in reach.own for verb in WRITE_VERBS
    ]


def _own_namespace_probes(reach: Reach) -> list[Attr]:
    return [
        Attr(verb, "namespaces", namespace=ns, name=ns) for ns in reach.own for verb in ("update", "patch", "delete")
    ]


def _escalation_probes(reach: Reach) -> list[Attr]:
    own = reach.own
    return (
        [Attr("escalate", "roles", RBAC_GROUP, namespace=ns) for ns in own]
        + [Attr("bind", "roles", RBAC_GROUP, namespace=ns) for ns in own]
        + [Attr("bind", "clusterroles", RBAC_GROUP, namespace=ns) for ns in own]
        + [Attr("escalate", "clusterroles", RBAC_GROUP), Attr("bind", "clusterroles", RBAC_GROUP)]
        + [Attr("impersonate", resource) for resource in ("users", "groups")]
        + [Attr("impersonate", "uids", "authentication.k8s.io")]
        + [Attr("impersonate", "serviceaccounts", namespace=ns) for ns in own]
    )


def _token_probes(reach: Reach) -> list[Attr]:
    """TokenRequests anywhere: every namespace (cluster-wide), each namespace the tenant can see,
    and the CI ServiceAccount by name (a grant limited to resourceNames answers only then)."""
    token = dict(verb="create", resource="serviceaccounts", subresource="token")
    return (
        [Attr(**token)]
        + [Attr(namespace=ns, **token) for ns in reach.own + reach.others + reach.platform]
        + [Attr(namespace=ns, name=CI_SERVICE_ACCOUNT, **token) for ns in reach.own]
    )


def _secret_read_probes(reach: Reach) -> list[Attr]:
    return [Attr(verb, "secrets", namespace=ns) for ns in reach.own for verb in ("get", "list")]


# (check id, description, probes that must all be denied, roles it applies to: None for all)
DENIED_CHECKS: tuple[tuple[str, str, Callable[[Reach], list[Attr]], tuple[str, ...] | None], ...] = (
    ("MTB-1.1", "cannot list or create cluster-scoped resources", _cluster_scope_probes, None),
    ("MTB-1.2", "cannot read or write in other tenants' namespaces", lambda reach: _foreign_probes(reach.others), None),
    ("MTB-1.3", "cannot read or write in platform namespaces", lambda reach: _foreign_probes(reach.platform), None),
    ("MTB-1.4", "cannot change resourcequotas or limitranges", _quota_probes, None),
    ("MTB-1.5", "cannot change networkpolicies", _network_policy_probes, None),
    ("MTB-1.6", "cannot change or delete its own Namespace", _own_namespace_probes, None),
    ("CIS-5.1.8", "cannot escalate, bind or impersonate", _escalation_probes, None),
    ("MTB-1.7", "cannot create service account tokens", _token_probes, None),
    ("CIS-5.1.2", "viewer cannot read secrets", _secret_read_probes, ("viewer",)),
)


def denied_checks(role: str, reach: Reach) -> list[tuple[str, str, list[Attr]]]:
    """``(check id, description, probes that must all be denied)`` for one tenant role."""
    return [
        (check_id, text, probes(reach))
        for check_id, text, probes, roles in DENIED_CHECKS
        if roles is None or role in roles
    ]


def allowed_probes(tenant: Tenant, role: str) -> list[Attr]:
    """What the role must be able to do in each of its namespaces (proves the binding exists)."""
    probes = []
    for ns in tenant.namespaces:
        probes.append(Attr("list", "pods", namespace=ns))
        if role in ("admin", "developer"):
            probes += [Attr("create", "deployments", "apps", namespace=ns), Attr("get", "secrets", namespace=ns)]
        if role == "admin":
            probes.append(Attr("create", "serviceaccounts", namespace=ns))
    return probes


def cluster_admin_probes(tenant: Tenant) -> list[tuple[Attr, Attr, Attr]]:
    """Per namespace: create a rolebinding, and either bind cluster-admin or already hold everything."""
    return [
        (
            Attr("create", "rolebindings", RBAC_GROUP, namespace=ns),
            Attr("bind", "clusterroles", RBAC_GROUP, namespace=ns, name="cluster-admin"),
            Attr("*", "*", "*", namespace=ns),
        )
        for ns in tenant.namespaces
    ]


# -- who is asked ------------------------------------------------------------------------------

Question = tuple[str, str, Attr]  # user, group, attributes


@dataclass
class RoleSubject:
    """One tenant role with owner groups, and every question the audit asks about it."""

    tenant: Tenant
    role: str
    groups: tuple[str, ...]
    denied: list[tuple[str, str, list[Attr]]]
    allowed: list[Attr]
    cluster_admin: list[tuple[Attr, Attr, Attr]]

    @property
    def user(self) -> str:
        return audit_user(self.tenant.name, self.role)

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant.name, self.role, ANY_NAMESPACE)

    def questions(self) -> set[Question]:
        probes = {probe for _id, _text, probes in self.denied for probe in probes}
        probes.update(self.allowed)
        probes.update(probe for triple in self.cluster_admin for probe in triple)
        return {(self.user, group, probe) for group in self.groups for probe in probes}


def role_subjects(tenants: list[Tenant], everyone: list[Tenant], platform_namespaces: list[str]) -> list[RoleSubject]:
    subjects = []
    for tenant in tenants:
        others = tuple(ns for other in everyone if other.name != tenant.name for ns in other.namespaces)
        reach = Reach(tuple(tenant.namespaces), others, tuple(platform_namespaces))
        for role in TENANT_ROLES:
            groups = tuple(tenant.owners.get(role, ()))
            if groups:
                subjects.append(
                    RoleSubject(
                        tenant,
                        role,
                        groups,
                        denied_checks(role, reach),
                        allowed_probes(tenant, role),
                        cluster_admin_probes(tenant),
                    )
                )
    return subjects


def _ask(client: KubeClient, question: Question) -> bool:
    user, group, attr = question
    try:
        review = client.create(sar_body(user, [group, "system:authenticated"], attr))
    except KubeApiError as err:
        raise PlatykusError(
            "isolation audit: SubjectAccessReview for %s failed (%s); the audit needs create on "
            "subjectaccessreviews.authorization.k8s.io" % (attr.describe(), err)
        ) from err
    return bool(((review or {}).get("status") or {}).get("allowed"))


def ask_all(client: KubeClient, subjects: list[RoleSubject], workers: int) -> dict[Question, bool]:
    """Every distinct question once, in parallel."""
    questions = sorted(set().union(*(s.questions() for s in subjects)), key=lambda q: (q[0], q[1], repr(q[2])))
    return dict(zip(questions, run_parallel(lambda question: _ask(client, question), questions, workers)))


# -- judging the answers -----------------------------------------------------------------------


def _denied_results(subject: RoleSubject, answers: dict[Question, bool]) -> list[Check]:
    checks = []
    for check_id, description, probes in subject.denied:
        leaks = [
            "group %s may %s" % (group, probe.describe())
            for group in subject.groups
            for probe in probes
            if answers[(subject.user, group, probe)]
        ]
        if not probes:
            detail = "nothing to test here"
        elif leaks:
            detail = summarize(leaks)
        else:
            detail = "%d requests denied for %s" % (len(probes) * len(subject.groups), ", ".join(subject.groups))
        checks.append(subject.scope.check(check_id, description, not leaks, detail))
    return checks


def _bound_result(subject: RoleSubject, answers: dict[Question, bool]) -> Check:
    missing = [
        "group %s may not %s" % (group, probe.describe())
        for group in subject.groups
        for probe in subject.allowed
        if not answers[(subject.user, group, probe)]
    ]
    detail = summarize(missing) if missing else "tenant-%s bound to %s" % (subject.role, ", ".join(subject.groups))
    return subject.scope.check("MTB-1.9", "role is bound and can do its job", not missing, detail)


def _cluster_admin_result(subject: RoleSubject, answers: dict[Question, bool]) -> Check:
    grants = [
        "group %s may bind cluster-admin in %s" % (group, create.namespace)
        for group in subject.groups
        for create, bind, everything in subject.cluster_admin
        if answers[(subject.user, group, create)]
        and (answers[(subject.user, group, bind)] or answers[(subject.user, group, everything)])
    ]
    detail = summarize(grants) if grants else "no rolebinding create with bind on cluster-admin"
    return subject.scope.check("MTB-1.8", "cannot create a rolebinding to cluster-admin", not grants, detail)


def role_checks(
    client: KubeClient, tenants: list[Tenant], everyone: list[Tenant], platform_namespaces: list[str], workers: int
) -> list[Check]:
    """The SubjectAccessReview checks of every role of ``tenants``; ``everyone`` else is off limits."""
    subjects = role_subjects(tenants, everyone, platform_namespaces)
    answers = ask_all(client, subjects, workers)
    checks: list[Check] = []
    for subject in subjects:
        checks += _denied_results(subject, answers)
        checks.append(_bound_result(subject, answers))
        checks.append(_cluster_admin_result(subject, answers))
    return checks
