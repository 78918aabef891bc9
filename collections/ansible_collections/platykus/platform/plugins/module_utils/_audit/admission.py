# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What admission must refuse in tenant namespaces, tried with server-side dry runs.

- Pod Security: privileged, hostPath, hostNetwork and hostPID pods (as the audit's own identity;
  Pod Security does not look at who asks).
- Long-lived ServiceAccount token Secrets: tenant developers and admins may write Secrets, and a
  Secret of type ``kubernetes.io/service-account-token`` naming ``ci-deployer`` is filled by the
  token controller with a token that never expires. The ValidatingAdmissionPolicy
  ``platykus-deny-sa-token-secrets`` refuses them; the audit reads the policy and its binding,
  then tries such a Secret as each tenant role (impersonating ``audit-<tenant>-<role>`` in each
  owner group, so a policy that exempts some users is caught too).

Every create is ``dryRun=All``: nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._audit.addon_secrets import addon_policy_checks
from ansible_collections.platykus.platform.plugins.module_utils._audit.report import (
    Check,
    Scope,
    audit_user,
    fetched,
    summarize,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, Response
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AUDIT_LABEL,
    CI_SERVICE_ACCOUNT,
    SA_TOKEN_POLICY_NAME,
    SA_TOKEN_SECRET_TYPE,
    TENANT_LABEL,
    TENANT_ROLES,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

PROBE_IMAGE = "registry.k8s.io/pause:3.10"
ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
# Refusals that say nothing about the admission rule under test: the probe itself was wrong.
_INCONCLUSIVE = ("exceeded quota", "must specify limits", "must specify requests", "not found", "already exists")


def judge_refusal(response: Response) -> tuple[str, str]:
    """``pass`` when the API server refused the dry run for a reason other than the probe's own fault."""
    message = response.message
    if response.ok:
        return "fail", "a dry-run create was admitted"
    if response.status == 404 or any(text in message for text in _INCONCLUSIVE):
        return "fail", "inconclusive, rejected for another reason (%s): %s" % (response.status, message)
    return "pass", "rejected (%s): %s" % (response.status, message[:160])


def dry_run_create(client: KubeClient, path: str, obj: dict) -> Response:
    # call(), not create(): a refusal is the answer the audit wants, not an error.
    meta = obj["metadata"]
    return client.call(
        "POST",
        path,
        body=obj,
        query={"dryRun": "All"},
        verb="dry-run create",
        target="%s %s/%s" % (obj["kind"], meta["namespace"], meta.get("name") or meta.get("generateName")),
    )


# -- Pod Security -------------------------------------------------------------------------------

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


def probe_pod(name: str, namespace: str, spec_extra: dict, container_security: dict) -> dict:
    """A pod that fits any quota and LimitRange, so only Pod Security can refuse it."""
    container: dict[str, Any] = {
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
        "metadata": {"name": "platykus-audit-%s" % name, "namespace": namespace, "labels": {AUDIT_LABEL: "true"}},
        "spec": spec,
    }


def pod_security_checks(client: KubeClient, scope: Scope) -> list[Check]:
    path = client.path("v1", "Pod", scope.namespace)
    checks = []
    for check_id, description, name, spec_extra, security in POD_PROBES:
        result, detail = judge_refusal(
            dry_run_create(client, path, probe_pod(name, scope.namespace, spec_extra, security))
        )
        checks.append(Check(check_id, scope.tenant, scope.role, scope.namespace, description, result, detail))
    return checks


# -- the token Secret policy as configured --------------------------------------------------------


def _empty(selector: dict | None) -> bool:
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


def _selects_every_tenant_namespace(selector: dict | None) -> bool:
    """Empty (every namespace) or only ``TENANT_LABEL Exists``."""
    selector = selector or {}
    return not selector.get("matchLabels") and all(
        term.get("key") == TENANT_LABEL and term.get("operator") == "Exists"
        for term in selector.get("matchExpressions") or []
    )


def _covers_secret_create(rules: Iterable[dict]) -> bool:
    # CREATE is what matters: a Secret's type is immutable, so no UPDATE can turn one into a token Secret.
    return any(
        {"", "*"} & set(rule.get("apiGroups") or [])
        and {"secrets", "*"} & set(rule.get("resources") or [])
        and {"CREATE", "*"} & set(rule.get("operations") or [])
        for rule in rules
    )


def _match_problems(what: str, match: dict, rules_required: bool) -> list[str]:
    problems = []
    rules = match.get("resourceRules") or []
    if (rules or rules_required) and not _covers_secret_create(rules):
        problems.append("%s resourceRules do not match CREATE of secrets" % what)
    if not _selects_every_tenant_namespace(match.get("namespaceSelector")):
        problems.append("%s namespaceSelector does not select every %s namespace" % (what, TENANT_LABEL))
    if not _empty(match.get("objectSelector")):
        problems.append("%s has an objectSelector: a Secret without those labels escapes" % what)
    if match.get("excludeResourceRules"):
        problems.append("%s has excludeResourceRules" % what)
    return problems


def policy_problems(policy: dict | None) -> list[str]:
    """What keeps a ValidatingAdmissionPolicy from refusing every service-account-token Secret."""
    if policy is None:
        return ["ValidatingAdmissionPolicy %s does not exist" % SA_TOKEN_POLICY_NAME]
    spec = policy.get("spec") or {}
    problems = _match_problems("the policy's matchConstraints", spec.get("matchConstraints") or {}, True)
    if spec.get("failurePolicy") == "Ignore":
        problems.append("failurePolicy is Ignore: a policy error would admit the Secret")
    expressions = [str(v.get("expression") or "") for v in spec.get("validations") or []]
    # CEL is not evaluated here; the dry runs (MTB-1.13) prove the expression works.
    if not any(SA_TOKEN_SECRET_TYPE in e and "object.type" in e for e in expressions):
        problems.append("no validation compares object.type with %s" % SA_TOKEN_SECRET_TYPE)
    return problems


def binding_problems(binding: dict | None) -> list[str]:
    """What keeps the binding from enforcing the policy in every tenant namespace."""
    if binding is None:
        return ["ValidatingAdmissionPolicyBinding %s does not exist" % SA_TOKEN_POLICY_NAME]
    spec = binding.get("spec") or {}
    problems = []
    if spec.get("policyName") != SA_TOKEN_POLICY_NAME:
        problems.append("the binding names policy %s, not %s" % (spec.get("policyName"), SA_TOKEN_POLICY_NAME))
    if "Deny" not in (spec.get("validationActions") or []):
        problems.append("validationActions %s do not include Deny" % (spec.get("validationActions") or []))
    return problems + _match_problems("the binding's matchResources", spec.get("matchResources") or {}, False)


def token_policy_checks(client: KubeClient, tenants: list[Tenant]) -> list[Check]:
    """MTB-1.12 per tenant (the policy is cluster-wide, so every tenant's row tells the same)."""
    policy, policy_error = fetched(client, ADMISSION_API_VERSION, "ValidatingAdmissionPolicy", SA_TOKEN_POLICY_NAME)
    binding, binding_error = fetched(
        client, ADMISSION_API_VERSION, "ValidatingAdmissionPolicyBinding", SA_TOKEN_POLICY_NAME
    )
    problems = [e for e in (policy_error, binding_error) if e] or policy_problems(policy) + binding_problems(binding)
    detail = summarize(problems) or "%s denies CREATE of %s Secrets in tenant namespaces" % (
        SA_TOKEN_POLICY_NAME,
        SA_TOKEN_SECRET_TYPE,
    )
    description = "an admission policy refuses service-account-token Secrets"
    checks = [Scope(tenant.name).check("MTB-1.12", description, not problems, detail) for tenant in tenants]
    # add-ons: their Secrets are the platform's (_admission.addon_secrets); the registered tenant policies
    # (hostnames and certificates, ...) are _audit.policies', wired in _audit.run
    return checks + addon_policy_checks(client, tenants)


# -- the token Secret policy at work ----------------------------------------------------------------

Impersonate = Callable[[KubeClient, str, str], KubeClient]


def impersonating(client: KubeClient, user: str, group: str) -> KubeClient:
    """A KubeClient that acts as ``user`` in ``group`` (the API server adds system:authenticated).

    Built on the same kubernetes ApiClient class and configuration as ``client``, with the
    Impersonate-* headers on every request; the audit's own identity needs ``impersonate`` on
    users and groups.
    """
    return client.impersonate(user, group)


@dataclass(frozen=True)
class RoleIdentity:
    """One tenant role acting through one owner group."""

    role: str
    group: str
    client: KubeClient


def role_identities(client: KubeClient, tenant: Tenant, impersonate: Impersonate) -> list[RoleIdentity]:
    return [
        RoleIdentity(role, group, impersonate(client, audit_user(tenant.name, role), group))
        for role in TENANT_ROLES
        for group in tenant.owners.get(role, ())
    ]


def token_secret(namespace: str) -> dict:
    """The Secret a tenant must not create: a token for the CI ServiceAccount that never expires."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": SA_TOKEN_SECRET_TYPE,
        "metadata": {
            # generateName: an existing Secret of a fixed name would refuse the probe for that reason.
            "generateName": "platykus-audit-token-",
            "namespace": namespace,
            "labels": {AUDIT_LABEL: "true"},
            "annotations": {SA_NAME_ANNOTATION: CI_SERVICE_ACCOUNT},
        },
    }


def _try_token_secret(identity: RoleIdentity, path: str, namespace: str) -> tuple[str, str]:
    response = dry_run_create(identity.client, path, token_secret(namespace))
    if response.status == 403 and "cannot impersonate" in response.message:
        # Otherwise read as "refused": the audit would pass without having tried anything.
        raise PlatykusError(
            "isolation audit: cannot act as a tenant role (%s); the audit needs impersonate on users and groups"
            % response.message
        )
    return judge_refusal(response)


def token_secret_checks(client: KubeClient, scope: Scope, identities: list[RoleIdentity]) -> list[Check]:
    """MTB-1.13 per role in one namespace: each owner group's dry-run create is refused."""
    path = client.path("v1", "Secret", scope.namespace)
    checks = []
    for role in TENANT_ROLES:
        tried = [(i.group, _try_token_secret(i, path, scope.namespace)) for i in identities if i.role == role]
        if not tried:
            continue
        failed = ["group %s: %s" % (group, detail) for group, (result, detail) in tried if result == "fail"]
        passed = ["group %s %s" % (group, detail) for group, (result, detail) in tried if result == "pass"]
        checks.append(
            Check(
                "MTB-1.13",
                scope.tenant,
                role,
                scope.namespace,
                "cannot create a service-account-token Secret",
                "fail" if failed else "pass",
                summarize(failed or passed),
            )
        )
    return checks
