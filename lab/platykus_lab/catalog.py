"""The platform service catalog (catalog/services.yml) as the lab reads it: one home for the
values, policies and objects the lab's controllers share with what the catalog installs."""

from __future__ import annotations

from typing import Any

import yaml

from .config import LAB_DIR

CATALOG_FILE = LAB_DIR.parent / "catalog" / "services.yml"


def service(name: str) -> dict[str, Any]:
    """One service entry of the catalog (chart, values, irsa, objects...)."""
    return yaml.safe_load(CATALOG_FILE.read_text())["platykus_catalog_services"][name]


def objects(name: str, kind: str) -> list[dict[str, Any]]:
    """The definitions of a service's catalog objects of one kind (the lab's provider)."""
    entries = service(name).get("objects") or []
    return [
        e["definition"] for e in entries if e["definition"]["kind"] == kind and "lab" in e.get("providers", ["lab"])
    ]
