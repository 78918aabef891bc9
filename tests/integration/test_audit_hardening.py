"""The isolation audit against the lab's real admission chain: the ServiceAccount token Secret
policy onboarding installs, what happens when its binding goes, and RBAC added by hand.

A tenant developer may write Secrets; a Secret of type kubernetes.io/service-account-token
naming ci-deployer would be filled with a token that never expires. These tests assert what the
API server does with such a Secret, and that the audit names the check when it is let through.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from test_tenant_lifecycle import onboarded  # noqa: F401  (the fixture: onboard the lab tenants in this module)

from ansible_collections.platykus.platform.plugins.module_utils._core.names import AUDIT_LABEL, TENANT_LABEL
from ansible_collections.platykus.platform.plugins.module_utils._core.names import SA_TOKEN_POLICY_NAME as POLICY
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import (
    SA_TOKEN_SECRET_TYPE as TOKEN_TYPE,
)

pytestmark = pytest.mark.lab

# acme is a lab tenant with a developer group and two namespaces.
DEVELOPER = ("--as=someone@acme.example", "--as-group=acme-devs")
FAIL_ROW = re.compile(r"FAIL\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")


def token_secret(name: str, namespace: str = "acme-dev") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": TOKEN_TYPE,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"kubernetes.io/service-account.name": "ci-deployer"},
        },
    }


def create_as_developer(lab, obj: dict, *args: str):
    return lab.kubectl("create", "-f", "-", *DEVELOPER, *args, input=yaml.safe_dump(obj), check=False)


def wait_for_admission(lab, refused: bool, timeout: float = 30) -> None:
    """Admission policies load and unload through an informer: wait until a dry run agrees."""
    deadline = time.monotonic() + timeout
    while (create_as_developer(lab, token_secret("probe"), "--dry-run=server").returncode != 0) != refused:
        assert time.monotonic() < deadline, "admission did not %s within %ss" % (
            "refuse" if refused else "admit",
            timeout,
        )
        time.sleep(1)


def audit(lab, tenant: str = "acme"):
    return lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": tenant})


def failed_checks(output: str) -> set[tuple[str, str, str, str]]:
    """(id, tenant, role, namespace) of every FAIL row of the table verify-tenants prints."""
    return set(FAIL_ROW.findall(output))


def test_onboarding_installs_the_token_secret_policy(lab, onboarded):  # noqa: F811
    policy = lab.get_json("validatingadmissionpolicy", POLICY)["spec"]
    binding = lab.get_json("validatingadmissionpolicybinding", POLICY)["spec"]
    assert binding["policyName"] == POLICY and binding["validationActions"] == ["Deny"]
    assert binding["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
    }
    assert any(TOKEN_TYPE in v["expression"] for v in policy["validations"])


def test_audit_passes_with_the_policy_in_place(lab, onboarded):  # noqa: F811
    run = lab.playbook("playbooks/verify-tenants.yml")
    assert run.ok, run.output
    assert "isolation checks passed" in run.output
    for row in ("PASS  MTB-1.12  acme  -  *", "PASS  MTB-1.13  acme  developer  acme-dev"):
        assert re.search(r"\s+".join(map(re.escape, row.split())), run.output), row
    # every probe was a dry run: nothing the audit tried is stored
    assert lab.get_json("secrets,pods", "-A", "-l", AUDIT_LABEL)["items"] == []


def test_a_tenant_developer_cannot_create_a_token_secret(lab, onboarded):  # noqa: F811
    # The developer may write Secrets at all: an Opaque one is admitted (dry run).
    opaque = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fine", "namespace": "acme-dev"}}
    assert create_as_developer(lab, opaque, "--dry-run=server").returncode == 0
    try:
        refused = create_as_developer(lab, token_secret("forever"))
        assert refused.returncode != 0
        assert "ValidatingAdmissionPolicy '%s'" % POLICY in refused.stderr, refused.stderr
        assert lab.kubectl("get", "secret", "forever", "-n", "acme-dev", check=False).returncode != 0
    finally:
        lab.kubectl("delete", "secret", "forever", "-n", "acme-dev", "--ignore-not-found")


def test_deleting_the_policy_binding_fails_the_audit_naming_the_check(lab, onboarded):  # noqa: F811
    lab.kubectl("delete", "validatingadmissionpolicybinding", POLICY)
    try:
        wait_for_admission(lab, refused=False)
        run = audit(lab)
        assert run.returncode != 0, run.output
        failed = failed_checks(run.output)
        assert ("MTB-1.12", "acme", "-", "*") in failed, run.output
        assert {
            ("MTB-1.13", "acme", role, ns) for role in ("admin", "developer") for ns in ("acme-dev", "acme-prod")
        } <= failed
        assert not [row for row in failed if row[0] not in ("MTB-1.12", "MTB-1.13")], failed
        assert re.search(r"isolation checks failed:.*MTB-1\.12", run.output), run.output
    finally:
        # Onboarding puts the binding back (it is part of every tenant's objects).
        restored = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"tenant": "acme"})
        assert restored.ok and restored.changed >= 1, restored.output
    wait_for_admission(lab, refused=True)
    assert audit(lab).ok


def test_a_hand_made_admin_binding_fails_the_audit(lab, onboarded):  # noqa: F811
    lab.kubectl("create", "rolebinding", "by-hand", "--clusterrole=admin", "--group=acme-devs", "-n", "acme-prod")
    try:
        run = audit(lab)
        assert run.returncode != 0, run.output
        failed = failed_checks(run.output)
        assert {("MTB-1.10", "acme", "-", "acme-prod"), ("MTB-1.11", "acme", "-", "acme-prod")} <= failed, run.output
    finally:
        lab.kubectl("delete", "rolebinding", "by-hand", "-n", "acme-prod", "--ignore-not-found")
