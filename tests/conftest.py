"""Shared fixtures: one lab (real kube-apiserver, simulated nodes) per test session.

Tests that need the cluster take the ``lab`` fixture; it starts a lab named ``pytest`` (so a
developer's own ``default`` lab keeps running beside it) and stops it at the end unless
PLATYKUS_KEEP_LAB=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

from platykus_lab import aws as lab_aws  # noqa: E402
from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir, node_pools_from_inventory  # noqa: E402

LAB_INVENTORY = ROOT / "inventories" / "lab"
SHARED_VARS = ROOT / "vars"  # what every inventory shares (read by the shared_defaults vars plugin)
ADHOC_RE = re.compile(r"^localhost \| (\w+)(?:!)? => (\{.*\})\s*$", re.M | re.S)
RECAP_RE = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    changed: int
    failed: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


@dataclass
class LabHandle:
    lab: Lab
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            KUBECONFIG=str(self.kubeconfig),
            K8S_AUTH_KUBECONFIG=str(self.kubeconfig),
            PATH=f"{self.lab.binaries}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_NOCOLOR="1",
            # The lab's AWS, as `platykus-lab env` exports it (onboarding makes the tenants' AWS slice there).
            **lab_aws.env_exports(self.lab),
            # The lab's data servers' admin records, as `platykus-lab env` exports them (add-ons).
            PLATYKUS_DATA_SERVICES=str(self.lab.home / "controllers"),
        )

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.lab.binaries / "kubectl"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            input=input,
        )

    def get_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, manifest: dict | list, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        docs = manifest if isinstance(manifest, list) else [manifest]
        return self.kubectl("apply", "-f", "-", *args, check=check, input=yaml.safe_dump_all(docs))

    def playbook(
        self,
        playbook: str,
        *args: str,
        extra_vars: dict | None = None,
        inventory: Path = LAB_INVENTORY,
        check: bool = False,
        diff: bool = False,
    ) -> PlaybookRun:
        cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(ROOT / playbook), *args]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
        output = proc.stdout + proc.stderr
        recaps = RECAP_RE.findall(output)
        changed = sum(int(r[2]) for r in recaps)
        failed = sum(int(r[4]) for r in recaps)
        return PlaybookRun(proc.returncode, output, changed, failed)


def wait_for(what: str, check, timeout: float = 180.0, interval: float = 1.0):
    """check()'s first truthy result; fail naming ``what`` after ``timeout`` seconds (a bound, not a figure)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def run_module(lab: LabHandle, module: str, args: dict, check: bool = False, diff: bool = False) -> tuple[str, dict]:
    """Run one module of the collection ad hoc and return (status, result) from its JSON."""
    cmd = [
        str(ROOT / ".venv/bin/ansible"),
        "localhost",
        "-i",
        str(LAB_INVENTORY),
        "-m",
        f"platykus.platform.{module}",
        "-a",
        json.dumps(args),
        "-o",
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=lab.env, cwd=ROOT, capture_output=True, text=True)
    match = ADHOC_RE.search(proc.stdout)
    assert match, proc.stdout + proc.stderr
    return match.group(1), json.loads(match.group(2))


def session_lab_name(suffix: str = "") -> str:
    """The session lab's name: PLATYKUS_TEST_LAB (default ``pytest``), one per pytest-xdist worker
    so parallel workers never share a lab."""
    name = os.environ.get("PLATYKUS_TEST_LAB", "pytest") + suffix
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{name}-{worker}" if worker else name


@pytest.fixture(scope="session")
def lab() -> LabHandle:
    binaries = bin_dir()
    if not (binaries / "kube-apiserver").exists():
        pytest.fail(f"lab binaries missing in {binaries}: run `bin/platykus-lab build` (scripts/test.sh does)")
    lab = Lab.named(session_lab_name(), binaries=binaries)
    result = lab.up(
        node_pools_from_inventory(LAB_INVENTORY), log=lambda msg: print(msg, file=sys.stderr), inventory=LAB_INVENTORY
    )
    yield LabHandle(lab=lab, kubeconfig=Path(result["kubeconfig"]))
    if os.environ.get("PLATYKUS_KEEP_LAB") != "1":
        lab.down(purge=True, log=lambda msg: print(msg, file=sys.stderr))
