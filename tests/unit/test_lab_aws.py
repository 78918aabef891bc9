"""The lab's AWS and the chart-RBAC helper without a lab: exports, settings, the account's RBAC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from platykus_lab import aws, chart_rbac
from platykus_lab.config import LAB_DIR, free_port

_FORM = "application/x-www-form-urlencoded; charset=utf-8"


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


@pytest.mark.parametrize(
    "environ, body, changes",
    [
        ({"REQUEST_METHOD": "POST", "CONTENT_TYPE": _FORM}, b"Action=CreateUser&UserName=a", True),
        ({"REQUEST_METHOD": "POST", "CONTENT_TYPE": _FORM}, b"Action=ListUsers&Version=2010-05-08", False),
        ({"REQUEST_METHOD": "POST", "CONTENT_TYPE": _FORM}, b"Action=GetCallerIdentity", False),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "secretsmanager.PutSecretValue"}, b"{}", True),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}, b"{}", False),
        ({"REQUEST_METHOD": "GET", "QUERY_STRING": "Action=DeleteUser&UserName=a"}, b"", True),
        ({"REQUEST_METHOD": "PUT"}, b"object body", True),  # S3 PutObject, CreateBucket
        ({"REQUEST_METHOD": "DELETE"}, b"", True),
        ({"REQUEST_METHOD": "GET"}, b"", False),  # S3 GetObject, Route53 ListResourceRecordSets
        ({"REQUEST_METHOD": "HEAD"}, b"", False),
    ],
)
def test_requests_that_may_change_the_state_are_told_from_reads(environ, body, changes):
    assert aws.mutates(environ, body) is changes


def _serve(workdir: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(LAB_DIR))
    cmd = [sys.executable, "-m", "platykus_lab.aws", "--workdir", str(workdir), "--port", str(port)]
    return subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _started(workdir: Path, proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    """The credentials the server wrote once its admin works (this process's pid in them)."""
    deadline = time.monotonic() + timeout
    path = workdir / aws.CREDENTIALS_FILE
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        creds = json.loads(path.read_text()) if path.exists() else {}
        if creds.get("pid") == proc.pid:
            return creds
        time.sleep(0.2)
    raise AssertionError(f"the lab's AWS did not start within {timeout:.0f}s")


def _client(service: str, creds: dict, **keys):
    import boto3

    keys = keys or {k: creds[k] for k in ("aws_access_key_id", "aws_secret_access_key")}
    return boto3.client(service, endpoint_url=creds["endpoint"], region_name="us-east-1", **keys)


def test_a_killed_aws_comes_back_with_its_state_and_the_same_admin_key(tmp_path):
    """The fault of a crash (SIGKILL, no chance to save): what was made before is there after."""
    port = free_port()
    first = _serve(tmp_path, port)
    try:
        creds = _started(tmp_path, first)
        iam, s3 = _client("iam", creds), _client("s3", creds)
        iam.create_user(UserName="acme-tenant")
        key = iam.create_access_key(UserName="acme-tenant")["AccessKey"]
        s3.create_bucket(Bucket="acme-bucket")
        s3.put_object(Bucket="acme-bucket", Key="kept", Body=b"data")
        _client("secretsmanager", creds).create_secret(Name="acme/db", SecretString="s3cret")
        time.sleep(aws.SNAPSHOT_DELAY + 1.5)  # the snapshot after the last change
    finally:
        first.kill()
        first.wait()
    second = _serve(tmp_path, port)
    try:
        again = _started(tmp_path, second)
        assert {k: again[k] for k in ("aws_access_key_id", "aws_secret_access_key", "endpoint")} == {
            k: creds[k] for k in ("aws_access_key_id", "aws_secret_access_key", "endpoint")
        }
        users = {u["UserName"] for u in _client("iam", again).list_users()["Users"]}
        assert users == {aws.ADMIN_USER, "acme-tenant"}
        assert _client("s3", again).get_object(Bucket="acme-bucket", Key="kept")["Body"].read() == b"data"
        assert _client("secretsmanager", again).get_secret_value(SecretId="acme/db")["SecretString"] == "s3cret"
        tenant = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        assert _client("sts", again, **tenant).get_caller_identity()["Arn"].endswith(":user/acme-tenant")
        # IAM still applies from the first request: no bootstrap window after a restore.
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError, match="InvalidClientTokenId"):
            _client("iam", again, aws_access_key_id="AKIAFORGED", aws_secret_access_key="x").list_users()
        assert (tmp_path / aws.STATE_FILE).stat().st_mode & 0o077 == 0
    finally:
        second.terminate()
        second.wait(timeout=30)


def test_an_unreadable_snapshot_is_kept_aside_and_the_aws_starts_empty(tmp_path):
    (tmp_path / aws.STATE_FILE).write_bytes(b"not a pickle")
    (tmp_path / aws.CREDENTIALS_FILE).write_text(
        json.dumps({"aws_access_key_id": "AKIAOLD", "aws_secret_access_key": "old", "pid": 1, "endpoint": "x"})
    )
    proc = _serve(tmp_path, free_port())
    try:
        creds = _started(tmp_path, proc)
        assert creds["aws_access_key_id"] != "AKIAOLD"
        assert {u["UserName"] for u in _client("iam", creds).list_users()["Users"]} == {aws.ADMIN_USER}
        assert (tmp_path / "state.unreadable").read_bytes() == b"not a pickle"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
