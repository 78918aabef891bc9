"""The molecule scenario end to end: create (lab up), converge (site.yml), idempotence, verify, destroy."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT
from standin_charts import ChartServer, build_repository

from platykus_lab.cluster import COMPONENTS, Lab
from platykus_lab.config import bin_dir

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_molecule_default_scenario():
    binaries = bin_dir()
    with tempfile.TemporaryDirectory(prefix="platykus-molecule-charts-") as charts:
        repo = build_repository(Path(charts), helm=str(binaries / "helm"))
        with ChartServer(repo) as mirror:
            env = dict(
                os.environ,
                PATH=f"{binaries}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
                PLATYKUS_CHART_MIRROR=mirror.url,
                ANSIBLE_NOCOLOR="1",
                PY_COLORS="0",
            )
            proc = subprocess.run(
                [str(ROOT / ".venv/bin/molecule"), "test"], cwd=ROOT, env=env, capture_output=True, text=True
            )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in output.replace("➜ ", ""), f"molecule {step} did not succeed"
    molecule_lab = Lab.named("molecule", binaries=binaries)
    assert all(molecule_lab.pid(c) is None for c in COMPONENTS), "destroy left lab processes behind"
