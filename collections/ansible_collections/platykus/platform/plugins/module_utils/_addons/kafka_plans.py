# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part of the ``local`` provider's Kafka (_addons.kafka): what an add-on should have on the
broker -- its user, the ACLs on its own prefix, its topics and quotas to the plan -- compared with what
the broker has, and how a client connects. No library call here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    DEFAULT_KAFKA_TOPICS,
    KAFKA_QUOTA_KEYS,
    kafka_limits,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

MECHANISM = "SCRAM-SHA-512"
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
# What an add-on's user may do on its own prefix, per resource type.
# No CREATE, DELETE or ALTER_CONFIGS on topics: the platform makes them to the plan. Transactional
# ids on the prefix (transactional producers, exactly-once). Nothing on the cluster: no describing or
# altering its configs, ACLs or SCRAM users (the broker's metadata lists the add-on's topics only).
OPERATIONS = {
    "TOPIC": ("DESCRIBE", "DESCRIBE_CONFIGS", "READ", "WRITE"),
    "GROUP": ("DELETE", "DESCRIBE", "READ"),
    "TRANSACTIONAL_ID": ("DESCRIBE", "WRITE"),
}
# SCRAM user names: the idents AddonRef makes ([a-z0-9_], <= 48), nothing SASL would have to escape.
_USER_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,47}$")


@dataclass(frozen=True, order=True)
class Acl:
    """One ACL in plain terms (enum names); rendered to confluent-kafka's AclBinding at call time."""

    resource: str  # a ResourceType name: TOPIC | GROUP | ...
    name: str
    principal: str
    operation: str  # an AclOperation name
    pattern: str = "PREFIXED"  # a ResourcePatternType name
    permission: str = "ALLOW"  # an AclPermissionType name
    host: str = "*"


def validate_user(user: str) -> str:
    """The SCRAM user name, or a PlatykusError naming the field and the rule."""
    if not isinstance(user, str) or not _USER_RE.match(user):
        raise PlatykusError(
            "name: Kafka user '%s' must be 1-48 characters of a-z, 0-9 and _, starting with a letter or digit "
            "(the add-on's ident, e.g. acme_events_1a2b3c4d)" % (user,),
            field="name",
        )
    return user


def prefix_of(user: str) -> str:
    """The add-on's topic and group prefix: ``<ident>.`` (the dot keeps ``a_b`` off ``a_bc``'s names)."""
    return validate_user(user) + "."


def principal_of(user: str) -> str:
    return "User:" + validate_user(user)


def desired_acls(user: str) -> list[Acl]:
    """Every ACL the add-on's user must have, sorted: its prefix only, ALLOW, from any host."""
    prefix, principal = prefix_of(user), principal_of(user)
    return sorted(
        Acl(resource, prefix, principal, operation)
        for resource, operations in OPERATIONS.items()
        for operation in operations
    )


def acl_changes(desired: list[Acl], actual: list[Acl]) -> tuple[list[Acl], list[Acl]]:
    """(to create, to delete): the principal keeps exactly the desired ACLs."""
    wanted, have = set(desired), set(actual)
    return sorted(wanted - have), sorted(have - wanted)


def owned(names: list[str], user: str) -> list[str]:
    """The names (topics, groups) under the add-on's prefix, sorted."""
    prefix = prefix_of(user)
    return sorted(name for name in names if name.startswith(prefix))


def topic_config(limits: Mapping[str, int]) -> dict[str, str]:
    """The topic configs a plan sets (retention per partition in bytes, and in ms)."""
    config = {}
    if "retention_bytes" in limits:
        config["retention.bytes"] = str(limits["retention_bytes"])
    if "retention_hours" in limits:
        config["retention.ms"] = str(limits["retention_hours"] * 3_600_000)
    return config


def desired_topics(addon: AddonRef) -> dict[str, tuple[int, dict[str, str]]]:
    """Topic name -> (partitions, configs) the add-on's plan and request want."""
    limits = kafka_limits(addon.plan_spec)
    names = addon.topics or DEFAULT_KAFKA_TOPICS
    return {prefix_of(addon.ident) + name: (limits.get("partitions", 1), topic_config(limits)) for name in names}


def desired_quotas(addon: AddonRef) -> dict[str, float]:
    limits = kafka_limits(addon.plan_spec)
    return {key: float(limits[key]) for key in KAFKA_QUOTA_KEYS if key in limits}


def topic_changes(
    desired: Mapping[str, tuple[int, Mapping[str, str]]],
    partitions: Mapping[str, int],
    configs: Mapping[str, Mapping[str, str]],
    plan: str,
) -> dict[str, Any]:
    """What to do to the topics: create, delete (not requested), add partitions, set configs.

    ``partitions``: every topic under the prefix on the broker -> its partition count; ``configs``:
    the requested topics that exist -> their current values of the configs the plan sets."""
    create = sorted(name for name in desired if name not in partitions)
    delete = sorted(name for name in partitions if name not in desired)
    grow, alter = {}, {}
    for name, (count, config) in sorted(desired.items()):
        if name not in partitions:
            continue
        if partitions[name] > count:
            raise PlatykusError(
                "plan: topic %s has %d partitions and plan %s makes %d; Kafka cannot remove partitions: keep a plan "
                "with partitions >= %d, or destroy the add-on and create it again"
                % (name, partitions[name], plan, count, partitions[name]),
                field="plan",
            )
        if partitions[name] < count:
            grow[name] = count
        differ = {key: value for key, value in config.items() if (configs.get(name) or {}).get(key) != value}
        if differ:
            alter[name] = differ
    return {"topics_create": create, "topics_delete": delete, "partitions_add": grow, "topics_config": alter}


def connection_url(host: str, port: int | str, user: str, password: str) -> str:
    """kafka://user:password@host:port?security_protocol=...&sasl_mechanism=...&topic_prefix=..."""
    query = urlencode(
        {"security_protocol": SECURITY_PROTOCOL, "sasl_mechanism": MECHANISM, "topic_prefix": prefix_of(user)}
    )
    return "kafka://%s:%s@%s:%s?%s" % (user, quote(password, safe=""), host, port, query)


def client_config(server: Mapping[str, Any], user: str, password: str) -> dict[str, Any]:
    """confluent-kafka settings for a client of the broker as ``user`` (no library call)."""
    bootstrap = server.get("bootstrap") or "%s:%s" % (server["host"], server["port"])
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": server.get("security_protocol", SECURITY_PROTOCOL),
        "sasl.mechanism": server.get("mechanism", MECHANISM),
        "sasl.username": user,
        "sasl.password": password,
        "log_level": 0,  # failures come back as exceptions; librdkafka's own log lines would go to stderr
    }
