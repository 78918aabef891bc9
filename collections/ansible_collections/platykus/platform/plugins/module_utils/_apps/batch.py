# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy many apps of one namespace with the requests shared: the batch form of :func:`deploy_app`.

One identity (the namespace's CI ServiceAccount) deploys every app of the batch. The namespace is
read once: one discovery of the optional kinds, one LIST per kind for every app (selected by the
app label), the quotas, limit ranges and the apps' pods; who deploys is asked once, and only when
a release is recorded. Every app's objects are dry-run as one batch: a refusal anywhere writes
nothing. Apps that change are then written and rolled out one after another, as
:func:`_apps.ops.deploy_app` would (release Job first, rollback on a failed rollout).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import names
from ansible_collections.platykus.platform.plugins.module_utils._apps.ops import (
    _kinds,
    _now,
    _optional_served,
    _prune,
    _render,
    _result,
    _stale,
    _write,
    whoami,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.quota import check_fits, current_usage
from ansible_collections.platykus.platform.plugins.module_utils._apps.releases import (
    History,
    load_history,
    next_release,
    with_release,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._core.names import APP_LABEL


@dataclass
class _Namespace:
    """What the namespace holds for the batch, read once."""

    served: frozenset[str]
    objects: dict[str, dict[str, dict]]  # app name -> object key -> object
    pods: dict[str, list[dict]]  # app name -> its pods
    quotas: list[dict]
    limits: list[dict]


@dataclass
class _Plan:
    app: App
    current: dict[str, dict]
    history: History
    release: int
    new: dict[str, Any] | None
    objects: list[dict] | None = None


def _validated(specs: list[Mapping[str, Any]], catalog: Any, domains: tuple[str, ...] | None) -> list[App]:
    """Every spec validated; every spec's problems in one error, nothing read or written."""
    apps, problems = [], []
    for index, spec in enumerate(specs):
        try:
            apps.append(validate_app(spec, catalog, domains))
        except PlatykusError as err:
            problems.append("specs[%d]: %s" % (index, err))
    if problems:
        raise PlatykusError("; ".join(problems), field="specs")
    namespaces = sorted({app.namespace for app in apps})
    if len(namespaces) > 1:
        raise PlatykusError(
            "specs: one batch deploys the apps of one namespace with its identity, got %s; "
            "deploy each namespace's apps in a batch of their own" % ", ".join(namespaces),
            field="specs",
        )
    seen = [app.name for app in apps]
    twice = sorted({name for name in seen if seen.count(name) > 1})
    if twice:
        raise PlatykusError("specs: app %s named more than once" % ", ".join(twice), field="specs")
    return apps


def _by_app(items: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        grouped[((item.get("metadata") or {}).get("labels") or {}).get(APP_LABEL, "")].append(item)
    return grouped


def _read_namespace(client: KubeClient, namespace: str) -> _Namespace:
    served = _optional_served(client)
    objects: dict[str, dict[str, dict]] = defaultdict(dict)
    for api_version, kind in _kinds(served):
        for app, items in _by_app(
            client.list_all(api_version, kind, namespace=namespace, label_selector=APP_LABEL)
        ).items():
            objects[app].update({object_key(item): item for item in items})
    return _Namespace(
        served=served,
        objects=objects,
        pods=_by_app(client.list_all("v1", "Pod", namespace=namespace, label_selector=APP_LABEL)),
        quotas=client.list_all("v1", "ResourceQuota", namespace=namespace),
        limits=client.list_all("v1", "LimitRange", namespace=namespace),
    )


def _plan(app: App, state: _Namespace) -> _Plan:
    if app.secrets and "ExternalSecret" not in state.served:
        raise PlatykusError(
            "secrets: app '%s' names secrets but this cluster does not serve ExternalSecrets; "
            "install external-secrets or remove secrets" % app.name,
            field="secrets",
        )
    current = state.objects.get(app.name, {})
    check_fits(app, state.quotas, state.limits, current_usage(state.pods.get(app.name, []), current.values()))
    history = load_history(current.get("ConfigMap/%s/%s" % (app.namespace, names(app)["releases"])))
    release, new = next_release(history, app, "", _now(), None)
    return _Plan(app, current, history, release, new)


def deploy_apps(
    connect: Callable[[], KubeClient], specs: list[Mapping[str, Any]], check_mode: bool = False, diff: bool = False,
    **settings: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Deploy the apps of one namespace (spec order); one result per app, as deploy_app returns it."""
    domains = settings.get("tenant_domains")
    apps = _validated(
        list(specs), validate_catalog(settings.get("catalog")), tuple(domains) if domains is not None else None
    )
    if not apps:
        return []
    client = connect()
    state = _read_namespace(client, apps[0].namespace)
    plans = [_plan(app, state) for app in apps]
    who = whoami(client) if any(p.new is not None for p in plans) else None
    current_all: dict[str, dict] = {}
    for plan in plans:
        if plan.new is not None:
            plan.new["by"] = who
        plan.history = with_release(plan.history, plan.release, plan.new)
        plan.objects = _render(plan.app, plan.release, plan.history, settings, state.served)
        current_all.update(plan.current)
    predicted = client.apply([o for p in plans for o in p.objects or []], dry_run=True, current=current_all)
    by_key = {r.key: r for r in predicted}
    results = []
    for plan in plans:
        objects = plan.objects or []
        mine = [by_key[object_key(o)] for o in objects]
        stale = _stale(plan.app, objects, plan.current, plan.release)
        if check_mode or not any(r.changed for r in mine):
            result = _result(plan.app, plan.release, plan.history, mine, diff)
        else:
            written = _write(
                client, plan.app, objects, plan.release, plan.current, settings, plan.history, state.served
            )
            result = _result(plan.app, plan.release, plan.history, written, diff)
        result["pruned"] = _prune(client, stale, dry_run=check_mode)
        result["changed"] = result["changed"] or bool(stale)
        results.append(result)
    return results
