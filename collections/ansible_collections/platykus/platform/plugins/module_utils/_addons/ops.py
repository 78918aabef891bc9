# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create, resize, rotate and destroy add-ons: what the ``addon`` module runs.

Order of a run: validate the catalog and every request (field path and fix), read the tenants'
namespaces and the add-ons they hold, check the quota, find each request's server, dry-run the
Secret/Service/operator objects as one batch -- any refusal so far writes nothing -- then make
each add-on's database/user on its server and apply the batch. The password lives only in the
Secret: it is kept on reruns (nothing changes), replaced on rotation (server first, then Secret).
"""

from __future__ import annotations

import base64
import secrets as _secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons import operator
from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    Addon,
    Catalog,
    from_app,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import (
    AddonProvider,
    AddonRef,
    factory,
    server_record,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import (
    HELD_SELECTOR,
    Held,
    check_held,
    check_quota,
    held_from_secret,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.registry import PROVIDERS_LOADED
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import normalize
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    DATA_SERVICE_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLAN_LABEL,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems, dns_label_problem

Connect = Callable[[], KubeClient]
HIDDEN = "(hidden)"
# The registry module imports every provider, which registers itself.
PROVIDERS = PROVIDERS_LOADED


def new_password() -> str:
    """32 URL-safe characters from the OS's CSPRNG: safe in URLs, SQL literals and Redis ACL rules."""
    return _secrets.token_urlsafe(24)


def _labels(addon: Addon) -> dict[str, str]:
    return {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        TENANT_LABEL: addon.tenant,
        DATA_SERVICE_LABEL: addon.type,
        ADDON_LABEL: addon.name,
    }


def _decode(secret: Mapping[str, Any] | None, key: str) -> str | None:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def held_addons(client: KubeClient, tenant: str | None = None) -> list[tuple[Held, dict]]:
    """Every add-on the API server holds (its Secret), for one tenant or all."""
    selector = HELD_SELECTOR + ("," + "%s=%s" % (TENANT_LABEL, tenant) if tenant else "")
    found = []
    for secret in client.list_all("v1", "Secret", label_selector=selector):
        held = held_from_secret(secret)
        if held is not None:
            found.append((held, secret))
    return found


def _render(addon: Addon, creds: dict[str, str], record: Mapping[str, Any] | None) -> list[dict]:
    """The add-on's Secret, its Service (ExternalName to the server, local provider) and operator objects."""
    labels = _labels(addon)
    meta = {
        "name": addon.secret_name,
        "namespace": addon.namespace,
        "labels": labels,
        "annotations": {ADDON_PLAN_ANNOTATION: addon.plan.name, ADDON_PROVIDER_ANNOTATION: addon.provider},
    }
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in sorted(creds.items())}
    secret_type = "kubernetes.io/basic-auth" if addon.provider == "operator" else "Opaque"
    objects: list[dict] = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": secret_type, "data": encoded}
    ]
    if addon.provider == "local" and record is not None:
        host = str(record.get("host", "127.0.0.1"))
        # An ExternalName is a DNS name: loopback addresses are served as localhost.
        target = "localhost" if host.replace(".", "").isdigit() else host
        port = int(record["port"])
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": addon.secret_name, "namespace": addon.namespace, "labels": labels},
                "spec": {
                    "type": "ExternalName",
                    "externalName": target,
                    "ports": [{"name": addon.type, "port": port, "targetPort": port}],
                },
            }
        )
    if addon.provider == "operator":
        objects.extend(operator.render(addon.ref(), labels, addon.secret_name))
    return objects


def _hide(obj: dict | None, other: dict | None, mark: bool) -> dict:
    """A Secret for a diff: every value hidden; with ``mark``, those that differ from ``other`` say so."""
    if not obj:
        return {}
    shown = dict(obj)
    theirs = (other or {}).get("data") or {}
    shown["data"] = {
        k: HIDDEN + " changed" if mark and theirs.get(k) != v else HIDDEN for k, v in (obj.get("data") or {}).items()
    }
    return shown


def _summary(results: list, diff: bool) -> dict[str, Any]:
    summary = BatchSummary.from_results(results, with_diff=False)
    out: dict[str, Any] = {"created": summary.created, "updated": summary.updated, "unchanged": summary.unchanged}
    if diff:
        diffs = []
        for res in results:
            if not res.changed:
                continue
            before, after = normalize(res.before), normalize(res.after)
            if res.key.startswith("Secret/"):
                before, after = _hide(before, after, False), _hide(after, before, True)
            diffs.append(
                {"before_header": res.key, "after_header": res.key, "before": before or {}, "after": after or {}}
            )
        out["diff"] = diffs
    return out


def _namespace_plans(client: KubeClient, addons: Iterable[Addon], problems: Problems) -> dict[str, str]:
    plans: dict[str, str] = {}
    for addon in addons:
        ns = client.get("v1", "Namespace", addon.namespace)
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        path = "addons.%s/%s" % (addon.tenant, addon.name)
        if ns is None or labels.get(TENANT_LABEL) != addon.tenant:
            problems.add(
                "%s.environment" % path,
                "namespace '%s' is not an onboarded namespace of tenant '%s'; onboard the tenant with environment '%s' first"
                % (addon.namespace, addon.tenant, addon.environment),
            )
        elif labels.get(PLAN_LABEL):
            plans[addon.tenant] = labels[PLAN_LABEL]
    return plans


def _providers(
    addons: list[Addon], servers: Mapping[str, Any], problems: Problems
) -> dict[str, tuple[AddonProvider | None, Mapping | None]]:
    """Each request's provider (local: with its server's admin record), problems collected."""
    found: dict[str, tuple[AddonProvider | None, Mapping | None]] = {}
    for addon in addons:
        path = "addons.%s/%s.type" % (addon.tenant, addon.name)
        try:
            if addon.provider == "operator":
                operator.render(addon.ref(), {}, addon.secret_name)
                found[addon.name + "@" + addon.tenant] = (None, None)
                continue
            record = server_record(servers, addon.type) if addon.provider == "local" else {}
            found[addon.name + "@" + addon.tenant] = (factory(addon.provider, addon.type)(record), record)
        except PlatykusError as err:
            problems.add(path, str(err).split(": ", 1)[-1])
    return found


def ensure_addons(
    connect: Connect,
    requests: Any,
    catalog_raw: Any,
    servers: Mapping[str, Any],
    rotate: bool = False,
    check_mode: bool = False,
    diff: bool = False,
    password: Callable[[], str] = new_password,
    secret_sink: Callable[[str], None] = lambda _value: None,
    apps: Any = None,
) -> dict[str, Any]:
    """Create or update (resize, rotate) the requested add-ons and those of ``apps`` (app specs'
    ``addons``); see the module docstring for the order."""
    catalog: Catalog = validate_catalog(catalog_raw)
    requests = list(requests or []) + [
        r for app in apps or [] for r in from_app(app if isinstance(app, Mapping) else {})[0]
    ]
    addons = validate_requests(requests, catalog)
    client = connect()
    problems = Problems()
    tenant_plans = _namespace_plans(client, addons, problems)
    held = [h for tenant in sorted({a.tenant for a in addons}) for h in held_addons(client, tenant)]
    secrets = {(h.tenant, h.name): s for h, s in held}
    for addon in addons:
        current = next((h for h, _s in held if (h.tenant, h.name) == (addon.tenant, addon.name)), None)
        where = (secrets.get((addon.tenant, addon.name)) or {}).get("metadata", {}).get("namespace")
        check_held(problems, addon, current.type if current else None, where)
    problems.raise_if_any("the add-on requests")
    check_quota(addons, [h for h, _s in held], tenant_plans, catalog)
    providers = _providers(addons, servers, problems)
    problems.raise_if_any("the add-on requests")

    planned: list[tuple[Addon, str, bool]] = []
    objects: list[dict] = []
    for addon in addons:
        old = _decode(secrets.get((addon.tenant, addon.name)), "password")
        value = password() if rotate or not old else old
        secret_sink(value)
        provider, record = providers[addon.name + "@" + addon.tenant]
        creds = provider.credentials(addon.ref(), value) if provider else operator.credentials(addon.ref(), value)
        for item in creds.values():
            if value in item:
                secret_sink(item)
        objects.extend(_render(addon, creds, record))
        planned.append((addon, value, old is not None and value != old))
    # The API server judges the whole batch before any server is touched.
    predicted = client.apply(objects, dry_run=True)
    servers_changed = []
    for addon, value, _rotated in planned:
        provider, _record = providers[addon.name + "@" + addon.tenant]
        if provider is not None and provider.ensure(addon.ref(), value, check_mode):
            servers_changed.append("%s/%s" % (addon.tenant, addon.name))
    results = predicted if check_mode else client.apply(objects)
    out = _summary(results, diff)
    out["changed"] = bool(servers_changed) or any(r.changed for r in results)
    out["servers_changed"] = servers_changed
    out["rotated"] = ["%s/%s" % (a.tenant, a.name) for a, _v, rotated in planned if rotated or (rotate and check_mode)]
    out["addons"] = [_describe(addon) for addon, _v, _r in planned]
    return out


def _describe(addon: Addon) -> dict[str, Any]:
    return {
        "name": addon.name,
        "tenant": addon.tenant,
        "namespace": addon.namespace,
        "type": addon.type,
        "plan": addon.plan.name,
        "provider": addon.provider,
        "secret": addon.secret_name,
        "monthly": str(addon.plan.monthly),
    }


def _targets(client: KubeClient, requests: Any, tenant: str | None) -> list[tuple[Held, dict]]:
    problems = Problems()
    if tenant is not None:
        problem = dns_label_problem(tenant, 40)
        if problem:
            problems.add("tenant", problem)
        problems.raise_if_any("the add-on removal")
        return held_addons(client, tenant)
    if not isinstance(requests, list):
        problems.add("addons", "%r is not a list of {name, tenant, environment}" % (requests,))
    wanted = []
    for index, spec in enumerate(requests if isinstance(requests, list) else []):
        spec = spec if isinstance(spec, Mapping) else {}
        for key in ("name", "tenant", "environment"):
            problem = dns_label_problem(spec.get(key), 40)
            if problem:
                problems.add("addons[%d].%s" % (index, key), problem)
        wanted.append(spec)
    problems.raise_if_any("the add-on removal")
    found = []
    for spec in wanted:
        namespace = "%s-%s" % (spec["tenant"], spec["environment"])
        for held, secret in held_addons(client, spec["tenant"]):
            if held.name == spec["name"] and secret["metadata"]["namespace"] == namespace:
                found.append((held, secret))
    return found


def remove_addons(
    connect: Connect,
    requests: Any,
    servers: Mapping[str, Any],
    tenant: str | None = None,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Drop the add-ons' databases/users/keys on their servers, then their objects; gone ones are no change."""
    client = connect()
    removed, deleted = [], []
    for held, secret in _targets(client, requests, tenant):
        meta = secret["metadata"]
        namespace = meta["namespace"]
        provider_name = (meta.get("annotations") or {}).get(ADDON_PROVIDER_ANNOTATION, "local")
        ref = AddonRef(held.tenant, held.name, held.type, namespace, held.plan, {})
        if provider_name != "operator":
            record = server_record(servers, held.type) if provider_name == "local" else {}
            if factory(provider_name, held.type)(record).remove(ref, check_mode):
                removed.append("%s/%s" % (held.tenant, held.name))
            kinds = [("v1", "Service"), ("v1", "Secret")]
        else:
            kinds = [
                (o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in operator.render(ref, {}, meta["name"])
            ]
            kinds = [(a, k) for a, k, _n in kinds] + [("v1", "Secret")]
        for api_version, kind in kinds:
            for item in client.list_all(
                api_version, kind, namespace=namespace, label_selector="%s=%s" % (ADDON_LABEL, held.name)
            ):
                if (item["metadata"].get("labels") or {}).get(TENANT_LABEL) != held.tenant:
                    continue
                if client.delete(api_version, kind, item["metadata"]["name"], namespace, dry_run=check_mode):
                    deleted.append(object_key(item))
    return {"changed": bool(removed or deleted), "removed": sorted(set(removed)), "deleted": sorted(set(deleted))}
