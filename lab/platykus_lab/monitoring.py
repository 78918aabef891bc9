"""Prometheus and Alertmanager on the lab, in place of kube-prometheus-stack's pods.

Prometheus scrapes what the chart's ServiceMonitors would on a cluster: the API server,
controller-manager and scheduler (with the identity and ClusterRole the chart gives Prometheus),
kwok's per-node kubelet metrics, and the lab's other controllers. Its rules and Alertmanager's
routes are files in the lab's folder that the observability stage writes (see
`write_rules`/`write_routes`) before asking both to reload; until then Alertmanager routes to a
receiver that drops everything.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .controller_run import Context, controller, http_check
from .health import CERT_DIRS

NAMESPACE = "platykus-monitoring"  # the catalog's namespace for kube-prometheus-stack
# The chart's service account with fullnameOverride `kps` (catalog values).
PROMETHEUS_SA = "kps-prometheus"
# Short, so alerts and scale tests settle in seconds; a cluster's chart default is 30s.
SCRAPE_INTERVAL = "5s"
DEFAULT_ROUTES = {"route": {"receiver": "platykus-null"}, "receivers": [{"name": "platykus-null"}]}


def prometheus_cluster_role() -> list[dict]:
    """kube-prometheus-stack's Prometheus ClusterRole and binding (templates/prometheus/
    clusterrole.yaml and clusterrolebinding.yaml, chart 79.x), written out: the chart is not in a
    Go module the lab can read."""
    name = "kps-prometheus"
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["nodes", "nodes/metrics", "services", "endpoints", "pods"],
                    "verbs": ["get", "list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list", "watch"]},
                # /metrics/resources: kube-scheduler's pod requests and limits (the cost history reads them).
                {"nonResourceURLs": ["/metrics", "/metrics/cadvisor", "/metrics/resources"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": PROMETHEUS_SA, "namespace": NAMESPACE}],
        },
    ]


def rules_dir(workdir: Path) -> Path:
    return workdir / "rules"


def _client_tls(ctx: Context, ca_file: str) -> dict:
    """TLS as Prometheus's own identity: the client certificate of its ServiceAccount user."""
    cert = ctx.lab.pki_dir / "controllers" / "prometheus.crt"
    return {"ca_file": ca_file, "cert_file": str(cert), "key_file": str(cert.with_suffix(".key"))}


def _component_jobs(ctx: Context) -> list[dict]:
    """The control plane's /metrics over https, as the chart's ServiceMonitors scrape them."""
    ports = ctx.lab_ports
    jobs = [
        {
            "job_name": "apiserver",
            "scheme": "https",
            "tls_config": _client_tls(ctx, str(ctx.lab.pki_dir / "ca.crt")),
            "static_configs": [{"targets": [f"127.0.0.1:{ports['apiserver']}"]}],
        }
    ]
    for component, port_name in (("kube-controller-manager", "controller_manager"), ("kube-scheduler", "scheduler")):
        # Each serves with the self-signed certificate it wrote into the lab at first start.
        ca = str(ctx.lab.home / CERT_DIRS[component] / f"{component}.crt")
        jobs.append(
            {
                "job_name": component,
                "scheme": "https",
                "tls_config": _client_tls(ctx, ca),
                "static_configs": [{"targets": [f"127.0.0.1:{ports[port_name]}"]}],
            }
        )
    # kube-scheduler's /metrics/resources: kube_pod_resource_request/_limit per pod, node and
    # resource, what kube-state-metrics' kube_pod_container_resource_requests gives on a cluster.
    scheduler = dict(jobs[-1], job_name="kube-scheduler-resources", metrics_path="/metrics/resources")
    return jobs + [scheduler, _node_lifetimes_job(ctx)]


def _node_lifetimes_job(ctx: Context) -> dict:
    """Kubernetes service discovery of Nodes: one ``up`` series per node while it exists, labelled
    with its instance type, capacity type and zone (the cost history's node lifetimes). The target
    is the node's kubelet resource metrics at kwok; the samples are dropped (kwok-nodes keeps them)."""
    label = "__meta_kubernetes_node_label_"
    keep = {
        "node": "__meta_kubernetes_node_name",
        "instance_type": label + "node_kubernetes_io_instance_type",
        "capacity_type": label + "karpenter_sh_capacity_type",
        "zone": label + "topology_kubernetes_io_zone",
    }
    relabel = [{"source_labels": [source], "target_label": target} for target, source in keep.items()]
    relabel += [
        {"target_label": "__address__", "replacement": f"127.0.0.1:{ctx.lab_ports['kwok']}"},
        {
            "source_labels": ["__meta_kubernetes_node_name"],
            "target_label": "__metrics_path__",
            "replacement": "/metrics/nodes/${1}/metrics/resource",
        },
    ]
    return {
        "job_name": "kubernetes-nodes",
        "kubernetes_sd_configs": [
            {"role": "node", "api_server": ctx.server, "tls_config": _client_tls(ctx, str(ctx.lab.pki_dir / "ca.crt"))}
        ],
        "relabel_configs": relabel,
        "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": ".+", "action": "drop"}],
    }


def _controller_jobs(ctx: Context) -> list[dict]:
    """kwok's per-node kubelet metrics (its own discovery endpoint) and the lab's controllers."""
    jobs = [
        {
            "job_name": "kwok-nodes",
            "http_sd_configs": [{"url": f"http://127.0.0.1:{ctx.lab_ports['kwok']}/discovery/prometheus"}],
        },
        {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{ctx.own['web']}"]}]},
    ]
    if "alertmanager" in ctx.ports:
        jobs.append(
            {
                "job_name": "alertmanager",
                "static_configs": [{"targets": [f"127.0.0.1:{ctx.ports['alertmanager']['web']}"]}],
            }
        )
    if "kube-state-metrics" in ctx.ports:
        jobs.append(
            {
                "job_name": "kube-state-metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{ctx.ports['kube-state-metrics']['http']}"]}],
            }
        )
    if "karpenter" in ctx.ports:
        jobs.append(
            {
                "job_name": "karpenter",
                "static_configs": [{"targets": [f"127.0.0.1:{ctx.ports['karpenter']['metrics']}"]}],
            }
        )
    return jobs


def prometheus_config(ctx: Context) -> dict:
    config: dict = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules_dir(ctx.workdir) / "*.yml")],
        "scrape_configs": _component_jobs(ctx) + _controller_jobs(ctx),
    }
    if "alertmanager" in ctx.ports:
        targets = [f"127.0.0.1:{ctx.ports['alertmanager']['web']}"]
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
    return config


def _prometheus_prepare(ctx: Context) -> None:
    rules_dir(ctx.workdir).mkdir(parents=True, exist_ok=True)
    (ctx.workdir / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(ctx), sort_keys=False))


def _prometheus_args(ctx: Context) -> list[str]:
    return [
        f"--config.file={ctx.workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={ctx.workdir / 'data'}",
        "--storage.tsdb.retention.time=1d",
        f"--web.listen-address=127.0.0.1:{ctx.own['web']}",
        # The observability stage asks for a reload after writing rules (POST /-/reload).
        "--web.enable-lifecycle",
    ]


def _alertmanager_prepare(ctx: Context) -> None:
    config = ctx.workdir / "alertmanager.yml"
    if not config.exists():
        config.write_text(yaml.safe_dump(DEFAULT_ROUTES, sort_keys=False))


def _alertmanager_args(ctx: Context) -> list[str]:
    return [
        f"--config.file={ctx.workdir / 'alertmanager.yml'}",
        f"--storage.path={ctx.workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{ctx.own['web']}",
        # One instance: no gossip port to open.
        "--cluster.listen-address=",
    ]


_ready = http_check("web", "/-/ready")

ALERTMANAGER = controller(
    "alertmanager",
    namespace=None,
    ports=("web",),
    args=_alertmanager_args,
    health=_ready,
    prepare=_alertmanager_prepare,
)
PROMETHEUS = controller(
    "prometheus",
    namespace=NAMESPACE,
    account=PROMETHEUS_SA,
    ports=("web",),
    args=_prometheus_args,
    health=_ready,
    objects=lambda _ctx: prometheus_cluster_role(),
    prepare=_prometheus_prepare,
)
