"""cert-manager on the lab: the controllers of the release, run by lab/controllers/cert-manager.

Upstream's controller main is in a module the Go proxy does not serve; ours starts the same
controllers from cert-manager's packages (Issuers, ClusterIssuers, Certificates, the approver and
the SelfSigned and CA signers). CRDs come from the module's deploy/crds, the RBAC from its chart,
bound to the ServiceAccount the chart creates. The platform CA is made by site.yml's certificates
stage (module platform_ca) for the catalog's CA ClusterIssuer.
"""

from __future__ import annotations

from . import chart_rbac
from .controllers import Context, Identity, Runner, register, yaml_objects
from .health import http_request

NAMESPACE = "platykus-system"  # the catalog's namespace for the cert-manager release
RELEASE = "cert-manager"


def _objects(ctx: Context) -> list[dict]:
    crds = yaml_objects(ctx.share / "deploy" / "crds")
    values = {"global": {"leaderElection": {"namespace": NAMESPACE}}}
    chart = chart_rbac.render(ctx.lab, ctx.share / "deploy" / "charts" / "cert-manager", RELEASE, NAMESPACE, values)
    return crds + chart_rbac.for_account(chart, NAMESPACE, RELEASE)


def _args(ctx: Context) -> list[str]:
    return [
        f"--kubeconfig={ctx.kubeconfig}",
        # ClusterIssuers read their CA Secret here (platykus-ca, made by the platform_ca module).
        f"--cluster-resource-namespace={NAMESPACE}",
        f"--health-address=127.0.0.1:{ctx.own['health']}",
    ]


def _health(ctx: Context) -> str | None:
    status, body = http_request(f"http://127.0.0.1:{ctx.own['health']}/healthz", timeout=5)
    return None if status == 200 else f"/healthz answered {status or 'nothing'}: {body[:200].decode(errors='replace')}"


CERT_MANAGER = register(
    Runner(
        name="cert-manager",
        identity=Identity(NAMESPACE, RELEASE),
        ports=("health",),
        args=_args,
        health=_health,
        objects=_objects,
    )
)
