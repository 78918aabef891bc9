"""Bad tenant spec files in an inventory fail onboarding, naming the file, before anything is written.

The inventory's loader (the platykus.platform.tenant_specs lookup) once hung on a YAML alias bomb;
here every bad file is put next to a valid new tenant, and neither may reach the API server.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
import yaml
from conftest import LAB_INVENTORY

pytestmark = pytest.mark.lab

# Generous: the refusal takes milliseconds; this only turns a hang into a failure.
DEADLINE_SECONDS = 120


def laughs(levels: int, width: int = 10) -> str:
    """A 'billion laughs' spec: ``width ** levels`` nodes once expanded, from a few lines."""
    lines = ["name: mallory", "plan: small", 'l0: &l0 ["lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


BAD_FILES = [
    ("alias bomb", laughs(9), "its aliases (*name) expand it past 10000 YAML nodes"),
    (
        "too many aliases",
        "name: mallory\nplan: &p small\nx: [" + ", ".join(["*p"] * 150) + "]\n",
        "more than 100 alias uses",
    ),
    ("empty file", "", "is empty; write one tenant per file as a mapping"),
    ("list", "- name: mallory\n  plan: small\n- name: trudy\n  plan: small\n", "holds a list, not a tenant"),
    (
        "two documents",
        "name: mallory\nplan: small\n---\nname: trudy\nplan: small\n",
        "holds more than one YAML document (separated by '---')",
    ),
]


@pytest.fixture
def deadline():
    def expire(signum, frame):
        raise TimeoutError(f"the playbook did not return within {DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def tenant_namespaces(lab, *tenants: str) -> list[str]:
    selector = f"platykus.io/tenant in ({','.join(tenants)})"
    return [item["metadata"]["name"] for item in lab.get_json("namespaces", "-l", selector)["items"]]


def inventory_with(tmp_path: Path, name: str, text: str) -> Path:
    """The lab inventory plus a valid new tenant 'newco' and the bad file ``name``."""
    inventory = tmp_path / "inv"
    shutil.copytree(LAB_INVENTORY, inventory)
    newco = dict(yaml.safe_load((inventory / "tenants/globex.yml").read_text()), name="newco", environments=["dev"])
    (inventory / "tenants/newco.yml").write_text(yaml.safe_dump(newco))
    (inventory / "tenants" / name).write_text(text)
    return inventory


@pytest.mark.parametrize("label, text, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_spec_file_fails_onboarding_naming_the_file(lab, deadline, tmp_path, label, text, message):
    inventory = inventory_with(tmp_path, "mallory.yml", text)
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    output = " ".join(run.output.split())
    assert run.returncode != 0, run.output[-3000:]
    assert f"{inventory / 'tenants/mallory.yml'}" in output and message in output, run.output[-3000:]
    assert tenant_namespaces(lab, "newco", "mallory", "trudy") == []


def test_every_bad_file_is_named_at_once(lab, deadline, tmp_path):
    inventory = inventory_with(tmp_path, "mallory.yml", laughs(9))
    (inventory / "tenants/trudy.yml").write_text("")
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    output = " ".join(run.output.split())
    assert run.returncode != 0
    assert "2 bad tenant spec files" in output, run.output[-3000:]
    assert f"{inventory / 'tenants/mallory.yml'}: its aliases" in output
    assert f"{inventory / 'tenants/trudy.yml'} is empty" in output
    assert tenant_namespaces(lab, "newco", "mallory", "trudy") == []


# -- a key given twice, a tenant in two files ------------------------------------------------------
MALLORY = """\
name: mallory
display_name: Mallory
owners:
  admin: [mallory-admins]
  developer: [mallory-devs]
  admin: [globex-admins]
environments: [dev]
plan: small
domains: [mallory.apps.platykus-lab.test]
plan: large
"""
DUPLICATES = [
    ("owners.admin", "tenants[mallory].owners.admin is given twice (lines 4 and 6)"),
    ("plan", "tenants[mallory].plan is given twice (lines 8 and 10)"),
]


def iam_users(lab, *tenants: str) -> list[str]:
    """The lab AWS's IAM users of these tenants (onboarding makes one per tenant)."""
    import boto3

    from platykus_lab import aws as lab_aws

    iam = boto3.client("iam", **lab_aws.client_kwargs(lab.lab))
    names = [user["UserName"] for user in iam.list_users()["Users"]]
    return [name for name in names if any(name.endswith(f"-tenant-{tenant}") for tenant in tenants)]


def test_a_key_given_twice_fails_onboarding_naming_file_path_and_lines(lab, deadline, tmp_path):
    inventory = inventory_with(tmp_path, "mallory.yml", MALLORY)
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    output = " ".join(run.output.split())
    assert run.returncode != 0, run.output[-3000:]
    for _key, problem in DUPLICATES:
        assert f"{inventory / 'tenants/mallory.yml'}: " in output and problem in output, run.output[-3000:]
    # Nothing reached the API server or the lab's AWS, not even the valid tenant beside it.
    assert tenant_namespaces(lab, "newco", "mallory") == []
    assert iam_users(lab, "newco", "mallory") == []


def test_the_same_tenant_in_two_files_fails_naming_both_files(lab, deadline, tmp_path):
    inventory = inventory_with(tmp_path, "newco-copy.yml", "# a copy\n" + "plan: large\nname: newco\n")
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    output = " ".join(run.output.split())
    assert run.returncode != 0, run.output[-3000:]
    assert (
        f"tenant 'newco' is in two files: {inventory / 'tenants/newco-copy.yml'} (line 3) and "
        f"{inventory / 'tenants/newco.yml'} (line "
    ) in output, run.output[-3000:]
    assert tenant_namespaces(lab, "newco") == [] and iam_users(lab, "newco") == []


def test_a_key_given_twice_in_group_vars_fails_before_any_task(lab, deadline, tmp_path):
    # Ansible reads group_vars itself: ansible.cfg's duplicate_dict_key = error refuses it.
    inventory = inventory_with(tmp_path, "mallory.yml", MALLORY.replace("plan: large\n", ""))
    (inventory / "group_vars/all/zz-twice.yml").write_text(
        "platykus_tenant_overcommit: {}\nplatykus_tenant_overcommit: {cpu: 10}\n"
    )
    run = lab.playbook("playbooks/tenant-onboarding.yml", inventory=inventory)
    assert run.returncode != 0, run.output[-3000:]
    assert "Found duplicate mapping key 'platykus_tenant_overcommit'" in run.output, run.output[-3000:]
    assert "TASK [" not in run.output
    assert tenant_namespaces(lab, "newco", "mallory") == []


def test_a_key_given_twice_in_an_app_file_fails_the_deploy_naming_it(lab, deadline, tmp_path):
    app = tmp_path / "dupshop.yml"
    app.write_text(
        "name: dupshop\ntenant: acme\nenvironment: dev\nimage: registry.platykus-lab.test/acme/shop:1.0.0\n"
        "processes:\n  web:\n    command: [bin/server]\n    port: 8080\n    port: 9090\n    size: basic\n"
    )
    run = lab.playbook("playbooks/app-deploy.yml", extra_vars={"app_file": str(app)})
    output = " ".join(run.output.split())
    assert run.returncode != 0, run.output[-3000:]
    assert f"{app}: apps[acme/dev/dupshop].processes.web.port is given twice (lines 8 and 9)" in output, output[-3000:]
    deployments = lab.get_json("deployments", "-A", "-l", "app.kubernetes.io/name=dupshop")["items"]
    assert deployments == [] and "dupshop" not in lab.kubectl("get", "deployments", "-A").stdout
