"""The systemd timer and service that rerun onboarding daily on clusters without AWX, so tenants' AWS
access keys past their max age are replaced (scripts/systemd/platykus-tenant-keys.*), read as systemd
would (``systemd-analyze verify``, skipped saying why where it is missing)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from test_systemd_units import ANALYZE, ROOT, UNITS, sections

SERVICE, TIMER = UNITS / "platykus-tenant-keys.service", UNITS / "platykus-tenant-keys.timer"


def test_timer_runs_the_service_daily_and_catches_up():
    timer = sections(TIMER)["Timer"]
    assert timer["Unit"] == [SERVICE.name] and timer["Persistent"] == ["true"]
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:00", timer["OnCalendar"][0])


def test_service_reruns_onboarding_and_the_awx_schedule_does_too():
    command = sections(SERVICE)["Service"]["ExecStart"][0]
    assert re.search(r"/opt/platykus/playbooks/tenant-onboarding\.yml$", command)
    awx = yaml.safe_load(re.sub(r"!unsafe ", "", (ROOT / "awx" / "platykus.yml").read_text()))
    (schedule,) = [s for s in awx["platykus_awx_schedules"] if s["name"] == "Platykus daily tenant key rotation"]
    (template,) = [t for t in awx["platykus_awx_job_templates"] if t["name"] == schedule["template"]]
    assert template["playbook"] == "playbooks/tenant-onboarding.yml" and "FREQ=DAILY" in schedule["rrule"]


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path):
    for unit in (SERVICE, TIMER):
        text = unit.read_text().replace("/opt/platykus/.venv/bin/", str(ROOT / ".venv" / "bin") + "/")
        (tmp_path / unit.name).write_text(re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M))
    result = subprocess.run(
        [ANALYZE, "verify", str(tmp_path / TIMER.name), str(tmp_path / SERVICE.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
