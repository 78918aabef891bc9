# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant admission policies, audited three ways from one registry.

Each :class:`PolicyEntry` names a check id, what it promises, the function that renders its
ValidatingAdmissionPolicies and bindings (``render() -> [policy, binding, ...]``, as onboarding
installs them) and the attacks it must refuse (``attacks(namespace, domains) -> [(what, object)]``).
For every entry the audit checks, under the entry's id:

1. per tenant (``-``/``*``): each policy exists with the platform's variables, validations,
   matchConditions and resource rules, no selector leaving objects out, failurePolicy Fail; each
   binding denies in every tenant namespace (:func:`_audit.hostnames.binding_problems`);
2. per tenant namespace and role: every attack, dry-run created as each owner group of the role
   (impersonating ``audit-<tenant>-<role>``, :mod:`_audit.admission`), is refused, either by RBAC
   (the role may not create that kind at all) or by a message naming one of the entry's policies.
   Anything else fails the check: admitted, or refused for another reason (the probe proved
   nothing). A kind the cluster does not serve (Gateway API before its CRDs) is not tried and says so.
3. per tenant namespace (``-``), when the entry has ``controls``: legitimate objects are admitted
   (as the audit's identity), so a policy that refuses everything does not pass for a strict one.

To add a policy, append an entry to :data:`REGISTRY`. Every create is ``dryRun=All``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.addon_secrets import (
    render_addon_externalsecret_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import (
    hostname_attacks,
    hostname_controls,
    render_hostname_policy,
)
from ansible_collections.platykus.platform.plugins.module_utils._admission.workloads import (
    priority_attacks,
    priority_controls,
    render_priority_policy,
    render_service_policy,
    service_attacks,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.admission import (
    ADMISSION_API_VERSION,
    RoleIdentity,
    dry_run_create,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.hostnames import (
    CHECK_ID as HOSTNAME_CHECK_ID,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.hostnames import (
    DESCRIPTION as HOSTNAME_DESCRIPTION,
)
from ansible_collections.platykus.platform.plugins.module_utils._audit.hostnames import pair_problems
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import Check, Scope, fetched, summarize
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient, Response
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_SECRET_PREFIX,
    AUDIT_LABEL,
    TENANT_ROLES,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import SECRET_STORE_NAME

EXTERNAL_SECRET_API = "external-secrets.io/v1"

Render = Callable[[], list[dict[str, Any]]]
Attacks = Callable[[str, list[str]], list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class PolicyEntry:
    check_id: str
    description: str
    render: Render
    attacks: Attacks
    # Optional: objects the policy must admit (same signature), tried as the audit's own identity,
    # so that a policy refusing everything (a CEL error under failurePolicy Fail) does not pass.
    controls: Attacks | None = None


def addon_externalsecret_attacks(namespace: str, domains: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """An ExternalSecret that would overwrite an add-on's connection Secret (names start with ADDON_SECRET_PREFIX)."""
    spec = {
        "secretStoreRef": {"kind": "SecretStore", "name": SECRET_STORE_NAME},
        "target": {"name": ADDON_SECRET_PREFIX + "audit"},
        "data": [{"secretKey": "password", "remoteRef": {"key": "platykus/audit", "property": "password"}}],
    }
    meta = {"generateName": "platykus-audit-", "namespace": namespace, "labels": {AUDIT_LABEL: "true"}}
    return [
        (
            "ExternalSecret writing an add-on Secret",
            {"apiVersion": EXTERNAL_SECRET_API, "kind": "ExternalSecret", "metadata": meta, "spec": spec},
        )
    ]


REGISTRY: tuple[PolicyEntry, ...] = (
    PolicyEntry(HOSTNAME_CHECK_ID, HOSTNAME_DESCRIPTION, render_hostname_policy, hostname_attacks, hostname_controls),
    # ADDON-1 (_admission.addon_secrets) compares both add-on policies; this one proves the ExternalSecret half at work.
    PolicyEntry(
        "ADDON-2",
        "an admission policy refuses ExternalSecrets that write add-on connection Secrets",
        render_addon_externalsecret_policy,
        addon_externalsecret_attacks,
    ),
    PolicyEntry(
        "SCHED-1",
        "an admission policy refuses pods and pod templates outside the plan's PriorityClasses",
        render_priority_policy,
        priority_attacks,
        priority_controls,
    ),
    PolicyEntry(
        "SVC-1",
        "an admission policy refuses Service externalIPs, ExternalName and chosen load balancer addresses",
        render_service_policy,
        service_attacks,
    ),
)


# -- 1. the policies as configured ------------------------------------------------------------------
def _pairs(rendered: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    policies = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [o for o in rendered if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    return [(policies[b["spec"]["policyName"]], b) for b in bindings]


def config_problems(client: KubeClient, entry: PolicyEntry) -> list[str]:
    problems: list[str] = []
    for want_policy, want_binding in _pairs(entry.render()):
        policy, policy_error = fetched(
            client, ADMISSION_API_VERSION, "ValidatingAdmissionPolicy", want_policy["metadata"]["name"]
        )
        binding, binding_error = fetched(
            client, ADMISSION_API_VERSION, "ValidatingAdmissionPolicyBinding", want_binding["metadata"]["name"]
        )
        errors = [e for e in (policy_error, binding_error) if e]
        problems += errors or pair_problems(policy, binding, want_policy, want_binding)
    return problems


def policy_config_checks(
    client: KubeClient, tenants: Iterable, registry: Iterable[PolicyEntry] = REGISTRY
) -> list[Check]:
    """Check 1 of each entry, per tenant (the policies are cluster-wide: every tenant's row tells the same)."""
    tenants = list(tenants)
    checks = []
    for entry in registry:
        problems = config_problems(client, entry)
        names = ", ".join(p["metadata"]["name"] for p, _b in _pairs(entry.render()))
        detail = summarize(problems) or "%s in force and bound in every tenant namespace" % names
        checks += [Scope(t.name).check(entry.check_id, entry.description, not problems, detail) for t in tenants]
    return checks


def prime(client: KubeClient, registry: Iterable[PolicyEntry] = REGISTRY) -> None:
    """Discover the attacks' kinds once, before the audit's worker threads start."""
    for entry in registry:
        for _what, obj in entry.attacks("probe", []) + (
            entry.controls("probe", ["probe.invalid"]) if entry.controls else []
        ):
            _path(client, obj)


# -- 2. the policies at work ------------------------------------------------------------------------
def judge(response: Response, policy_names: list[str]) -> tuple[str, str]:
    """``pass`` when the dry run was refused by RBAC or by one of ``policy_names``."""
    message = response.message
    if response.ok:
        return "fail", "admitted"
    if response.status == 403 and "cannot impersonate" in message:
        # Otherwise read as "refused": the audit would pass without having tried anything.
        raise PlatykusError(
            "isolation audit: cannot act as a tenant role (%s); the audit needs impersonate on users and groups"
            % message
        )
    if response.status == 403 and "cannot create resource" in message:
        return "pass", "refused by RBAC"
    for name in policy_names:
        if "ValidatingAdmissionPolicy '%s'" % name in message:
            return "pass", "refused by %s" % name
    return "fail", "refused for another reason (%s): %s" % (response.status, message[:200])


def _path(client: KubeClient, obj: dict) -> str | None:
    """The create path of the attack's kind, or None when the cluster does not serve it."""
    try:
        return client.path(obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"])
    except KubeApiError as err:
        if err.status == 404:
            return None
        raise


def _role_check(
    entry: PolicyEntry, scope: Scope, role: str, tried: list[tuple[str, str, str, str]], skipped: list[str]
) -> Check:
    failed = ["%s as %s: %s" % (what, group, detail) for what, group, result, detail in tried if result == "fail"]
    passed = sorted({"%s" % detail for _w, _g, result, detail in tried if result == "pass"})
    detail = summarize(failed) if failed else "%d attacks refused (%s)" % (len(tried), ", ".join(passed))
    if skipped and not failed:
        detail += "; not served, not tried: %s" % ", ".join(sorted(set(skipped)))
    return Check(
        entry.check_id,
        scope.tenant,
        role,
        scope.namespace,
        "refuses the attacks: %s" % entry.description,
        "fail" if failed else "pass",
        detail,
    )


def _served(client: KubeClient, found: list[tuple[str, dict]]) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """The objects whose kind the cluster serves, with their create path; the kinds it does not."""
    served, skipped = [], []
    for what, obj in found:
        path = _path(client, obj)
        if path is None:
            skipped.append(obj["kind"])
        else:
            served.append((what, path, obj))
    return served, skipped


def _control_check(client: KubeClient, entry: PolicyEntry, scope: Scope, domains: list[str]) -> list[Check]:
    if entry.controls is None:
        return []
    controls, _skipped = _served(client, entry.controls(scope.namespace, domains))
    if not controls:
        return []
    refused = []
    for what, path, obj in controls:
        response = dry_run_create(client, path, obj)
        if not response.ok:
            refused.append("%s refused (%s): %s" % (what, response.status, response.message[:200]))
    detail = summarize(refused) or "%d legitimate objects admitted" % len(controls)
    description = "admits legitimate objects: %s" % entry.description
    return [scope.check(entry.check_id, description, not refused, detail)]


def policy_attack_checks(
    client: KubeClient,
    scope: Scope,
    domains: Iterable[str],
    identities: list[RoleIdentity],
    registry: Iterable[PolicyEntry] = REGISTRY,
) -> list[Check]:
    """Check 2 of each entry in one tenant namespace: one row per tenant role."""
    checks = []
    for entry in registry:
        names = [p["metadata"]["name"] for p, _b in _pairs(entry.render())]
        attacks, skipped = _served(client, entry.attacks(scope.namespace, list(domains)))
        for role in TENANT_ROLES:
            tried = [
                (what, i.group, *judge(dry_run_create(i.client, path, obj), names))
                for i in identities
                if i.role == role
                for what, path, obj in attacks
            ]
            if tried or any(i.role == role for i in identities):
                checks.append(_role_check(entry, scope, role, tried, skipped))
        checks += _control_check(client, entry, scope, list(domains))
    return checks
