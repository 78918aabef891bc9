# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws add-ons a cluster holds on AWS, found by their platykus tags (playbooks/aws-teardown.yml).

Teardown must not delete the VPC while RDS instances, ElastiCache clusters or MSK clusters sit in
it, nor leave buckets behind: it reads what AWS holds (not the inventory, which may have changed),
keeps what carries ``platykus:managed-by=platykus``, ``platykus:cluster=<cluster>`` and a
``platykus:addon`` tag, and plans each for removal in the shape ``_addons.aws.plan_one`` gives, so
playbooks/tasks/addon_aws.yml removes it exactly as ``addon-aws.yml -e addon_state=absent`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws import (
    ENGINES,
    MSK_SCRAM_PORT,
    MSK_SECRET_PREFIX,
    secret_name,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AWS_ADDON_TAG,
    AWS_CLUSTER_TAG,
    AWS_DATA_SERVICE_TAG,
    AWS_MANAGED_BY_TAG,
    AWS_TENANT_TAG,
    MANAGED_BY_VALUE,
)

Client = Callable[[str], Any]
# The bucket add-ons' names start so (_addons.aws.plan_one); other buckets are not read.
BUCKET_PREFIX = "platykus-"
GONE = ("deleting", "deleted")


def _pairs(items: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or ()}


def ours(tags: Mapping[str, str], cluster: str) -> bool:
    return (
        tags.get(AWS_MANAGED_BY_TAG) == MANAGED_BY_VALUE
        and tags.get(AWS_CLUSTER_TAG) == cluster
        and bool(tags.get(AWS_ADDON_TAG))
        and bool(tags.get(AWS_TENANT_TAG))
    )


def removal(tags: Mapping[str, str], kind: str, ident: str, cluster: str, **found: Any) -> dict[str, Any]:
    """What playbooks/tasks/addon_aws.yml needs to remove one add-on (state absent)."""
    tenant, name = tags[AWS_TENANT_TAG], tags[AWS_ADDON_TAG]
    out: dict[str, Any] = {
        "name": name,
        "tenant": tenant,
        "type": tags.get(AWS_DATA_SERVICE_TAG) or kind,
        "id": ident,
        "tags": dict(tags),
        "secret_name": secret_name(tenant, name),
        "user": found.pop("user", ""),
        "database": found.pop("database", ""),
        "engine": kind,
        "engine_version": "",
        "instance_class": "",
        "storage_gib": 0,
        "multi_az": False,
        "backup_days": 0,
        "nodes": 1,
        "port": 0,
    }
    out.update(found)
    if out["type"] == "kafka":
        out.update(
            port=MSK_SCRAM_PORT,
            configuration=ident,
            scram_secret_name=MSK_SECRET_PREFIX + out["secret_name"],
            security_group="%s-kafka-%s" % (cluster, ident),
        )
    return out


def _rds(client: Client, cluster: str) -> list[dict[str, Any]]:
    found = []
    for page in client("rds").get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            tags = _pairs(db.get("TagList"))
            if ours(tags, cluster) and db.get("DBInstanceStatus") not in GONE:
                kind = "postgresql" if db["Engine"].startswith("postgres") else "mysql"
                found.append(
                    removal(
                        tags,
                        kind,
                        db["DBInstanceIdentifier"],
                        cluster,
                        engine=db["Engine"],
                        port=ENGINES[kind][1],
                        user=db.get("MasterUsername", ""),
                        database=db.get("DBName", ""),
                    )
                )
    return found


def _elasticache(client: Client, cluster: str) -> list[dict[str, Any]]:
    api, found = client("elasticache"), []
    for page in api.get_paginator("describe_cache_clusters").paginate():
        for cache in page["CacheClusters"]:
            if cache.get("CacheClusterStatus") in GONE:
                continue
            tags = _pairs(api.list_tags_for_resource(ResourceName=cache["ARN"]).get("TagList"))
            if ours(tags, cluster):
                found.append(removal(tags, "redis", cache["CacheClusterId"], cluster, port=ENGINES["redis"][1]))
    return found


def _msk(client: Client, cluster: str) -> list[dict[str, Any]]:
    api, found = client("kafka"), []
    for page in api.get_paginator("list_clusters").paginate():
        for item in page["ClusterInfoList"]:
            if str(item.get("State", "")).upper() in ("DELETING", "DELETED"):
                continue
            tags = api.list_tags_for_resource(ResourceArn=item["ClusterArn"]).get("Tags") or {}
            if ours(tags, cluster):
                found.append(removal(tags, "kafka", item["ClusterName"], cluster))
    return found


def _s3(client: Client, cluster: str) -> list[dict[str, Any]]:
    api, found = client("s3"), []
    for bucket in api.list_buckets().get("Buckets") or ():
        if not bucket["Name"].startswith(BUCKET_PREFIX):
            continue
        try:
            tags = _pairs(api.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet"))
        except api.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchTagSet", "NoSuchBucket"):
                continue
            raise
        if ours(tags, cluster):
            found.append(removal(tags, "bucket", bucket["Name"], cluster))
    return found


def find_addons(client: Client, cluster: str) -> list[dict[str, Any]]:
    """Every aws add-on of ``cluster`` on AWS (RDS, ElastiCache, MSK, S3), sorted by tenant and name."""
    found = _rds(client, cluster) + _elasticache(client, cluster) + _msk(client, cluster) + _s3(client, cluster)
    return sorted(found, key=lambda a: (a["tenant"], a["name"], a["type"]))


def describe(addons: list[dict[str, Any]]) -> list[str]:
    """One line per add-on for the teardown's refusal: ``acme/orders-db (postgresql, pk-acme-orders-db)``."""
    return ["%s/%s (%s, %s)" % (a["tenant"], a["name"], a["type"], a["id"]) for a in addons]
