# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a validated app's Kubernetes objects as plain dicts.

Per app: ConfigMap ``<app>-config`` (its checksum on every pod template, so a config change
rolls the pods), ExternalSecret ``<app>-secrets`` through the tenant's SecretStore, a PVC per
volume, the release Job ``<app>-release-<n>``, and per process a Deployment (web, workers) with a
restricted-compatible security context and topology spread across zones, a PodDisruptionBudget
when at least two replicas run, an HPA when autoscaled, or a CronJob; the web process gets a
Service and, with domains, an Ingress whose TLS comes from the platform's ClusterIssuer and
whose DNS record comes from external-dns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.placement import Placement
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, Process
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    APP_LABEL,
    APPS_API_VERSION,
    AUTOSCALING_API_VERSION,
    BATCH_API_VERSION,
    CERT_MANAGER_API_VERSION,
    CONFIG_CHECKSUM_ANNOTATION,
    ENVIRONMENT_LABEL,
    EXTERNAL_SECRETS_API_VERSION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    NETWORKING_API_VERSION,
    PLATFORM_CLUSTER_ISSUER,
    POLICY_API_VERSION,
    PROCESS_LABEL,
    RELEASE_ANNOTATION,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import format_quantity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import secret_store_ref

ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
RUN_AS_USER = 10001
# Deployments surge one pod at a time and never go below their replicas while rolling.
SURGE = 1


@dataclass(frozen=True)
class RenderOptions:
    """Platform settings of the rendering (inventory), not the tenant's."""

    release: int
    cluster_issuer: str = PLATFORM_CLUSTER_ISSUER
    ingress_class: str | None = None
    # The address external-dns publishes for apps' hosts when no ingress controller fills the
    # Ingress status (the lab), else None.
    ingress_target: str | None = None
    rollout_timeout: int = 300
    external_secrets: bool = True
    # cert-manager's Certificates are served: the app's hosts get theirs from the platform issuer.
    certificates: bool = True
    # The catalog's node selector and tolerations, on every pod of the app.
    placement: Placement = Placement()


def names(app: App) -> dict[str, str]:
    return {
        "config": "%s-config" % app.name,
        "secrets": "%s-secrets" % app.name,
        "releases": "%s-releases" % app.name,
        "tls": "%s-tls" % app.name,
        "ingress": app.name,
    }


def object_name(app: App, process: Process) -> str:
    return "%s-%s" % (app.name, process.name)


def release_job_name(app: App, release: int) -> str:
    return "%s-release-%d" % (app.name, release)


def labels(app: App, process: Process | None = None) -> dict[str, str]:
    out = {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        TENANT_LABEL: app.tenant,
        ENVIRONMENT_LABEL: app.environment,
        APP_LABEL: app.name,
    }
    if process is not None:
        out[PROCESS_LABEL] = process.name
    return out


def selector_labels(app: App, process: Process) -> dict[str, str]:
    return {APP_LABEL: app.name, PROCESS_LABEL: process.name}


def app_meta(app: App, name: str, process: Process | None = None, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": app.namespace, "labels": labels(app, process)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def config_checksum(app: App) -> str:
    """What a rollout of config depends on: the plain vars and which secrets go where."""
    doc = {"config": app.config, "secrets": [[s.env, s.key, s.property] for s in app.secrets]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


# -- pods ---------------------------------------------------------------------------------------


def _resources(process: Process) -> dict[str, Any]:
    size = process.size
    return {
        "requests": {"cpu": format_quantity(size.cpu, "cpu"), "memory": format_quantity(size.memory, "bytes")},
        "limits": {
            "cpu": format_quantity(size.limits_cpu, "cpu"),
            "memory": format_quantity(size.limits_memory, "bytes"),
        },
    }


def _env_from(app: App, opts: RenderOptions) -> list[dict[str, Any]]:
    sources: list[dict[str, Any]] = [{"configMapRef": {"name": names(app)["config"]}}]
    if app.secrets and opts.external_secrets:
        sources.append({"secretRef": {"name": names(app)["secrets"]}})
    return sources


def _container(app: App, process: Process, opts: RenderOptions) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": process.name,
        "image": app.image,
        "envFrom": _env_from(app, opts),
        "resources": _resources(process),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
        + [{"name": v.name, "mountPath": v.mount} for v in app.volumes if v.process == process.name],
    }
    if process.command:
        container["command"] = list(process.command)
    if process.kind == "web":
        container["env"] = [{"name": "PORT", "value": str(process.port)}]
        container["ports"] = [{"name": "http", "containerPort": process.port, "protocol": "TCP"}]
        container["readinessProbe"] = {"httpGet": {"path": process.health_path, "port": "http"}, "periodSeconds": 5}
    for variable, secret in app.addon_env:
        # The add-on's connection URL (DATABASE_URL, REDIS_URL...) from its Secret (see _addons/catalog.py).
        ref = {"secretKeyRef": {"name": secret, "key": "url"}}
        container.setdefault("env", []).append({"name": variable, "valueFrom": ref})
    return container


def pod_template(
    app: App, process: Process, opts: RenderOptions, checksum: str, restart: str = "Always"
) -> dict[str, Any]:
    """A restricted-compatible pod: non-root, no privilege escalation, all capabilities dropped,
    RuntimeDefault seccomp, read-only root with a writable /tmp, no ServiceAccount token."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": restart,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(app, process, opts)],
        "volumes": [{"name": "tmp", "emptyDir": {}}]
        + [
            {"name": v.name, "persistentVolumeClaim": {"claimName": "%s-%s" % (app.name, v.name)}}
            for v in app.volumes
            if v.process == process.name
        ],
        **opts.placement.pod_fields(),
    }
    if restart == "Always":
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(app, process)},
            }
            for key in (ZONE_KEY, HOST_KEY)
        ]
    return {
        "metadata": {"labels": labels(app, process), "annotations": {CONFIG_CHECKSUM_ANNOTATION: checksum}},
        "spec": spec,
    }


# -- workloads ----------------------------------------------------------------------------------


def render_deployment(app: App, process: Process, opts: RenderOptions, checksum: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(app, process)},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": max(opts.rollout_timeout, 30),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": 0}},
        "template": pod_template(app, process, opts, checksum),
    }
    if process.autoscale is None:  # an autoscaled Deployment's replicas belong to its HPA
        spec["replicas"] = process.replicas
    meta = app_meta(app, object_name(app, process), process, **{RELEASE_ANNOTATION: str(opts.release)})
    return {"apiVersion": APPS_API_VERSION, "kind": "Deployment", "metadata": meta, "spec": spec}


def render_pdb(app: App, process: Process) -> dict[str, Any] | None:
    """Only when at least two replicas run: with one, a PDB would block every node drain."""
    least = process.autoscale.min if process.autoscale else (process.replicas or 0)
    if least < 2:
        return None
    return {
        "apiVersion": POLICY_API_VERSION,
        "kind": "PodDisruptionBudget",
        "metadata": app_meta(app, object_name(app, process), process),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(app, process)}},
    }


def render_hpa(app: App, process: Process) -> dict[str, Any] | None:
    if process.autoscale is None:
        return None
    scale = process.autoscale
    return {
        "apiVersion": AUTOSCALING_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": app_meta(app, object_name(app, process), process),
        "spec": {
            "scaleTargetRef": {"apiVersion": APPS_API_VERSION, "kind": "Deployment", "name": object_name(app, process)},
            "minReplicas": scale.min,
            "maxReplicas": scale.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": scale.cpu_percent},
                    },
                }
            ],
        },
    }


def _job_spec(app: App, process: Process, opts: RenderOptions, checksum: str) -> dict[str, Any]:
    return {
        "backoffLimit": 0,
        "activeDeadlineSeconds": max(opts.rollout_timeout, 30),
        "template": pod_template(app, process, opts, checksum, restart="Never"),
    }


def render_cronjob(app: App, process: Process, opts: RenderOptions, checksum: str) -> dict[str, Any]:
    return {
        "apiVersion": BATCH_API_VERSION,
        "kind": "CronJob",
        "metadata": app_meta(app, object_name(app, process), process),
        "spec": {
            "schedule": process.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": _job_spec(app, process, opts, checksum)},
        },
    }


def render_release_job(app: App, opts: RenderOptions, checksum: str) -> dict[str, Any] | None:
    """The release command of release ``n``, run once and to completion before the rollout."""
    process = app.process("release")
    if process is None:
        return None
    meta = app_meta(app, release_job_name(app, opts.release), process, **{RELEASE_ANNOTATION: str(opts.release)})
    return {
        "apiVersion": BATCH_API_VERSION,
        "kind": "Job",
        "metadata": meta,
        "spec": _job_spec(app, process, opts, checksum),
    }


# -- config, secrets, storage, traffic ----------------------------------------------------------


def render_config(app: App) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": app_meta(app, names(app)["config"]),
        "data": dict(app.config),
    }


def render_external_secret(app: App) -> dict[str, Any] | None:
    if not app.secrets:
        return None
    data = []
    for ref in app.secrets:
        remote = {"key": ref.key}
        if ref.property:
            remote["property"] = ref.property
        data.append({"secretKey": ref.env, "remoteRef": remote})
    return {
        "apiVersion": EXTERNAL_SECRETS_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": app_meta(app, names(app)["secrets"]),
        "spec": {
            "refreshInterval": "1m",
            "secretStoreRef": secret_store_ref(app.tenant),
            "target": {"name": names(app)["secrets"]},
            "data": data,
        },
    }


def render_volumes(app: App) -> list[dict[str, Any]]:
    claims = []
    for volume in app.volumes:
        spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": volume.size_text}},
        }
        if volume.storage_class:
            spec["storageClassName"] = volume.storage_class
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": app_meta(app, "%s-%s" % (app.name, volume.name)),
                "spec": spec,
            }
        )
    return claims


def render_service(app: App, web: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": app_meta(app, object_name(app, web), web),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(app, web),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def render_ingress(app: App, web: Process, opts: RenderOptions) -> dict[str, Any] | None:
    """TLS from the platform's ClusterIssuer (cert-manager), DNS records from external-dns."""
    if not app.domains:
        return None
    backend = {"service": {"name": object_name(app, web), "port": {"name": "http"}}}
    rules = [
        {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
        for host in app.domains
    ]
    annotations = {"external-dns.alpha.kubernetes.io/hostname": ",".join(app.domains)}
    if opts.ingress_target:
        annotations["external-dns.alpha.kubernetes.io/target"] = opts.ingress_target
    spec: dict[str, Any] = {"tls": [{"hosts": list(app.domains), "secretName": names(app)["tls"]}], "rules": rules}
    if opts.ingress_class:
        spec["ingressClassName"] = opts.ingress_class
    meta = app_meta(app, names(app)["ingress"], web, **annotations)
    return {"apiVersion": NETWORKING_API_VERSION, "kind": "Ingress", "metadata": meta, "spec": spec}


def render_certificate(app: App, opts: RenderOptions) -> dict[str, Any] | None:
    """The app hosts' certificate from the platform's ClusterIssuer, into the Secret the Ingress serves.

    An explicit Certificate rather than cert-manager's ingress annotation: the tenant's identity
    owns it, status reads it by name, and it needs no ingress-shim controller."""
    if not app.domains or not opts.certificates:
        return None
    return {
        "apiVersion": CERT_MANAGER_API_VERSION,
        "kind": "Certificate",
        "metadata": app_meta(app, names(app)["tls"], app.process("web")),
        "spec": {
            "secretName": names(app)["tls"],
            "dnsNames": list(app.domains),
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": opts.cluster_issuer},
        },
    }


def _process_objects(app: App, process: Process, opts: RenderOptions, checksum: str) -> list[dict[str, Any] | None]:
    if process.kind == "cron":
        return [render_cronjob(app, process, opts, checksum)]
    if process.kind == "release":
        return []
    objects = [render_deployment(app, process, opts, checksum), render_pdb(app, process), render_hpa(app, process)]
    if process.kind == "web":
        objects += [render_service(app, process), render_certificate(app, opts), render_ingress(app, process, opts)]
    return objects


def render_app(app: App, opts: RenderOptions) -> list[dict[str, Any]]:
    """Every object of the app: config and storage first, then the release Job, then the processes."""
    checksum = config_checksum(app)
    objects: list[dict[str, Any] | None] = [render_config(app)]
    if opts.external_secrets:
        objects.append(render_external_secret(app))
    objects += render_volumes(app)
    objects.append(render_release_job(app, opts, checksum))
    for process in app.processes:
        objects += _process_objects(app, process, opts, checksum)
    return [obj for obj in objects if obj is not None]
