# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""deploy_apps against the in-memory API server: requests shared by the batch, refusals before any write."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.batch import deploy_apps
from ansible_collections.platykus.platform.plugins.module_utils._apps.ops import deploy_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils._apps.test_ops import (
    APP_KINDS,
    QUOTA,
    small_spec,
    writes,
)
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer


@pytest.fixture
def server(monkeypatch):
    for key, value in APP_KINDS.items():
        monkeypatch.setitem(fake_api.KINDS, key, value)
    return FakeApiServer([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-dev"}}, QUOTA])


def specs(count: int) -> list[dict]:
    return [dict(small_spec(), name="app-%d" % i, domains=["app-%d.acme.apps.example.com" % i]) for i in range(count)]


def lists(server) -> list:
    return [
        c
        for c in server.calls
        if c[0] == "GET" and "labelSelector" in c[2] or c[1].endswith(("resourcequotas", "limitranges"))
    ]


def test_batch_predicts_like_deploy_app_and_writes_nothing_in_check_mode(server):
    results = deploy_apps(server.client, specs(3), check_mode=True, catalog=CATALOG)
    alone = deploy_app(server.client, check_mode=True, spec=specs(3)[2], catalog=CATALOG)
    assert [r["app"] for r in results] == ["app-0", "app-1", "app-2"]
    assert results[2]["created"] == alone["created"] and results[2]["release"] == alone["release"] == 1
    assert results[0]["urls"] == ["https://app-0.acme.apps.example.com/"]
    assert [c for c in writes(server) if "selfsubjectreviews" not in c[1]] == []


def test_batch_reads_the_namespace_once(server):
    one = len(lists(server)) if deploy_apps(server.client, specs(1), check_mode=True, catalog=CATALOG) else 0
    server.calls.clear()
    deploy_apps(server.client, specs(5), check_mode=True, catalog=CATALOG)
    assert len(lists(server)) == one  # five apps, the LISTs of one
    assert len([c for c in server.calls if "selfsubjectreviews" in c[1]]) == 1


def test_every_bad_spec_is_named_before_connecting():
    def connect():
        raise AssertionError("connected")

    bad = specs(3)
    bad[0]["image"] = "docker.io/x:1"
    bad[2]["processes"]["web"]["size"] = "huge"
    with pytest.raises(PlatykusError, match=r"specs\[0\]: .*image.*; specs\[2\]: .*size"):
        deploy_apps(connect, bad, catalog=CATALOG)


def test_one_batch_is_one_namespace():
    other = dict(small_spec(), environment="prod", name="other")
    with pytest.raises(PlatykusError, match="one namespace with its identity, got acme-dev, acme-prod"):
        deploy_apps(lambda: None, [small_spec(), other], catalog=CATALOG)


def test_an_app_over_the_quota_refuses_the_batch(server):
    batch = specs(2)
    batch[1]["processes"]["web"].update(replicas=30, size="performance-m")
    with pytest.raises(PlatykusError, match="app 'app-1' to acme-dev, nothing was written"):
        deploy_apps(server.client, batch, catalog=CATALOG)
    assert [c for c in writes(server) if "selfsubjectreviews" not in c[1]] == []
