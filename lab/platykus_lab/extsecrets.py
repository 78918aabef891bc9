"""external-secrets on the lab: upstream's controller (lab/controllers/external-secrets) against
the lab's AWS Secrets Manager.

The controller holds no AWS identity of its own: each tenant's SecretStore authenticates as the
tenant's IAM identity (module_utils/_tenants/aws.py). CRDs from the module's deploy/crds, RBAC
from its chart, bound to the ServiceAccount the chart creates.
"""

from __future__ import annotations

from . import aws, chart_rbac
from .controllers import Context, Identity, Runner, register, yaml_objects
from .health import http_request

NAMESPACE = "platykus-system"  # the catalog's namespace for the external-secrets release
RELEASE = "external-secrets"
CHART_VALUES = {"installCRDs": False, "webhook": {"create": False}, "certController": {"create": False}}


def _objects(ctx: Context) -> list[dict]:
    crds = yaml_objects(ctx.share / "deploy" / "crds" / "bundle.yaml")
    chart = chart_rbac.render(
        ctx.lab, ctx.share / "deploy" / "charts" / "external-secrets", RELEASE, NAMESPACE, CHART_VALUES
    )
    return crds + chart_rbac.for_account(chart, NAMESPACE, RELEASE)


def _args(ctx: Context) -> list[str]:
    return [
        f"--kubeconfig={ctx.kubeconfig}",  # our wrapper moves it into $KUBECONFIG
        f"--metrics-addr=127.0.0.1:{ctx.own['metrics']}",
        "--enable-leader-election=false",
        "--concurrent=2",
        # A store whose credentials were just written is checked again soon, not in 5 minutes.
        "--store-requeue-interval=10s",
        "--loglevel=info",
    ]


def _env(ctx: Context) -> dict[str, str]:
    """Secrets Manager and STS at the lab's AWS (the provider's AWS SDK v1 reads these)."""
    creds = aws.credentials(ctx.lab)
    if creds is None:
        return {}
    return {
        "AWS_SECRETSMANAGER_ENDPOINT": creds["endpoint"],
        "AWS_STS_ENDPOINT": creds["endpoint"],
        "AWS_REGION": aws.region(ctx.lab),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _health(ctx: Context) -> str | None:
    status, body = http_request(f"http://127.0.0.1:{ctx.own['metrics']}/metrics", timeout=5)
    return None if status == 200 else f"/metrics answered {status or 'nothing'}: {body[:200].decode(errors='replace')}"


EXTERNAL_SECRETS = register(
    Runner(
        name="external-secrets",
        identity=Identity(NAMESPACE, RELEASE),
        ports=("metrics",),
        args=_args,
        health=_health,
        env=_env,
        objects=_objects,
    )
)
