# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-ons (data services on request): the catalog and the requests (the quota and the price: :mod:`_addons.quota`).

The catalog is ``platykus_addons`` in the inventory's group_vars::

    providers: {postgresql: local, mysql: local, redis: local, kafka: local, bucket: aws}
    plans:
      postgresql:
        standard-0: {version: "15", memory: 1Gi, storage: 10Gi, connections: 20,
                     ha: false, backups: false, monthly: 50}
    quota:                       # per tenant plan (the namespace's platykus.io/plan label)
      small: {addons: 4, storage: 40Gi, monthly: 300}

A request names ``name``, ``tenant``, ``environment``, ``type`` and ``plan``; it comes from a
tenant-level file ``inventories/<env>/addons/<tenant>/<name>.yml`` or from an app spec's
``addons: [{type: postgresql, plan: standard-0, as: DATABASE}]`` (see :func:`from_app`).
Every function collects every problem (field path and fix) before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_SECRET_PREFIX,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    check_quantity,
    dns_label_problem,
    is_mapping,
)

TYPES = ("postgresql", "mysql", "redis", "kafka", "bucket")
PROVIDERS = ("local", "operator", "aws")
CATALOG_KEYS = ("providers", "plans", "quota")
# instance_class: the aws provider's RDS / ElastiCache class (db.t3.micro, cache.t3.micro).
# Kafka plans also carry the limits the broker enforces (KAFKA_LIMIT_KEYS, see kafka_limits).
PLAN_KEYS = ("version", "cpu", "memory", "storage", "connections", "ha", "backups", "monthly", "instance_class")
# Client quotas on the add-on's user (bytes/s, bytes/s, partition mutations/s); the topics the platform
# makes (partitions each, at most max_partitions in all) and their retention (bytes per partition, hours).
KAFKA_QUOTA_KEYS = ("producer_byte_rate", "consumer_byte_rate", "controller_mutation_rate")
KAFKA_LIMIT_KEYS = KAFKA_QUOTA_KEYS + ("partitions", "max_partitions", "retention_bytes", "retention_hours")
# A Kafka add-on's topics (``topics: [orders]``) are made by the platform as <prefix><name>.
DEFAULT_KAFKA_TOPICS = ("events",)
TOPIC_NAME_MAX = 100
QUOTA_KEYS = ("addons", "storage", "monthly")
REQUEST_KEYS = ("name", "tenant", "environment", "type", "plan", "topics")
APP_ADDON_KEYS = ("type", "plan", "as", "name", "topics")
# Secret and Service names get the "addon-" prefix: keep them within a DNS label.
ADDON_NAME_MAX = 40
# What an app's ``as: DATABASE`` becomes: DATABASE_URL from the Secret's ``url`` key.
URL_SUFFIX = "_URL"
MAX_MONTHLY = Decimal(1_000_000)
_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,%d}$" % (TOPIC_NAME_MAX - 1))


@dataclass(frozen=True)
class Plan:
    type: str
    name: str
    version: str
    storage: Decimal
    monthly: Decimal
    memory: Decimal | None = None
    cpu: Decimal | None = None
    connections: int | None = None
    ha: bool = False
    backups: bool = False
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Quota:
    addons: int
    storage: Decimal
    monthly: Decimal | None = None


@dataclass(frozen=True)
class Catalog:
    providers: dict[str, str]
    plans: dict[str, dict[str, Plan]]
    quota: dict[str, Quota]

    def plan(self, addon_type: str, name: str) -> Plan:
        return self.plans[addon_type][name]


@dataclass(frozen=True)
class Addon:
    name: str
    tenant: str
    environment: str
    type: str
    plan: Plan
    provider: str
    topics: tuple[str, ...] = ()  # kafka: the topics the platform makes, without the prefix

    @property
    def namespace(self) -> str:
        return "%s-%s" % (self.tenant, self.environment)

    @property
    def secret_name(self) -> str:
        return ADDON_SECRET_PREFIX + self.name

    def ref(self) -> AddonRef:
        return AddonRef(
            self.tenant, self.name, self.type, self.namespace, self.plan.name, dict(self.plan.raw or {}), self.topics
        )


# -- catalog ------------------------------------------------------------------------------------


def _money(problems: Problems, path: str, raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw)) if not isinstance(raw, bool) and raw is not None else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > MAX_MONTHLY:
        problems.add(
            path, "%r is not a monthly price; write it like 50 or 12.5 (the price catalog's currency)" % (raw,)
        )
        return None
    return value


def _flag(problems: Problems, path: str, raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        problems.add(path, "%r is not true or false" % (raw,))
        return False
    return raw


def _plan(problems: Problems, path: str, addon_type: str, name: str, raw: Any) -> Plan | None:
    example = "{version: '15', memory: 1Gi, storage: 10Gi, connections: 20, monthly: 50}"
    if not is_mapping(problems, path, raw, example):
        return None
    check_keys(problems, path, raw, PLAN_KEYS + (KAFKA_LIMIT_KEYS if addon_type == "kafka" else ()))
    problem = dns_label_problem(name, 30)
    if problem:
        problems.add(path, "plan name: %s" % problem)
    version = raw.get("version")
    if not isinstance(version, (str, int, float)) or isinstance(version, bool) or str(version) == "":
        problems.add("%s.version" % path, "%r is not a version; write it like '15' (quoted)" % (version,))
    storage = check_quantity(problems, "%s.storage" % path, raw.get("storage", "0"))
    monthly = _money(problems, "%s.monthly" % path, raw.get("monthly"))
    memory = check_quantity(problems, "%s.memory" % path, raw["memory"]) if "memory" in raw else None
    cpu = check_quantity(problems, "%s.cpu" % path, raw["cpu"]) if "cpu" in raw else None
    connections = raw.get("connections")
    if connections is not None and (
        isinstance(connections, bool) or not isinstance(connections, int) or connections < 1
    ):
        problems.add("%s.connections" % path, "%r is not a whole number of connections, 1 or more" % (connections,))
        connections = None
    ha, backups = (
        _flag(problems, "%s.ha" % path, raw.get("ha")),
        _flag(problems, "%s.backups" % path, raw.get("backups")),
    )
    if addon_type == "kafka" and storage is not None:
        _kafka_plan(problems, path, raw, storage)
    if storage is None or monthly is None or problem:
        return None
    return Plan(addon_type, name, str(version), storage, monthly, memory, cpu, connections, ha, backups, dict(raw))


def _positive(problems: Problems, path: str, raw: Any, quantity: bool) -> Decimal | None:
    """A whole number of 1 or more (with ``quantity``: also a size like 1Mi)."""
    value: Decimal | None
    if quantity and isinstance(raw, str):
        value = check_quantity(problems, path, raw)
        if value is None:
            return None
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = Decimal(raw)
    else:
        value = None
    if value is None or value < 1 or value != value.to_integral_value():
        problems.add(
            path, "%r is not a whole number of 1 or more%s" % (raw, " (or a size like 1Mi)" if quantity else "")
        )
        return None
    return value


def kafka_limits(raw: Mapping[str, Any]) -> dict[str, int]:
    """A (validated) Kafka plan's limits as whole numbers; keys absent from the plan are absent."""
    problems = Problems()
    out = {}
    for key in KAFKA_LIMIT_KEYS:
        if key in raw:
            value = _positive(problems, key, raw[key], key not in ("partitions", "max_partitions", "retention_hours"))
            if value is not None:
                out[key] = int(value)
    problems.raise_if_any("the Kafka plan")
    return out


def _kafka_plan(problems: Problems, path: str, raw: Mapping[str, Any], storage: Decimal) -> None:
    """The limits are whole numbers, and the most the topics may keep (max_partitions x retention_bytes)
    fits the plan's storage."""
    values = {}
    for key in KAFKA_LIMIT_KEYS:
        if key in raw:
            quantity = key not in ("partitions", "max_partitions", "retention_hours")
            values[key] = _positive(problems, "%s.%s" % (path, key), raw[key], quantity)
    partitions, most, keep = values.get("partitions") or 1, values.get("max_partitions"), values.get("retention_bytes")
    if most is not None and partitions > most:
        problems.add("%s.partitions" % path, "%s is more than max_partitions (%s)" % (partitions, most))
    if most is not None and keep is not None and storage and most * keep > storage:
        problems.add(
            "%s.retention_bytes" % path,
            "max_partitions x retention_bytes (%s GiB) is more than the plan's storage (%s GiB); lower one of them"
            % (gib(most * keep), gib(storage)),
        )


def _topics(problems: Problems, path: str, raw: Any, addon_type: str, plan: Plan) -> tuple[str, ...]:
    """A Kafka add-on's topic names (default: events), within the plan's max_partitions."""
    if raw is None and addon_type != "kafka":
        return ()
    if raw is None:
        raw = list(DEFAULT_KAFKA_TOPICS)
    elif addon_type != "kafka":
        problems.add(path, "only kafka add-ons have topics; remove it")
        return ()
    if not isinstance(raw, list) or not raw:
        problems.add(path, "%r is not a list of topic names; write it like [orders, payments]" % (raw,))
        return ()
    names: list[str] = []
    for index, name in enumerate(raw):
        if not isinstance(name, str) or not _TOPIC_RE.match(name):
            problems.add(
                "%s[%d]" % (path, index),
                "%r is not a topic name: 1-%d characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
                % (name, TOPIC_NAME_MAX),
            )
        elif name in names:
            problems.add("%s[%d]" % (path, index), "'%s' is listed twice" % name)
        else:
            names.append(name)
    limits = kafka_limits(plan.raw or {}) if addon_type == "kafka" else {}
    most, each = limits.get("max_partitions"), limits.get("partitions", 1)
    if most is not None and len(names) * each > most:
        problems.add(
            path,
            "%d topics x %d partitions is more than plan %s allows (max_partitions %d); list fewer topics or "
            "choose a larger plan" % (len(names), each, plan.name, most),
        )
    return tuple(names)


def _providers(problems: Problems, raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not is_mapping(problems, "platykus_addons.providers", raw, "{postgresql: local, redis: local}"):
        return out
    for addon_type, provider in raw.items():
        path = "platykus_addons.providers.%s" % addon_type
        if addon_type not in TYPES:
            problems.add(path, "unknown type; types are %s" % ", ".join(TYPES))
        elif provider not in PROVIDERS:
            problems.add(path, "%r is not a provider; choose one of %s" % (provider, ", ".join(PROVIDERS)))
        else:
            out[addon_type] = provider
    return out


def _quota(problems: Problems, raw: Any) -> dict[str, Quota]:
    out: dict[str, Quota] = {}
    if not is_mapping(problems, "platykus_addons.quota", raw, "{small: {addons: 4, storage: 40Gi, monthly: 300}}"):
        return out
    for tenant_plan, spec in raw.items():
        path = "platykus_addons.quota.%s" % tenant_plan
        if not is_mapping(problems, path, spec, "{addons: 4, storage: 40Gi, monthly: 300}"):
            continue
        check_keys(problems, path, spec, QUOTA_KEYS)
        count = spec.get("addons")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            problems.add("%s.addons" % path, "%r is not a whole number of add-ons, 0 or more" % (count,))
            continue
        storage = check_quantity(problems, "%s.storage" % path, spec.get("storage"))
        monthly = _money(problems, "%s.monthly" % path, spec["monthly"]) if "monthly" in spec else None
        if storage is not None:
            out[str(tenant_plan)] = Quota(count, storage, monthly)
    return out


def validate_catalog(raw: Any) -> Catalog:
    """``platykus_addons``: every problem at once, or the catalog."""
    problems = Problems()
    providers: dict[str, str] = {}
    plans: dict[str, dict[str, Plan]] = {}
    quota: dict[str, Quota] = {}
    if is_mapping(problems, "platykus_addons", raw, "{providers: {...}, plans: {...}, quota: {...}}"):
        check_keys(problems, "platykus_addons", raw, CATALOG_KEYS)
        providers = _providers(problems, raw.get("providers") or {})
        raw_plans = raw.get("plans") or {}
        if is_mapping(problems, "platykus_addons.plans", raw_plans, "{postgresql: {standard-0: {...}}}"):
            for addon_type, entries in raw_plans.items():
                path = "platykus_addons.plans.%s" % addon_type
                if addon_type not in TYPES:
                    problems.add(path, "unknown type; types are %s" % ", ".join(TYPES))
                    continue
                if not is_mapping(problems, path, entries, "{standard-0: {...}}"):
                    continue
                found = {
                    str(n): _plan(problems, "%s.%s" % (path, n), addon_type, str(n), e) for n, e in entries.items()
                }
                plans[addon_type] = {n: p for n, p in found.items() if p}
        quota = _quota(problems, raw.get("quota") or {})
    problems.raise_if_any("the add-on catalog (platykus_addons)")
    return Catalog(providers, plans, quota)


# -- requests -----------------------------------------------------------------------------------


def _request(problems: Problems, path: str, raw: Any, catalog: Catalog) -> Addon | None:
    if not is_mapping(
        problems, path, raw, "{name: orders-db, tenant: acme, environment: dev, type: postgresql, plan: standard-0}"
    ):
        return None
    check_keys(problems, path, raw, REQUEST_KEYS)
    ok = True
    for key, limit in (("name", ADDON_NAME_MAX), ("tenant", 40), ("environment", 22)):
        problem = dns_label_problem(raw.get(key), limit)
        if problem:
            problems.add("%s.%s" % (path, key), problem if raw.get(key) is not None else "is required")
            ok = False
    addon_type, plan_name = raw.get("type"), raw.get("plan")
    if addon_type not in TYPES:
        problems.add("%s.type" % path, "%r is not an add-on type; choose one of %s" % (addon_type, ", ".join(TYPES)))
        return None
    provider = catalog.providers.get(addon_type)
    if provider is None:
        problems.add(
            "%s.type" % path,
            "'%s' add-ons are not offered here; set platykus_addons.providers.%s" % (addon_type, addon_type),
        )
        ok = False
    offered = catalog.plans.get(addon_type) or {}
    if plan_name not in offered:
        problems.add(
            "%s.plan" % path,
            "%r is not a %s plan; choose one of %s"
            % (plan_name, addon_type, ", ".join(sorted(offered)) or "(none offered)"),
        )
        return None
    topics = _topics(problems, "%s.topics" % path, raw.get("topics"), addon_type, offered[plan_name])
    if not ok:
        return None
    return Addon(raw["name"], raw["tenant"], raw["environment"], addon_type, offered[plan_name], str(provider), topics)


def validate_requests(raw: Any, catalog: Catalog) -> list[Addon]:
    """Validate a list of add-on requests; names are unique per tenant."""
    problems = Problems()
    if not isinstance(raw, list):
        problems.add("addons", "%r is not a list of add-on requests" % (raw,))
        problems.raise_if_any("the add-on requests")
    addons: list[Addon] = []
    seen: dict[tuple[str, str], str] = {}
    for index, spec in enumerate(raw):
        path = "addons[%d]" % index
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            path = "addons.%s/%s" % (spec.get("tenant"), spec["name"])
        addon = _request(problems, path, spec, catalog)
        if addon is None:
            continue
        key = (addon.tenant, addon.name)
        if key in seen:
            problems.add(
                "%s.name" % path, "is requested twice (also %s); add-on names are unique per tenant" % seen[key]
            )
            continue
        seen[key] = path
        addons.append(addon)
    problems.raise_if_any("the add-on requests")
    return addons


def from_app(app: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """An app spec's ``addons`` as requests, and the variables the app gets (``<AS>_URL`` → Secret).

    ``name`` defaults to ``<app>-<type>``; ``as`` defaults to the type in capitals (DATABASE for
    postgresql and mysql, REDIS, KAFKA, BUCKET). Problems are raised with the app's field paths.
    """
    problems = Problems()
    raw = app.get("addons") or []
    requests: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    if not isinstance(raw, list):
        problems.add(
            "addons", "%r is not a list; write it like [{type: postgresql, plan: standard-0, as: DATABASE}]" % (raw,)
        )
        raw = []
    for index, item in enumerate(raw):
        path = "addons[%d]" % index
        if not is_mapping(problems, path, item, "{type: postgresql, plan: standard-0, as: DATABASE}"):
            continue
        check_keys(problems, path, item, APP_ADDON_KEYS)
        addon_type = item.get("type")
        name = item.get("name") or "%s-%s" % (app.get("name"), addon_type)
        alias = item.get("as") or {"postgresql": "DATABASE", "mysql": "DATABASE"}.get(
            str(addon_type), str(addon_type).upper()
        )
        if (
            not isinstance(alias, str)
            or not alias.replace("_", "A").isalnum()
            or not alias[:1].isalpha()
            or alias.upper() != alias
        ):
            problems.add(
                "%s.as" % path, "%r is not a variable prefix; write it like DATABASE (gives DATABASE_URL)" % (alias,)
            )
            continue
        variable = alias + URL_SUFFIX
        if variable in env:
            problems.add("%s.as" % path, "%s is given by another add-on; choose another prefix" % variable)
            continue
        env[variable] = ADDON_SECRET_PREFIX + str(name)
        request = {
            "name": name,
            "tenant": app.get("tenant"),
            "environment": app.get("environment"),
            "type": addon_type,
            "plan": item.get("plan"),
        }
        if "topics" in item:
            request["topics"] = item["topics"]
        requests.append(request)
    problems.raise_if_any("app '%s'" % (app.get("name"),))
    return requests, env


def gib(value: Decimal) -> str:
    """Bytes as GiB, for messages (``1.5``)."""
    return format((value / Decimal(2**30)).normalize(), "f")
