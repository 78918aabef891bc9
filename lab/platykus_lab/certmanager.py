"""cert-manager on the lab: the controllers of the release, run by lab/controllers/cert-manager.

Upstream's controller main is in a module the Go proxy does not serve; ours starts the same
controllers from cert-manager's packages (Issuers, ClusterIssuers, Certificates, the approver and
the SelfSigned and CA signers). CRDs come from the module's deploy/crds, the RBAC from its chart,
bound to the ServiceAccount the chart creates. The platform CA is made by site.yml's certificates
stage (module platform_ca) for the catalog's CA ClusterIssuer.
"""

from __future__ import annotations

from .controller_run import Context, controller, http_check, release_objects

NAMESPACE = "platykus-system"  # the catalog's namespace for the cert-manager release
RELEASE = "cert-manager"


def _objects(ctx: Context) -> list[dict]:
    values = {"global": {"leaderElection": {"namespace": NAMESPACE}}}
    return release_objects(ctx, "deploy/charts/cert-manager", NAMESPACE, RELEASE, values, crds=("deploy/crds",))


def _args(ctx: Context) -> list[str]:
    return [
        f"--kubeconfig={ctx.kubeconfig}",
        # ClusterIssuers read their CA Secret here (platykus-ca, made by the platform_ca module).
        f"--cluster-resource-namespace={NAMESPACE}",
        f"--health-address=127.0.0.1:{ctx.own['health']}",
    ]


CERT_MANAGER = controller(
    RELEASE,
    namespace=NAMESPACE,
    ports=("health",),
    args=_args,
    health=http_check("health", "/healthz"),
    objects=_objects,
)
