"""external-dns on the lab: the release's binary against the lab's Route53 (AWS_ENDPOINT_URL).

Sources service and ingress, TXT registry owned by the cluster, the domain filter is the
inventory's platform zone (`platykus_route53_zone`), which `prepare` creates in the lab's Route53.
It authenticates to AWS as an IAM user of its own whose only policy is the catalog's (the one
the aws inventory gives its IRSA role): changes in the platform zone, lists elsewhere. On the lab
the policy is `sync` (deleting a Service removes its records); the aws catalog keeps upsert-only.
RBAC from the chart in the module, bound to the ServiceAccount the chart creates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import aws, catalog
from .controller_run import Context, _stop_pid, controller, http_check, pid, release_objects

NAMESPACE = "platykus-system"  # the catalog's namespace for the external-dns release
RELEASE = "external-dns"
CHART_VALUES = {"sources": ["service", "ingress"], "serviceAccount": {"create": True}}
DEFAULT_ZONE = "apps.platykus-lab.test"
DEFAULT_OWNER = "platykus-lab"
SETTINGS_FILE = "settings.json"
KEY_FILE = "aws-key.json"
POLICY_NAME = "platykus-external-dns"


def _settings(ctx: Context) -> dict[str, str]:
    path = ctx.workdir / SETTINGS_FILE
    return json.loads(path.read_text()) if path.exists() else {"zone": DEFAULT_ZONE, "owner": DEFAULT_OWNER}


def zone_name(lab) -> str:
    """The platform zone the lab's external-dns writes to (for tests and the run summary)."""
    path = lab.home / "controllers" / RELEASE / SETTINGS_FILE
    return json.loads(path.read_text())["zone"] if path.exists() else DEFAULT_ZONE


def catalog_policy(zone_id: str) -> dict[str, Any]:
    """The catalog's IAM policy for external-dns (its irsa.policy), for the given zone."""
    text = json.dumps(catalog.service(RELEASE)["irsa"]["policy"])
    return json.loads(text.replace("${platykus_route53_zone_id}", zone_id))


def ensure_zone(route53: Any, zone: str) -> str:
    """The hosted zone's id (without /hostedzone/), created when the lab's Route53 lacks it."""
    for found in route53.list_hosted_zones_by_name(DNSName=zone, MaxItems="1")["HostedZones"]:
        if found["Name"].rstrip(".") == zone:
            return found["Id"].split("/")[-1]
    created = route53.create_hosted_zone(Name=zone, CallerReference=f"platykus-lab-{zone}")
    return created["HostedZone"]["Id"].split("/")[-1]


def _ensure_user(iam: Any, user: str, policy: dict[str, Any]) -> None:
    if user not in {u["UserName"] for u in iam.list_users()["Users"]}:
        iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))


def _key(iam: Any, user: str, path: Path) -> bool:
    """Keep the stored access key while IAM still has it; else make one. True when it is new."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    live = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    if stored.get("aws_access_key_id") in live:
        return False
    key = iam.create_access_key(UserName=user)["AccessKey"]
    path.write_text(
        json.dumps({"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    )
    path.chmod(0o600)
    return True


def _prepare(ctx: Context) -> None:
    """Zone and owner from the inventory; the zone in the lab's Route53; the IAM user and key."""
    import boto3

    path = ctx.workdir / SETTINGS_FILE
    if ctx.inventory is not None or not path.exists():
        zone = aws.inventory_setting(ctx.inventory, "platykus_route53_zone", DEFAULT_ZONE)
        owner = aws.inventory_setting(ctx.inventory, "platykus_cluster_name", DEFAULT_OWNER)
        path.write_text(json.dumps({"zone": zone, "owner": owner}))
    settings = _settings(ctx)
    admin = aws.client_kwargs(ctx.lab)
    zone_id = ensure_zone(boto3.client("route53", **admin), settings["zone"])
    iam = boto3.client("iam", **admin)
    user = f"{settings['owner']}-external-dns"
    _ensure_user(iam, user, catalog_policy(zone_id))
    if _key(iam, user, ctx.workdir / KEY_FILE) and pid(ctx.lab, RELEASE):
        _stop_pid(ctx.lab, RELEASE)  # a fresh AWS (aws restarted): start again with the new key


def _objects(ctx: Context) -> list[dict]:
    return release_objects(ctx, "charts/external-dns", NAMESPACE, RELEASE, CHART_VALUES)


def _args(ctx: Context) -> list[str]:
    settings = _settings(ctx)
    return [
        f"--kubeconfig={ctx.kubeconfig}",
        "--source=service",
        "--source=ingress",
        "--provider=aws",
        "--registry=txt",
        f"--txt-owner-id={settings['owner']}",
        f"--domain-filter={settings['zone']}",
        "--policy=sync",
        "--interval=5s",
        "--events",
        "--publish-internal-services",
        f"--metrics-address=127.0.0.1:{ctx.own['metrics']}",
    ]


def _env(ctx: Context) -> dict[str, str]:
    """Route53 at the lab's AWS (the AWS SDK v2 reads AWS_ENDPOINT_URL) as its own IAM user."""
    key_file = ctx.workdir / KEY_FILE
    if not key_file.exists():
        return {}
    keys = json.loads(key_file.read_text())
    return aws.controller_env(
        ctx.lab,
        AWS_ACCESS_KEY_ID=keys["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=keys["aws_secret_access_key"],
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )


EXTERNAL_DNS = controller(
    RELEASE,
    namespace=NAMESPACE,
    ports=("metrics",),
    args=_args,
    health=http_check("metrics", "/healthz"),
    env=_env,
    objects=_objects,
    prepare=_prepare,
)
