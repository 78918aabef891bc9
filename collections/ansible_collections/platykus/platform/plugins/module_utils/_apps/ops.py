# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the app module does: validate, check the quota, dry-run the whole app, release, roll out.

:func:`deploy_app` validates the spec (with the overrides of app-scale/app-config/app-rollback),
reads the app's releases and the namespace's quotas, renders every object and dry-runs them as
one batch: a refusal writes nothing. It then applies config, storage, traffic and the release
Job, waits for the Job to complete, applies the Deployments and CronJobs, waits for the rollout,
and on a failed rollout puts the previous release back and fails naming the reason.
:func:`destroy_app` removes the app. Both talk to the API server only through ``connect()``'s
KubeClient, as whoever the kubeconfig names (the tenant's CI identity in the playbooks).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import Catalog, validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import (
    RenderOptions,
    names,
    object_name,
    release_job_name,
    render_app,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.placement import from_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.quota import check_fits, current_usage
from ansible_collections.platykus.platform.plugins.module_utils._apps.releases import (
    History,
    as_of,
    load_history,
    next_release,
    public,
    render_releases,
    with_release,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.rollout import (
    RolloutFailed,
    wait_deployments,
    wait_job,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, app_ref, validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeClient, object_key
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import KUBE_ARGUMENT_SPEC
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import KubeApiError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    APP_LABEL,
    APPS_API_VERSION,
    AUTHENTICATION_API_VERSION,
    AUTOSCALING_API_VERSION,
    BATCH_API_VERSION,
    CERT_MANAGER_API_VERSION,
    EXTERNAL_SECRETS_API_VERSION,
    NETWORKING_API_VERSION,
    PLATFORM_CLUSTER_ISSUER,
    POLICY_API_VERSION,
    selector,
)

APP_ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    spec=dict(type="dict"),
    specs=dict(type="list", elements="dict"),
    catalog=dict(type="dict"),
    tenant_domains=dict(type="list", elements="str"),
    release=dict(type="int"),
    rollback=dict(type="bool", default=False),
    scale=dict(type="dict", default={}),
    config_set=dict(type="dict", default={}),
    config_unset=dict(type="list", elements="str", default=[]),
    rollout_timeout=dict(type="int", default=300),
    ingress_class=dict(type="str"),
    ingress_target=dict(type="str"),
    cluster_issuer=dict(type="str", default=PLATFORM_CLUSTER_ISSUER),
    confirm=dict(type="str"),
    **KUBE_ARGUMENT_SPEC,
)
# Every kind an app may own, in the order they are read and removed.
APP_KINDS = (
    (NETWORKING_API_VERSION, "Ingress"),
    (AUTOSCALING_API_VERSION, "HorizontalPodAutoscaler"),
    (POLICY_API_VERSION, "PodDisruptionBudget"),
    (BATCH_API_VERSION, "CronJob"),
    (APPS_API_VERSION, "Deployment"),
    (BATCH_API_VERSION, "Job"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    (EXTERNAL_SECRETS_API_VERSION, "ExternalSecret"),
    (CERT_MANAGER_API_VERSION, "Certificate"),
    ("v1", "ConfigMap"),
)
_ROLLOUT_KINDS = ("Deployment", "CronJob")
# Release Jobs of older releases kept for their logs.
RELEASE_JOBS_KEPT = 3


def app_params(params: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "spec",
        "catalog",
        "tenant_domains",
        "release",
        "rollback",
        "scale",
        "config_set",
        "config_unset",
        "rollout_timeout",
        "ingress_class",
        "ingress_target",
        "cluster_issuer",
    )
    return {key: params.get(key) for key in keys}


def override_spec(
    spec: Mapping[str, Any], scale: Mapping[str, Any], config_set: Mapping[str, Any], config_unset: list[str]
) -> dict[str, Any]:
    """The spec with app-scale's replicas/autoscale per process and app-config's set/unset vars."""
    out = copy.deepcopy(dict(spec))
    processes = out.get("processes")
    for name, value in (scale or {}).items():
        if not isinstance(processes, dict) or not isinstance(processes.get(name), dict):
            raise PlatykusError(
                "scale.%s: the app has no process '%s'; scale one of %s" % (name, name, ", ".join(processes or {})),
                field="scale",
            )
        process = processes[name]
        process.pop("replicas", None)
        process.pop("autoscale", None)
        process["autoscale" if isinstance(value, dict) else "replicas"] = value
    if config_set or config_unset:
        config = dict(out.get("config") or {})
        config.update(config_set or {})
        for key in config_unset or []:
            config.pop(key, None)
        out["config"] = config
    return out


def _selector(app: App) -> str:
    return selector(APP_LABEL, app.name)


def _served(client: KubeClient, api_version: str, kind: str) -> bool:
    try:
        client.resource(api_version, kind)
    except KubeApiError as err:
        if err.status == 404:
            return False
        raise
    return True


# Kinds of the platform's controllers (external-secrets, cert-manager): used when the cluster serves them.
_OPTIONAL_KINDS = ("ExternalSecret", "Certificate")


def _optional_served(client: KubeClient) -> frozenset[str]:
    return frozenset(k for v, k in APP_KINDS if k in _OPTIONAL_KINDS and _served(client, v, k))


def _kinds(served: frozenset[str]) -> list[tuple[str, str]]:
    return [(v, k) for v, k in APP_KINDS if k not in _OPTIONAL_KINDS or k in served]


def _current(client: KubeClient, app: App, kinds: list[tuple[str, str]]) -> dict[str, dict]:
    """The app's objects on the server, one LIST per kind in its namespace (a tenant may not list cluster-wide)."""
    found = {}
    for api_version, kind in kinds:
        for item in client.list_all(api_version, kind, namespace=app.namespace, label_selector=_selector(app)):
            found[object_key(item)] = item
    return found


def whoami(client: KubeClient) -> str:
    """The user the API server sees (SelfSubjectReview, allowed to every authenticated user)."""
    body = {"apiVersion": AUTHENTICATION_API_VERSION, "kind": "SelfSubjectReview"}
    response = client.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body)
    if not response.ok or not isinstance(response.body, dict):
        return "unknown"
    return ((response.body.get("status") or {}).get("userInfo") or {}).get("username", "unknown")


def _check_quota(client: KubeClient, app: App, current: Mapping[str, dict]) -> None:
    quotas = client.list_all("v1", "ResourceQuota", namespace=app.namespace)
    limits = client.list_all("v1", "LimitRange", namespace=app.namespace)
    pods = client.list_all("v1", "Pod", namespace=app.namespace, label_selector=_selector(app))
    check_fits(app, quotas, limits, current_usage(pods, current.values()))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _render(
    app: App, release: int, history: History, settings: Mapping[str, Any], served: frozenset[str]
) -> list[dict]:
    opts = RenderOptions(
        release=release,
        cluster_issuer=settings.get("cluster_issuer") or PLATFORM_CLUSTER_ISSUER,
        ingress_class=settings.get("ingress_class"),
        ingress_target=settings.get("ingress_target"),
        rollout_timeout=settings.get("rollout_timeout") or 300,
        external_secrets="ExternalSecret" in served,
        certificates="Certificate" in served,
        placement=from_catalog(settings.get("catalog")),
    )
    return render_app(app, opts) + [render_releases(app, history)]


def _split(objects: list[dict]) -> tuple[list[dict], list[dict]]:
    first = [o for o in objects if o["kind"] not in _ROLLOUT_KINDS]
    return first, [o for o in objects if o["kind"] in _ROLLOUT_KINDS]


def _stale(app: App, objects: list[dict], current: Mapping[str, dict], release: int) -> list[dict]:
    """Objects of the app no longer rendered (a removed process, domain or volume), and old release Jobs."""
    wanted = {object_key(o) for o in objects}
    oldest_kept = release - RELEASE_JOBS_KEPT
    stale = []
    for key, obj in current.items():
        if key in wanted:
            continue
        name = obj["metadata"]["name"]
        if obj["kind"] == "Job" and name.startswith("%s-release-" % app.name):
            number = name.rsplit("-", 1)[1]
            if not number.isdigit() or int(number) > oldest_kept:
                continue
        elif obj["kind"] == "Job":
            continue  # runs of the app's CronJobs belong to them
        stale.append(obj)
    return stale


def _prune(client: KubeClient, stale: list[dict], dry_run: bool) -> list[str]:
    for obj in stale:
        meta = obj["metadata"]
        client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), dry_run=dry_run)
    return [object_key(o) for o in stale]


def _deployments(objects: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]


def _result(app: App, release: int, history: History, results: list, diff: bool) -> dict[str, Any]:
    summary = BatchSummary.from_results(results, with_diff=diff)
    web = app.process("web")
    out: dict[str, Any] = {
        "changed": summary.changed,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "app": app.name,
        "namespace": app.namespace,
        "release": release,
        "releases": public(history),
        "image": app.image,
        "urls": ["https://%s/" % host for host in app.domains],
        "internal_url": "http://%s.%s.svc/" % (object_name(app, web), app.namespace) if web else None,
        "processes": [
            {
                "name": p.name,
                "kind": p.kind,
                "size": p.size.name,
                "replicas": p.replicas,
                "schedule": p.schedule,
                "autoscale": None
                if p.autoscale is None
                else {"min": p.autoscale.min, "max": p.autoscale.max, "cpu_percent": p.autoscale.cpu_percent},
            }
            for p in app.processes
        ],
    }
    if diff:
        out["diff"] = summary.diffs
    return out


def _roll_back(
    client: KubeClient,
    app: App,
    history: History,
    failed: int,
    settings: Mapping[str, Any],
    es: frozenset[str],
    reason: str,
) -> PlatykusError:
    """Put the newest good release before ``failed`` back; mark ``failed``. Returns the error to raise."""
    marked = with_release(history, failed, None, status="failed")
    previous = history.previous_good(failed)
    if previous is None:
        client.apply([render_releases(app, marked)])
        return PlatykusError(
            "Failed to roll out release v%d of app '%s': %s; there is no earlier good release to go back to"
            % (failed, app.name, reason)
        )
    good = as_of(app, history, previous)
    marked = History(marked.releases, previous)
    objects = [o for o in _render(good, previous, marked, settings, es) if o["kind"] != "Job"]
    client.apply(objects)
    return PlatykusError(
        "Failed to roll out release v%d of app '%s': %s; rolled back to v%d (%s)"
        % (failed, app.name, reason, previous, good.image)
    )


def _write(
    client: KubeClient,
    app: App,
    objects: list[dict],
    release: int,
    current: Mapping[str, dict],
    settings: Mapping[str, Any],
    history: History,
    es: frozenset[str],
) -> list:
    """Config, storage, traffic and the release Job; then, once the Job completed, the rollout."""
    first, second = _split(objects)
    timeout = settings.get("rollout_timeout") or 300
    results = client.apply(first, current=dict(current))
    try:
        if app.process("release"):
            wait_job(client, app.namespace, release_job_name(app, release), timeout)
        results += client.apply(second, current=dict(current))
        wait_deployments(client, app.namespace, _deployments(second), timeout)
    except RolloutFailed as failure:
        raise _roll_back(client, app, history, release, settings, es, str(failure)) from failure
    return results


def _validated(spec: Mapping[str, Any], catalog: Catalog, settings: Mapping[str, Any]) -> App:
    changed = override_spec(
        spec, settings.get("scale") or {}, settings.get("config_set") or {}, settings.get("config_unset") or []
    )
    domains = settings.get("tenant_domains")
    return validate_app(changed, catalog, tuple(domains) if domains is not None else None)


def _adjusting(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("scale") or settings.get("config_set") or settings.get("config_unset"))


def running_spec(spec: Mapping[str, Any], release: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with a release's image, config and secrets."""
    secrets = {
        env: dict({"key": key}, **({"property": prop} if prop else {})) for env, key, prop in release.get("secrets", [])
    }
    return dict(spec, image=release["image"], config=dict(release.get("config") or {}), secrets=secrets)


def _rollback_target(history: History, release: int | None, rollback: bool | None) -> int | None:
    """``release`` when given; with ``rollback``, the newest good release before the current one."""
    if release is not None or not rollback:
        return release
    target = history.previous_good(history.current or 0)
    if target is None:
        kept = ", ".join("v%d" % n for n in sorted(history.releases)) or "none"
        raise PlatykusError(
            "rollback: there is no earlier good release to go back to (kept: %s)" % kept, field="rollback"
        )
    return target


def deploy_app(
    connect: Callable[[], KubeClient], check_mode: bool = False, diff: bool = False, **settings: Any
) -> dict[str, Any]:
    """Deploy (or scale, configure, roll back) one app; see the module's documentation."""
    catalog = validate_catalog(settings.get("catalog"))
    app = _validated(settings["spec"], catalog, settings)
    client = connect()
    history = load_history(client.get("v1", "ConfigMap", names(app)["releases"], app.namespace))
    if _adjusting(settings) and history.current in history.releases:
        # Scaling and config changes start from what runs, not from the spec file (as on Heroku).
        app = _validated(running_spec(settings["spec"], history.releases[history.current]), catalog, settings)
    target = _rollback_target(history, settings.get("release"), settings.get("rollback"))
    description = None
    if target is not None:
        app = as_of(app, history, target)
        description = "Rollback to v%d" % target
    es = _optional_served(client)
    if app.secrets and "ExternalSecret" not in es:
        raise PlatykusError(
            "secrets: app '%s' names secrets but this cluster does not serve ExternalSecrets (%s); install external-secrets or remove secrets"
            % (app.name, EXTERNAL_SECRETS_API_VERSION),
            field="secrets",
        )
    current = _current(client, app, _kinds(es))
    _check_quota(client, app, current)
    release, new = next_release(history, app, "", _now(), description)
    if new is not None:  # ask who deploys only when a release is recorded
        new["by"] = whoami(client)
    history = with_release(history, release, new)
    objects = _render(app, release, history, settings, es)
    predicted = client.apply(objects, dry_run=True, current=dict(current))
    stale = _stale(app, objects, current, release)
    if check_mode or not any(r.changed for r in predicted):
        result = _result(app, release, history, predicted, diff)
    else:
        result = _result(
            app, release, history, _write(client, app, objects, release, current, settings, history, es), diff
        )
    result["pruned"] = _prune(client, stale, dry_run=check_mode)
    result["changed"] = result["changed"] or bool(stale)
    return result


def destroy_app(connect: Callable[[], KubeClient], check_mode: bool = False, **settings: Any) -> dict[str, Any]:
    """Remove every object of the app (its releases too); ``confirm`` must repeat the app's name."""
    spec = settings["spec"]
    name = spec.get("name")
    if settings.get("confirm") != name:
        raise PlatykusError("confirm: must repeat the app's name '%s' to destroy it" % (name,), field="confirm")
    app = app_ref(spec)
    client = connect()
    current = _current(client, app, _kinds(_optional_served(client)))
    deleted = _prune(client, list(current.values()), dry_run=check_mode)
    return {"changed": bool(deleted), "deleted": deleted, "app": app.name, "namespace": app.namespace}
