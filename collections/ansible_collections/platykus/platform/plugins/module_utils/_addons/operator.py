# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``operator`` provider: the operators' own objects in the tenant's namespace.

The platform installs CloudNativePG, the MySQL operator, the OT-CONTAINER-KIT Redis operator and
Strimzi (catalog/services.yml, stage data_operators). An add-on becomes one object of the
operator's kind (and for Kafka a KafkaTopic and a KafkaUser), labelled platykus.io/data-service,
sized from the plan, with the credentials the platform generated in the add-on's Secret
(``addon-<name>``) so the app reads the same keys whatever the provider. The objects are applied
in the one batch with the Secret and Service; the operator does the rest on the cluster.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    DEFAULT_KAFKA_TOPICS,
    kafka_limits,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import topic_config
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

OPERATOR_TYPES = ("postgresql", "mysql", "redis", "kafka")
# The Service each operator creates for clients, and its port: the Secret's host and port.
_ENDPOINTS = {
    "postgresql": ("%s-rw", 5432),  # CloudNativePG: <cluster>-rw
    "mysql": ("%s", 3306),  # MySQL operator: <cluster> (the router)
    "redis": ("%s", 6379),  # Redis operator: <name>
    "kafka": ("%s-kafka-bootstrap", 9092),  # Strimzi: <cluster>-kafka-bootstrap
}
_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql", "redis": "redis", "kafka": "kafka"}


def instance_name(addon: AddonRef) -> str:
    return "addon-%s" % addon.name


def _plan(addon: AddonRef, key: str, default: Any) -> Any:
    value = addon.plan_spec.get(key)
    return default if value in (None, "") else value


def _replicas(addon: AddonRef) -> int:
    return 3 if _plan(addon, "ha", False) else 1


def endpoint(addon: AddonRef) -> tuple[str, int]:
    pattern, port = _ENDPOINTS[addon.type]
    return "%s.%s.svc" % (pattern % instance_name(addon), addon.namespace), port


def credentials(addon: AddonRef, password: str) -> dict[str, str]:
    """The Secret's data: the user and database are the add-on's ident, as on the local provider."""
    host, port = endpoint(addon)
    database = (
        addon.ident if addon.type in ("postgresql", "mysql") else "0" if addon.type == "redis" else addon.ident + "."
    )
    user = "default" if addon.type == "redis" else addon.ident
    url = "%s://%s:%s@%s:%d/%s" % (_SCHEMES[addon.type], user, password, host, port, database)
    return {
        "host": host,
        "port": str(port),
        "user": user,
        "password": password,
        "database": database,
        "url": url,
        # The keys the operators read (CloudNativePG's basic-auth Secret, the MySQL operator's root user).
        "username": user,
        "rootUser": user,
        "rootHost": "%",
        "rootPassword": password,
    }


def _postgresql(addon: AddonRef, meta: dict, secret: str) -> list[dict]:
    spec: dict[str, Any] = {
        "instances": _replicas(addon),
        "imageName": "ghcr.io/cloudnative-pg/postgresql:%s" % _plan(addon, "version", "16"),
        "storage": {"size": _plan(addon, "storage", "1Gi")},
        "bootstrap": {"initdb": {"database": addon.ident, "owner": addon.ident, "secret": {"name": secret}}},
        "resources": {
            "requests": {"memory": _plan(addon, "memory", "512Mi")},
            "limits": {"memory": _plan(addon, "memory", "512Mi")},
        },
    }
    if _plan(addon, "connections", None):
        spec["postgresql"] = {"parameters": {"max_connections": str(_plan(addon, "connections", 100))}}
    return [{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": meta, "spec": spec}]


def _mysql(addon: AddonRef, meta: dict, secret: str) -> list[dict]:
    spec = {
        "secretName": secret,
        "tlsUseSelfSigned": True,
        "instances": _replicas(addon),
        "router": {"instances": 1},
        "version": str(_plan(addon, "version", "8.4.3")),
        "datadirVolumeClaimTemplate": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": _plan(addon, "storage", "1Gi")}},
        },
    }
    return [{"apiVersion": "mysql.oracle.com/v2", "kind": "InnoDBCluster", "metadata": meta, "spec": spec}]


def _redis(addon: AddonRef, meta: dict, secret: str) -> list[dict]:
    kind = "RedisReplication" if _plan(addon, "ha", False) else "Redis"
    spec: dict[str, Any] = {
        "kubernetesConfig": {
            "image": "quay.io/opstree/redis:v%s" % _plan(addon, "version", "7.0.15"),
            "imagePullPolicy": "IfNotPresent",
            "redisSecret": {"name": secret, "key": "password"},
            "resources": {
                "requests": {"memory": _plan(addon, "memory", "256Mi")},
                "limits": {"memory": _plan(addon, "memory", "256Mi")},
            },
        },
        "storage": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": _plan(addon, "storage", "1Gi")}},
                }
            }
        },
    }
    if kind == "RedisReplication":
        spec["clusterSize"] = 3
    return [{"apiVersion": "redis.redis.opstreelabs.in/v1beta2", "kind": kind, "metadata": meta, "spec": spec}]


def _kafka(addon: AddonRef, meta: dict, secret: str) -> list[dict]:
    name = instance_name(addon)
    replicas = _replicas(addon)
    cluster = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": dict(meta, annotations={"strimzi.io/kraft": "enabled", "strimzi.io/node-pools": "enabled"}),
        "spec": {
            "kafka": {
                "version": str(_plan(addon, "version", "4.1.0")),
                "listeners": [
                    {
                        "name": "plain",
                        "port": 9092,
                        "type": "internal",
                        "tls": False,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                "authorization": {"type": "simple"},
                "config": {"offsets.topic.replication.factor": replicas, "default.replication.factor": replicas},
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    pool = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaNodePool",
        "metadata": dict(meta, name=name + "-pool", labels=dict(meta["labels"], **{"strimzi.io/cluster": name})),
        "spec": {
            "replicas": replicas,
            "roles": ["controller", "broker"],
            "storage": {"type": "persistent-claim", "size": _plan(addon, "storage", "1Gi")},
        },
    }
    child = dict(meta["labels"], **{"strimzi.io/cluster": name})
    # The plan on the add-on's own cluster: the platform's topics (partitions, retention), the user's
    # client quotas, and no Create/Delete/AlterConfigs for the user (as on the lab's shared broker).
    limits = kafka_limits(addon.plan_spec)
    topics = []
    for topic_name in addon.topics or DEFAULT_KAFKA_TOPICS:
        spec: dict[str, Any] = {
            "topicName": addon.ident + "." + topic_name,
            "partitions": limits.get("partitions", 3),
            "replicas": replicas,
        }
        if topic_config(limits):
            spec["config"] = topic_config(limits)
        object_name = addon.ident.replace("_", "-") + "-" + topic_name.replace(".", "-").replace("_", "-")
        topics.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaTopic",
                "metadata": dict(meta, name=object_name, labels=child),
                "spec": spec,
            }
        )
    quotas = {_QUOTA_FIELDS[key]: limits[key] for key in _QUOTA_FIELDS if key in limits}
    user = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": dict(meta, name=addon.ident.replace("_", "-"), labels=child),
        "spec": {
            "authentication": {
                "type": "scram-sha-512",
                "password": {"valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}},
            },
            "authorization": {
                "type": "simple",
                "acls": [
                    {
                        "resource": {"type": "topic", "name": addon.ident + ".", "patternType": "prefix"},
                        "operations": ["Describe", "DescribeConfigs", "Read", "Write"],
                    },
                    {
                        "resource": {"type": "group", "name": addon.ident + ".", "patternType": "prefix"},
                        "operations": ["Delete", "Describe", "Read"],
                    },
                ],
            },
        },
    }
    if quotas:
        user["spec"]["quotas"] = quotas
    return [cluster, pool, *topics, user]


# The plan's quota keys as Strimzi's KafkaUser spec.quotas fields.
_QUOTA_FIELDS = {
    "producer_byte_rate": "producerByteRate",
    "consumer_byte_rate": "consumerByteRate",
    "controller_mutation_rate": "controllerMutationRate",
}


_RENDER = {"postgresql": _postgresql, "mysql": _mysql, "redis": _redis, "kafka": _kafka}


def render(addon: AddonRef, labels: dict[str, str], secret: str) -> list[dict]:
    """The operator objects of one add-on, in its namespace, with ``labels``."""
    if addon.type not in _RENDER:
        raise PlatykusError(
            "type: the operator provider has no operator for '%s' add-ons (it serves %s); set "
            "platykus_addons.providers.%s to aws" % (addon.type, ", ".join(OPERATOR_TYPES), addon.type),
            field="type",
        )
    meta = {"name": instance_name(addon), "namespace": addon.namespace, "labels": dict(labels)}
    return _RENDER[addon.type](addon, meta, secret)
