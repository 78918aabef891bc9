# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import app_ref, image_problem, validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils._tenants.test_spec import _DELETE, _set  # noqa: E402
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import (
    CATALOG,
    SPEC,
    TENANT_DOMAINS,
    spec,
)

CAT = validate_catalog(CATALOG)


# The spec mutations of the tenant tests: set a value, or delete the key with _DELETE.
_with = _set

BAD = [
    ("name-upper", _with(["name"], "Shop"), "name", "DNS-1123"),
    ("name-missing", _with(["name"], _DELETE), "name", "is required"),
    ("unknown-key", _with(["procs"], {}), "app.procs", "did you mean processes"),
    ("image-registry", _with(["image"], "docker.io/library/nginx:1.27"), "image", "not from a registry of the catalog"),
    ("image-latest", _with(["image"], "registry.example.com/acme/shop:latest"), "image", "not pinned"),
    ("image-untagged", _with(["image"], "registry.example.com/acme/shop"), "image", "not pinned"),
    ("image-garbage", _with(["image"], "Not An Image"), "image", "not an image reference"),
    ("size-unknown", _with(["processes", "web", "size"], "huge"), "processes.web.size", "not in the size catalog"),
    ("replicas-and-autoscale", _with(["processes", "web", "autoscale"], {"max": 3}), "processes.web", "keep one"),
    ("replicas-negative", _with(["processes", "web", "replicas"], -1), "processes.web.replicas", "whole number"),
    (
        "autoscale-min-max",
        _with(["processes", "worker", "autoscale"], {"min": 5, "max": 2}),
        "processes.worker.autoscale.min",
        "min <= max",
    ),
    ("name-addon-prefix", _with(["name"], "addon-shop"), "name", "kept for add-on objects"),
    ("port-low", _with(["processes", "web", "port"], 80), "processes.web.port", "1024 to 65535"),
    ("health-path", _with(["processes", "web", "health_path"], "healthz"), "processes.web.health_path", "/healthz"),
    ("port-on-worker", _with(["processes", "worker", "port"], 9000), "processes.worker.port", "only the web process"),
    (
        "cron-schedule",
        _with(["processes", "cleanup", "schedule"], "daily"),
        "processes.cleanup.schedule",
        "five fields",
    ),
    ("release-replicas", _with(["processes", "release", "replicas"], 2), "processes.release.replicas", "runs once"),
    ("command-type", _with(["processes", "web", "command"], {"a": 1}), "processes.web.command", "a string or a list"),
    ("no-processes", _with(["processes"], {}), "processes", "at least a web or a worker"),
    (
        "only-cron",
        _with(["processes"], {"nightly": {"schedule": "@daily", "size": "basic"}}),
        "processes",
        "no web or worker",
    ),
    (
        "domain-foreign",
        _with(["domains"], ["shop.globex.apps.example.com"]),
        "domains[0]",
        "not under the tenant's domains",
    ),
    ("domain-invalid", _with(["domains"], ["Shop_Acme"]), "domains[0]", "not a DNS name"),
    ("config-name", _with(["config"], {"1BAD": "x"}), "config.1BAD", "environment variable name"),
    ("config-nested", _with(["config"], {"A": {"b": 1}}), "config.A", "plain value"),
    ("secret-prefix", _with(["secrets"], {"TOKEN": "platykus/globex/token"}), "secrets.TOKEN.key", "platykus/acme/"),
    ("secret-and-config", _with(["secrets"], {"LOG_LEVEL": "platykus/acme/x"}), "secrets.LOG_LEVEL", "also in config"),
    ("volume-mount", _with(["volumes", "cache", "mount"], "cache"), "volumes.cache.mount", "absolute path"),
    ("volume-size", _with(["volumes", "cache", "size"], "lots"), "volumes.cache.size", "quantity"),
    ("volume-replicated", _with(["volumes", "cache", "process"], "web"), "volumes.cache.process", "replicas: 1"),
    ("volume-process", _with(["volumes", "cache", "process"], "nope"), "volumes.cache.process", "not a web or worker"),
]


@pytest.mark.parametrize("case,mutate,field,fix", BAD, ids=[c[0] for c in BAD])
def test_bad_spec_names_field_and_fix(case, mutate, field, fix):
    doc = copy.deepcopy(SPEC)
    mutate(doc)
    with pytest.raises(PlatykusError) as err:
        validate_app(doc, CAT, TENANT_DOMAINS)
    assert "%s: " % field in str(err.value), str(err.value)
    assert fix in str(err.value), str(err.value)


def test_valid_spec_is_normalized():
    app = validate_app(SPEC, CAT, TENANT_DOMAINS)
    assert app.namespace == "acme-dev"
    assert [(p.name, p.kind) for p in app.processes] == [
        ("web", "web"),
        ("worker", "worker"),
        ("release", "release"),
        ("cleanup", "cron"),
        ("indexer", "worker"),
    ]
    assert app.config == {"DEBUG": "false", "LOG_LEVEL": "info", "WORKERS": "4"}
    assert app.process("worker").command == ("/bin/sh", "-c", "bin/worker")
    assert app.process("web").max_replicas == 2 and app.process("worker").max_replicas == 3
    assert app.secrets[0].key == "platykus/acme/db"


def test_every_problem_is_reported_at_once():
    doc = spec(image="docker.io/x:1", domains=["a.globex.example.com"])
    doc["processes"]["web"]["size"] = "huge"
    with pytest.raises(PlatykusError) as err:
        validate_app(doc, CAT, TENANT_DOMAINS)
    message = str(err.value)
    assert message.startswith("3 problems in app 'shop'")
    for field in ("image:", "processes.web.size:", "domains[0]:"):
        assert field in message


def test_domains_unchecked_when_tenant_domains_unknown():
    assert validate_app(spec(domains=["shop.anything.example.org"]), CAT, None).domains == (
        "shop.anything.example.org",
    )


def test_domains_need_a_web_process():
    doc = spec()
    del doc["processes"]["web"]
    with pytest.raises(PlatykusError, match="needs a web process"):
        validate_app(doc, CAT, TENANT_DOMAINS)


@pytest.mark.parametrize(
    "catalog,fix",
    [
        ({"sizes": {}, "registries": ["r/"]}, "define at least one size"),
        (
            {"sizes": {"a": {"cpu": "1", "memory": "1Gi", "limits_cpu": "500m"}}, "registries": ["r/"]},
            "at least the request",
        ),
        ({"sizes": {"a": {"cpu": "x", "memory": "1Gi"}}, "registries": ["r/"]}, "catalog.sizes.a.cpu"),
        ({"sizes": {"a": {"cpu": "1", "memory": "1Gi"}}}, "catalog.registries"),
        ("nope", "not a mapping"),
    ],
)
def test_bad_catalog(catalog, fix):
    with pytest.raises(PlatykusError, match=fix.replace(".", r"\.")):
        validate_catalog(catalog)


def test_digest_pinned_image_is_accepted():
    assert image_problem("registry.example.com/acme/shop@sha256:" + "a" * 64, CAT) is None


def test_app_ref_checks_identity_only():
    assert app_ref({"name": "shop", "tenant": "acme", "environment": "dev"}).namespace == "acme-dev"
    with pytest.raises(PlatykusError, match="tenant"):
        app_ref({"name": "shop", "environment": "dev"})
