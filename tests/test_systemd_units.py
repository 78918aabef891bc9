"""The systemd timer and service that run budget enforcement on clusters without AWX (scripts/systemd/).

``systemd-analyze verify`` reads them as systemd would (every key known, the executable present);
the checkout's own ansible-playbook stands in for /opt/platykus. Without systemd-analyze, the
parse checks still run and the verify test is skipped, saying why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "scripts" / "systemd"
SERVICE, TIMER = UNITS / "platykus-budget.service", UNITS / "platykus-budget.timer"
ANALYZE = shutil.which("systemd-analyze")


def sections(path: Path) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header = re.match(r"^\[(\w+)\]$", line)
        if header:
            current = found.setdefault(header.group(1), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, "%s: %r outside a section" % (path.name, line)
        current.setdefault(key.strip(), []).append(value.strip())
    return found


def test_timer_runs_the_service_hourly_and_catches_up():
    timer = sections(TIMER)
    assert timer["Timer"]["Unit"] == [SERVICE.name]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    assert re.fullmatch(r"\*-\*-\* \*:\d\d:00", timer["Timer"]["OnCalendar"][0])


def test_service_runs_the_usage_report_enforcing_and_publishing():
    service = sections(SERVICE)["Service"]
    assert service["Type"] == ["oneshot"]
    command = service["ExecStart"][0]
    playbook = re.search(r"/opt/platykus/(playbooks/\S+\.yml)", command).group(1)
    assert (ROOT / playbook).exists()
    variables = set(yaml.safe_load((ROOT / playbook).read_text())[0]["vars"])
    for name in re.findall(r"-e (\w+)=true", command):
        assert name in variables, "%s is not a variable of %s" % (name, playbook)
    assert "usage_report_enforce" in command and "usage_report_publish" in command


def _verify(tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess:
    for unit in (SERVICE, TIMER):
        text = unit.read_text().replace("/opt/platykus/.venv/bin/", str(ROOT / ".venv" / "bin") + "/")
        text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M)
        if unit is SERVICE:
            text = text.replace("[Service]\n", "[Service]\n" + extra)
        (tmp_path / unit.name).write_text(text)
    return subprocess.run(
        [ANALYZE, "verify", str(tmp_path / TIMER.name), str(tmp_path / SERVICE.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    result = _verify(tmp_path)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr
    calendar = subprocess.run(
        [ANALYZE, "calendar", sections(TIMER)["Timer"]["OnCalendar"][0]], capture_output=True, text=True, timeout=60
    )
    assert calendar.returncode == 0, calendar.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_would_catch_a_mistake(tmp_path):
    result = _verify(tmp_path, extra="TimeoutStartSecs=5\n")
    assert "Unknown key" in result.stderr
