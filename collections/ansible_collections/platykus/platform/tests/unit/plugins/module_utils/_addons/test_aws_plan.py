# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws provider's plan (_addons.aws), its ExternalSecrets and its quota check (_addons.aws_delivery)."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons import aws_delivery as delivery
from ansible_collections.platykus.platform.plugins.module_utils._addons.aws import aws_plan, render_external_secret
from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

CATALOG = {
    "providers": {"kafka": "aws", "redis": "aws", "postgresql": "local"},
    "plans": {
        "kafka": {"basic-0": {"version": "3.7.x", "storage": "20Gi", "monthly": 100}},
        "redis": {"mini": {"version": "7.1", "monthly": 12}},
        "postgresql": {"big": {"version": "16", "storage": "90Gi", "monthly": 10}},
    },
    "quota": {"small": {"addons": 3, "storage": "100Gi", "monthly": 150}},
}
KAFKA = {"name": "events", "tenant": "acme", "environment": "prod", "type": "kafka", "plan": "basic-0"}
REDIS = {"name": "cache", "tenant": "acme", "environment": "prod", "type": "redis", "plan": "mini"}
TENANTS = [{"name": "acme", "cost_center": "cc-1001"}]


def test_kafka_is_planned_on_msk_with_its_scram_secret_outside_the_tenant_prefix():
    [plan] = aws_plan([KAFKA], CATALOG, TENANTS, "eks1")
    assert plan["id"].startswith("pk-") and len(plan["id"]) == 13 and plan["configuration"] == plan["id"]
    assert plan["secret_name"] == "platykus/acme/addons/events"
    assert plan["scram_secret_name"] == "AmazonMSK_platykus/acme/addons/events"
    assert plan["security_group"] == "eks1-kafka-" + plan["id"]
    assert (plan["port"], plan["storage_gib"], plan["instance_class"]) == (9096, 20, "kafka.t3.small")
    assert plan["server_properties"]["auto.create.topics.enable"] == "false"
    assert plan["tags"] == {
        "platykus:managed-by": "platykus",
        "platykus:tenant": "acme",
        "platykus:addon": "events",
        "platykus:data-service": "kafka",
        "platykus:cost-center": "cc-1001",
        "platykus:cluster": "eks1",
    }
    assert "unsupported" not in plan


def test_only_aws_addons_are_planned_and_without_a_cluster_there_is_no_cluster_tag():
    planned = aws_plan([REDIS, dict(KAFKA, name="pg", type="postgresql", plan="big")], CATALOG)
    assert [p["name"] for p in planned] == ["cache"] and "platykus:cluster" not in planned[0]["tags"]


def test_the_external_secret_reads_the_tenant_prefix_through_the_tenant_store():
    [addon] = validate_requests([REDIS], validate_catalog(CATALOG))
    obj = render_external_secret(addon)
    assert obj["metadata"]["name"] == "addon-cache" and obj["metadata"]["namespace"] == "acme-prod"
    assert obj["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platykus-secrets-acme"}
    assert obj["spec"]["dataFrom"] == [{"extract": {"key": "platykus/acme/addons/cache"}}]
    template = obj["spec"]["target"]["template"]["metadata"]
    assert (
        template["labels"]["platykus.io/data-service"] == "redis" and template["labels"]["platykus.io/addon"] == "cache"
    )
    assert template["annotations"] == {"platykus.io/addon-plan": "mini", "platykus.io/addon-provider": "aws"}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setitem(fake_api.KINDS, ("external-secrets.io/v1", "ExternalSecret"), ("externalsecrets", True))
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "acme-prod", "labels": {"platykus.io/tenant": "acme", "platykus.io/plan": "small"}},
    }
    return FakeApiServer([namespace])


def test_quota_counts_held_external_secrets_and_refuses_before_anything_is_written(server):
    assert delivery.check(server.client, [KAFKA, REDIS], CATALOG)["checked"] == ["acme/events", "acme/cache"]
    delivery.deliver(server.client, [KAFKA, REDIS], CATALOG)
    assert server.keys("ExternalSecret") == ["acme-prod/addon-cache", "acme-prod/addon-events"]
    # Held: events (100) and cache (12); another kafka add-on would pass the monthly quota of 150.
    more = dict(KAFKA, name="events2")
    with pytest.raises(
        PlatykusError,
        match=r"addons.acme/events2.plan: would bring tenant 'acme' \(plan small\)'s add-ons to 212 a month",
    ):
        delivery.check(server.client, [more], CATALOG)
    with pytest.raises(
        PlatykusError, match="addons.acme/cache.type: the add-on is a redis add-on; a type cannot change"
    ):
        delivery.check(server.client, [dict(KAFKA, name="cache")], CATALOG)
    with pytest.raises(PlatykusError, match="addons.acme/x.environment: namespace 'acme-qa' is not an onboarded"):
        delivery.check(server.client, [dict(REDIS, name="x", environment="qa")], CATALOG)
    assert server.keys("ExternalSecret") == ["acme-prod/addon-cache", "acme-prod/addon-events"]


def test_deliver_check_mode_rerun_and_remove(server):
    result = delivery.deliver(server.client, [REDIS], CATALOG, check_mode=True)
    assert result["changed"] and server.keys("ExternalSecret") == []
    assert delivery.deliver(server.client, [REDIS], CATALOG)["created"] == ["ExternalSecret/acme-prod/addon-cache"]
    assert not delivery.deliver(server.client, [REDIS], CATALOG)["changed"]
    # A Secret of the same name that is not the add-on's is left alone.
    server.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "addon-cache", "namespace": "acme-prod"}})
    assert delivery.remove(server.client, [REDIS], CATALOG, check_mode=True)["changed"]
    assert server.keys("ExternalSecret") == ["acme-prod/addon-cache"]
    assert delivery.remove(server.client, [REDIS], CATALOG)["removed"] == ["ExternalSecret/acme-prod/addon-cache"]
    assert server.keys("ExternalSecret") == [] and server.find("Secret", "addon-cache", "acme-prod") is not None
    assert not delivery.remove(server.client, [REDIS], CATALOG)["changed"]
