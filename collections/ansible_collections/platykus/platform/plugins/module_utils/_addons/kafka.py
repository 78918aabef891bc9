# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``local`` provider's Kafka: one SCRAM user per add-on, allowed on its own prefix only.

The lab's broker (lab/platykus_lab/kafka.py: KRaft, SASL/SCRAM-SHA-512, the StandardAuthorizer,
nothing allowed without an ACL) is shared by every add-on. An add-on ``<ident>`` gets:

- a SCRAM-SHA-512 credential for the user ``<ident>`` (AddonRef.ident);
- ALLOW ACLs for the principal ``User:<ident>`` on the PREFIXED resource patterns topic
  ``<ident>.`` (read, write, describe, describe configs), group ``<ident>.`` (read, describe,
  delete) and transactional id ``<ident>.`` (write, describe) -- nothing on the cluster or on other
  prefixes; so another add-on's user is refused with an authorization error, and the user's
  metadata, group and transaction listings show its own only (the broker filters them by DESCRIBE);
- its plan enforced by the broker: the topics of the request (``topics: [orders]``, default
  ``events``) made by the platform as ``<ident>.<name>`` with the plan's ``partitions`` and
  retention (``retention.bytes`` per partition, ``retention.ms``); the user may not create,
  delete or reconfigure topics (no CREATE, DELETE or ALTER_CONFIGS), so the plan's
  ``max_partitions`` and retention hold; and Kafka client quotas on the user
  (``producer_byte_rate``, ``consumer_byte_rate``, ``controller_mutation_rate``; _addons.kafka_quotas).
  A resize alters the quotas and the topics' configs and adds partitions (Kafka cannot remove
  partitions: a smaller ``partitions`` is refused, naming the plan); topics no longer requested
  are deleted.

``ensure`` creates what is missing, removes ACLs of that principal that are not the desired ones,
sets the quotas and the topics to the plan,
and sets the password when it does not authenticate (rotation: the old one stops working for new
connections at once; connected clients must re-authenticate within the broker's
``connections.max.reauth.ms``). ``remove`` deletes the credential, its quotas, the ACLs, the topics
and the consumer groups with the prefix. The pure part (names, the ACL table) is separate from the calls,
which go through confluent-kafka's AdminClient (requirements.txt).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    DEFAULT_KAFKA_TOPICS,
    KAFKA_QUOTA_KEYS,
    kafka_limits,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka_quotas import QuotaClient, quota_changes
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef, register
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

try:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )
except ImportError:  # pragma: no cover - reported when a Kafka add-on is requested
    AdminClient = None

MECHANISM = "SCRAM-SHA-512"
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
# Kafka's default and minimum for SCRAM-SHA-512 is 4096.
SCRAM_ITERATIONS = 8192
TIMEOUT = 15.0
# What an add-on's user may do on its own prefix, per resource type.
# No CREATE, DELETE or ALTER_CONFIGS on topics: the platform makes them to the plan. Transactional
# ids on the prefix (transactional producers, exactly-once). Nothing on the cluster: no describing or
# altering its configs, ACLs or SCRAM users (the broker's metadata lists the add-on's topics only).
OPERATIONS = {
    "TOPIC": ("DESCRIBE", "DESCRIBE_CONFIGS", "READ", "WRITE"),
    "GROUP": ("DELETE", "DESCRIBE", "READ"),
    "TRANSACTIONAL_ID": ("DESCRIBE", "WRITE"),
}
# The plan() keys that mean a change besides the password.
CHANGE_KEYS = (
    "acls_add",
    "acls_remove",
    "quota_ops",
    "topics_create",
    "topics_delete",
    "partitions_add",
    "topics_config",
)
# SCRAM user names: the idents AddonRef makes ([a-z0-9_], <= 48), nothing SASL would have to escape.
_USER_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,47}$")


# ------------------------------------------------------------------------------------ pure part
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


# ---------------------------------------------------------------------------- the broker's side
def _need_library() -> None:
    if AdminClient is None:
        raise PlatykusError(
            "the Python library 'confluent-kafka' is required for Kafka add-ons; pip install -r requirements.txt"
        )


def _binding(acl: Acl, cls: Any = None):
    """The AclBinding (or, with cls=AclBindingFilter, the filter matching exactly it)."""
    return (cls or AclBinding)(
        getattr(ResourceType, acl.resource),
        acl.name,
        getattr(ResourcePatternType, acl.pattern),
        acl.principal,
        acl.host,
        getattr(AclOperation, acl.operation),
        getattr(AclPermissionType, acl.permission),
    )


def _acl(binding: Any) -> Acl:
    """An ACL read from the broker, in plain terms."""
    return Acl(
        binding.restype.name,
        binding.name,
        binding.principal,
        binding.operation.name,
        binding.resource_pattern_type.name,
        binding.permission_type.name,
        binding.host,
    )


def _error(err: BaseException) -> str:
    """A KafkaException's broker message (never the request, which may hold a password)."""
    inner = err.args[0] if err.args else None
    if isinstance(inner, KafkaError):
        return "%s (%s)" % (inner.str(), inner.name())
    return str(err) or type(err).__name__


class KafkaLocalProvider:
    """The AddonProvider for ``kafka`` on the lab's broker (server = its admin record)."""

    def __init__(self, server: Mapping[str, Any], clock: Callable[[], float] = time.monotonic) -> None:
        for key in ("host", "port", "user", "password"):
            if not server.get(key):
                raise PlatykusError(
                    "servers.kafka.%s: the lab's Kafka admin record lacks '%s'; restart the lab's kafka "
                    "(bin/platykus-lab up)" % (key, key),
                    field="servers.kafka.%s" % key,
                )
        self.server = dict(server)
        self._clock = clock
        self._client = None
        self.quotas = QuotaClient(self.server, clock)

    # -- helpers
    def _where(self, addon: AddonRef) -> str:
        return "kafka add-on '%s' of tenant '%s' on %s:%s" % (
            addon.name,
            addon.tenant,
            self.server["host"],
            self.server["port"],
        )

    def _admin(self):
        _need_library()
        if self._client is None:
            self._client = AdminClient(client_config(self.server, self.server["user"], self.server["password"]))
        return self._client

    def _wait(self, futures: Mapping[Any, Any] | list[Any], what: str, addon: AddonRef) -> None:
        items = futures.values() if isinstance(futures, Mapping) else futures
        try:
            for future in items:
                future.result(timeout=TIMEOUT)
        except KafkaException as err:
            raise PlatykusError("Failed to %s for %s: %s" % (what, self._where(addon), _error(err))) from err

    def _has_user(self, addon: AddonRef) -> bool:
        user = validate_user(addon.ident)
        try:
            self._admin().describe_user_scram_credentials([user], request_timeout=TIMEOUT)[user].result(timeout=TIMEOUT)
        except KafkaException as err:
            inner = err.args[0] if err.args else None
            if isinstance(inner, KafkaError) and inner.code() == KafkaError.RESOURCE_NOT_FOUND:
                return False
            raise PlatykusError("Failed to read the SCRAM user of %s: %s" % (self._where(addon), _error(err))) from err
        return True

    def _acls(self, addon: AddonRef) -> list[Acl]:
        principal = principal_of(addon.ident)
        query = AclBindingFilter(
            ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY
        )
        try:
            found = self._admin().describe_acls(query, request_timeout=TIMEOUT).result(timeout=TIMEOUT)
        except KafkaException as err:
            raise PlatykusError("Failed to read the ACLs of %s: %s" % (self._where(addon), _error(err))) from err
        return sorted(_acl(binding) for binding in found)

    def _topics(self, addon: AddonRef) -> list[str]:
        try:
            metadata = self._admin().list_topics(timeout=TIMEOUT)
        except KafkaException as err:
            raise PlatykusError("Failed to list the topics of %s: %s" % (self._where(addon), _error(err))) from err
        return owned(list(metadata.topics), addon.ident)

    def _partitions(self, addon: AddonRef) -> dict[str, int]:
        """Every topic under the add-on's prefix -> its partition count."""
        try:
            metadata = self._admin().list_topics(timeout=TIMEOUT)
        except KafkaException as err:
            raise PlatykusError("Failed to list the topics of %s: %s" % (self._where(addon), _error(err))) from err
        return {name: len(metadata.topics[name].partitions) for name in owned(list(metadata.topics), addon.ident)}

    def _configs(self, addon: AddonRef, names: list[str], keys: list[str]) -> dict[str, dict[str, str]]:
        """The current values of ``keys`` on each topic of ``names``."""
        if not names or not keys:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        out: dict[str, dict[str, str]] = {}
        try:
            for resource, future in self._admin().describe_configs(resources, request_timeout=TIMEOUT).items():
                entries = future.result(timeout=TIMEOUT)
                out[resource.name] = {key: entries[key].value for key in keys if key in entries}
        except KafkaException as err:
            raise PlatykusError(
                "Failed to read the topic configs of %s: %s" % (self._where(addon), _error(err))
            ) from err
        return out

    def _topic_plan(self, addon: AddonRef) -> dict[str, Any]:
        desired = desired_topics(addon)
        partitions = self._partitions(addon)
        keys = sorted({key for _count, config in desired.values() for key in config})
        configs = self._configs(addon, sorted(n for n in desired if n in partitions), keys)
        return topic_changes(desired, partitions, configs, addon.plan)

    def _groups(self, addon: AddonRef) -> list[str]:
        try:
            listed = self._admin().list_consumer_groups(request_timeout=TIMEOUT).result(timeout=TIMEOUT)
        except KafkaException as err:
            raise PlatykusError("Failed to list the groups of %s: %s" % (self._where(addon), _error(err))) from err
        return owned([group.group_id for group in listed.valid], addon.ident)

    def password_works(self, addon: AddonRef, password: str, timeout: float = TIMEOUT) -> bool:
        """Does ``password`` authenticate ``addon``'s user? (a metadata request as that user)"""
        _need_library()
        errors: list[Any] = []
        client = AdminClient({**client_config(self.server, addon.ident, password), "error_cb": errors.append})
        deadline = self._clock() + timeout
        while self._clock() < deadline:
            try:
                client.list_topics(timeout=0.5)
                return True
            except KafkaException:
                pass
            client.poll(0.1)  # serves error_cb: a refused SASL handshake shows up there at once
            if any(error.code() == KafkaError._AUTHENTICATION for error in errors):
                return False
        raise PlatykusError(
            "Failed to check the password of %s: no answer within %.0fs (%s)"
            % (self._where(addon), timeout, "; ".join(error.str() for error in errors[-3:]) or "no error reported")
        )

    # -- the AddonProvider interface
    def exists(self, addon: AddonRef) -> bool:
        """The user, an ACL of its principal, or a topic under its prefix is on the broker."""
        return self._has_user(addon) or bool(self._acls(addon)) or bool(self._topics(addon))

    def plan(self, addon: AddonRef, password: str) -> dict[str, Any]:
        """What ensure would do: create the user or set its password, and the ACLs to add/remove."""
        has_user = self._has_user(addon)
        create, delete = acl_changes(desired_acls(addon.ident), self._acls(addon))
        set_password = not has_user or not self.password_works(addon, password)
        steps = {"create_user": not has_user, "set_password": set_password, "acls_add": create, "acls_remove": delete}
        steps["quota_ops"] = quota_changes(desired_quotas(addon), self.quotas.describe(addon.ident))
        steps.update(self._topic_plan(addon))
        return steps

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool:
        if not password:
            raise PlatykusError("password: an empty password for %s; generate one" % self._where(addon), "password")
        steps = self.plan(addon, password)
        changed = steps["set_password"] or any(bool(steps[key]) for key in CHANGE_KEYS)
        if check_mode or not changed:
            return changed
        admin = self._admin()
        if steps["set_password"]:
            credential = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
            upsert = UserScramCredentialUpsertion(addon.ident, credential, password.encode())
            self._wait(admin.alter_user_scram_credentials([upsert]), "set the password", addon)
        if steps["acls_remove"]:
            filters = [_binding(acl, AclBindingFilter) for acl in steps["acls_remove"]]
            self._wait(admin.delete_acls(filters, request_timeout=TIMEOUT), "remove stray ACLs", addon)
        if steps["acls_add"]:
            bindings = [_binding(acl) for acl in steps["acls_add"]]
            self._wait(admin.create_acls(bindings, request_timeout=TIMEOUT), "create the ACLs", addon)
        self.quotas.alter(addon.ident, steps["quota_ops"])
        self._apply_topics(addon, steps)
        return True

    def _apply_topics(self, addon: AddonRef, steps: Mapping[str, Any]) -> None:
        """Create, grow, reconfigure and delete the topics as planned; then wait until the broker's
        metadata and configs answer the plan (they follow asynchronously), so a rerun is a no-op."""
        admin, desired = self._admin(), desired_topics(addon)
        if steps["topics_create"]:
            new = [
                NewTopic(name, num_partitions=desired[name][0], replication_factor=-1, config=dict(desired[name][1]))
                for name in steps["topics_create"]
            ]
            self._wait(admin.create_topics(new, operation_timeout=TIMEOUT), "create the topics", addon)
        if steps["partitions_add"]:
            grow = [NewPartitions(name, count) for name, count in sorted(steps["partitions_add"].items())]
            self._wait(admin.create_partitions(grow, operation_timeout=TIMEOUT), "add partitions", addon)
        if steps["topics_config"]:
            resources = [
                ConfigResource(
                    ResourceType.TOPIC,
                    name,
                    incremental_configs=[
                        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                        for key, value in sorted(config.items())
                    ],
                )
                for name, config in sorted(steps["topics_config"].items())
            ]
            self._wait(admin.incremental_alter_configs(resources), "set the topic configs", addon)
        if steps["topics_delete"]:
            self._wait(admin.delete_topics(steps["topics_delete"], operation_timeout=TIMEOUT), "delete topics", addon)
        deadline = self._clock() + TIMEOUT
        while any(self._topic_plan(addon).values()):
            if self._clock() > deadline:
                raise PlatykusError(
                    "Failed to set the topics of %s: the broker does not answer the plan after %.0fs"
                    % (self._where(addon), TIMEOUT)
                )
            time.sleep(0.2)

    def remove(self, addon: AddonRef, check_mode: bool) -> bool:
        has_user, acls = self._has_user(addon), self._acls(addon)
        topics, groups = self._topics(addon), self._groups(addon)
        quotas = quota_changes({}, self.quotas.describe(addon.ident))
        changed = has_user or bool(acls) or bool(topics) or bool(groups) or bool(quotas)
        if check_mode or not changed:
            return changed
        admin = self._admin()
        if has_user:  # first, so the add-on's clients cannot log in while the rest goes
            deletion = UserScramCredentialDeletion(addon.ident, ScramMechanism.SCRAM_SHA_512)
            self._wait(admin.alter_user_scram_credentials([deletion]), "delete the SCRAM user", addon)
        self.quotas.alter(addon.ident, quotas)
        if acls:
            query = AclBindingFilter(
                ResourceType.ANY,
                None,
                ResourcePatternType.ANY,
                principal_of(addon.ident),
                None,
                AclOperation.ANY,
                AclPermissionType.ANY,
            )
            self._wait(admin.delete_acls([query], request_timeout=TIMEOUT), "delete the ACLs", addon)
        if groups:
            self._wait(admin.delete_consumer_groups(groups, request_timeout=TIMEOUT), "delete the groups", addon)
        if topics:
            self._wait(admin.delete_topics(topics, operation_timeout=TIMEOUT), "delete the topics", addon)
            self._until_gone(addon)
        return True

    def _until_gone(self, addon: AddonRef) -> None:
        """Wait until the broker's metadata lists no topic under the prefix (deletion is
        asynchronous), so a second remove right after reports no change."""
        deadline = self._clock() + TIMEOUT
        while self._topics(addon):
            if self._clock() > deadline:
                raise PlatykusError(
                    "Failed to delete the topics of %s: still listed after %.0fs" % (self._where(addon), TIMEOUT)
                )
            time.sleep(0.2)

    def credentials(self, addon: AddonRef, password: str) -> dict[str, str]:
        user = validate_user(addon.ident)
        host, port = str(self.server["host"]), str(self.server["port"])
        return {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": prefix_of(user),
            "url": connection_url(host, port, user, password),
        }


register("local", "kafka", KafkaLocalProvider)
