"""Tenants on the lab: onboarding, idempotence, check mode, isolation audit, offboarding, bad specs.

Everything is asserted on what the API server holds, not on what a playbook printed.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import LAB_INVENTORY, SHARED_VARS, run_module

pytestmark = pytest.mark.lab

TENANT_KINDS = "namespaces,roles,rolebindings,serviceaccounts,networkpolicies,resourcequotas,limitranges"


def _load_tenants(inventory: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((inventory / "tenants").glob("*.yml"))]


def _plans() -> dict:
    return yaml.safe_load((SHARED_VARS / "tenants.yml").read_text())["platykus_tenant_plans"]


def _cluster_vars() -> dict:
    return yaml.safe_load((LAB_INVENTORY / "group_vars/all/cluster.yml").read_text())


def tenant_args(lab, tenants: list[dict], **extra) -> dict:
    cluster = _cluster_vars()
    args = {
        "tenants": tenants,
        "plans": _plans(),
        "platform_namespaces": cluster["platykus_platform_namespaces"],
        "ingress_namespace": cluster["platykus_ingress_namespace"],
        "overcommit": {"cpu": 1.5, "memory": 1.0},
        "kubeconfig": str(lab.kubeconfig),
    }
    args.update(extra)
    return args


def snapshot(lab, selector: str = "app.kubernetes.io/managed-by=platykus") -> dict[str, str]:
    """Every Platykus-managed tenant object on the API server, keyed to its resourceVersion."""
    items = lab.get_json(TENANT_KINDS, "-A", "-l", selector)["items"]
    items += lab.get_json("namespaces", "-l", selector)["items"]
    return {
        f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
        for i in items
    }


@pytest.fixture(scope="module")
def onboarded(lab):
    # The lab is shared by the session: start from no tenants, whatever ran before.
    lab.kubectl("delete", "namespaces", "-l", "platykus.io/tenant", "--wait=true", "--timeout=120s")
    first = lab.playbook("playbooks/tenant-onboarding.yml")
    assert first.ok, first.output
    return first


def test_onboarding_creates_every_object(lab, onboarded):
    assert onboarded.changed >= 1
    namespaces = {n["metadata"]["name"]: n for n in lab.get_json("namespaces", "-l", "platykus.io/tenant")["items"]}
    assert set(namespaces) == {"acme-dev", "acme-prod", "globex-prod", "initech-dev"}
    acme_dev = namespaces["acme-dev"]["metadata"]["labels"]
    assert acme_dev["pod-security.kubernetes.io/enforce"] == "restricted"
    assert acme_dev["app.kubernetes.io/managed-by"] == "platykus"
    assert acme_dev["platykus.io/cost-center"] == "cc-1001"
    assert namespaces["initech-dev"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    for ns in namespaces:
        roles = {r["metadata"]["name"] for r in lab.get_json("roles", "-n", ns)["items"]}
        assert {"tenant-admin", "tenant-developer", "tenant-viewer"} <= roles
        policies = lab.get_json("networkpolicies", "-n", ns)["items"]
        assert any(
            p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            for p in policies
        )
        assert lab.get_json("resourcequota", "tenant-quota", "-n", ns)["spec"]["hard"]
        assert lab.get_json("limitrange", "tenant-limits", "-n", ns)["spec"]["limits"]
    quota = lab.get_json("resourcequota", "tenant-quota", "-n", "acme-prod")["spec"]["hard"]
    assert quota["pods"] == "60"  # the environment override
    assert quota["requests.cpu"] == "4"
    bindings = lab.get_json("rolebinding", "-n", "acme-dev", "-l", "platykus.io/tenant=acme")["items"]
    groups = {s["name"] for b in bindings for s in b.get("subjects") or [] if s["kind"] == "Group"}
    assert {"acme-admins", "acme-devs", "acme-auditors"} <= groups


def test_second_run_changes_nothing(lab, onboarded):
    before = snapshot(lab)
    again = lab.playbook("playbooks/tenant-onboarding.yml")
    assert again.ok and again.changed == 0, again.output
    assert snapshot(lab) == before


def test_tenant_roles_grant_and_deny_on_the_api_server(lab, onboarded):
    def can(verb, resource, ns, group, user="someone"):
        return lab.kubectl(
            "auth", "can-i", verb, resource, "-n", ns, f"--as={user}", f"--as-group={group}", check=False
        ).stdout.strip()

    assert can("create", "deployments", "acme-dev", "acme-devs") == "yes"
    assert can("get", "secrets", "globex-prod", "acme-admins").startswith("no")
    assert can("update", "resourcequotas", "acme-dev", "acme-admins").startswith("no")
    assert can("delete", "networkpolicies", "acme-dev", "acme-admins").startswith("no")
    assert can("create", "pods", "acme-dev", "acme-auditors").startswith("no")


def test_pod_over_quota_is_rejected_in_a_tenant_namespace(lab, onboarded):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "too-big", "namespace": "initech-dev"},
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "registry.invalid/a:1",
                    "resources": {"requests": {"cpu": "3", "memory": "7Gi"}, "limits": {"cpu": "3", "memory": "7Gi"}},
                }
            ]
        },
    }
    rejected = lab.apply(pod, check=False)
    assert rejected.returncode != 0
    assert "exceeded quota: tenant-quota" in rejected.stderr or "maximum cpu usage per Container" in rejected.stderr


def test_verify_tenants_passes(lab, onboarded):
    audit = lab.playbook("playbooks/verify-tenants.yml")
    assert audit.ok, audit.output
    assert "isolation checks passed" in audit.output


def test_weakened_role_fails_the_audit_naming_the_check(lab, onboarded):
    role = lab.get_json("role", "tenant-developer", "-n", "globex-prod")
    weakened = copy.deepcopy(role)
    weakened["rules"].append({"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["update", "patch"]})
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        weakened["metadata"].pop(key, None)
    lab.kubectl("replace", "-f", "-", input=json.dumps(weakened))
    try:
        audit = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "globex"})
        assert audit.returncode != 0
        assert "isolation checks failed" in audit.output
        failing = re.findall(
            r"(MTB-[\d.]+|CIS-[\d.]+)[^\n]*globex[^\n]*developer[^\n]*resourcequotas[^\n]*", audit.output
        )
        assert failing or re.search(r"FAIL[^\n]*resourcequota", audit.output, re.I), audit.output
    finally:
        restored = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"tenant": "globex"})
        assert restored.ok and restored.changed >= 1, restored.output
    assert lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "globex"}).ok


def test_check_mode_predicts_exactly_the_real_run(lab, onboarded):
    tenants = _load_tenants(LAB_INVENTORY)
    changed = copy.deepcopy(tenants)
    by_name = {t["name"]: t for t in changed}
    by_name["initech"]["plan"] = "medium"  # quota and limits change
    by_name["acme"]["environments"].append("qa")  # a new namespace and all its objects
    before = snapshot(lab)
    status, predicted = run_module(lab, "tenant", tenant_args(lab, changed), check=True, diff=True)
    assert status == "CHANGED"
    assert snapshot(lab) == before, "check mode wrote to the cluster"
    status, real = run_module(lab, "tenant", tenant_args(lab, changed))
    assert status == "CHANGED"
    assert sorted(predicted["created"]) == sorted(real["created"])
    assert sorted(predicted["updated"]) == sorted(real["updated"])
    assert any(key.startswith("Namespace/acme-qa") for key in real["created"])
    assert any("initech-dev" in key and "ResourceQuota" in key for key in real["updated"])
    status, again = run_module(lab, "tenant", tenant_args(lab, changed))
    assert status == "SUCCESS" and not again["changed"]
    # Back to the inventory's specs for the other tests.
    status, _ = run_module(lab, "tenant", tenant_args(lab, tenants))
    lab.kubectl("delete", "namespace", "acme-qa", "--wait=true", "--timeout=90s")


BAD_SPECS = [
    ("name: Bad_Name", lambda t: t.update(name="Bad_Name"), "tenants[Bad_Name].name"),
    ("reserved default", lambda t: t.update(name="default"), "name"),
    ("reserved kube-", lambda t: t.update(name="kube-team"), "name"),
    ("platform namespace", lambda t: t.update(name="platykus-system"), "name"),
    ("name too long", lambda t: t.update(name="a" * 50), "name"),
    ("unknown plan", lambda t: t.update(plan="xl"), "plan"),
    ("bad quantity", lambda t: t.update(overrides={"cpu": "lots"}), "overrides.cpu"),
    ("negative quantity", lambda t: t.update(overrides={"memory": "-1Gi"}), "overrides.memory"),
    ("negative count", lambda t: t.update(overrides={"pods": -3}), "overrides.pods"),
    ("negative budget", lambda t: t.update(budget={"monthly": -5, "currency": "USD"}), "budget.monthly"),
    ("unknown currency", lambda t: t.update(budget={"monthly": 5, "currency": "DOGE"}), "budget.currency"),
    ("bad pod security", lambda t: t.update(pod_security="strict"), "pod_security"),
    ("no admin group", lambda t: t.update(owners={"developer": ["x"]}), "owners.admin"),
    ("system group", lambda t: t.update(owners={"admin": ["system:authenticated"]}), "owners.admin"),
    ("bad CIDR", lambda t: t.update(network={"egress_cidrs": ["10.1.2.3/40"]}), "egress_cidrs"),
    ("unknown key", lambda t: t.update(plna="small"), "plna"),
    ("bad label", lambda t: t.update(labels={"bad key!": "x"}), "labels"),
    ("reserved label", lambda t: t.update(labels={"platykus.io/tenant": "globex"}), "labels"),
    ("no environments", lambda t: t.update(environments=[]), "environments"),
    ("bad environment", lambda t: t.update(environments=["Prod!"]), "environments"),
    ("bad cost center", lambda t: t.update(cost_center="cost center #1"), "cost_center"),
    ("over capacity", lambda t: t.update(plan="large", overrides={"cpu": "400", "limits_cpu": "800"}), "capacity"),
]


@pytest.mark.parametrize("label, mutate, field", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_spec_fails_before_any_write(lab, onboarded, label, mutate, field):
    tenants = _load_tenants(LAB_INVENTORY)
    mutate(tenants[0])
    before = snapshot(lab)
    status, result = run_module(lab, "tenant", tenant_args(lab, tenants))
    assert status == "FAILED", result
    message = result["msg"]
    assert field in message or (field == "capacity" and "exceed cluster" in message), message
    assert snapshot(lab) == before


def test_one_namespace_claimed_by_two_tenants_fails_before_any_write(lab, onboarded):
    tenants = _load_tenants(LAB_INVENTORY)
    # Tenant 'acme-dev' with environment 'x' and tenant 'acme' with environment 'dev-x'
    # both claim the namespace acme-dev-x.
    owner = dict(copy.deepcopy(tenants[0]), name="acme-dev", environments=["x"])
    stealer = dict(copy.deepcopy(tenants[1]), name="acme", environments=["dev-x"])
    before = snapshot(lab)
    status, result = run_module(lab, "tenant", tenant_args(lab, [owner, stealer]))
    assert status == "FAILED" and "acme-dev-x" in result["msg"], result["msg"]
    duplicate = dict(copy.deepcopy(tenants[0]))
    status, result = run_module(lab, "tenant", tenant_args(lab, tenants + [duplicate]))
    assert status == "FAILED" and "acme" in result["msg"], result["msg"]
    assert snapshot(lab) == before


def test_bad_inventory_file_fails_the_playbook_before_any_write(lab, onboarded, tmp_path):
    inventory = tmp_path / "inv"
    shutil.copytree(LAB_INVENTORY, inventory)
    spec = yaml.safe_load((inventory / "tenants/globex.yml").read_text())
    spec["plan"] = "platinum"
    (inventory / "tenants/globex.yml").write_text(yaml.safe_dump(spec))
    before = snapshot(lab)
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    assert run.returncode != 0
    assert "tenants[globex].plan: 'platinum' is not in plans" in run.output
    assert snapshot(lab) == before


def test_offboarding_refuses_without_confirmation(lab, onboarded):
    before = snapshot(lab)
    run = lab.playbook("playbooks/tenant-offboarding.yml", extra_vars={"tenant": "initech"})
    assert run.returncode != 0 and "confirm" in run.output
    assert snapshot(lab) == before


def test_offboarding_refuses_while_volumes_exist_unless_forced(lab, onboarded):
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "initech-dev"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    lab.apply(pvc)
    refused = lab.playbook("playbooks/tenant-offboarding.yml", extra_vars={"tenant": "initech", "confirm": "initech"})
    assert refused.returncode != 0 and "PersistentVolumeClaim" in refused.output
    assert lab.kubectl("get", "namespace", "initech-dev", check=False).returncode == 0


def test_offboarding_removes_that_tenant_only(lab, onboarded):
    others_before = {k: v for k, v in snapshot(lab).items() if "initech" not in k}
    run = lab.playbook(
        "playbooks/tenant-offboarding.yml", extra_vars={"tenant": "initech", "confirm": "initech", "force": True}
    )
    assert run.ok, run.output
    lab.kubectl("wait", "--for=delete", "namespace/initech-dev", "--timeout=90s", check=False)
    assert lab.kubectl("get", "namespace", "initech-dev", check=False).returncode != 0
    after = snapshot(lab)
    assert {k: v for k, v in after.items() if "initech" not in k} == others_before
    assert not [k for k in after if "initech" in k]
    again = lab.playbook(
        "playbooks/tenant-offboarding.yml", extra_vars={"tenant": "initech", "confirm": "initech", "force": True}
    )
    assert again.ok and again.changed == 0, again.output
