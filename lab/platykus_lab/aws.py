"""The lab's AWS: moto's server on a loopback port, with IAM enforced as AWS enforces it.

`platykus-lab up` runs it as the controller `aws` (lab/controllers.yml): every AWS call the lab
makes (external-dns, the tenants' SecretStores, onboarding's buckets and IAM users, tests) goes to
this endpoint; `platykus-lab env` exports it as AWS_ENDPOINT_URL with the lab admin's keys.

IAM is enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT): the first BOOTSTRAP_REQUESTS requests
create the admin user with AdministratorAccess and its access key, every later request is
evaluated against the caller's IAM policies. moto 5.2 evaluates Secrets Manager calls against the
resource "*" (its SecretsManagerResponse names no resource), so a policy scoped to a prefix would
refuse even the caller's own secrets; `_scope_secret_requests` makes it name the secret's ARN, as
AWS does; Route53 has the same gap, and `_scope_route53_requests` names the hosted zone's ARN.
State is in memory: a restart of this process starts an empty AWS.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import yaml

from .controllers import Context, Runner, register
from .health import http_request

ACCOUNT_ID = "123456789012"  # moto's account
DEFAULT_REGION = "us-east-1"
ADMIN_USER = "platykus-lab-admin"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# create_user, attach_user_policy, create_access_key: then IAM applies to every request.
BOOTSTRAP_REQUESTS = 3
CREDENTIALS_FILE = "credentials.json"
SETTINGS_FILE = "settings.json"


# ------------------------------------------------------------------------------------ the server
def _scope_secret_requests() -> None:
    """Have moto evaluate a Secrets Manager request against the secret's ARN, not "*"."""
    from moto.secretsmanager.responses import SecretsManagerResponse

    def _determine_resource(self: Any) -> str:
        secret_id = self._get_param("SecretId") or self._get_param("Name")
        if not secret_id:
            return "*"  # ListSecrets, BatchGetSecretValue...: no single resource, as on AWS
        secret = self.backend.secrets.get(secret_id)
        if secret is not None:
            return secret.arn
        return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"

    SecretsManagerResponse._determine_resource = _determine_resource


_ZONE_IN_PATH = re.compile(r"/hostedzone/([^/?]+)")


def _scope_route53_requests() -> None:
    """Have moto check Route53 requests as AWS does: against the zone's ARN, not "*", and with the
    signature of the request sent (moto 5.2 hashes the headers as the payload of a bodiless GET,
    so every signed Route53 read failed with SignatureDoesNotMatch once IAM is enforced)."""
    from moto.route53.responses import Route53

    def _determine_resource(self: Any) -> str:
        match = _ZONE_IN_PATH.search(self.path or "")
        return f"arn:aws:route53:::hostedzone/{match.group(1)}" if match else "*"

    authenticate = Route53._authenticate_and_authorize_normal_action

    def _authenticate(self: Any, resource: str = "*") -> None:
        if self.raw_body:
            return authenticate(self, resource)
        saved, self.data = self.data, {}
        try:
            return authenticate(self, resource)
        finally:
            self.data = saved

    Route53._determine_resource = _determine_resource
    Route53._authenticate_and_authorize_normal_action = _authenticate


def _bootstrap(endpoint: str) -> dict[str, str]:
    """The admin user and its key, made within the requests moto lets through unauthenticated."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=DEFAULT_REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName=ADMIN_USER)
    iam.attach_user_policy(UserName=ADMIN_USER, PolicyArn=ADMIN_POLICY)
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _write_private(path: Path, data: dict) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2))
    partial.chmod(0o600)
    os.replace(partial, path)


def serve(workdir: Path, port: int) -> None:
    """Run the server until SIGTERM; write the admin's keys (and this pid) once they work."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_REQUESTS)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one log line per request
    _scope_secret_requests()
    _scope_route53_requests()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    keys = _bootstrap(endpoint)
    _write_private(
        workdir / CREDENTIALS_FILE, {"endpoint": endpoint, "pid": os.getpid(), "account_id": ACCOUNT_ID, **keys}
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


# ----------------------------------------------------------------------------- what clients use
def workdir(lab) -> Path:
    return lab.home / "controllers" / "aws"


def credentials(lab) -> dict[str, Any] | None:
    """The endpoint, account and admin keys of the lab's AWS, or None before it has started."""
    path = workdir(lab) / CREDENTIALS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def region(lab) -> str:
    path = workdir(lab) / SETTINGS_FILE
    return json.loads(path.read_text()).get("region", DEFAULT_REGION) if path.exists() else DEFAULT_REGION


def client_kwargs(lab, keys: dict[str, str] | None = None) -> dict[str, str]:
    """boto3.client(service, **client_kwargs(lab)): the lab's endpoint as the admin (or ``keys``)."""
    creds = credentials(lab)
    if creds is None:
        raise RuntimeError(f"the lab '{lab.name}' has no AWS running; run `platykus-lab up`")
    keys = keys or {k: creds[k] for k in ("aws_access_key_id", "aws_secret_access_key")}
    return {"endpoint_url": creds["endpoint"], "region_name": region(lab), **keys}


def env_exports(lab) -> dict[str, str]:
    """What `platykus-lab env` exports so the AWS CLI, boto3 and the controllers reach the lab's AWS."""
    creds = credentials(lab)
    if creds is None:
        return {}
    name = region(lab)
    return {
        "AWS_ENDPOINT_URL": creds["endpoint"],
        "AWS_REGION": name,
        "AWS_DEFAULT_REGION": name,
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        # Never read a developer's real profile or config by accident.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def inventory_setting(inventory: Path | None, key: str, default: str) -> str:
    """A collection-wide setting from an inventory's group_vars/all/*.yml (plain values only)."""
    folder = inventory / "group_vars" / "all" if inventory else None
    for path in sorted(folder.glob("*.yml")) if folder and folder.is_dir() else []:
        value = (yaml.safe_load(path.read_text()) or {}).get(key)
        if isinstance(value, str) and value and "{{" not in value:
            return value
    return default


# ---------------------------------------------------------------------------------- the runner
def _args(ctx: Context) -> list[str]:
    return ["--workdir", str(ctx.workdir), "--port", str(ctx.own["http"])]


def _prepare(ctx: Context) -> None:
    """Record the inventory's region for clients (moto itself serves every region)."""
    path = ctx.workdir / SETTINGS_FILE
    if ctx.inventory is not None or not path.exists():
        name = inventory_setting(ctx.inventory, "platykus_aws_region", DEFAULT_REGION)
        path.write_text(json.dumps({"region": name}))


def _health(ctx: Context) -> str | None:
    from .controllers import pid

    status, body = http_request(f"http://127.0.0.1:{ctx.own['http']}/moto-api/", timeout=5)
    if status != 200:
        return f"/moto-api/ answered {status or 'nothing'}: {body[:200].decode(errors='replace')}"
    creds = credentials(ctx.lab)
    if not creds or creds.get("pid") != pid(ctx.lab, "aws"):
        return "the admin user is not bootstrapped yet"
    return None


AWS = register(Runner(name="aws", identity=None, ports=("http",), args=_args, health=_health, prepare=_prepare))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platykus_lab.aws", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.workdir, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
