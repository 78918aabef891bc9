# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-ons (data services on request): the catalog, the requests, the quota, the price.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    ADDON_SECRET_PREFIX,
    DATA_SERVICE_LABEL,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import (
    _check_keys,
    _is_mapping,
    _Problems,
    dns_label_problem,
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


def _money(problems: _Problems, path: str, raw: Any) -> Decimal | None:
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


def _quantity(problems: _Problems, path: str, raw: Any) -> Decimal | None:
    try:
        return parse_quantity(raw, path)
    except PlatykusError as err:
        problems.add(path, str(err).split(": ", 1)[1])
        return None


def _flag(problems: _Problems, path: str, raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        problems.add(path, "%r is not true or false" % (raw,))
        return False
    return raw


def _plan(problems: _Problems, path: str, addon_type: str, name: str, raw: Any) -> Plan | None:
    example = "{version: '15', memory: 1Gi, storage: 10Gi, connections: 20, monthly: 50}"
    if not _is_mapping(problems, path, raw, example):
        return None
    _check_keys(problems, path, raw, PLAN_KEYS + (KAFKA_LIMIT_KEYS if addon_type == "kafka" else ()))
    problem = dns_label_problem(name, 30)
    if problem:
        problems.add(path, "plan name: %s" % problem)
    version = raw.get("version")
    if not isinstance(version, (str, int, float)) or isinstance(version, bool) or str(version) == "":
        problems.add("%s.version" % path, "%r is not a version; write it like '15' (quoted)" % (version,))
    storage = _quantity(problems, "%s.storage" % path, raw.get("storage", "0"))
    monthly = _money(problems, "%s.monthly" % path, raw.get("monthly"))
    memory = _quantity(problems, "%s.memory" % path, raw["memory"]) if "memory" in raw else None
    cpu = _quantity(problems, "%s.cpu" % path, raw["cpu"]) if "cpu" in raw else None
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


def _positive(problems: _Problems, path: str, raw: Any, quantity: bool) -> Decimal | None:
    """A whole number of 1 or more (with ``quantity``: also a size like 1Mi)."""
    value: Decimal | None
    if quantity and isinstance(raw, str):
        value = _quantity(problems, path, raw)
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
    problems = _Problems()
    out = {}
    for key in KAFKA_LIMIT_KEYS:
        if key in raw:
            value = _positive(problems, key, raw[key], key not in ("partitions", "max_partitions", "retention_hours"))
            if value is not None:
                out[key] = int(value)
    problems.raise_if_any("the Kafka plan")
    return out


def _kafka_plan(problems: _Problems, path: str, raw: Mapping[str, Any], storage: Decimal) -> None:
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
            % (_gib(most * keep), _gib(storage)),
        )


def _topics(problems: _Problems, path: str, raw: Any, addon_type: str, plan: Plan) -> tuple[str, ...]:
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


def _providers(problems: _Problems, raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not _is_mapping(problems, "platykus_addons.providers", raw, "{postgresql: local, redis: local}"):
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


def _quota(problems: _Problems, raw: Any) -> dict[str, Quota]:
    out: dict[str, Quota] = {}
    if not _is_mapping(problems, "platykus_addons.quota", raw, "{small: {addons: 4, storage: 40Gi, monthly: 300}}"):
        return out
    for tenant_plan, spec in raw.items():
        path = "platykus_addons.quota.%s" % tenant_plan
        if not _is_mapping(problems, path, spec, "{addons: 4, storage: 40Gi, monthly: 300}"):
            continue
        _check_keys(problems, path, spec, QUOTA_KEYS)
        count = spec.get("addons")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            problems.add("%s.addons" % path, "%r is not a whole number of add-ons, 0 or more" % (count,))
            continue
        storage = _quantity(problems, "%s.storage" % path, spec.get("storage"))
        monthly = _money(problems, "%s.monthly" % path, spec["monthly"]) if "monthly" in spec else None
        if storage is not None:
            out[str(tenant_plan)] = Quota(count, storage, monthly)
    return out


def validate_catalog(raw: Any) -> Catalog:
    """``platykus_addons``: every problem at once, or the catalog."""
    problems = _Problems()
    providers: dict[str, str] = {}
    plans: dict[str, dict[str, Plan]] = {}
    quota: dict[str, Quota] = {}
    if _is_mapping(problems, "platykus_addons", raw, "{providers: {...}, plans: {...}, quota: {...}}"):
        _check_keys(problems, "platykus_addons", raw, CATALOG_KEYS)
        providers = _providers(problems, raw.get("providers") or {})
        raw_plans = raw.get("plans") or {}
        if _is_mapping(problems, "platykus_addons.plans", raw_plans, "{postgresql: {standard-0: {...}}}"):
            for addon_type, entries in raw_plans.items():
                path = "platykus_addons.plans.%s" % addon_type
                if addon_type not in TYPES:
                    problems.add(path, "unknown type; types are %s" % ", ".join(TYPES))
                    continue
                if not _is_mapping(problems, path, entries, "{standard-0: {...}}"):
                    continue
                found = {
                    str(n): _plan(problems, "%s.%s" % (path, n), addon_type, str(n), e) for n, e in entries.items()
                }
                plans[addon_type] = {n: p for n, p in found.items() if p}
        quota = _quota(problems, raw.get("quota") or {})
    problems.raise_if_any("the add-on catalog (platykus_addons)")
    return Catalog(providers, plans, quota)


# -- requests -----------------------------------------------------------------------------------


def _request(problems: _Problems, path: str, raw: Any, catalog: Catalog) -> Addon | None:
    if not _is_mapping(
        problems, path, raw, "{name: orders-db, tenant: acme, environment: dev, type: postgresql, plan: standard-0}"
    ):
        return None
    _check_keys(problems, path, raw, REQUEST_KEYS)
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
    problems = _Problems()
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
    problems = _Problems()
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
        if not _is_mapping(problems, path, item, "{type: postgresql, plan: standard-0, as: DATABASE}"):
            continue
        _check_keys(problems, path, item, APP_ADDON_KEYS)
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


# -- quota and price ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """An add-on the API server already holds (read from its Secret's labels and annotations)."""

    tenant: str
    name: str
    type: str
    plan: str
    provider: str = ""
    created: str = ""  # the Secret's creationTimestamp: when the add-on was made


# Every add-on's Secret carries both labels (the selector derives from the label constants).
HELD_SELECTOR = DATA_SERVICE_LABEL + "," + ADDON_LABEL


def held_from_secret(secret: Mapping[str, Any]) -> Held | None:
    """The add-on a Secret stands for (its labels and annotations only), or None when it is not an add-on's."""
    meta = secret.get("metadata") or {}
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    if not str(meta.get("name", "")).startswith(ADDON_SECRET_PREFIX) or ADDON_LABEL not in labels:
        return None
    return Held(
        labels.get(TENANT_LABEL, ""),
        labels[ADDON_LABEL],
        labels.get(DATA_SERVICE_LABEL, ""),
        notes.get(ADDON_PLAN_ANNOTATION, ""),
        notes.get(ADDON_PROVIDER_ANNOTATION, ""),
        str(meta.get("creationTimestamp") or ""),
    )


def check_quota(
    addons: Iterable[Addon], held: Iterable[Held], tenant_plans: Mapping[str, str], catalog: Catalog
) -> None:
    """Refuse, naming the field, when a tenant's add-ons would pass its plan's add-on quota.

    Counts what the tenant holds and what is requested (a request for a held add-on replaces it:
    a resize counts the new plan only). ``tenant_plans`` maps tenant → its plan (namespace label).
    """
    problems = _Problems()
    wanted: dict[str, dict[str, tuple[Plan, str]]] = {}
    for item in held:
        plan = (catalog.plans.get(item.type) or {}).get(item.plan)
        if plan is not None:
            wanted.setdefault(item.tenant, {})[item.name] = (plan, "held")
    for addon in addons:
        wanted.setdefault(addon.tenant, {})[addon.name] = (addon.plan, "requested")
    requested = {(a.tenant, a.name): a for a in addons}
    for tenant, items in sorted(wanted.items()):
        mine = [a for (t, _n), a in requested.items() if t == tenant]
        if not mine:
            continue
        path = "addons.%s/%s.plan" % (tenant, mine[-1].name)
        tenant_plan = tenant_plans.get(tenant)
        if tenant_plan is None:
            problems.add(
                "addons.%s/%s.tenant" % (tenant, mine[-1].name),
                "tenant '%s' has no onboarded namespace for this environment; onboard it first" % tenant,
            )
            continue
        quota = catalog.quota.get(tenant_plan)
        if quota is None:
            problems.add(
                path, "tenant plan '%s' has no add-on quota; add platykus_addons.quota.%s" % (tenant_plan, tenant_plan)
            )
            continue
        count = len(items)
        storage = sum((plan.storage for plan, _origin in items.values()), Decimal(0))
        monthly = sum((plan.monthly for plan, _origin in items.values()), Decimal(0))
        where = "tenant '%s' (plan %s)" % (tenant, tenant_plan)
        if count > quota.addons:
            problems.add(
                "addons.%s/%s.name" % (tenant, mine[-1].name),
                "would give %s %d add-ons, over its quota of %d; destroy one or raise platykus_addons.quota.%s.addons"
                % (where, count, quota.addons, tenant_plan),
            )
        if storage > quota.storage:
            problems.add(
                path,
                "would give %s %s GiB of add-on storage, over its quota of %s GiB; choose a smaller plan or raise "
                "platykus_addons.quota.%s.storage" % (where, _gib(storage), _gib(quota.storage), tenant_plan),
            )
        if quota.monthly is not None and monthly > quota.monthly:
            problems.add(
                path,
                "would bring %s's add-ons to %s a month, over its quota of %s; choose a cheaper plan or raise "
                "platykus_addons.quota.%s.monthly" % (where, monthly, quota.monthly, tenant_plan),
            )
    problems.raise_if_any("the add-on quota")


def _gib(value: Decimal) -> str:
    return format((value / Decimal(2**30)).normalize(), "f")


def cost_lines(held: Iterable[Held], catalog: Catalog, hours: Decimal | None = None) -> list[dict[str, Any]]:
    """One line per add-on for the usage report: tenant, add-on, type, plan, monthly price, and the
    price for ``hours`` (prorated over 730 hours a month) when given."""
    lines = []
    for item in sorted(held, key=lambda h: (h.tenant, h.name)):
        plan = (catalog.plans.get(item.type) or {}).get(item.plan)
        if plan is None:
            continue
        line: dict[str, Any] = {
            "tenant": item.tenant,
            "addon": item.name,
            "type": item.type,
            "plan": item.plan,
            "monthly": str(plan.monthly),
        }
        if hours is not None:
            line["cost"] = str((plan.monthly * hours / Decimal(730)).quantize(Decimal("0.0001")))
        lines.append(line)
    return lines
