# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import (
    RenderOptions,
    config_checksum,
    render_app,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import (
    CATALOG,
    TENANT_DOMAINS,
    spec,
)

APP = validate_app(spec(), validate_catalog(CATALOG), TENANT_DOMAINS)


def by_key(objects):
    return {"%s/%s" % (o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.fixture
def objects():
    return by_key(render_app(APP, RenderOptions(release=4, ingress_class="nginx")))


def test_every_object_is_rendered_once(objects):
    assert sorted(objects) == sorted(
        [
            "Certificate/shop-tls",
            "ConfigMap/shop-config",
            "ExternalSecret/shop-secrets",
            "PersistentVolumeClaim/shop-cache",
            "Job/shop-release-4",
            "Deployment/shop-web",
            "PodDisruptionBudget/shop-web",
            "Service/shop-web",
            "Ingress/shop",
            "Deployment/shop-worker",
            "HorizontalPodAutoscaler/shop-worker",
            "CronJob/shop-cleanup",
            "Deployment/shop-indexer",
        ]
    )
    for obj in objects.values():
        assert obj["metadata"]["namespace"] == "acme-dev"
        assert obj["metadata"]["labels"]["platykus.io/app"] == "shop"


def test_pods_are_restricted_and_spread(objects):
    pod = objects["Deployment/shop-web"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert [c["topologyKey"] for c in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    job_pod = objects["Job/shop-release-4"]["spec"]["template"]["spec"]
    assert job_pod["restartPolicy"] == "Never" and "topologySpreadConstraints" not in job_pod


def test_autoscaled_deployment_leaves_replicas_to_its_hpa(objects):
    assert "replicas" not in objects["Deployment/shop-worker"]["spec"]
    assert objects["Deployment/shop-web"]["spec"]["replicas"] == 2
    hpa = objects["HorizontalPodAutoscaler/shop-worker"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_pdb_only_when_two_replicas_run(objects):
    assert "PodDisruptionBudget/shop-worker" not in objects  # autoscale min 1
    assert "PodDisruptionBudget/shop-indexer" not in objects


def test_ingress_has_platform_tls_and_dns(objects):
    ingress = objects["Ingress/shop"]
    assert ingress["metadata"]["annotations"] == {
        "external-dns.alpha.kubernetes.io/hostname": "shop.acme.apps.example.com",
    }
    assert ingress["spec"]["tls"] == [{"hosts": ["shop.acme.apps.example.com"], "secretName": "shop-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    cert = objects["Certificate/shop-tls"]["spec"]
    assert cert == {
        "secretName": "shop-tls",
        "dnsNames": ["shop.acme.apps.example.com"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platykus-default"},
    }


def test_no_certificate_where_cert_manager_is_not_served():
    rendered = by_key(render_app(APP, RenderOptions(release=4, certificates=False)))
    assert "Certificate/shop-tls" not in rendered
    assert rendered["Ingress/shop"]["spec"]["tls"][0]["secretName"] == "shop-tls"


def test_ingress_target_is_the_address_external_dns_publishes():
    rendered = by_key(render_app(APP, RenderOptions(release=4, ingress_target="192.0.2.80")))
    annotations = rendered["Ingress/shop"]["metadata"]["annotations"]
    assert annotations["external-dns.alpha.kubernetes.io/target"] == "192.0.2.80"
    assert "ingressClassName" not in rendered["Ingress/shop"]["spec"]


def test_secrets_come_through_the_tenant_store(objects):
    es = objects["ExternalSecret/shop-secrets"]["spec"]
    assert es["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platykus-secrets-acme"}
    assert es["data"] == [
        {"secretKey": "DATABASE_PASSWORD", "remoteRef": {"key": "platykus/acme/db", "property": "password"}}
    ]
    env_from = objects["Deployment/shop-web"]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "shop-secrets"}} in env_from


def test_volume_is_mounted_in_its_process_only(objects):
    assert objects["PersistentVolumeClaim/shop-cache"]["spec"]["storageClassName"] == "standard"
    mounts = objects["Deployment/shop-indexer"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "cache", "mountPath": "/cache"} in mounts
    web_mounts = objects["Deployment/shop-web"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert all(m["name"] != "cache" for m in web_mounts)


def test_config_change_changes_the_pod_template_checksum():
    changed = dataclasses.replace(APP, config=dict(APP.config, LOG_LEVEL="debug"))
    assert config_checksum(changed) != config_checksum(APP)
    first = by_key(render_app(APP, RenderOptions(release=1)))["Deployment/shop-web"]
    again = by_key(render_app(APP, RenderOptions(release=2)))["Deployment/shop-web"]
    # The release number is not in the pod template: a rollback to the same image and config rolls nothing.
    assert first["spec"]["template"] == again["spec"]["template"]


def test_without_external_secrets_no_secret_objects():
    objects = by_key(render_app(APP, RenderOptions(release=1, external_secrets=False)))
    assert "ExternalSecret/shop-secrets" not in objects
