# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""deploy_app/destroy_app against the in-memory API server: check mode, quota refusal, destroy guard."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.ops import (
    deploy_app,
    destroy_app,
    override_spec,
    running_spec,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG, spec
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

APP_KINDS = {
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Service"): ("services", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
}
QUOTA = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "tenant-quota", "namespace": "acme-dev"},
    "spec": {"hard": {"pods": "40", "requests.cpu": "4"}},
    "status": {"hard": {"pods": "40", "requests.cpu": "4"}, "used": {"requests.cpu": "0"}},
}


@pytest.fixture
def server(monkeypatch):
    for key, value in APP_KINDS.items():
        monkeypatch.setitem(fake_api.KINDS, key, value)
    return FakeApiServer([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-dev"}}, QUOTA])


def small_spec(**changes):
    doc = spec(**changes)
    doc.pop("secrets")  # the fake serves no ExternalSecrets
    doc.pop("volumes")
    del doc["processes"]["indexer"]
    return doc


def writes(server):
    return [c for c in server.calls if c[0] in ("PATCH", "POST", "DELETE") and c[2].get("dryRun") != "All"]


def test_check_mode_predicts_and_writes_nothing(server):
    result = deploy_app(server.client, check_mode=True, spec=small_spec(), catalog=CATALOG)
    assert result["changed"] and result["release"] == 1
    assert "Deployment/acme-dev/shop-web" in result["created"] and "Job/acme-dev/shop-release-1" in result["created"]
    assert result["urls"] == ["https://shop.acme.apps.example.com/"]
    assert [c for c in writes(server) if "selfsubjectreviews" not in c[1]] == []


def test_over_quota_is_refused_before_any_write(server):
    doc = small_spec()
    doc["processes"]["web"].update(replicas=30, size="performance-m")
    with pytest.raises(
        PlatykusError, match="ResourceQuota acme-dev/tenant-quota: requests.cpu needs up to 31600m but 4 of 4 is left"
    ):
        deploy_app(server.client, spec=doc, catalog=CATALOG)
    assert [c for c in writes(server) if "selfsubjectreviews" not in c[1]] == []


def test_secrets_need_external_secrets(server):
    doc = small_spec()
    doc["secrets"] = {"TOKEN": "platykus/acme/token"}
    with pytest.raises(PlatykusError, match="does not serve ExternalSecrets"):
        deploy_app(server.client, check_mode=True, spec=doc, catalog=CATALOG)


def test_bad_spec_fails_before_connecting():
    def connect():
        raise AssertionError("connected")

    with pytest.raises(PlatykusError, match="image"):
        deploy_app(connect, spec=small_spec(image="docker.io/x:1"), catalog=CATALOG)


def test_destroy_needs_the_name_and_removes_labelled_objects(server):
    server.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-config", "namespace": "acme-dev", "labels": {"platykus.io/app": "shop"}},
        }
    )
    server.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "other", "namespace": "acme-dev", "labels": {"platykus.io/app": "other"}},
        }
    )
    with pytest.raises(PlatykusError, match="must repeat the app's name 'shop'"):
        destroy_app(server.client, spec=small_spec(), confirm="nope")
    result = destroy_app(server.client, spec=small_spec(), confirm="shop")
    assert result["deleted"] == ["ConfigMap/acme-dev/shop-config"]
    assert server.find("ConfigMap", "other", "acme-dev") is not None


def test_override_spec_scales_and_configures():
    doc = override_spec(small_spec(), {"web": 3, "worker": {"min": 2, "max": 4}}, {"NEW": "1"}, ["LOG_LEVEL"])
    assert doc["processes"]["web"]["replicas"] == 3 and "autoscale" not in doc["processes"]["web"]
    assert (
        doc["processes"]["worker"]["autoscale"] == {"min": 2, "max": 4} and "replicas" not in doc["processes"]["worker"]
    )
    assert "LOG_LEVEL" not in doc["config"] and doc["config"]["NEW"] == "1"
    with pytest.raises(PlatykusError, match="scale.nope"):
        override_spec(small_spec(), {"nope": 1}, {}, [])


def test_running_spec_takes_the_release():
    release = {
        "image": "registry.example.com/acme/shop:0.9",
        "config": {"A": "1"},
        "secrets": [["T", "platykus/acme/t", None]],
    }
    doc = running_spec(small_spec(), release)
    assert (
        doc["image"].endswith(":0.9")
        and doc["config"] == {"A": "1"}
        and doc["secrets"] == {"T": {"key": "platykus/acme/t"}}
    )
