# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client for the collection's modules.

It talks REST through the official ``kubernetes`` client's ApiClient (auth, TLS and
kubeconfig handling come from there) and adds what the modules need in bulk:
discovery cached per run, paged lists, and server-side apply of a batch of objects with a
field manager, with changed/diff computed from what the API server holds.
"""

from __future__ import annotations

import copy
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Iterator

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError

try:
    from kubernetes import client as _k8s_client
    from kubernetes import config as _k8s_config
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as _import_error:  # pragma: no cover - reported through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = _import_error
    ApiException = Exception

FIELD_MANAGER = "platykus"

# The connection options every module takes (documented by the platykus.platform.kubeconfig fragment).
KUBE_ARGUMENT_SPEC = dict(kubeconfig=dict(type="path"), context=dict(type="str"))
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "platykus"
PAGE_SIZE = 500

# Metadata the API server writes; ignored when telling whether an object would change.
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")


@dataclass
class ApplyResult:
    """The outcome of applying one object."""

    key: str
    before: dict | None
    after: dict
    changed: bool


@dataclass
class _Resource:
    path: str
    namespaced: bool
    kind: str
    api_version: str


def client_factory(params: dict) -> Callable[[], "KubeClient"]:
    """A zero-argument connector, so modules validate their input before any connection is made."""
    return partial(KubeClient.from_kubeconfig, params.get("kubeconfig"), params.get("context"))


def object_key(obj: dict) -> str:
    """A readable identity: ``Kind/namespace/name`` (or ``Kind/name`` when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", "?")]
    if meta.get("namespace"):
        parts.append(meta["namespace"])
    parts.append(meta.get("name", "?"))
    return "/".join(parts)


def normalize(obj: dict | None) -> dict | None:
    """Drop server-written metadata and status so two objects compare on what users set."""
    if obj is None:
        return None
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata") or {}
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    clean.pop("status", None)
    return clean


def _api_error_message(err: Exception) -> str:
    body = getattr(err, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (ValueError, AttributeError):
            return str(body)
    return str(getattr(err, "reason", err))


class KubeClient:
    """REST access to one cluster. Construct with :meth:`from_kubeconfig`."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self._resources: dict[tuple[str, str], _Resource] = {}
        self._discovered_groups: set[str] = set()

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None) -> "KubeClient":
        if not HAS_KUBERNETES:
            raise PlatykusError("the Python 'kubernetes' library is required: %s" % KUBERNETES_IMPORT_ERROR)
        path = (
            kubeconfig
            or os.environ.get("K8S_AUTH_KUBECONFIG")
            or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
            or os.path.expanduser("~/.kube/config")
        )
        configuration = _k8s_client.Configuration()
        try:
            _k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
        except Exception as err:  # the loader raises several unrelated types for one cause: a bad kubeconfig
            raise PlatykusError(
                "kubeconfig: cannot load %s (context %s): %s; set kubeconfig to a readable kubeconfig file"
                % (path, context or "current", err),
                field="kubeconfig",
            ) from err
        # Batches run requests in parallel threads; give each one a connection.
        configuration.connection_pool_maxsize = 16
        return cls(_k8s_client.ApiClient(configuration))

    # -- raw REST ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Call the API server; return the decoded JSON body. Raises ApiException."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        response = self.api_client.call_api(
            path,
            method,
            query_params=query_params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        data = response.data
        return json.loads(data) if data else None

    def _call(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.request(method, path, **kwargs)
        except ApiException as err:
            raise PlatykusError("%s: the API server said %s: %s" % (what, err.status, _api_error_message(err))) from err

    # -- discovery --------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> _Resource:
        """Find the REST path of a kind, discovering its group version once per client."""
        key = (api_version, kind)
        if key not in self._resources and api_version not in self._discovered_groups:
            base = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
            try:
                listing = self.request("GET", base)
            except ApiException as err:
                if err.status == 404:
                    raise PlatykusError(
                        "apiVersion %s is not served by this cluster (is its CRD installed?)" % api_version
                    ) from err
                raise PlatykusError("discovery of %s failed: %s" % (api_version, _api_error_message(err))) from err
            for item in listing.get("resources", []):
                if "/" in item["name"]:
                    continue  # subresources
                self._resources[(api_version, item["kind"])] = _Resource(
                    path="%s/%s" % (base, item["name"]),
                    namespaced=item["namespaced"],
                    kind=item["kind"],
                    api_version=api_version,
                )
            self._discovered_groups.add(api_version)
        if key not in self._resources:
            raise PlatykusError("kind %s is not served under apiVersion %s by this cluster" % (kind, api_version))
        return self._resources[key]

    def path(self, api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
        res = self.resource(api_version, kind)
        base = res.path
        if res.namespaced and namespace:
            prefix, plural = base.rsplit("/", 1)
            base = "%s/namespaces/%s/%s" % (prefix, namespace, plural)
        return "%s/%s" % (base, name) if name else base

    # -- reads ------------------------------------------------------------------------------------
    def iter_list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict]:
        """Yield every object of a kind, following the API server's ``continue`` token."""
        token = None
        path = self.path(api_version, kind, namespace)
        while True:
            page = self._call(
                "list %s" % kind,
                "GET",
                path,
                query={
                    "limit": page_size,
                    "continue": token,
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector,
                },
            )
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def list(self, api_version: str, kind: str, **kwargs: Any) -> list[dict]:
        return list(self.iter_list(api_version, kind, **kwargs))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        try:
            return self.request("GET", self.path(api_version, kind, namespace, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise PlatykusError(
                "get %s %s: the API server said %s: %s" % (kind, name, err.status, _api_error_message(err))
            ) from err

    # -- writes -----------------------------------------------------------------------------------
    def apply_one(self, obj: dict, field_manager: str = FIELD_MANAGER, dry_run: bool = False, force: bool = True) -> dict:
        meta = obj.get("metadata") or {}
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = {"fieldManager": field_manager, "force": "true" if force else None, "dryRun": "All" if dry_run else None}
        return self._call(
            "apply %s" % object_key(obj),
            "PATCH",
            path,
            body=obj,
            query=query,
            content_type="application/apply-patch+yaml",
        )

    def apply(
        self,
        objects: Iterable[dict],
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
        workers: int = 8,
        current: dict[str, dict] | None = None,
        label_selector: str | None = None,
    ) -> list[ApplyResult]:
        """Server-side apply a batch; ``changed`` compares the API server's object before and after.

        ``current`` may hold objects already fetched (keyed by :func:`object_key`), saving one GET each;
        with ``label_selector`` it is fetched here with one LIST per kind (see :meth:`prefetch`).
        Namespaces and other cluster-scoped objects go first so namespaced objects find them.
        """
        objects = list(objects)
        if current is None and label_selector:
            current = self.prefetch(objects, label_selector, workers=workers)
        for obj in objects:
            self.resource(obj["apiVersion"], obj["kind"])  # discover serially, before the threads start
        ordered = sorted(objects, key=lambda o: 0 if not self.resource(o["apiVersion"], o["kind"]).namespaced else 1)
        cluster_scoped = [o for o in ordered if not self.resource(o["apiVersion"], o["kind"]).namespaced]
        namespaced = [o for o in ordered if self.resource(o["apiVersion"], o["kind"]).namespaced]

        def read_before(obj: dict) -> dict | None:
            key = object_key(obj)
            if current is not None:
                return current.get(key)
            meta = obj["metadata"]
            return self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

        def one(obj: dict) -> ApplyResult:
            key = object_key(obj)
            before = befores[key]
            try:
                after = self.apply_one(obj, field_manager=field_manager, dry_run=dry_run)
            except PlatykusError:
                if dry_run and obj["metadata"].get("namespace") in new_namespaces:
                    # A dry run cannot create into a namespace this batch would create first.
                    return ApplyResult(key=key, before=None, after=obj, changed=True)
                raise
            changed = before is None or normalize(before) != normalize(after)
            return ApplyResult(key=key, before=before, after=after, changed=changed)

        results: list[ApplyResult] = []
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # Read every object before writing any, so "created" means "absent before this run",
            # as in check mode: controllers fill new namespaces (e.g. the default ServiceAccount) meanwhile.
            befores = dict(zip((object_key(o) for o in ordered), pool.map(read_before, ordered)))
            new_namespaces = {
                o["metadata"]["name"] for o in cluster_scoped if o["kind"] == "Namespace" and befores[object_key(o)] is None
            }
            for group in (cluster_scoped, namespaced):
                results.extend(pool.map(one, group))
        return results

    def prefetch(self, objects: list[dict], label_selector: str, workers: int = 8) -> dict[str, dict]:
        """The current state of ``objects``: one LIST per kind by label, then GETs only for the rest.

        Objects missing from the labelled lists are read one by one only where they can exist:
        cluster-scoped ones, and namespaced ones whose namespace exists already (a controller may
        have made them, like a namespace's ``default`` ServiceAccount). Absent keys mean absent objects.
        """
        kinds = sorted({(o["apiVersion"], o["kind"]) for o in objects})
        found: dict[str, dict] = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for items in pool.map(lambda kind: self.list(kind[0], kind[1], label_selector=label_selector), kinds):
                found.update((object_key(item), item) for item in items)
            wanted = {object_key(o): o for o in objects}
            missing = [o for key, o in wanted.items() if key not in found]
            scoped = [o for o in missing if not self.resource(o["apiVersion"], o["kind"]).namespaced]
            for obj, item in zip(scoped, pool.map(self._get_obj, scoped)):
                if item is not None:
                    found[object_key(obj)] = item
            existing_namespaces = {key.split("/", 1)[1] for key in found if key.startswith("Namespace/")}
            planned_namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
            rest = [
                o
                for o in missing
                if o not in scoped
                and (o["metadata"].get("namespace") in existing_namespaces or o["metadata"].get("namespace") not in planned_namespaces)
            ]
            for obj, item in zip(rest, pool.map(self._get_obj, rest)):
                if item is not None:
                    found[object_key(obj)] = item
        return {key: found[key] for key in wanted if key in found}

    def _get_obj(self, obj: dict) -> dict | None:
        meta = obj["metadata"]
        return self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, dry_run: bool = False
    ) -> bool:
        """Delete an object; return False when it was already gone."""
        try:
            self.request(
                "DELETE",
                self.path(api_version, kind, namespace, name),
                body={"propagationPolicy": "Foreground"} if kind == "Namespace" else {"propagationPolicy": "Background"},
                query={"dryRun": "All" if dry_run else None},
            )
        except ApiException as err:
            if err.status == 404:
                return False
            raise PlatykusError(
                "delete %s %s: the API server said %s: %s" % (kind, name, err.status, _api_error_message(err))
            ) from err
        return True

    def create(self, obj: dict, dry_run: bool = False) -> dict:
        meta = obj.get("metadata") or {}
        return self._call(
            "create %s" % object_key(obj),
            "POST",
            self.path(obj["apiVersion"], obj["kind"], meta.get("namespace")),
            body=obj,
            query={"dryRun": "All" if dry_run else None},
        )


@dataclass
class BatchSummary:
    """What a batch apply did, in the shape modules return."""

    changed: bool = False
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    diffs: list = field(default_factory=list)

    @classmethod
    def from_results(cls, results: list[ApplyResult], with_diff: bool = False) -> "BatchSummary":
        summary = cls()
        for res in results:
            if not res.changed:
                summary.unchanged.append(res.key)
                continue
            summary.changed = True
            (summary.created if res.before is None else summary.updated).append(res.key)
            if with_diff:
                summary.diffs.append(
                    {
                        "before_header": res.key,
                        "after_header": res.key,
                        "before": normalize(res.before) or {},
                        "after": normalize(res.after) or {},
                    }
                )
        return summary
