# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""App specs (Heroku-like), validated against the app catalog (:mod:`_apps.catalog`) before anything is written.

An app spec is a dict as kept in the tenant's repository or in
``inventories/<env>/apps/<tenant>/<app>.yml``: name, tenant, environment, image, processes
(``web``, ``release``, workers, and ``cron`` processes with a ``schedule``), each with a size from
the catalog and ``replicas`` or ``autoscale``; domains, config, secrets and volumes.
:func:`validate_app` collects every problem (field path and fix) and raises one PlatykusError,
or returns an :class:`App` whose every value is known to be good.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import from_app
from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import Catalog, Size
from ansible_collections.platykus.platform.plugins.module_utils._core.domains import covered, hostname_problem
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import ADDON_SECRET_PREFIX
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    check_quantity,
    dns_label_problem,
    is_mapping,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import SECRET_ROOT

APP_KEYS = ("name", "tenant", "environment", "image", "processes", "domains", "config", "secrets", "volumes", "addons")
PROCESS_KEYS = ("command", "size", "replicas", "autoscale", "port", "health_path", "schedule")
AUTOSCALE_KEYS = ("min", "max", "cpu_percent")
VOLUME_KEYS = ("size", "storage_class", "mount", "process")
# Names get suffixes (-web, -release-<n>, -releases): keep room under the 63 of a DNS label.
APP_NAME_MAX = 30
PROCESS_NAME_MAX = 15
MAX_REPLICAS = 100
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE = re.compile(
    r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?"
)
_SCHEDULE = re.compile(r"(@(hourly|daily|weekly|monthly|yearly))|(\S+(\s+\S+){4})")
_STORAGE_CLASS = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


@dataclass(frozen=True)
class Autoscale:
    min: int
    max: int
    cpu_percent: int


@dataclass(frozen=True)
class Process:
    """``kind`` is web, worker, release or cron."""

    name: str
    kind: str
    size: Size
    command: tuple[str, ...] = ()
    replicas: int | None = None
    autoscale: Autoscale | None = None
    port: int | None = None
    health_path: str | None = None
    schedule: str | None = None

    @property
    def max_replicas(self) -> int:
        """Pods this process may run at most (a release or cron run counts as one)."""
        if self.autoscale:
            return self.autoscale.max
        return self.replicas if self.replicas is not None else 1


@dataclass(frozen=True)
class SecretRef:
    env: str
    key: str
    property: str | None = None


@dataclass(frozen=True)
class Volume:
    name: str
    size: Decimal
    size_text: str
    mount: str
    process: str
    storage_class: str | None = None


@dataclass(frozen=True)
class App:
    name: str
    tenant: str
    environment: str
    image: str
    processes: tuple[Process, ...]
    domains: tuple[str, ...] = ()
    config: dict[str, str] = field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    volumes: tuple[Volume, ...] = ()
    # From the app's add-ons (see _addons.catalog.from_app): variable -> the add-on's Secret (key ``url``).
    addon_env: tuple[tuple[str, str], ...] = ()

    @property
    def namespace(self) -> str:
        return "%s-%s" % (self.tenant, self.environment)

    def process(self, kind: str) -> Process | None:
        return next((p for p in self.processes if p.kind == kind), None)

    def by_kind(self, *kinds: str) -> list[Process]:
        return [p for p in self.processes if p.kind in kinds]


# -- processes ----------------------------------------------------------------------------------


def _count(problems: Problems, path: str, raw: Any, low: int, high: int) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        problems.add(path, "%r is not a whole number from %d to %d" % (raw, low, high))
        return None
    return raw


def _autoscale(problems: Problems, path: str, raw: Any) -> Autoscale | None:
    if not is_mapping(problems, path, raw, "{min: 2, max: 6, cpu_percent: 70}"):
        return None
    check_keys(problems, path, raw, AUTOSCALE_KEYS)
    low = _count(problems, "%s.min" % path, raw.get("min", 1), 1, MAX_REPLICAS)
    high = _count(problems, "%s.max" % path, raw.get("max"), 1, MAX_REPLICAS)
    cpu = _count(problems, "%s.cpu_percent" % path, raw.get("cpu_percent", 70), 1, 1000)
    if low is None or high is None or cpu is None:
        return None
    if low > high:
        problems.add("%s.min" % path, "%d is above max %d; write min <= max" % (low, high))
        return None
    return Autoscale(min=low, max=high, cpu_percent=cpu)


def _kind(name: str, spec: Mapping) -> str:
    if name in ("web", "release"):
        return name
    return "cron" if "schedule" in spec else "worker"


def _command(problems: Problems, path: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return ("/bin/sh", "-c", raw)
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(raw)
    problems.add(path, "%r is not a command; write a string or a list like [bin/worker, --queue, default]" % (raw,))
    return ()


def _scaling(problems: Problems, path: str, kind: str, spec: Mapping) -> tuple[int | None, Autoscale | None]:
    if kind in ("release", "cron"):
        for key in ("replicas", "autoscale"):
            if key in spec:
                problems.add(
                    "%s.%s" % (path, key),
                    "a %s process runs once per %s; remove %s"
                    % (kind, "rollout" if kind == "release" else "schedule", key),
                )
        return None, None
    if "replicas" in spec and "autoscale" in spec:
        problems.add(path, "sets both replicas and autoscale; keep one")
        return None, None
    if "autoscale" in spec:
        return None, _autoscale(problems, "%s.autoscale" % path, spec["autoscale"])
    return _count(problems, "%s.replicas" % path, spec.get("replicas", 1), 0, MAX_REPLICAS), None


def _web_fields(problems: Problems, path: str, kind: str, spec: Mapping) -> tuple[int | None, str | None]:
    if kind != "web":
        for key in ("port", "health_path"):
            if key in spec:
                problems.add("%s.%s" % (path, key), "only the web process serves traffic; remove %s" % key)
        return None, None
    port = _count(problems, "%s.port" % path, spec.get("port", 8080), 1024, 65535)
    health = spec.get("health_path", "/")
    if not isinstance(health, str) or not health.startswith("/") or " " in health:
        problems.add("%s.health_path" % path, "%r is not a URL path; write it like /healthz" % (health,))
    return port, health


def _process(problems: Problems, path: str, name: Any, spec: Any, catalog: Catalog) -> Process | None:
    problem = dns_label_problem(name, PROCESS_NAME_MAX)
    if problem:
        problems.add(path, problem)
        return None
    if spec is None:
        spec = {}
    if not is_mapping(problems, path, spec, "{command: bin/web, size: basic, replicas: 2}"):
        return None
    check_keys(problems, path, spec, PROCESS_KEYS)
    kind = _kind(name, spec)
    size_name = spec.get("size")
    size = catalog.sizes.get(size_name) if isinstance(size_name, str) else None
    if size is None:
        problems.add(
            "%s.size" % path,
            "%r is not in the size catalog (%s); pick one of them" % (size_name, ", ".join(catalog.sizes)),
        )
    schedule = spec.get("schedule")
    if kind == "cron" and (not isinstance(schedule, str) or not _SCHEDULE.fullmatch(schedule.strip())):
        problems.add(
            "%s.schedule" % path,
            "%r is not a cron schedule; write five fields like '*/15 * * * *' or @daily" % (schedule,),
        )
    replicas, autoscale = _scaling(problems, path, kind, spec)
    port, health = _web_fields(problems, path, kind, spec)
    command = _command(problems, "%s.command" % path, spec.get("command"))
    if size is None:
        return None
    return Process(name, kind, size, command, replicas, autoscale, port, health, schedule if kind == "cron" else None)


def _processes(problems: Problems, path: str, raw: Any, catalog: Catalog) -> tuple[Process, ...]:
    if raw is None or raw == {}:
        problems.add(path, "is required; declare at least a web or a worker process, like {web: {size: basic}}")
        return ()
    if not is_mapping(problems, path, raw, "{web: {size: basic, replicas: 2}, worker: {size: basic}}"):
        return ()
    found = [_process(problems, "%s.%s" % (path, name), name, spec, catalog) for name, spec in raw.items()]
    good = tuple(p for p in found if p is not None)
    if good and not any(p.kind in ("web", "worker") for p in good):
        problems.add(path, "has no web or worker process; an app runs at least one")
    return good


# -- the rest of the spec -----------------------------------------------------------------------


def image_problem(image: Any, catalog: Catalog) -> str | None:
    """Why ``image`` is not a pinned reference from an allowed registry, or None."""
    if not isinstance(image, str) or not _IMAGE.fullmatch(image):
        return "%r is not an image reference; write it like %sshop:1.4.2" % (
            image,
            catalog.registries[0] if catalog.registries else "registry.example.com/",
        )
    if not any(image.startswith(prefix) for prefix in catalog.registries):
        return "'%s' is not from a registry of the catalog (%s); push the image there" % (
            image,
            ", ".join(catalog.registries),
        )
    name = image.split("@", 1)[0].rsplit("/", 1)[1]
    if "@" not in image and (":" not in name or name.endswith(":latest")):
        return "'%s' is not pinned; name a version tag (not latest) or a digest, like %s:1.4.2" % (
            image,
            image.split(":")[0] if ":" in name else image,
        )
    return None


def _domains(
    problems: Problems, path: str, raw: Any, allowed: tuple[str, ...] | None, has_web: bool
) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, list):
        problems.add(path, "%r is not a list; write it like [shop.acme.apps.example.com]" % (raw,))
        return ()
    if raw and not has_web:
        problems.add(path, "needs a web process to route to; add processes.web or remove domains")
    good = []
    for index, host in enumerate(raw):
        problem = hostname_problem(host)
        if problem is None and allowed is not None and not covered(host, allowed):
            problem = "'%s' is not under the tenant's domains (%s); use a name under one of them" % (
                host,
                ", ".join(allowed) or "none: ask the platform team to add one",
            )
        if problem:
            problems.add("%s[%d]" % (path, index), problem)
        elif host not in good:
            good.append(host)
    return tuple(good)


def _config(problems: Problems, path: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not is_mapping(problems, path, raw, "{LOG_LEVEL: info, WORKERS: '4'}"):
        return {}
    clean = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            problems.add(
                "%s.%s" % (path, key),
                "is not an environment variable name; use letters, digits and '_', not starting with a digit",
            )
        elif isinstance(value, (dict, list)) or value is None:
            problems.add("%s.%s" % (path, key), "%r is not a plain value; write a string, number or boolean" % (value,))
        else:
            clean[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return dict(sorted(clean.items()))


def _secret(problems: Problems, path: str, env: Any, raw: Any, tenant: str) -> SecretRef | None:
    prefix = "%s/%s/" % (SECRET_ROOT, tenant)
    if isinstance(raw, str):
        raw = {"key": raw}
    if not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
        problems.add(path, "is not an environment variable name; use letters, digits and '_'")
        return None
    if not is_mapping(problems, path, raw, "{key: %sdb, property: password}" % prefix):
        return None
    check_keys(problems, path, raw, ("key", "property"))
    key = raw.get("key")
    if not isinstance(key, str) or not key.startswith(prefix) or len(key) == len(prefix) or ".." in key:
        problems.add("%s.key" % path, "%r is outside the tenant's secret prefix; name it %s<name>" % (key, prefix))
        return None
    prop = raw.get("property")
    if prop is not None and not isinstance(prop, str):
        problems.add("%s.property" % path, "%r is not a string" % (prop,))
        return None
    return SecretRef(env=env, key=key, property=prop)


def _secrets(problems: Problems, path: str, raw: Any, tenant: str, config: Mapping[str, str]) -> tuple[SecretRef, ...]:
    if raw is None or not is_mapping(
        problems, path, raw, "{DATABASE_PASSWORD: {key: platykus/<tenant>/db, property: password}}"
    ):
        return ()
    refs = [_secret(problems, "%s.%s" % (path, env), env, spec, tenant) for env, spec in raw.items()]
    for env in raw:
        if env in config:
            problems.add("%s.%s" % (path, env), "is also in config; a variable comes from one of them")
    return tuple(sorted((r for r in refs if r), key=lambda r: r.env))


def _volume(problems: Problems, path: str, name: Any, raw: Any, processes: Mapping[str, Process]) -> Volume | None:
    problem = dns_label_problem(name, 20)
    if problem:
        problems.add(path, problem)
        return None
    if not is_mapping(problems, path, raw, "{size: 1Gi, mount: /data, process: worker}"):
        return None
    check_keys(problems, path, raw, VOLUME_KEYS)
    size = check_quantity(problems, "%s.size" % path, raw.get("size"))
    mount = raw.get("mount")
    if not isinstance(mount, str) or not mount.startswith("/") or mount in ("/", "/tmp"):
        problems.add("%s.mount" % path, "%r is not a mount path; write an absolute path like /data" % (mount,))
    process = raw.get("process", "web")
    if processes and (process not in processes or processes[process].kind not in ("web", "worker")):
        problems.add(
            "%s.process" % path,
            "%r is not a web or worker process of this app; name one of %s"
            % (process, ", ".join(p for p, v in processes.items() if v.kind in ("web", "worker"))),
        )
    elif processes and processes[process].max_replicas > 1:
        problems.add(
            "%s.process" % path,
            "'%s' may run more than one pod, and a volume attaches to one; mount it in a process with replicas: 1"
            % process,
        )
    storage_class = raw.get("storage_class")
    if storage_class is not None and (
        not isinstance(storage_class, str) or not _STORAGE_CLASS.fullmatch(storage_class)
    ):
        problems.add("%s.storage_class" % path, "%r is not a StorageClass name" % (storage_class,))
    if size is None or not isinstance(mount, str):
        return None
    return Volume(str(name), size, str(raw.get("size")), mount, str(process), storage_class)


def _volumes(problems: Problems, path: str, raw: Any, processes: tuple[Process, ...]) -> tuple[Volume, ...]:
    if raw is None or not is_mapping(problems, path, raw, "{data: {size: 1Gi, mount: /data, process: worker}}"):
        return ()
    by_name = {p.name: p for p in processes}
    found = [_volume(problems, "%s.%s" % (path, name), name, spec, by_name) for name, spec in raw.items()]
    return tuple(v for v in found if v)


def _identity(problems: Problems, spec: Mapping) -> dict[str, Any]:
    out = {}
    for key, limit in (("name", APP_NAME_MAX), ("tenant", 40), ("environment", 22)):
        problem = dns_label_problem(spec.get(key), limit)
        if problem:
            problems.add(key, problem if spec.get(key) is not None else "is required; write the app's %s" % key)
        out[key] = spec.get(key)
    name = spec.get("name")
    # The add-ons' Secrets and Services are named addon-<name> in the same namespaces, and the
    # admission policy keeps addon-* ExternalSecret targets for the platform (_admission/addon_secrets.py).
    if isinstance(name, str) and name.startswith(ADDON_SECRET_PREFIX) and not dns_label_problem(name, APP_NAME_MAX):
        problems.add(
            "name", "%r starts with %r, which is kept for add-on objects; rename the app" % (name, ADDON_SECRET_PREFIX)
        )
    return out


def validate_app(spec: Any, catalog: Catalog, tenant_domains: tuple[str, ...] | None = None) -> App:
    """Validate one app spec; ``tenant_domains`` (from the tenant spec) bounds its domains when known."""
    problems = Problems()
    if not isinstance(spec, Mapping):
        problems.add(
            "app", "%r is not a mapping; write it like {name: shop, tenant: acme, environment: dev, ...}" % (spec,)
        )
        problems.raise_if_any("the app spec")
    check_keys(problems, "app", spec, APP_KEYS)
    ident = _identity(problems, spec)
    problem = image_problem(spec.get("image"), catalog)
    if problem:
        problems.add("image", problem)
    processes = _processes(problems, "processes", spec.get("processes"), catalog)
    has_web = isinstance(spec.get("processes"), Mapping) and "web" in spec["processes"]
    domains = _domains(problems, "domains", spec.get("domains"), tenant_domains, has_web)
    config = _config(problems, "config", spec.get("config"))
    secrets = _secrets(problems, "secrets", spec.get("secrets"), str(ident["tenant"]), config)
    volumes = _volumes(problems, "volumes", spec.get("volumes"), processes)
    addon_env = _addon_env(problems, spec, config, secrets)
    problems.raise_if_any("app '%s'" % (ident["name"],))
    return App(
        ident["name"],
        ident["tenant"],
        ident["environment"],
        spec["image"],
        processes,
        domains,
        config,
        secrets,
        volumes,
        addon_env,
    )


def _addon_env(problems: Problems, spec: Mapping, config: Mapping[str, str], secrets: tuple[SecretRef, ...]) -> tuple:
    """``addons`` as (variable, Secret name) pairs; the add-ons themselves are made by the addon module."""
    try:
        _requests, env = from_app(spec)
    except PlatykusError as err:
        for line in str(err).splitlines():
            line = line.lstrip("- ")
            if ": " in line and line.startswith("addons"):
                problems.add(line.split(": ", 1)[0], line.split(": ", 1)[1])
        return ()
    taken = set(config) | {ref.env for ref in secrets}
    for variable in sorted(set(env) & taken):
        problems.add("addons", "%s is also in config or secrets; a variable comes from one of them" % variable)
    return tuple(sorted(env.items()))


def app_ref(spec: Any) -> App:
    """Only the app's name, tenant and environment (enough to find or remove it), validated."""
    problems = Problems()
    if not isinstance(spec, Mapping):
        problems.add("app", "%r is not a mapping; write it like {name: shop, tenant: acme, environment: dev}" % (spec,))
        problems.raise_if_any("the app spec")
    ident = _identity(problems, spec)
    problems.raise_if_any("app '%s'" % (ident["name"],))
    return App(ident["name"], ident["tenant"], ident["environment"], str(spec.get("image")), ())
