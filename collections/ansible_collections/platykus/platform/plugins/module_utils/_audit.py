# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant isolation audit: read-only checks of what each tenant role can and cannot do.

For every tenant, every role (admin, developer, viewer) and every owner group of that role, a
SubjectAccessReview asks the API server whether user ``audit-<tenant>-<role>`` in that group
(and in ``system:authenticated``, as every real user is) may do things a tenant must not:
touch cluster-scoped resources, other tenants' or the platform's namespaces, quotas, limit
ranges, network policies, its own Namespace, escalate/bind/impersonate, mint service account
tokens or bind cluster-admin. It also asks whether the role can do its job (a binding that
silently went missing passes every "cannot" check). Per namespace it reads the objects that
make isolation work and dry-run creates pods that Pod Security must reject.

Check ids follow the Kubernetes Multi-Tenancy Benchmark (``MTB-``, numbered here) and the CIS
Kubernetes Benchmark section 5 (``CIS-5.x.y``). Nothing is written: SubjectAccessReviews are
not stored and every pod create is ``dryRun=All``.

All API traffic goes through a ``request(method, path, body=None, query=None) -> Response``
function, so the logic is tested with a fake one; :func:`client_requester` adapts a KubeClient.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenant_objects import (
    CI_SERVICE_ACCOUNT,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants import (
    Tenant,
    select_tenants,
    validate_tenants,
)

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
RBAC = "rbac.authorization.k8s.io"
ROLES = ("admin", "developer", "viewer")
WRITE_VERBS = ("create", "update", "patch", "delete")
PROBE_IMAGE = "registry.k8s.io/pause:3.10"
MAX_DETAIL_ITEMS = 5


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


Request = Callable[[str, str, Optional[dict], Optional[dict]], Response]


def client_requester(client: Any) -> Request:
    """Adapt a KubeClient: HTTP errors come back as a Response instead of an exception."""
    from ansible_collections.platykus.platform.plugins.module_utils._kube import ApiException

    def request(method: str, path: str, body: dict | None = None, query: dict | None = None) -> Response:
        try:
            data = client.request(method, path, body=body, query=query)
        except ApiException as err:
            raw = getattr(err, "body", None)
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {"message": str(raw)}
            if not isinstance(parsed, dict):
                parsed = {"message": str(parsed)}
            parsed.setdefault("message", str(getattr(err, "reason", err)))
            return Response(status=int(getattr(err, "status", 0) or 0), body=parsed)
        return Response(status=201 if method == "POST" else 200, body=data)

    return request


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


# -- SubjectAccessReviews -----------------------------------------------------------------------


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
        what = self.resource + ("/" + self.subresource if self.subresource else "")
        if self.group:
            what = "%s.%s" % (what, self.group)
        if self.name:
            what = "%s/%s" % (what, self.name)
        where = " in %s" % self.namespace if self.namespace else " (cluster-wide)"
        return "%s %s%s" % (self.verb, what, where)


def sar_body(user: str, groups: Iterable[str], attr: Attr) -> dict[str, Any]:
    resource = {"verb": attr.verb, "resource": attr.resource, "group": attr.group}
    for key in ("namespace", "name", "subresource"):
        if getattr(attr, key):
            resource[key] = getattr(attr, key)
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": list(groups), "resourceAttributes": resource},
    }


CLUSTER_RESOURCES = (
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    (RBAC, "clusterroles"),
    (RBAC, "clusterrolebindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
)


def _foreign_probes(namespace: str) -> list[Attr]:
    return [
        Attr("get", "secrets", namespace=namespace),
        Attr("list", "secrets", namespace=namespace),
        Attr("list", "pods", namespace=namespace),
        Attr("create", "pods", namespace=namespace),
        Attr("list", "configmaps", namespace=namespace),
    ]


def _denied_checks(
    tenant: Tenant, role: str, other_namespaces: list[str], platform_namespaces: list[str]
) -> list[tuple[str, str, list[Attr]]]:
    """``(check id, description, probes that must all be denied)`` for one tenant role."""
    own = list(tenant.namespaces)
    checks = [
        (
            "MTB-1.1",
            "cannot list or create cluster-scoped resources",
            [Attr(verb, resource, group) for group, resource in CLUSTER_RESOURCES for verb in ("list", "create")],
        ),
        (
            "MTB-1.2",
            "cannot read or write in other tenants' namespaces",
            [probe for ns in other_namespaces for probe in _foreign_probes(ns)],
        ),
        (
            "MTB-1.3",
            "cannot read or write in platform namespaces",
            [probe for ns in platform_namespaces for probe in _foreign_probes(ns)],
        ),
        (
            "MTB-1.4",
            "cannot change resourcequotas or limitranges",
            [
                Attr(verb, resource, namespace=ns)
                for ns in own
                for resource in ("resourcequotas", "limitranges")
                for verb in WRITE_VERBS
            ],
        ),
        (
            "MTB-1.5",
            "cannot change networkpolicies",
            [Attr(verb, "networkpolicies", "networking.k8s.io", namespace=ns) for ns in own for verb in WRITE_VERBS],
        ),
        (
            "MTB-1.6",
            "cannot change or delete its own Namespace",
            [Attr(verb, "namespaces", namespace=ns, name=ns) for ns in own for verb in ("update", "patch", "delete")],
        ),
        (
            "CIS-5.1.8",
            "cannot escalate, bind or impersonate",
            [Attr("escalate", "roles", RBAC, namespace=ns) for ns in own]
            + [Attr("bind", "roles", RBAC, namespace=ns) for ns in own]
            + [Attr("bind", "clusterroles", RBAC, namespace=ns) for ns in own]
            + [Attr("escalate", "clusterroles", RBAC), Attr("bind", "clusterroles", RBAC)]
            + [Attr("impersonate", resource) for resource in ("users", "groups")]
            + [Attr("impersonate", "uids", "authentication.k8s.io")]
            + [Attr("impersonate", "serviceaccounts", namespace=ns) for ns in own],
        ),
        (
            "MTB-1.7",
            "cannot create service account tokens",
            [Attr("create", "serviceaccounts", namespace=ns, subresource="token") for ns in own],
        ),
    ]
    if role == "viewer":
        checks.append(
            (
                "CIS-5.1.2",
                "viewer cannot read secrets",
                [Attr(verb, "secrets", namespace=ns) for ns in own for verb in ("get", "list")],
            )
        )
    return checks


def _allowed_checks(tenant: Tenant, role: str) -> list[Attr]:
    """What the role must be able to do in each of its namespaces (proves the binding exists)."""
    probes = []
    for ns in tenant.namespaces:
        probes.append(Attr("list", "pods", namespace=ns))
        if role in ("admin", "developer"):
            probes += [Attr("create", "deployments", "apps", namespace=ns), Attr("get", "secrets", namespace=ns)]
        if role == "admin":
            probes.append(Attr("create", "serviceaccounts", namespace=ns))
    return probes


def _cluster_admin_probes(tenant: Tenant) -> list[tuple[Attr, Attr, Attr]]:
    return [
        (
            Attr("create", "rolebindings", RBAC, namespace=ns),
            Attr("bind", "clusterroles", RBAC, namespace=ns, name="cluster-admin"),
            Attr("*", "*", "*", namespace=ns),
        )
        for ns in tenant.namespaces
    ]


def _summarize(items: list[str]) -> str:
    shown = items[:MAX_DETAIL_ITEMS]
    more = len(items) - len(shown)
    return "; ".join(shown) + (" and %d more" % more if more > 0 else "")


def _run_parallel(function: Callable[[Any], Any], items: list, workers: int) -> list:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(function, items))


def _ask(request: Request, user: str, group: str, attr: Attr) -> bool:
    response = request("POST", SAR_PATH, sar_body(user, [group, "system:authenticated"], attr), None)
    if response.status not in (200, 201) or not isinstance(response.body, Mapping):
        message = response.body.get("message") if isinstance(response.body, Mapping) else response.body
        raise PlatykusError(
            "isolation audit: SubjectAccessReview for %s failed (%s: %s); the audit needs create on "
            "subjectaccessreviews.authorization.k8s.io" % (attr.describe(), response.status, message)
        )
    return bool((response.body.get("status") or {}).get("allowed"))


def _role_checks(
    request: Request,
    tenants: list[Tenant],
    everyone: list[Tenant],
    platform_namespaces: list[str],
    workers: int,
) -> list[Check]:
    # Collect every question first, ask them all in parallel, then judge.
    plan: list[tuple[Tenant, str, str, str]] = []  # tenant, role, group, user
    questions: set[tuple[str, str, Attr]] = set()
    all_namespaces = {tenant.name: list(tenant.namespaces) for tenant in everyone}
    for tenant in tenants:
        others = [ns for name, spaces in all_namespaces.items() if name != tenant.name for ns in spaces]
        for role in ROLES:
            user = "audit-%s-%s" % (tenant.name, role)
            for group in tenant.owners.get(role, ()):
                plan.append((tenant, role, group, user))
                for _id, _desc, probes in _denied_checks(tenant, role, others, platform_namespaces):
                    questions.update((user, group, probe) for probe in probes)
                questions.update((user, group, probe) for probe in _allowed_checks(tenant, role))
                for triple in _cluster_admin_probes(tenant):
                    questions.update((user, group, probe) for probe in triple)
    ordered = sorted(questions, key=lambda q: (q[0], q[1], repr(q[2])))
    answers = dict(zip(ordered, _run_parallel(lambda q: _ask(request, q[0], q[1], q[2]), ordered, workers)))

    checks: list[Check] = []
    for tenant in tenants:
        others = [ns for name, spaces in all_namespaces.items() if name != tenant.name for ns in spaces]
        for role in ROLES:
            user = "audit-%s-%s" % (tenant.name, role)
            groups = [entry[2] for entry in plan if entry[0] is tenant and entry[1] == role]
            if not groups:
                continue
            for check_id, description, probes in _denied_checks(tenant, role, others, platform_namespaces):
                leaks = [
                    "group %s may %s" % (group, probe.describe())
                    for group in groups
                    for probe in probes
                    if answers[(user, group, probe)]
                ]
                if not probes:
                    detail = "nothing to test here"
                elif leaks:
                    detail = _summarize(leaks)
                else:
                    detail = "%d requests denied for %s" % (len(probes) * len(groups), ", ".join(groups))
                checks.append(Check(check_id, tenant.name, role, "*", description, "fail" if leaks else "pass", detail))
            bound = [
                "group %s may not %s" % (group, probe.describe())
                for group in groups
                for probe in _allowed_checks(tenant, role)
                if not answers[(user, group, probe)]
            ]
            checks.append(
                Check(
                    "MTB-1.9",
                    tenant.name,
                    role,
                    "*",
                    "role is bound and can do its job",
                    "fail" if bound else "pass",
                    _summarize(bound) if bound else "tenant-%s bound to %s" % (role, ", ".join(groups)),
                )
            )
            grants = []
            for group in groups:
                for create, bind, everything in _cluster_admin_probes(tenant):
                    if answers[(user, group, create)] and (
                        answers[(user, group, bind)] or answers[(user, group, everything)]
                    ):
                        grants.append("group %s may bind cluster-admin in %s" % (group, create.namespace))
            checks.append(
                Check(
                    "MTB-1.8",
                    tenant.name,
                    role,
                    "*",
                    "cannot create a rolebinding to cluster-admin",
                    "fail" if grants else "pass",
                    _summarize(grants) if grants else "no rolebinding create with bind on cluster-admin",
                )
            )
    return checks


# -- namespace state ----------------------------------------------------------------------------


def _list(request: Request, path: str) -> tuple[list[dict], str | None]:
    items: list[dict] = []
    token = None
    while True:
        response = request("GET", path, None, {"limit": 500, "continue": token} if token else {"limit": 500})
        if response.status != 200:
            message = response.body.get("message") if isinstance(response.body, Mapping) else response.body
            return items, "GET %s failed (%s: %s)" % (path, response.status, message)
        items.extend(response.body.get("items") or [])
        token = (response.body.get("metadata") or {}).get("continue")
        if not token:
            return items, None


def _probe_pod(name: str, namespace: str, spec_extra: dict, container_security: dict) -> dict:
    container = {
        "name": "probe",
        "image": PROBE_IMAGE,
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "10m", "memory": "16Mi"},
        },
    }
    if container_security:
        container["securityContext"] = container_security
    spec = {"containers": [container], "automountServiceAccountToken": False}
    spec.update(spec_extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "platykus-audit-%s" % name,
            "namespace": namespace,
            "labels": {"platykus.io/audit": "true"},
        },
        "spec": spec,
    }


POD_PROBES = (
    ("MTB-2.1", "privileged containers are rejected", "privileged", {}, {"privileged": True}),
    (
        "MTB-2.2",
        "hostPath volumes are rejected",
        "hostpath",
        {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]},
        {},
    ),
    ("MTB-2.3", "host networking is rejected", "hostnetwork", {"hostNetwork": True}, {}),
    ("MTB-2.4", "host PID namespace is rejected", "hostpid", {"hostPID": True}, {}),
)
# Rejections that say nothing about pod security: the probe itself was wrong.
_INCONCLUSIVE = ("exceeded quota", "must specify limits", "must specify requests", "not found")


def _judge_pod(response: Response) -> tuple[str, str]:
    message = str(response.body.get("message", "")) if isinstance(response.body, Mapping) else str(response.body)
    if response.status in (200, 201):
        return "fail", "a dry-run create was admitted"
    if response.status == 404 or any(text in message for text in _INCONCLUSIVE):
        return "fail", "inconclusive, rejected for another reason (%s): %s" % (response.status, message)
    return "pass", "rejected (%s): %s" % (response.status, message[:160])


def _default_deny(policies: list[dict]) -> bool:
    for policy in policies:
        spec = policy.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if selector.get("matchLabels") or selector.get("matchExpressions"):
            continue
        if (
            set(spec.get("policyTypes") or []) >= {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return True
    return False


def _wildcards(roles: list[dict]) -> list[str]:
    found = []
    for role in roles:
        for rule in role.get("rules") or []:
            for key in ("verbs", "resources", "apiGroups"):
                if "*" in (rule.get(key) or []):
                    found.append("Role %s has '*' in %s" % (role["metadata"]["name"], key))
    return sorted(set(found))


def _namespace_checks(request: Request, tenant: Tenant, namespace: str) -> list[Check]:
    def check(check_id: str, description: str, ok: bool, detail: str) -> Check:
        return Check(check_id, tenant.name, "-", namespace, description, "pass" if ok else "fail", detail)

    response = request("GET", "/api/v1/namespaces/%s" % namespace, None, None)
    if response.status != 200:
        return [check("MTB-0.1", "namespace exists", False, "GET returned %s" % response.status)]
    checks = []
    ns_labels = (response.body.get("metadata") or {}).get("labels") or {}
    enforce = ns_labels.get("pod-security.kubernetes.io/enforce")
    checks.append(
        check(
            "CIS-5.2.1",
            "Pod Security Admission enforces baseline or restricted",
            enforce in ("baseline", "restricted"),
            "enforce=%s (spec asks for %s)" % (enforce or "(unset)", tenant.pod_security),
        )
    )
    checks.append(
        check(
            "MTB-0.2",
            "namespace is labelled for its tenant",
            ns_labels.get(TENANT_LABEL) == tenant.name,
            "%s=%s" % (TENANT_LABEL, ns_labels.get(TENANT_LABEL) or "(unset)"),
        )
    )

    policies, error = _list(request, "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % namespace)
    checks.append(
        check(
            "CIS-5.3.2",
            "a default-deny NetworkPolicy (ingress and egress) is in place",
            error is None and _default_deny(policies),
            error
            or "%d NetworkPolicies: %s" % (len(policies), ", ".join(sorted(p["metadata"]["name"] for p in policies))),
        )
    )
    quotas, error = _list(request, "/api/v1/namespaces/%s/resourcequotas" % namespace)
    needed = {"requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods"}
    covered = set()
    for quota in quotas:
        covered |= set(((quota.get("spec") or {}).get("hard") or {}).keys())
    checks.append(
        check(
            "MTB-3.1",
            "a ResourceQuota caps cpu, memory and pods",
            error is None and needed <= covered,
            error
            or (
                "missing %s" % ", ".join(sorted(needed - covered))
                if needed - covered
                else "capped by %d ResourceQuota(s)" % len(quotas)
            ),
        )
    )
    ranges, error = _list(request, "/api/v1/namespaces/%s/limitranges" % namespace)
    has_defaults = any(
        item.get("type") == "Container" and item.get("default") and item.get("defaultRequest")
        for lr in ranges
        for item in (lr.get("spec") or {}).get("limits") or []
    )
    checks.append(
        check(
            "MTB-3.2",
            "a LimitRange sets container defaults",
            error is None and has_defaults,
            error or ("%d LimitRange(s)" % len(ranges)),
        )
    )

    bindings, error = _list(request, "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % namespace)
    cluster_admin = [
        b["metadata"]["name"]
        for b in bindings
        if (b.get("roleRef") or {}).get("kind") == "ClusterRole" and b["roleRef"].get("name") == "cluster-admin"
    ]
    checks.append(
        check(
            "CIS-5.1.1",
            "no RoleBinding grants cluster-admin",
            error is None and not cluster_admin,
            error
            or (
                "bound by %s" % ", ".join(cluster_admin) if cluster_admin else "%d RoleBindings checked" % len(bindings)
            ),
        )
    )
    builtin = [
        "%s -> %s" % (b["metadata"]["name"], b["roleRef"]["name"])
        for b in bindings
        if (b.get("roleRef") or {}).get("kind") == "ClusterRole" and b["roleRef"].get("name") in ("admin", "edit")
    ]
    checks.append(
        check(
            "MTB-1.10",
            "no RoleBinding uses the built-in admin or edit ClusterRoles",
            error is None and not builtin,
            error or (", ".join(builtin) if builtin else "none"),
        )
    )
    default_bound = [
        b["metadata"]["name"]
        for b in bindings
        for s in b.get("subjects") or []
        if s.get("kind") == "ServiceAccount"
        and s.get("name") == "default"
        and s.get("namespace", namespace) == namespace
    ]
    roles, error = _list(request, "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles" % namespace)
    wildcards = _wildcards(roles)
    checks.append(
        check(
            "CIS-5.1.3",
            "no wildcards in Roles",
            error is None and not wildcards,
            error or (_summarize(wildcards) if wildcards else "%d Roles checked" % len(roles)),
        )
    )
    accounts = {}
    for name in ("default", CI_SERVICE_ACCOUNT):
        response = request("GET", "/api/v1/namespaces/%s/serviceaccounts/%s" % (namespace, name), None, None)
        accounts[name] = response.body if response.status == 200 else None
    default = accounts["default"]
    automount_off = default is not None and default.get("automountServiceAccountToken") is False
    problems = []
    if not automount_off:
        problems.append("default ServiceAccount automounts its token")
    if default_bound:
        problems.append("default ServiceAccount is bound by %s" % ", ".join(default_bound))
    checks.append(
        check(
            "CIS-5.1.5",
            "the default ServiceAccount is not used",
            not problems,
            "; ".join(problems) or "automount off, no bindings",
        )
    )
    ci = accounts[CI_SERVICE_ACCOUNT]
    checks.append(
        check(
            "CIS-5.1.6",
            "ServiceAccount tokens are only mounted where needed",
            ci is not None and ci.get("automountServiceAccountToken") is False,
            (
                "ci-deployer missing"
                if ci is None
                else "ci-deployer automountServiceAccountToken=%s" % ci.get("automountServiceAccountToken")
            ),
        )
    )
    for check_id, description, name, spec_extra, security in POD_PROBES:
        pod = _probe_pod(name, namespace, spec_extra, security)
        response = request("POST", "/api/v1/namespaces/%s/pods" % namespace, pod, {"dryRun": "All"})
        result, detail = _judge_pod(response)
        checks.append(Check(check_id, tenant.name, "-", namespace, description, result, detail))
    return checks


def _cluster_binding_checks(request: Request, tenants: list[Tenant]) -> list[Check]:
    bindings, error = _list(request, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
    checks = []
    for tenant in tenants:
        groups = {group for role in ROLES for group in tenant.owners.get(role, ())}
        found = []
        for binding in bindings:
            for subject in binding.get("subjects") or []:
                if (subject.get("kind") == "Group" and subject.get("name") in groups) or (
                    subject.get("kind") == "ServiceAccount" and subject.get("namespace") in tenant.namespaces
                ):
                    found.append(
                        "%s binds %s %s to ClusterRole %s"
                        % (binding["metadata"]["name"], subject["kind"], subject["name"], binding["roleRef"]["name"])
                    )
        checks.append(
            Check(
                "CIS-5.1.1",
                tenant.name,
                "-",
                "*",
                "no ClusterRoleBinding names the tenant's groups or service accounts",
                "fail" if error or found else "pass",
                error or (_summarize(sorted(found)) if found else "%d ClusterRoleBindings checked" % len(bindings)),
            )
        )
    return checks


def run_audit(
    request: Request,
    tenants: list[Tenant],
    platform_namespaces: Iterable[str] = (),
    workers: int = 8,
    everyone: list[Tenant] | None = None,
) -> AuditReport:
    """Run every check for ``tenants``. The namespaces of ``everyone`` else (all tenants; defaults
    to ``tenants``) and ``platform_namespaces`` are the places a tenant must not reach. Read-only."""
    tenants = list(tenants)
    everyone = list(everyone) if everyone is not None else tenants
    platform = sorted(set(platform_namespaces or ()))
    checks = _role_checks(request, tenants, everyone, platform, workers)
    targets = [(tenant, ns) for tenant in tenants for ns in tenant.namespaces]
    for found in _run_parallel(lambda target: _namespace_checks(request, target[0], target[1]), targets, workers):
        checks.extend(found)
    checks.extend(_cluster_binding_checks(request, tenants))
    order = {tenant.name: index for index, tenant in enumerate(tenants)}
    checks.sort(key=lambda c: (order.get(c.tenant, 0), c.role == "-", c.role, c.namespace, c.id))
    return AuditReport(checks=checks)


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


def audit_tenants(
    connect: Callable[[], Any],
    tenants: Any,
    plans: Any,
    platform_namespaces: Iterable[str] = (),
    tenant: str | None = None,
    workers: int = 8,
) -> AuditReport:
    """Validate the tenant specs, then connect (``connect()`` returns a KubeClient) and audit the
    chosen tenant (or all) against the cluster."""
    everyone = validate_tenants(tenants, plans, platform_namespaces)
    chosen = select_tenants(everyone, tenant)
    return run_audit(client_requester(connect()), chosen, platform_namespaces, workers=workers, everyone=everyone)
