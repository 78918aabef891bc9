# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws provider's Kubernetes side: the quota check before AWS is asked for anything, and the
delivery of each add-on's credentials into its tenant namespace (playbooks/addon-aws.yml).

- ``check``: validate the catalog and requests, read each tenant's namespace (onboarded, its plan
  label) and the add-ons it holds (their Secrets and the aws add-ons' ExternalSecrets), refuse a
  type or namespace change, and check the tenant's add-on quota (count, storage, monthly price)
  exactly as the ``addon`` module does for the local and operator providers. Nothing is written.
- ``deliver``: one batched server-side apply of the ExternalSecrets (_addons.aws.render_external_secret).
- ``remove``: delete the ExternalSecrets and the Secrets they made (only an add-on's own).
- ``refresh``: after a rotation, set external-secrets' ``force-sync`` annotation on each add-on's
  ExternalSecret (its own field manager, so a later ``deliver`` neither removes it nor reports a change),
  so the Secret in the namespace takes the new value now rather than at the next hourly refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws import render_external_secret
from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    Addon,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.ops import (
    _namespace_plans,
    _summary,
    held_addons,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import Held, check_held, check_quota
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    DATA_SERVICE_LABEL,
    ES_FORCE_SYNC_ANNOTATION,
    EXTERNAL_SECRETS_API_VERSION,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems

Connect = Callable[[], KubeClient]
ES_KIND = "ExternalSecret"
REFRESH_FIELD_MANAGER = "platykus-addon-rotate"


def _aws_addons(requests: Any, catalog_raw: Any) -> tuple[Any, list[Addon]]:
    catalog = validate_catalog(catalog_raw)
    return catalog, [a for a in validate_requests(requests, catalog) if a.provider == "aws"]


def held_external_secrets(client: KubeClient, tenant: str) -> list[tuple[Held, dict]]:
    """The aws add-ons of a tenant by their ExternalSecrets (their Secret may not be synced yet)."""
    selector = "%s,%s,%s=%s" % (DATA_SERVICE_LABEL, ADDON_LABEL, TENANT_LABEL, tenant)
    found = []
    for item in client.list_all(EXTERNAL_SECRETS_API_VERSION, ES_KIND, label_selector=selector):
        meta = item.get("metadata") or {}
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        held = Held(tenant, labels[ADDON_LABEL], labels[DATA_SERVICE_LABEL], notes.get(ADDON_PLAN_ANNOTATION, ""))
        found.append((held, item))
    return found


def held_for(client: KubeClient, tenants: Iterable[str]) -> list[tuple[Held, dict]]:
    """Every add-on the tenants hold, once each (Secret or, for aws add-ons, ExternalSecret)."""
    found: dict[tuple[str, str], tuple[Held, dict]] = {}
    for tenant in sorted(set(tenants)):
        for held, obj in held_external_secrets(client, tenant) + held_addons(client, tenant):
            found.setdefault((held.tenant, held.name), (held, obj))
    return list(found.values())


def check(connect: Connect, requests: Any, catalog_raw: Any) -> dict[str, Any]:
    """Refuse (PlatykusError, every problem with its field) what the quota or the namespaces forbid."""
    catalog, addons = _aws_addons(requests, catalog_raw)
    if not addons:
        return {"changed": False, "checked": []}
    client = connect()
    problems = Problems()
    plans = _namespace_plans(client, addons, problems)
    held = held_for(client, (a.tenant for a in addons))
    for addon in addons:
        for item, obj in held:
            if (item.tenant, item.name) == (addon.tenant, addon.name):
                check_held(problems, addon, item.type, (obj.get("metadata") or {}).get("namespace"))
    problems.raise_if_any("the add-on requests")
    check_quota(addons, [h for h, _o in held], plans, catalog)
    return {"changed": False, "checked": ["%s/%s" % (a.tenant, a.name) for a in addons]}


def deliver(
    connect: Connect, requests: Any, catalog_raw: Any, check_mode: bool = False, diff: bool = False
) -> dict[str, Any]:
    """Apply each aws add-on's ExternalSecret in its namespace, as one batch."""
    _catalog, addons = _aws_addons(requests, catalog_raw)
    if not addons:
        return {"changed": False, "created": [], "updated": [], "unchanged": []}
    client = connect()
    results = client.apply([render_external_secret(a) for a in addons], dry_run=check_mode)
    out = _summary(results, diff)
    out["changed"] = any(r.changed for r in results)
    return out


def _owned(obj: dict | None, addon: Addon) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(TENANT_LABEL) == addon.tenant and labels.get(ADDON_LABEL) == addon.name


def remove(connect: Connect, requests: Any, catalog_raw: Any, check_mode: bool = False) -> dict[str, Any]:
    """Delete each aws add-on's ExternalSecret and the Secret it made (only objects labelled as the add-on's)."""
    _catalog, addons = _aws_addons(requests, catalog_raw)
    client = connect()
    removed = []
    for addon in addons:
        for api_version, kind in ((EXTERNAL_SECRETS_API_VERSION, ES_KIND), ("v1", "Secret")):
            obj = client.get(api_version, kind, addon.secret_name, addon.namespace)
            if _owned(obj, addon):
                client.delete(api_version, kind, addon.secret_name, addon.namespace, dry_run=check_mode)
                removed.append("%s/%s/%s" % (kind, addon.namespace, addon.secret_name))
    return {"changed": bool(removed), "removed": removed}


def refresh(connect: Connect, requests: Any, catalog_raw: Any, stamp: str, check_mode: bool = False) -> dict[str, Any]:
    """Annotate each aws add-on's ExternalSecret with ``force-sync: <stamp>``; refuse (before any
    write) when one is missing, naming it and the playbook that delivers it."""
    _catalog, addons = _aws_addons(requests, catalog_raw)
    client = connect()
    missing = [
        "%s/%s" % (a.namespace, a.secret_name)
        for a in addons
        if not _owned(client.get(EXTERNAL_SECRETS_API_VERSION, ES_KIND, a.secret_name, a.namespace), a)
    ]
    if missing:
        raise PlatykusError(
            "Failed to refresh the add-ons' Secrets: no ExternalSecret %s; deliver it with playbooks/addon-aws.yml"
            % ", ".join(missing)
        )
    refreshed = []
    for addon in addons:
        patch = {
            "apiVersion": EXTERNAL_SECRETS_API_VERSION,
            "kind": ES_KIND,
            "metadata": {
                "name": addon.secret_name,
                "namespace": addon.namespace,
                "annotations": {ES_FORCE_SYNC_ANNOTATION: stamp},
            },
        }
        client.apply_one(patch, field_manager=REFRESH_FIELD_MANAGER, dry_run=check_mode)
        refreshed.append("%s/%s" % (addon.namespace, addon.secret_name))
    return {"changed": bool(refreshed), "refreshed": refreshed}
