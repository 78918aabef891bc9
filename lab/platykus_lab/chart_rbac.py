"""The RBAC an upstream chart grants one ServiceAccount, rendered from the chart in the module.

The lab runs each controller as the ServiceAccount its chart creates; applying exactly the
bindings whose subject is that account (and the roles they name) proves the chart's RBAC is
enough for the controller, without the parts meant for its webhook or other components.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from .config import LabConfigError, load_pins

BINDINGS = ("ClusterRoleBinding", "RoleBinding")
ROLES = ("ClusterRole", "Role")


def render(lab, chart: Path, release: str, namespace: str, values: dict | None = None) -> list[dict]:
    """`helm template` of the chart, for the lab's Kubernetes release (charts check kubeVersion).

    Subchart dependencies are dropped: helm refuses a chart whose dependencies are not vendored
    even when their condition is off, and the module ships none (they live in OCI registries).
    """
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / chart.name
        shutil.copytree(chart, copy)
        meta = yaml.safe_load((copy / "Chart.yaml").read_text())
        meta.pop("dependencies", None)
        (copy / "Chart.yaml").write_text(yaml.safe_dump(meta))
        return _template(lab, copy, release, namespace, values)


def _template(lab, chart: Path, release: str, namespace: str, values: dict | None) -> list[dict]:
    cmd = [
        str(lab.binaries / "helm"), "template", release, str(chart), "--namespace", namespace,
        "--kube-version", load_pins()["kubernetes"], "-f", "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=yaml.safe_dump(values or {}), capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabConfigError(f"helm template {chart} failed: {proc.stderr.strip()[:2000]}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def _binds(binding: dict, namespace: str, account: str) -> bool:
    return any(
        s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace", namespace) == namespace
        for s in binding.get("subjects") or ()
    )


def _role_key(kind: str, name: str, namespace: str | None) -> tuple[str, str, str | None]:
    return kind, name, namespace if kind == "Role" else None


def for_account(objects: list[dict], namespace: str, account: str) -> list[dict]:
    """The account, the bindings naming it, and the roles those bindings refer to."""
    bindings = [o for o in objects if o["kind"] in BINDINGS and _binds(o, namespace, account)]
    wanted = {_role_key(b["roleRef"]["kind"], b["roleRef"]["name"], b["metadata"].get("namespace")) for b in bindings}
    roles = [
        o for o in objects
        if o["kind"] in ROLES and _role_key(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) in wanted
    ]  # fmt: skip
    accounts = [o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == account]
    return accounts + roles + bindings
