"""metrics-server on the lab, wired the way kwokctl's --enable-metrics-server does it.

kwok serves each simulated node's /metrics/resource (lab/kwok/metrics.yaml; pod usage from the
kwok.x-k8s.io/usage-cpu/-memory annotations) on its own port; every node carries the annotation
metrics.k8s.io/resource-metrics-path naming its path there. metrics-server scrapes them and is
served by the API server's aggregation layer through the chart's APIService
v1beta1.metrics.k8s.io, whose Service is an ExternalName `localhost` (Endpoints refuse loopback).
"""

from __future__ import annotations

import json

from .controller_run import Context, chart_objects, controller, http_check

NAMESPACE = "platykus-system"  # the catalog's namespace for the metrics-server release
RELEASE = "metrics-server"
APISERVICE = "v1beta1.metrics.k8s.io"
# Short enough for HPA tests and benchmarks; the chart's default is 15s (metrics-server needs two
# scrapes before it serves a pod).
RESOLUTION = "10s"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "APIService")


def _objects(ctx: Context) -> list[dict]:
    """The chart's RBAC and APIService (rendered from the module), and a Service reaching 127.0.0.1."""
    port = ctx.own["https"]
    chart = chart_objects(
        ctx.lab, ctx.share / "charts" / "metrics-server", RELEASE, NAMESPACE, RBAC_KINDS, {"service": {"port": port}}
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": RELEASE, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": "metrics-server"}},
        "spec": {"type": "ExternalName", "externalName": "localhost", "ports": [{"name": "https", "port": port}]},
    }
    return chart + [service]


def _args(ctx: Context) -> list[str]:
    kube = str(ctx.kubeconfig)
    return [
        f"--secure-port={ctx.own['https']}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={ctx.workdir / 'certs'}",
        f"--kubeconfig={kube}",
        f"--authentication-kubeconfig={kube}",
        f"--authorization-kubeconfig={kube}",
        # kwok answers for every node on its one port, with a self-signed certificate.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-port={ctx.lab_ports['kwok']}",
        "--kubelet-insecure-tls",
        f"--metric-resolution={RESOLUTION}",
        # Must be below the resolution; kwok answers on 127.0.0.1 in milliseconds.
        "--kubelet-request-timeout=5s",
    ]


_ready = http_check("https", "/readyz", scheme="https")


def _health(ctx: Context) -> str | None:
    """Ready itself, and the API server serves metrics.k8s.io through it (APIService Available)."""
    problem = _ready(ctx)
    if problem:
        return problem
    status, body = ctx.lab.api(f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
    conditions = json.loads(body).get("status", {}).get("conditions", []) if status == 200 else []
    available = [c for c in conditions if c.get("type") == "Available"]
    if not available or available[0].get("status") != "True":
        return f"APIService {APISERVICE} not Available: {available[0].get('message') if available else status}"
    return None


METRICS_SERVER = controller(
    RELEASE, namespace=NAMESPACE, ports=("https",), args=_args, health=_health, objects=_objects
)
