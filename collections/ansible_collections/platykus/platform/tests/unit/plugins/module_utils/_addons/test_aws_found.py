# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws add-ons found by their tags (moto in process), and the rotation refresh's refusal."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_delivery import refresh
from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_found import describe, find_addons, ours
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils import fake_api
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer

REGION = "eu-west-1"


def _tags(tenant: str, name: str, kind: str, cluster: str = "c1") -> dict[str, str]:
    return {
        "platykus:managed-by": "platykus",
        "platykus:cluster": cluster,
        "platykus:tenant": tenant,
        "platykus:addon": name,
        "platykus:data-service": kind,
    }


def _pairs(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def test_ours_needs_every_tag():
    assert ours(_tags("acme", "db", "postgresql"), "c1")
    assert not ours(_tags("acme", "db", "postgresql"), "c2")
    assert not ours({k: v for k, v in _tags("acme", "db", "postgresql").items() if k != "platykus:addon"}, "c1")


def test_finds_rds_cache_bucket_of_the_cluster_only(aws):
    rds = aws("rds")
    for ident, tags in (
        ("pk-acme-db", _tags("acme", "db", "postgresql")),
        ("other", _tags("acme", "x", "mysql", "c2")),
    ):
        rds.create_db_instance(
            DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
            MasterUsername="acme_db", MasterUserPassword="secret123", DBName="acme_db", Tags=_pairs(tags),
        )  # fmt: skip
    cache = aws("elasticache")
    cache.create_cache_cluster(
        CacheClusterId="pk-123", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1,
        Tags=_pairs(_tags("beta", "cache", "redis")),
    )  # fmt: skip
    s3 = aws("s3")
    config = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket="platykus-acme-files-1", CreateBucketConfiguration=config)
    s3.put_bucket_tagging(Bucket="platykus-acme-files-1", Tagging={"TagSet": _pairs(_tags("acme", "files", "bucket"))})
    s3.create_bucket(Bucket="platykus-untagged", CreateBucketConfiguration=config)
    found = find_addons(aws, "c1")
    assert describe(found) == [
        "acme/db (postgresql, pk-acme-db)",
        "acme/files (bucket, platykus-acme-files-1)",
        "beta/cache (redis, pk-123)",
    ]
    db = found[0]
    assert db["secret_name"] == "platykus/acme/addons/db" and db["engine"] == "postgres" and db["user"] == "acme_db"
    assert found[2]["port"] == 6379 and find_addons(aws, "nothing-here") == []


def test_refresh_refuses_a_missing_external_secret_before_writing(monkeypatch):
    monkeypatch.setitem(fake_api.KINDS, ("external-secrets.io/v1", "ExternalSecret"), ("externalsecrets", True))
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "acme-prod", "labels": {"platykus.io/tenant": "acme", "platykus.io/plan": "small"}},
    }
    server = FakeApiServer([namespace])
    catalog = {
        "providers": {"postgresql": "aws"},
        "plans": {"postgresql": {"s": {"version": "16", "monthly": 1}}},
        "quota": {"small": {"addons": 3, "storage": "10Gi", "monthly": 100}},
    }
    request = {"name": "db", "tenant": "acme", "environment": "prod", "type": "postgresql", "plan": "s"}
    with pytest.raises(
        PlatykusError, match="no ExternalSecret acme-prod/addon-db; deliver it with playbooks/addon-aws.yml"
    ):
        refresh(server.client, [request], catalog, "t1")
