"""The apps molecule scenario end to end: create (lab up, onboarding, tenant kubeconfigs), converge
(the example apps, each as its tenant), idempotence, verify, destroy."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import ROOT

from platykus_lab.cluster import COMPONENTS, Lab
from platykus_lab.config import bin_dir

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_molecule_apps_scenario():
    binaries = bin_dir()
    env = dict(
        os.environ, PATH=f"{binaries}:{ROOT / '.venv/bin'}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1", PY_COLORS="0"
    )
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/molecule"), "test", "-s", "apps"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in output.replace("➜ ", ""), f"molecule {step} did not succeed"
    assert all(Lab.named("molecule-apps", binaries=binaries).pid(c) is None for c in COMPONENTS), (
        "destroy left lab processes behind"
    )
