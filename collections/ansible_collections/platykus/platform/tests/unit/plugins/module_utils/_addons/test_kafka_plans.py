# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka plans the broker enforces: the catalog's limits, a request's topics, and what ensure would change.

The broker's side (quotas, topics, refusals) is proved on the lab (tests/integration/test_addons_local.py)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    from_app,
    kafka_limits,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import (
    desired_quotas,
    desired_topics,
    topic_changes,
    topic_config,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka_quotas import quota_changes
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

BASIC = {
    "version": "4.1", "storage": "5Gi", "monthly": 60, "partitions": 2, "max_partitions": 4,
    "retention_bytes": "256Mi", "retention_hours": 24, "producer_byte_rate": "256Ki", "consumer_byte_rate": 524288,
}  # fmt: skip
CATALOG = {
    "providers": {"kafka": "local", "redis": "local"},
    "plans": {"kafka": {"basic-0": BASIC}, "redis": {"mini": {"version": "7", "monthly": 3}}},
    "quota": {"small": {"addons": 4, "storage": "25Gi"}},
}


def request(**extra):
    base = {"name": "stream", "tenant": "acme", "environment": "dev", "type": "kafka", "plan": "basic-0"}
    base.update(extra)
    return base


def test_limits_are_whole_numbers_with_sizes_read():
    assert kafka_limits(BASIC) == {
        "producer_byte_rate": 262144,
        "consumer_byte_rate": 524288,
        "partitions": 2,
        "max_partitions": 4,
        "retention_bytes": 268435456,
        "retention_hours": 24,
    }


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"partitions": 0}, "basic-0.partitions", "not a whole number of 1 or more"),
        ({"producer_byte_rate": "fast"}, "basic-0.producer_byte_rate", ""),
        ({"partitions": 8}, "basic-0.partitions", "more than max_partitions (4)"),
        ({"retention_bytes": "2Gi"}, "basic-0.retention_bytes", "is more than the plan's storage (5 GiB)"),
        ({"replicas": 3}, "basic-0", "replicas"),
    ],
)
def test_bad_kafka_plans_name_the_field(change, field, words):
    raw = copy.deepcopy(CATALOG)
    raw["plans"]["kafka"]["basic-0"].update(change)
    with pytest.raises(PlatykusError) as err:
        validate_catalog(raw)
    assert "platykus_addons.plans.kafka." + field in str(err.value) and words in str(err.value)


def test_kafka_limit_keys_are_refused_on_other_types():
    raw = copy.deepcopy(CATALOG)
    raw["plans"]["redis"]["mini"]["partitions"] = 3
    with pytest.raises(PlatykusError, match="platykus_addons.plans.redis.mini"):
        validate_catalog(raw)


def test_topics_default_to_events_and_are_bounded_by_the_plan():
    catalog = validate_catalog(CATALOG)
    assert validate_requests([request()], catalog)[0].topics == ("events",)
    assert validate_requests([request(topics=["orders", "audit"])], catalog)[0].ref().topics == ("orders", "audit")
    with pytest.raises(PlatykusError) as err:
        validate_requests([request(topics=["a", "b", "c"])], catalog)  # 3 x 2 partitions > 4
    assert "addons.acme/stream.topics: 3 topics x 2 partitions is more than plan basic-0 allows" in str(err.value)


@pytest.mark.parametrize(
    "topics, words",
    [
        ([], "topics: [] is not a list of topic names"),
        (["Orders"], "topics[0]: 'Orders' is not a topic name"),
        (["orders", "orders"], "topics[1]: 'orders' is listed twice"),
    ],
)
def test_bad_topics_name_the_field(topics, words):
    with pytest.raises(PlatykusError, match=r"addons\.acme/stream\." + words.replace("[", r"\[").replace("]", r"\]")):
        validate_requests([request(topics=topics)], validate_catalog(CATALOG))


def test_only_kafka_has_topics():
    with pytest.raises(PlatykusError, match="addons.acme/cache.topics: only kafka add-ons have topics"):
        validate_requests([request(name="cache", type="redis", plan="mini", topics=["x"])], validate_catalog(CATALOG))


def test_desired_topics_and_quotas_of_a_ref():
    ref = validate_requests([request(topics=["orders"])], validate_catalog(CATALOG))[0].ref()
    prefix = ref.ident + "."
    assert desired_topics(ref) == {prefix + "orders": (2, {"retention.bytes": "268435456", "retention.ms": "86400000"})}
    assert desired_quotas(ref) == {"producer_byte_rate": 262144.0, "consumer_byte_rate": 524288.0}
    assert topic_config({}) == {}


def test_topic_changes_create_grow_alter_delete():
    desired = {"p.a": (3, {"retention.bytes": "10"}), "p.b": (3, {"retention.bytes": "10"}), "p.new": (3, {})}
    partitions = {"p.a": 3, "p.b": 1, "p.old": 1}
    configs = {"p.a": {"retention.bytes": "10"}, "p.b": {"retention.bytes": "99"}}
    assert topic_changes(desired, partitions, configs, "standard-0") == {
        "topics_create": ["p.new"],
        "topics_delete": ["p.old"],
        "partitions_add": {"p.b": 3},
        "topics_config": {"p.b": {"retention.bytes": "10"}},
    }
    nothing = topic_changes(
        desired, {"p.a": 3, "p.b": 3, "p.new": 3}, {"p.a": configs["p.a"], "p.b": configs["p.a"]}, "x"
    )
    assert not any(nothing.values())


def test_fewer_partitions_is_refused_naming_the_plan():
    with pytest.raises(PlatykusError, match="plan: topic p.a has 3 partitions and plan basic-0 makes 1; Kafka cannot"):
        topic_changes({"p.a": (1, {})}, {"p.a": 3}, {}, "basic-0")


def test_quota_changes_set_what_differs_and_remove_what_the_plan_lacks():
    assert quota_changes({"producer_byte_rate": 10}, {"producer_byte_rate": 10.0}) == []
    assert quota_changes({"producer_byte_rate": 20}, {"producer_byte_rate": 10.0, "request_percentage": 5.0}) == [
        ("producer_byte_rate", 20.0, False),
        ("request_percentage", 0.0, True),
    ]
    assert quota_changes({}, {"consumer_byte_rate": 1.0}) == [("consumer_byte_rate", 0.0, True)]


def test_an_apps_kafka_addon_passes_its_topics_on():
    app = {"name": "shop", "tenant": "acme", "environment": "dev"}
    app["addons"] = [{"type": "kafka", "plan": "basic-0", "topics": ["orders"]}]
    requests, env = from_app(app)
    assert requests[0]["topics"] == ["orders"] and env == {"KAFKA_URL": "addon-shop-kafka"}
    assert validate_requests(requests, validate_catalog(CATALOG))[0].topics == ("orders",)
