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

State survives a restart: moto keeps it in memory, so `_Snapshots` pickles every backend that holds
something into STATE_FILE half a second after the last request that changed it (and on SIGTERM), and
a restarted server loads it before it serves (IAM enforced from the first request; the admin and
its key are in the snapshot, so `platykus-lab env` stays valid). A crash loses at most that last
half second; `down --purge` removes the file with the lab.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import logging
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .config import inventory_vars
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
STATE_FILE = "state.pickle"
# Seconds without a further change before a snapshot is written (a burst of calls writes once).
SNAPSHOT_DELAY = 0.5
# Operations that only read: AWS names them so in every protocol (ListUsers, GetSecretValue...).
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet", "Lookup", "Simulate", "Check", "Search")


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


# ---------------------------------------------------------------------------- state across restarts
def _action(environ: dict, body: bytes) -> str:
    """The operation a request names: X-Amz-Target (JSON protocols) or Action= (query protocols)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    form = parse_qs(environ.get("QUERY_STRING", ""))
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qs(body.decode(errors="replace")))
    return (form.get("Action") or [""])[0]


def mutates(environ: dict, body: bytes) -> bool:
    """Whether a request may change moto's state: a named operation unless it reads, else (REST
    protocols: S3, Route53) any method but GET/HEAD/OPTIONS."""
    action = _action(environ, body)
    if action:
        return not action.startswith(_READ_PREFIXES)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


def _backends() -> dict[tuple[str, str], Any]:
    """Every moto backend this process has loaded that holds something, by (module, attribute)."""
    from moto.core.base_backend import BackendDict

    found, seen = {}, set()
    for module_name, module in sorted(sys.modules.items()):
        if not (module_name.startswith("moto.") and module_name.endswith(".models")) or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            # Once each: moto.sts.models imports iam_backends, the same object as moto.iam.models'.
            if isinstance(value, BackendDict) and len(value) and id(value) not in seen:
                seen.add(id(value))
                found[(module_name, attribute)] = value
    return found


def restore(path: Path) -> int:
    """Load a snapshot written by `_Snapshots` into moto's backends; return how many it held."""
    from moto.core.base_backend import BackendDict

    saved: dict[tuple[str, str], bytes] = pickle.loads(path.read_bytes())
    for (module_name, attribute), data in saved.items():
        live = getattr(importlib.import_module(module_name), attribute)
        loaded = pickle.loads(data)
        live.clear()
        live.update(loaded)
        if live not in BackendDict._instances:  # what moto's reset (/moto-api/reset) clears
            BackendDict._instances.append(live)
    return len(saved)


class _Snapshots:
    """Write moto's state to ``path`` shortly after each change; changes and snapshots take turns."""

    def __init__(self, path: Path, log: Callable[[str], None]):
        self.path, self.log = path, log
        self.lock = threading.RLock()
        self.dirty = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="aws-snapshots", daemon=True)

    def wrap(self, app: Callable) -> Callable:
        """The WSGI app, with each changing request run under the lock and marked for a snapshot."""

        def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if not mutates(environ, body):
                return app(environ, start_response)
            with self.lock:
                result = app(environ, start_response)
                try:
                    response = list(result)  # the whole change happens under the lock
                finally:
                    getattr(result, "close", lambda: None)()
            self.dirty.set()
            return response

        return wrapped

    def save(self) -> None:
        from moto.core.base_backend import backend_lock  # held while moto adds an account or region

        with self.lock, backend_lock:
            for attempt in range(3):
                try:
                    saved = {key: pickle.dumps(backend) for key, backend in _backends().items()}
                    break
                except RuntimeError:  # a read made a region's backend meanwhile; take it again
                    if attempt == 2:
                        raise
        _write_private(self.path, saved, binary=True)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            if not self.dirty.wait(timeout=1.0):
                continue
            time.sleep(SNAPSHOT_DELAY)
            self.dirty.clear()
            try:
                self.save()
            except Exception as err:  # noqa: BLE001 - keep serving; the log says the state is at risk
                self.log(f"snapshot of the lab's AWS to {self.path} failed: {err!r}")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        if self.dirty.is_set():
            self.save()


def _server(port: int, snapshots: _Snapshots) -> Any:
    """moto's threaded server with the snapshots' WSGI wrapper around its app."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = snapshots.wrap(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address="127.0.0.1", port=port, verbose=False)


def _stored_keys(workdir: Path) -> dict[str, str] | None:
    path = workdir / CREDENTIALS_FILE
    if not path.exists():
        return None
    creds = json.loads(path.read_text())
    return {k: creds[k] for k in ("aws_access_key_id", "aws_secret_access_key")}


def _keys_work(endpoint: str, keys: dict[str, str]) -> bool:
    import boto3
    from botocore.exceptions import ClientError

    sts = boto3.client("sts", endpoint_url=endpoint, region_name=DEFAULT_REGION, **keys)
    try:
        return sts.get_caller_identity()["Arn"].endswith(f":user/{ADMIN_USER}")
    except ClientError:
        return False


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


def _write_private(path: Path, data: Any, binary: bool = False) -> None:
    """Write a file only its owner reads (keys, the snapshot): a partial file, then renamed."""
    partial = path.with_suffix(".partial")
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    if binary:
        partial.write_bytes(pickle.dumps(data))
    else:
        partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


def _restored_keys(workdir: Path) -> dict[str, str] | None:
    """Load the last snapshot into moto (before it serves); None when there is none or it fails."""
    path, keys = workdir / STATE_FILE, _stored_keys(workdir)
    if not path.exists() or keys is None:
        return None
    try:
        count = restore(path)
    except Exception as err:  # noqa: BLE001 - an unreadable snapshot: keep it aside, start empty
        aside = path.with_suffix(".unreadable")
        os.replace(path, aside)
        _log(f"the snapshot could not be loaded ({err!r}); it is kept as {aside} and this AWS starts empty")
        return None
    _log(f"restored {count} backends from {path}")
    return keys


def serve(workdir: Path, port: int) -> None:
    """Run the server until SIGTERM; write the admin's keys (and this pid) once they work.

    With a snapshot of an earlier run, its state is loaded first and IAM applies from the first
    request; otherwise the first BOOTSTRAP_REQUESTS requests make the admin.
    """
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one log line per request
    _scope_secret_requests()
    _scope_route53_requests()
    keys = _restored_keys(workdir)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if keys else BOOTSTRAP_REQUESTS
    snapshots = _Snapshots(workdir / STATE_FILE, _log)
    server = _server(port, snapshots)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    if keys and not _keys_work(endpoint, keys):
        _log("the snapshot holds no working admin key; this AWS starts empty")
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        keys = None
    if keys is None:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = ActionAuthenticatorMixin.request_count + BOOTSTRAP_REQUESTS
        keys = _bootstrap(endpoint)
    snapshots.save()
    snapshots.start()
    _write_private(
        workdir / CREDENTIALS_FILE, {"endpoint": endpoint, "pid": os.getpid(), "account_id": ACCOUNT_ID, **keys}
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    snapshots.stop()


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
    """A collection-wide setting from an inventory's variables (plain values only)."""
    value, _path = inventory_vars(inventory).get(key, (None, None)) if inventory else (None, None)
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
