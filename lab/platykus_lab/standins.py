"""The two monitoring pieces the lab cannot build, replaced by small in-tree processes.

- kube-state-metrics: its Go module is refused by the module proxy reachable here. The stand-in
  serves the few series the platform's alert rules read, with KSM's names and labels
  (kube_resourcequota, kube_pod_status_phase, kube_horizontalpodautoscaler_*,
  kube_namespace_labels / _annotations), so the same rules run on a real cluster's KSM, and the
  series the cost history reads over time (kube_node_status_capacity,
  kube_persistentvolumeclaim_info / _resource_requests_storage_bytes / _status_phase,
  kube_service_info / _spec_type), and the add-on Secrets' series the cost history prices add-ons
  from (kube_secret_created, kube_secret_labels and kube_secret_annotations with the add-on labels
  and annotations allow-listed, as KSM's --metric-labels-allowlist / --metric-annotations-allowlist
  give them; only Secrets carrying the platykus.io/addon label, where KSM would export every Secret).
- prometheus-operator's job of turning API objects into Prometheus and Alertmanager
  configuration: the stand-in copies the ConfigMap of platform rules and the Secret holding
  Alertmanager's configuration, which the observability stage applies, into the files the lab's
  Prometheus and Alertmanager read, and asks them to reload.

Each runs with the identity and RBAC the upstream chart gives the component it stands in for.
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from .controller_run import Context, controller, http_check
from .health import http_request

NAMESPACE = "platykus-monitoring"
RULES_CONFIGMAP = "platykus-prometheus-rules"
# The per-tenant cost and budget recording rules usage_report publishes (its metrics_format: configmap).
COST_RULES_CONFIGMAP = "platykus-cost-rules"
ALERTMANAGER_SECRET = "platykus-alertmanager"
# KSM exposes labels and annotations only when allow-listed; these are the ones the rules join on.
NAMESPACE_LABELS = ("platykus.io/tenant",)
NAMESPACE_ANNOTATIONS = ("platykus.io/budget-status",)
# The add-on Secrets' labels and annotations the cost history reads (docs/cost.md: the KSM flags).
SECRET_LABELS = ("platykus.io/tenant", "platykus.io/addon", "platykus.io/data-service")
SECRET_ANNOTATIONS = ("platykus.io/addon-plan", "platykus.io/addon-provider")
ADDON_SECRETS = "/api/v1/secrets?labelSelector=platykus.io%2Faddon"
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


# ----------------------------------------------------------------------------- the API, read-only
class Api:
    """GETs against the API server as the kubeconfig's user (a client certificate)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        self.server = cluster["server"]
        self.context = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.context.load_cert_chain(user["client-certificate"], user["client-key"])

    def items(self, path: str) -> list[dict]:
        status, body = http_request(self.server + path, self.context, timeout=10)
        if status != 200:
            raise OSError(f"GET {path} answered {status}: {body[:200]!r}")
        return json.loads(body).get("items", [])

    def get(self, path: str) -> dict | None:
        status, body = http_request(self.server + path, self.context, timeout=10)
        return json.loads(body) if status == 200 else None


# ------------------------------------------------------------------------- kube-state-metrics
def _sanitize(key: str) -> str:
    """KSM's label name for a Kubernetes label or annotation key."""
    return "".join(c if c.isalnum() else "_" for c in key)


def _series(name: str, labels: dict[str, str], value: float) -> str:
    text = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels.items()
    )
    return f"{name}{{{text}}} {value}"


def _quantity(text: str) -> float:
    from kubernetes.utils.quantity import parse_quantity

    return float(parse_quantity(text))


def namespace_series(namespaces: list[dict]) -> list[str]:
    lines = []
    for ns in namespaces:
        meta = ns["metadata"]
        labels = {f"label_{_sanitize(k)}": (meta.get("labels") or {}).get(k, "") for k in NAMESPACE_LABELS}
        notes = {
            f"annotation_{_sanitize(k)}": (meta.get("annotations") or {}).get(k, "") for k in NAMESPACE_ANNOTATIONS
        }
        lines.append(_series("kube_namespace_labels", {"namespace": meta["name"], **labels}, 1))
        lines.append(_series("kube_namespace_annotations", {"namespace": meta["name"], **notes}, 1))
    return lines


def quota_series(quotas: list[dict]) -> list[str]:
    lines = []
    for quota in quotas:
        base = {"namespace": quota["metadata"]["namespace"], "resourcequota": quota["metadata"]["name"]}
        for kind in ("hard", "used"):
            for resource, value in (quota.get("status", {}).get(kind) or {}).items():
                lines.append(
                    _series("kube_resourcequota", {**base, "resource": resource, "type": kind}, _quantity(value))
                )
    return lines


def pod_series(pods: list[dict]) -> list[str]:
    lines = []
    for pod in pods:
        base = {"namespace": pod["metadata"]["namespace"], "pod": pod["metadata"]["name"]}
        phase = pod.get("status", {}).get("phase", "Unknown")
        lines += [_series("kube_pod_status_phase", {**base, "phase": p}, 1 if p == phase else 0) for p in PHASES]
    return lines


def node_series(nodes: list[dict]) -> list[str]:
    """kube_node_status_capacity, as KSM labels it (the cost history splits a node's price by it)."""
    lines = []
    for node in nodes:
        capacity = node.get("status", {}).get("capacity") or {}
        for resource, unit in (("cpu", "core"), ("memory", "byte")):
            if resource in capacity:
                labels = {"node": node["metadata"]["name"], "resource": resource, "unit": unit}
                lines.append(_series("kube_node_status_capacity", labels, _quantity(capacity[resource])))
    return lines


def pvc_series(claims: list[dict]) -> list[str]:
    """KSM's PersistentVolumeClaim series: info (storage class, volume), the requested bytes, the phase."""
    lines = []
    for claim in claims:
        meta, spec = claim["metadata"], claim.get("spec") or {}
        base = {"namespace": meta["namespace"], "persistentvolumeclaim": meta["name"]}
        info = {**base, "storageclass": spec.get("storageClassName") or "", "volumename": spec.get("volumeName") or ""}
        lines.append(_series("kube_persistentvolumeclaim_info", info, 1))
        requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if requested:
            lines.append(
                _series("kube_persistentvolumeclaim_resource_requests_storage_bytes", base, _quantity(requested))
            )
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        for p in ("Lost", "Bound", "Pending"):
            lines.append(
                _series("kube_persistentvolumeclaim_status_phase", {**base, "phase": p}, 1 if p == phase else 0)
            )
    return lines


def service_series(services: list[dict]) -> list[str]:
    """KSM's kube_service_info and kube_service_spec_type."""
    lines = []
    for service in services:
        meta, spec = service["metadata"], service.get("spec") or {}
        base = {"namespace": meta["namespace"], "service": meta["name"]}
        lines.append(_series("kube_service_info", {**base, "cluster_ip": spec.get("clusterIP") or ""}, 1))
        lines.append(_series("kube_service_spec_type", {**base, "type": spec.get("type") or "ClusterIP"}, 1))
    return lines


def secret_series(secrets: list[dict]) -> list[str]:
    """KSM's kube_secret_created, kube_secret_labels and kube_secret_annotations (metadata only)."""
    from datetime import datetime

    lines = []
    for secret in secrets:
        meta = secret["metadata"]
        base = {"namespace": meta["namespace"], "secret": meta["name"]}
        labels = meta.get("labels") or {}
        notes = meta.get("annotations") or {}
        created = datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00")).timestamp()
        lines.append(_series("kube_secret_created", base, created))
        allowed = {f"label_{_sanitize(k)}": labels[k] for k in SECRET_LABELS if k in labels}
        lines.append(_series("kube_secret_labels", {**base, **allowed}, 1))
        kept = {f"annotation_{_sanitize(k)}": notes[k] for k in SECRET_ANNOTATIONS if k in notes}
        lines.append(_series("kube_secret_annotations", {**base, **kept}, 1))
    return lines


def hpa_series(hpas: list[dict]) -> list[str]:
    lines = []
    for hpa in hpas:
        base = {"namespace": hpa["metadata"]["namespace"], "horizontalpodautoscaler": hpa["metadata"]["name"]}
        lines.append(_series("kube_horizontalpodautoscaler_spec_max_replicas", base, hpa["spec"]["maxReplicas"]))
        lines.append(_series("kube_horizontalpodautoscaler_spec_min_replicas", base, hpa["spec"].get("minReplicas", 1)))
        current = hpa.get("status", {}).get("currentReplicas", 0)
        lines.append(_series("kube_horizontalpodautoscaler_status_current_replicas", base, current))
    return lines


def exposition(api: Api) -> str:
    """One scrape: everything listed now (the lab is small; KSM would keep informers)."""
    lines = namespace_series(api.items("/api/v1/namespaces"))
    lines += quota_series(api.items("/api/v1/resourcequotas"))
    lines += pod_series(api.items("/api/v1/pods"))
    lines += hpa_series(api.items("/apis/autoscaling/v2/horizontalpodautoscalers"))
    lines += node_series(api.items("/api/v1/nodes"))
    lines += pvc_series(api.items("/api/v1/persistentvolumeclaims"))
    lines += service_series(api.items("/api/v1/services"))
    lines += secret_series(api.items(ADDON_SECRETS))
    return "\n".join(lines) + "\n"


def serve_state_metrics(api: Api, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            try:
                body, status = (exposition(api) if self.path == "/metrics" else "ok\n"), 200
            except OSError as err:
                body, status = f"{err}\n", 503
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args) -> None:
            return None

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# ------------------------------------------------------------------------ configuration sync
def sync_once(api: Api, rules_file: Path, alertmanager_file: Path, reload_urls: dict[str, str]) -> list[str]:
    """Write what changed and ask the reader to reload; return what was reloaded."""
    reloaded = []
    rules = api.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{RULES_CONFIGMAP}")
    cost_rules = api.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{COST_RULES_CONFIGMAP}")
    secret = api.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{ALERTMANAGER_SECRET}")
    wanted = {
        "prometheus": (rules_file, (rules or {}).get("data", {}).get("rules.yml")),
        "prometheus-cost": (
            rules_file.with_name("platykus-cost.yml"),
            (cost_rules or {}).get("data", {}).get("rules.yml"),
        ),
        "alertmanager": (
            alertmanager_file,
            base64.b64decode(secret["data"]["alertmanager.yml"]).decode() if secret else None,
        ),
    }
    for name, (path, text) in wanted.items():
        if text is None or (path.exists() and path.read_text() == text):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        http_request(reload_urls[name.split("-")[0]], method="POST", timeout=10)
        reloaded.append(name)
    return reloaded


def run_sync(api: Api, rules_file: Path, alertmanager_file: Path, reload_urls: dict[str, str], interval: float) -> None:
    while True:
        try:
            for name in sync_once(api, rules_file, alertmanager_file, reload_urls):
                print(f"{time.strftime('%H:%M:%S')} reloaded {name}", flush=True)
        except (OSError, KeyError, ValueError) as err:
            print(f"{time.strftime('%H:%M:%S')} sync failed: {err}", flush=True)
        time.sleep(interval)


def serve_health(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args) -> None:
            return None

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platykus_lab.standins")
    parser.add_argument("component", choices=("kube-state-metrics", "prometheus-operator"))
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--rules-file", type=Path)
    parser.add_argument("--alertmanager-file", type=Path)
    parser.add_argument("--prometheus-url")
    parser.add_argument("--alertmanager-url")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    api = Api(args.kubeconfig)
    if args.component == "kube-state-metrics":
        serve_state_metrics(api, args.port)
        return 0
    urls = {"prometheus": f"{args.prometheus_url}/-/reload", "alertmanager": f"{args.alertmanager_url}/-/reload"}
    threading.Thread(target=serve_health, args=(args.port,), daemon=True).start()
    run_sync(api, args.rules_file, args.alertmanager_file, urls, args.interval)
    return 0


# --------------------------------------------------------------------------------- the runners
def _rbac(
    name: str, cluster_rules: list[dict], namespace_rules: list[dict] | None = None, account: str = ""
) -> list[dict]:
    """A ClusterRole (or Role in platykus-monitoring) and its binding to the chart's ServiceAccount."""
    kind = "Role" if namespace_rules is not None else "ClusterRole"
    meta = {"name": name, **({"namespace": NAMESPACE} if kind == "Role" else {})}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": meta,
            "rules": namespace_rules if kind == "Role" else cluster_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": f"{kind}Binding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
        },
    ]


def _state_metrics_objects(_ctx: Context) -> list[dict]:
    # kube-state-metrics chart (prometheus-community, templates/role.yaml): list/watch of the
    # resources it exports; here only the ones the stand-in reads.
    rules = [
        {
            "apiGroups": [""],
            "resources": [
                "namespaces",
                "nodes",
                "pods",
                "resourcequotas",
                "persistentvolumeclaims",
                "services",
                "secrets",
            ],
            "verbs": ["list", "watch"],
        },
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["list", "watch"]},
    ]
    return _rbac("kps-kube-state-metrics", rules, account="kps-kube-state-metrics")


def _operator_objects(_ctx: Context) -> list[dict]:
    # prometheus-operator reads ConfigMaps and Secrets to build the configuration it writes; the
    # stand-in needs only the two objects of the observability stage, in its namespace.
    rules = [
        {
            "apiGroups": [""],
            "resources": ["configmaps", "secrets"],
            "verbs": ["get"],
            "resourceNames": [RULES_CONFIGMAP, COST_RULES_CONFIGMAP, ALERTMANAGER_SECRET],
        }
    ]
    return _rbac("kps-operator", [], rules, account="kps-operator")


def _state_metrics_args(ctx: Context) -> list[str]:
    return ["kube-state-metrics", f"--kubeconfig={ctx.kubeconfig}", f"--port={ctx.own['http']}"]


def _operator_args(ctx: Context) -> list[str]:
    prometheus, alertmanager = (
        ctx.lab.home / "controllers" / "prometheus",
        ctx.lab.home / "controllers" / "alertmanager",
    )
    return [
        "prometheus-operator",
        f"--kubeconfig={ctx.kubeconfig}",
        f"--port={ctx.own['http']}",
        f"--rules-file={prometheus / 'rules' / 'platykus.yml'}",
        f"--alertmanager-file={alertmanager / 'alertmanager.yml'}",
        f"--prometheus-url=http://127.0.0.1:{ctx.ports['prometheus']['web']}",
        f"--alertmanager-url=http://127.0.0.1:{ctx.ports['alertmanager']['web']}",
    ]


_healthz = http_check("http", "/healthz")

STATE_METRICS = controller(
    "kube-state-metrics",
    namespace=NAMESPACE,
    account="kps-kube-state-metrics",
    ports=("http",),
    args=_state_metrics_args,
    health=_healthz,
    objects=_state_metrics_objects,
)
OPERATOR = controller(
    "prometheus-operator",
    namespace=NAMESPACE,
    account="kps-operator",
    ports=("http",),
    args=_operator_args,
    health=_healthz,
    objects=_operator_objects,
)

if __name__ == "__main__":
    sys.exit(main())
