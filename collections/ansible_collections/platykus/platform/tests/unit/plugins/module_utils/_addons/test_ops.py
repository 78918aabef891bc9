# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The addon module's logic against the in-memory API server and a recording provider."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons import providers as _addon_providers
from ansible_collections.platykus.platform.plugins.module_utils._addons.ops import ensure_addons, remove_addons
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

CATALOG = {
    "providers": {"redis": "local"},
    "plans": {
        "redis": {"mini": {"version": "7", "monthly": 3}, "big": {"version": "7", "storage": "30Gi", "monthly": 9}}
    },
    "quota": {"small": {"addons": 3, "storage": "10Gi"}},
}
SERVERS = {"redis": {"host": "127.0.0.1", "port": 6390, "user": "admin", "password": "admin-pw"}}
REQUEST = {"name": "cache", "tenant": "acme", "environment": "dev", "type": "redis", "plan": "mini"}


class Recorder:
    """A provider that keeps users in memory: what a server would hold."""

    users: dict[str, str] = {}

    def __init__(self, server):
        self.server = server

    def exists(self, addon):
        return addon.ident in self.users

    def ensure(self, addon, password, check_mode):
        if self.users.get(addon.ident) == password:
            return False
        if not check_mode:
            self.users[addon.ident] = password
        return True

    def remove(self, addon, check_mode):
        if addon.ident not in self.users:
            return False
        if not check_mode:
            del self.users[addon.ident]
        return True

    def credentials(self, addon, password):
        return {
            "host": "127.0.0.1",
            "port": "6390",
            "user": addon.ident,
            "password": password,
            "database": "0",
            "url": "redis://x:%s@h/0" % password,
        }


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setitem(fake_api.KINDS, ("v1", "Service"), ("services", True))
    monkeypatch.setattr(Recorder, "users", {})
    monkeypatch.setitem(_addon_providers._FACTORIES, ("local", "redis"), Recorder)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "acme-dev", "labels": {"platykus.io/tenant": "acme", "platykus.io/plan": "small"}},
    }
    return FakeApiServer([namespace])


def passwords(*values):
    it = iter(values)
    return lambda: next(it)


def secret_password(server):
    return base64.b64decode(server.find("Secret", "addon-cache", "acme-dev")["data"]["password"]).decode()


def test_check_mode_then_create_then_nothing_to_do(server):
    result = ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, check_mode=True, password=passwords("p1"))
    assert result["changed"] and result["servers_changed"] == ["acme/cache"]
    assert server.find("Secret", "addon-cache", "acme-dev") is None and Recorder.users == {}
    seen = []
    result = ensure_addons(
        server.client, [REQUEST], CATALOG, SERVERS, password=passwords("p1"), secret_sink=seen.append
    )
    assert result["created"] == ["Secret/acme-dev/addon-cache", "Service/acme-dev/addon-cache"]
    assert secret_password(server) == "p1" and list(Recorder.users.values()) == ["p1"] and "p1" in seen
    service = server.find("Service", "addon-cache", "acme-dev")
    assert (
        service["spec"]["externalName"] == "localhost"
        and service["metadata"]["labels"]["platykus.io/data-service"] == "redis"
    )
    result = ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, password=passwords())
    assert not result["changed"]


def test_rotation_changes_server_and_secret_together(server):
    ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, password=passwords("p1"))
    result = ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, rotate=True, password=passwords("p2"), diff=True)
    assert (
        result["rotated"] == ["acme/cache"]
        and secret_password(server) == "p2"
        and list(Recorder.users.values()) == ["p2"]
    )
    secret_diff = next(d for d in result["diff"] if d["before_header"].startswith("Secret/"))
    assert secret_diff["after"]["data"]["password"] == "(hidden) changed" and "p2" not in str(result)


def test_a_refusal_writes_nothing_anywhere(server):
    over = dict(REQUEST, plan="big")
    with pytest.raises(PlatykusError, match="addons.acme/cache.plan: would give tenant 'acme' .* 30 GiB"):
        ensure_addons(server.client, [over], CATALOG, SERVERS)
    with pytest.raises(
        PlatykusError, match="addons.acme/cache.environment: namespace 'acme-qa' is not an onboarded namespace"
    ):
        ensure_addons(server.client, [dict(REQUEST, environment="qa")], CATALOG, SERVERS)
    with pytest.raises(PlatykusError, match="the lab runs no redis server"):
        ensure_addons(server.client, [REQUEST], CATALOG, {})
    assert Recorder.users == {} and server.find("Secret", "addon-cache", "acme-dev") is None


def test_type_cannot_change(server):
    ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, password=passwords("p1"))
    catalog = dict(
        CATALOG,
        providers={"redis": "local", "postgresql": "local"},
        plans=dict(CATALOG["plans"], postgresql={"x": {"version": "15", "monthly": 1}}),
    )
    with pytest.raises(
        PlatykusError, match="addons.acme/cache.type: the add-on is a redis add-on; a type cannot change"
    ):
        ensure_addons(server.client, [dict(REQUEST, type="postgresql", plan="x")], catalog, SERVERS)


def test_remove_drops_server_user_and_objects_then_nothing(server):
    ensure_addons(server.client, [REQUEST], CATALOG, SERVERS, password=passwords("p1"))
    ref = [{"name": "cache", "tenant": "acme", "environment": "dev"}]
    result = remove_addons(server.client, ref, SERVERS, check_mode=True)
    assert result["changed"] and Recorder.users
    result = remove_addons(server.client, None, SERVERS, tenant="acme")
    assert result == {
        "changed": True,
        "removed": ["acme/cache"],
        "deleted": ["Secret/acme-dev/addon-cache", "Service/acme-dev/addon-cache"],
    }
    assert Recorder.users == {}
    assert not remove_addons(server.client, ref, SERVERS)["changed"]
