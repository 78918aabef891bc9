"""docs/platform-services.md against the catalog, the golden plans and the playbook, so the page cannot drift.

No cluster and no Ansible run: the golden plans are the shipped inventories' plans (tests/test_platform_plan.py
keeps them current).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "platform-services.md").read_text()
CATALOG = yaml.safe_load((ROOT / "catalog" / "services.yml").read_text())
SERVICES = CATALOG["platykus_catalog_services"]
INVENTORIES = ("aws", "generic", "lab")


def table(header: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose header line starts with ``header``, as dicts by column."""
    lines = DOC[DOC.index(header) :].splitlines()
    columns = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(columns, (cell.strip() for cell in line.strip("|").split("|")))))
    return rows


def golden(inventory: str) -> dict[str, dict]:
    """Service -> {'state': installed|off, 'namespace': ...} in the inventory's golden plan."""
    plan = yaml.safe_load((ROOT / "tests" / "golden" / f"plan-{inventory}.yml").read_text())
    services = {}
    for stage in plan["stages"]:
        for release in stage["releases"]:
            services[release["service"]] = {"state": "installed", "namespace": release["namespace"]}
        for removed in stage["uninstall"]:
            name = next(n for n, spec in SERVICES.items() if (spec.get("release") or n) == removed["release"])
            services[name] = {"state": "off", "namespace": removed["namespace"]}
    return services


VERSIONS = table("| service | chart version |")
PLANS = {inventory: golden(inventory) for inventory in INVENTORIES}


def cell_state(cell: str) -> str | None:
    """What a provider cell says: None (not for this provider, or the lab runs the real component
    instead of the chart), 'off' or 'installed'."""
    if not cell or cell.startswith("real"):
        return None
    return "off" if cell.startswith("off") or cell.startswith("`platykus_") else "installed"


def test_version_table_lists_every_catalog_service_once():
    named = [row["service"].split()[0] for row in VERSIONS]
    assert sorted(named) == sorted(SERVICES), set(named) ^ set(SERVICES)


@pytest.mark.parametrize("row", VERSIONS, ids=[row["service"].split()[0] for row in VERSIONS])
def test_version_table_row_matches_catalog_and_plans(row):
    name = row["service"].split()[0]
    spec = SERVICES[name]
    assert row["chart version"] == str(spec["version"]), f"{name}: the catalog pins {spec['version']}"
    for inventory in INVENTORIES:
        planned = PLANS[inventory].get(name)
        assert cell_state(row[inventory]) == (planned or {}).get("state"), f"{name} on {inventory}: {planned}"
        if planned:
            assert row["namespace"] == planned["namespace"], f"{name} on {inventory}"
    charted = [i for i in INVENTORIES if row[i] and not row[i].startswith("real")]
    assert sorted(charted) == sorted(set(spec["providers"]) & set(INVENTORIES)), name


def test_stage_table_follows_the_catalog_and_the_playbook():
    stages = [row["stage (tag)"].strip("`") for row in table("| # | stage (tag) |")]
    assert stages == CATALOG["platykus_catalog_stages"]
    play = yaml.safe_load((ROOT / "playbooks" / "platform.yml").read_text())[0]
    entries = [role for role in play["roles"] if role["role"] != "platform_plan"]
    tags = [role["tags"][0] for role in entries]
    assert tags == stages
    for role in entries:
        if role["role"] == "platform_service":
            assert role["vars"]["platform_service_stage"] == role["tags"][0], role
    assert all(re.fullmatch(r"\d+", row["#"]) for row in table("| # | stage (tag) |"))
