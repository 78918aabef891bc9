# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An app as it runs (like ``heroku ps`` and ``apps:info``): processes, replicas, URLs,
certificate, autoscalers, releases and recent events, read as the tenant."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import CERTIFICATE_API, names
from ansible_collections.platykus.platform.plugins.module_utils._apps.releases import load_history, public
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, app_ref
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import APP_LABEL, PROCESS_LABEL, selector

EVENTS_SHOWN = 10


def _process_row(dep: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    container = ((spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
    return {
        "name": dep["metadata"]["labels"].get(PROCESS_LABEL),
        "replicas": spec.get("replicas"),
        "ready": status.get("readyReplicas", 0),
        "updated": status.get("updatedReplicas", 0),
        "image": container.get("image"),
    }


def _hpa_row(hpa: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    return {
        "name": hpa["metadata"]["labels"].get(PROCESS_LABEL),
        "min": spec.get("minReplicas"),
        "max": spec.get("maxReplicas"),
        "current": status.get("currentReplicas"),
        "desired": status.get("desiredReplicas"),
        "metrics": status.get("currentMetrics") or [],
    }


def _certificate(client: KubeClient, app: App) -> dict[str, Any] | None:
    try:
        cert = client.get(CERTIFICATE_API, "Certificate", names(app)["tls"], app.namespace)
    except KubeApiError as err:
        if err.status in (403, 404):
            return None
        raise
    if not cert:
        return None
    ready = [c for c in (cert.get("status") or {}).get("conditions", []) if c.get("type") == "Ready"]
    return {
        "ready": bool(ready) and ready[0].get("status") == "True",
        "message": ready[0].get("message") if ready else None,
        "not_after": (cert.get("status") or {}).get("notAfter"),
    }


def _events(client: KubeClient, app: App, object_names: set[str]) -> list[str]:
    events = [
        e
        for e in client.list_all("v1", "Event", namespace=app.namespace)
        if any(((e.get("involvedObject") or {}).get("name") or "").startswith(n) for n in object_names)
    ]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [
        "%s %s %s: %s"
        % (e.get("type"), e["involvedObject"].get("kind"), e["involvedObject"].get("name"), e.get("message"))
        for e in events[-EVENTS_SHOWN:]
    ]


def app_status(connect: Callable[[], KubeClient], spec: Any) -> dict[str, Any]:
    app = app_ref(spec)
    client = connect()
    sel = selector(APP_LABEL, app.name)
    deployments = client.list_all("apps/v1", "Deployment", namespace=app.namespace, label_selector=sel)
    hpas = client.list_all("autoscaling/v2", "HorizontalPodAutoscaler", namespace=app.namespace, label_selector=sel)
    cronjobs = client.list_all("batch/v1", "CronJob", namespace=app.namespace, label_selector=sel)
    ingresses = client.list_all("networking.k8s.io/v1", "Ingress", namespace=app.namespace, label_selector=sel)
    history = load_history(client.get("v1", "ConfigMap", names(app)["releases"], app.namespace))
    hosts = [
        rule.get("host") for ing in ingresses for rule in (ing.get("spec") or {}).get("rules", []) if rule.get("host")
    ]
    return {
        "changed": False,
        "app": app.name,
        "namespace": app.namespace,
        "exists": bool(deployments or cronjobs or history.releases),
        "release": history.current,
        "releases": public(history),
        "processes": [_process_row(d) for d in deployments],
        "cron": [
            {
                "name": c["metadata"]["labels"].get(PROCESS_LABEL),
                "schedule": c["spec"].get("schedule"),
                "last": (c.get("status") or {}).get("lastScheduleTime"),
            }
            for c in cronjobs
        ],
        "autoscalers": [_hpa_row(h) for h in hpas],
        "urls": ["https://%s/" % host for host in hosts],
        "certificate": _certificate(client, app),
        "events": _events(client, app, {app.name + "-"}),
    }
