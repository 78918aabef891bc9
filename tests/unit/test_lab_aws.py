"""The lab's AWS and the chart-RBAC helper without a lab: exports, settings, the account's RBAC."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from platykus_lab import aws, chart_rbac


@dataclass
class FakeLab:
    home: Path
    name: str = "unit"


def test_env_exports_nothing_before_the_lab_has_an_aws(tmp_path):
    assert aws.env_exports(FakeLab(tmp_path)) == {}
    with pytest.raises(RuntimeError, match="has no AWS running; run `platykus-lab up`"):
        aws.client_kwargs(FakeLab(tmp_path))


def test_env_exports_the_endpoint_region_and_admin_keys(tmp_path):
    lab = FakeLab(tmp_path)
    aws.workdir(lab).mkdir(parents=True)
    creds = {"endpoint": "http://127.0.0.1:20001", "pid": 1, "aws_access_key_id": "AKIA1", "aws_secret_access_key": "s"}
    (aws.workdir(lab) / aws.CREDENTIALS_FILE).write_text(json.dumps(creds))
    (aws.workdir(lab) / aws.SETTINGS_FILE).write_text(json.dumps({"region": "eu-west-1"}))
    exports = aws.env_exports(lab)
    assert exports["AWS_ENDPOINT_URL"] == "http://127.0.0.1:20001"
    assert exports["AWS_REGION"] == exports["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert exports["AWS_ACCESS_KEY_ID"] == "AKIA1" and exports["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert aws.client_kwargs(lab, {"aws_access_key_id": "T", "aws_secret_access_key": "U"})["aws_access_key_id"] == "T"


def test_inventory_settings_skip_templates_and_default(tmp_path):
    folder = tmp_path / "group_vars" / "all"
    folder.mkdir(parents=True)
    (folder / "a.yml").write_text("platykus_aws_region: \"{{ lookup('env', 'R') }}\"\n")
    assert aws.inventory_setting(tmp_path, "platykus_aws_region", "us-east-1") == "us-east-1"
    (folder / "b.yml").write_text("platykus_aws_region: eu-central-1\n")
    assert aws.inventory_setting(tmp_path, "platykus_aws_region", "us-east-1") == "eu-central-1"
    assert aws.inventory_setting(None, "platykus_aws_region", "us-east-1") == "us-east-1"


def _binding(kind: str, name: str, role_kind: str, role: str, account: str, namespace: str | None = None) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    subjects = [{"kind": "ServiceAccount", "name": account, "namespace": "ns"}]
    return {"kind": kind, "metadata": meta, "roleRef": {"kind": role_kind, "name": role}, "subjects": subjects}


def test_for_account_keeps_only_what_the_chart_grants_that_account():
    objects = [
        {"kind": "ServiceAccount", "metadata": {"name": "ctl", "namespace": "ns"}},
        {"kind": "ServiceAccount", "metadata": {"name": "webhook", "namespace": "ns"}},
        {"kind": "ClusterRole", "metadata": {"name": "ctl-role"}},
        {"kind": "ClusterRole", "metadata": {"name": "webhook-role"}},
        {"kind": "ClusterRole", "metadata": {"name": "aggregate-view"}},
        {"kind": "Role", "metadata": {"name": "leader", "namespace": "ns"}},
        _binding("ClusterRoleBinding", "ctl", "ClusterRole", "ctl-role", "ctl"),
        _binding("ClusterRoleBinding", "webhook", "ClusterRole", "webhook-role", "webhook"),
        _binding("RoleBinding", "leader", "Role", "leader", "ctl", "ns"),
    ]
    kept = {(o["kind"], o["metadata"]["name"]) for o in chart_rbac.for_account(objects, "ns", "ctl")}
    assert kept == {
        ("ServiceAccount", "ctl"), ("ClusterRole", "ctl-role"), ("Role", "leader"),
        ("ClusterRoleBinding", "ctl"), ("RoleBinding", "leader"),
    }  # fmt: skip
