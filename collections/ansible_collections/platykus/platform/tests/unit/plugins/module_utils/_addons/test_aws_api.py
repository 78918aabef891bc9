# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ElastiCache tags (on moto, in process) and MSK SCRAM secret association (a fake of the three
MSK calls, which moto 5.2.5 does not serve)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_api import (
    ensure_cache_tags,
    ensure_scram_secrets,
    tag_changes,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

TAGS = {"platykus:tenant": "acme", "platykus:cost-center": "cc-1001"}


@pytest.fixture
def elasticache(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("elasticache", region_name="eu-west-1")
        client.create_cache_cluster(
            CacheClusterId="pk-1", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
        )
        yield client


def _tags(client):
    arn = client.describe_cache_clusters(CacheClusterId="pk-1")["CacheClusters"][0]["ARN"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_tag_changes():
    assert tag_changes({"a": "1", "b": "2"}, {"a": "1", "c": "3"}, purge=True) == ({"c": "3"}, ["b"])
    assert tag_changes({"a": "1", "b": "2"}, {"a": "9"}, purge=False) == ({"a": "9"}, [])


def test_cache_tags_check_mode_create_rerun_modify(elasticache):
    result = ensure_cache_tags(elasticache, "pk-1", TAGS, check=True)
    assert result["changed"] and result["tags"] == TAGS and _tags(elasticache) == {}
    assert ensure_cache_tags(elasticache, "pk-1", TAGS)["changed"] and _tags(elasticache) == TAGS
    assert not ensure_cache_tags(elasticache, "pk-1", TAGS)["changed"]
    changed = dict(TAGS, **{"platykus:cost-center": "cc-2"})
    result = ensure_cache_tags(elasticache, "pk-1", {"platykus:cost-center": "cc-2"})
    assert result["changed"] and result["before"] == TAGS and _tags(elasticache) == {"platykus:cost-center": "cc-2"}
    assert ensure_cache_tags(elasticache, "pk-1", changed, purge=False)["tags"] == changed


def test_cache_tags_of_a_missing_cluster(elasticache):
    assert ensure_cache_tags(elasticache, "pk-2", TAGS, check=True)["changed"]  # made by the task before, for real
    with pytest.raises(PlatykusError, match="ElastiCache cluster 'pk-2': it does not exist; create it first"):
        ensure_cache_tags(elasticache, "pk-2", TAGS)


class FakeMsk:
    ARN = "arn:aws:kafka:eu-west-1:1:cluster/pk-1/x"

    def __init__(self):
        self.associated: set[str] = set()
        self.writes: list[str] = []

    def list_clusters(self, ClusterNameFilter):
        # MSK filters on the start of the name.
        return {"ClusterInfoList": [{"ClusterName": n, "ClusterArn": self.ARN} for n in ("pk-1", "pk-10")
                                    if n.startswith(ClusterNameFilter)]}  # fmt: skip

    def list_scram_secrets(self, ClusterArn, NextToken=None):
        items = sorted(self.associated)
        if NextToken is None and len(items) > 1:
            return {"SecretArnList": items[:1], "NextToken": "t"}
        return {"SecretArnList": items[1:] if NextToken else items}

    def batch_associate_scram_secret(self, ClusterArn, SecretArnList):
        self.writes.append("associate")
        self.associated.update(SecretArnList)
        return {"UnprocessedScramSecrets": []}

    def batch_disassociate_scram_secret(self, ClusterArn, SecretArnList):
        self.writes.append("disassociate")
        self.associated.difference_update(SecretArnList)
        return {"UnprocessedScramSecrets": []}

    def get_bootstrap_brokers(self, ClusterArn):
        return {"BootstrapBrokerStringSaslScram": "b-1.pk-1:9096,b-2.pk-1:9096"}


def test_scram_secrets_check_associate_rerun_purge_absent():
    msk = FakeMsk()
    result = ensure_scram_secrets(msk, "pk-1", ["s1"], check=True)
    assert result["changed"] and result["associated"] == ["s1"] and msk.writes == []
    result = ensure_scram_secrets(msk, "pk-1", ["s1"])
    assert result["secrets"] == ["s1"] and result["bootstrap"] == "b-1.pk-1:9096,b-2.pk-1:9096"
    assert not ensure_scram_secrets(msk, "pk-1", ["s1"])["changed"]
    msk.associated.update({"s0", "s9"})  # paged listing, and purge
    result = ensure_scram_secrets(msk, "pk-1", ["s1"], purge=True)
    assert result["disassociated"] == ["s0", "s9"] and msk.associated == {"s1"}
    assert ensure_scram_secrets(msk, "pk-1", ["s1"], state="absent")["disassociated"] == ["s1"]
    assert not ensure_scram_secrets(msk, "pk-1", ["s1"], state="absent")["changed"]


def test_scram_secrets_of_a_missing_cluster():
    msk = FakeMsk()
    assert not ensure_scram_secrets(msk, "pk-2", ["s1"], state="absent")["changed"]
    assert ensure_scram_secrets(msk, "pk-2", ["s1"], check=True)["changed"]
    with pytest.raises(PlatykusError, match="MSK cluster 'pk-2': it does not exist; create it first"):
        ensure_scram_secrets(msk, "pk-2", ["s1"])
