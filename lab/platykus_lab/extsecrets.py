"""external-secrets on the lab: upstream's controller (lab/controllers/external-secrets) against
the lab's AWS Secrets Manager.

The controller holds no AWS identity of its own: each tenant's SecretStore authenticates as the
tenant's IAM identity (module_utils/_tenants/aws.py). CRDs from the module's deploy/crds, RBAC
from its chart, bound to the ServiceAccount the chart creates.
"""

from __future__ import annotations

from . import aws
from .controller_run import Context, controller, http_check, release_objects

NAMESPACE = "platykus-system"  # the catalog's namespace for the external-secrets release
RELEASE = "external-secrets"
CHART_VALUES = {"installCRDs": False, "webhook": {"create": False}, "certController": {"create": False}}


def _objects(ctx: Context) -> list[dict]:
    chart = "deploy/charts/external-secrets"
    return release_objects(ctx, chart, NAMESPACE, RELEASE, CHART_VALUES, crds=("deploy/crds/bundle.yaml",))


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
    return aws.controller_env(ctx.lab, ("AWS_SECRETSMANAGER_ENDPOINT", "AWS_STS_ENDPOINT"))


EXTERNAL_SECRETS = controller(
    RELEASE,
    namespace=NAMESPACE,
    ports=("metrics",),
    args=_args,
    health=http_check("metrics", "/metrics"),
    env=_env,
    objects=_objects,
)
