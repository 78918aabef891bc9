"""The shared variables of vars/ reach every inventory through the shared_defaults vars plugin, as
Ansible itself reads them (ansible-inventory with the project's ansible.cfg): an inventory's own
group_vars win, a name set twice across vars/ is refused, a missing folder is named with the fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "vars"
INVENTORIES = ("lab", "aws", "generic")


def host_vars(inventory: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--host", "localhost"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **env),
        timeout=120,
    )


def loaded(inventory: Path, **env: str) -> dict:
    run = host_vars(inventory, **env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("name", INVENTORIES)
def test_every_inventory_gets_the_shared_variables(name):
    got = loaded(ROOT / "inventories" / name)
    for path in sorted(SHARED.glob("*.yml")):
        for key, value in yaml.safe_load(path.read_text()).items():
            assert got[key] == value, "%s from %s differs in inventories/%s" % (key, path.name, name)


def test_no_inventory_keeps_a_copy_of_a_shared_file():
    shared = {path.name: path.read_text() for path in SHARED.glob("*.yml")}
    for name in INVENTORIES:
        for path in (ROOT / "inventories" / name / "group_vars" / "all").glob("*.yml"):
            assert path.read_text() != shared.get(path.name), "inventories/%s repeats vars/%s" % (name, path.name)


def _inventory_copy(tmp_path: Path) -> Path:
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "generic", inventory)
    return inventory


def test_an_inventory_overrides_a_shared_variable(tmp_path):
    inventory = _inventory_copy(tmp_path)
    (inventory / "group_vars" / "all" / "zz-override.yml").write_text("platykus_tenant_capacity_policy: warn\n")
    assert loaded(inventory)["platykus_tenant_capacity_policy"] == "warn"
    assert loaded(ROOT / "inventories" / "generic")["platykus_tenant_capacity_policy"] == "fail"


def test_a_name_in_two_shared_files_is_refused(tmp_path):
    folder = tmp_path / "vars"
    shutil.copytree(SHARED, folder)
    (folder / "again.yml").write_text("platykus_tenant_capacity_policy: warn\n")
    run = host_vars(ROOT / "inventories" / "generic", PLATYKUS_SHARED_DEFAULTS=str(folder))
    assert run.returncode != 0
    assert "platykus_tenant_capacity_policy is set in both" in run.stderr and "again.yml" in run.stderr


def test_a_missing_folder_names_the_setting(tmp_path):
    run = host_vars(ROOT / "inventories" / "generic", PLATYKUS_SHARED_DEFAULTS=str(tmp_path / "nowhere"))
    assert run.returncode != 0
    assert "is not a folder" in run.stderr and "PLATYKUS_SHARED_DEFAULTS" in run.stderr
