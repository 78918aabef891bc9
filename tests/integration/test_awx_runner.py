"""The onboarding job template's playbook, run by ansible-runner the way AWX runs a job: the survey's
answers and the template's extra_vars as extravars, the kubeconfig credential injected as AWX's
injectors do (a file and env vars), against the lab; the credential's key must appear in no job
event. Then offboarding, the same way."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import ansible_runner
import pytest
import yaml
from awx_rules import inject_credential
from conftest import ROOT, LabHandle

from platykus_lab import aws as lab_aws

CONFIG = yaml.safe_load(re.sub(r"!unsafe ", "", (ROOT / "awx/platykus.yml").read_text()))
TENANT = "awxco"
pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _template(name: str) -> dict:
    return next(t for t in CONFIG["platykus_awx_job_templates"] if t["name"] == name)


def run_job(lab: LabHandle, tmp_path: Path, template: dict, answers: dict) -> ansible_runner.Runner:
    """One AWX job: private data dir, injected credential, extravars = template extra_vars + answers."""
    private = tmp_path / template["name"].replace(" ", "-")
    private.mkdir(parents=True)
    env: dict[str, str] = {}
    extra: dict[str, str] = {}
    for ctype, inputs in _lab_credentials(lab):
        more_env, more_extra = inject_credential(ctype, inputs, str(private))
        env, extra = {**env, **more_env}, {**extra, **more_extra}
    env["PATH"] = "%s:%s" % (ROOT / ".venv/bin", os.environ["PATH"])
    extravars = {**CONFIG["platykus_awx_job_extra_vars"], **template.get("extra_vars", {}), **extra, **answers}
    return ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(ROOT),
        playbook=template["playbook"],
        inventory=str(ROOT / "inventories/lab"),
        extravars=extravars,
        envvars=env,
        quiet=True,
    )


def _lab_credentials(lab: LabHandle) -> list[tuple[dict, dict]]:
    """The lab inventory's credentials (awx/platykus.yml): its kubeconfig and its AWS (the emulator)."""
    types = {c["name"]: c for c in CONFIG["platykus_awx_credential_types"]}
    aws = lab_aws.client_kwargs(lab.lab)
    aws_inputs = {
        "region": aws["region_name"],
        "endpoint_url": aws["endpoint_url"],
        "access_key_id": aws["aws_access_key_id"],
        "secret_access_key": aws["aws_secret_access_key"],
    }
    return [(types["Platykus kubeconfig"], {"kubeconfig": _flat_kubeconfig(lab)}), (types["Platykus AWS"], aws_inputs)]


def _flat_kubeconfig(lab: LabHandle) -> str:
    """The lab's kubeconfig with its keys and certificates inline, as an operator stores it in AWX."""
    return lab.kubectl("config", "view", "--raw", "--flatten", "--minify").stdout


def _secrets(lab: LabHandle) -> list[str]:
    """The kubeconfig credential's secret values: client keys and tokens (a slice long enough to be unique)."""
    users = yaml.safe_load(_flat_kubeconfig(lab))["users"]
    values = [v for u in users for k, v in u["user"].items() if k in ("client-key-data", "token")]
    assert values, "the lab's kubeconfig has no client key or token"
    return [v[40:80] for v in values] + [lab_aws.client_kwargs(lab.lab)["aws_secret_access_key"]]


def test_onboarding_job_runs_as_awx_would(lab: LabHandle, tmp_path: Path) -> None:
    answers = {
        "tenant": TENANT,
        "tenant_plan": "small",
        "tenant_environments": ["dev"],
        "tenant_admin_groups": "awxco-admins, awxco-leads",
        "tenant_developer_groups": "awxco-devs",
        "tenant_viewer_groups": "",
        "tenant_budget": 120,
        "tenant_cost_center": "cc-9009",
    }
    job = run_job(lab, tmp_path, _template("Platykus tenant onboarding"), answers)
    try:
        assert job.status == "successful", job.stdout.read()[-4000:]
        namespace = lab.get_json("namespace", "%s-dev" % TENANT)
        assert namespace["metadata"]["labels"]["platykus.io/tenant"] == TENANT
        binding = lab.get_json("rolebinding", "-n", "%s-dev" % TENANT)["items"]
        assert {"awxco-admins", "awxco-leads", "awxco-devs"} <= {
            s["name"] for b in binding for s in b.get("subjects", [])
        }
        events = list(job.events)
        assert any(e["event"] == "playbook_on_stats" for e in events)
        for secret in _secrets(lab):
            leaked = [e["event"] for e in events if secret in json.dumps(e)]
            assert not leaked, "a secret of an injected credential appears in job events: %s" % leaked
            assert secret not in (Path(job.config.artifact_dir) / "stdout").read_text()
    finally:
        offboard = run_job(
            lab,
            tmp_path,
            _template("Platykus tenant offboarding"),
            {"tenant": TENANT, "confirm": TENANT, "force": "false"},
        )
        assert offboard.status == "successful", offboard.stdout.read()[-4000:]


def test_offboarding_without_confirmation_fails(lab: LabHandle, tmp_path: Path) -> None:
    job = run_job(
        lab,
        tmp_path,
        _template("Platykus tenant offboarding"),
        {"tenant": "awxnone", "confirm": "awxother", "force": "false"},
    )
    assert job.status == "failed"
    assert "needs -e tenant=NAME and -e confirm=NAME" in job.stdout.read()


def test_usage_report_job_keeps_the_password_answer_out_of_events(lab: LabHandle, tmp_path: Path) -> None:
    """A survey's password answer (the Prometheus password) reaches the module and no job event."""
    secret = "pw-awx-5d1e8a7c3b"
    answers = {
        "usage_report_enforce": "false",
        "usage_report_usage_source": "none",
        "usage_report_prometheus_username": "reporter",
        "usage_report_prometheus_password": secret,
    }
    job = run_job(lab, tmp_path, _template("Platykus usage report"), answers)
    assert job.status == "successful", job.stdout.read()[-4000:]
    events = list(job.events)
    assert any(e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Compute the report" for e in events)
    assert not [e["event"] for e in events if secret in json.dumps(e)], "the password answer appears in job events"
    assert secret not in (Path(job.config.artifact_dir) / "stdout").read_text()
