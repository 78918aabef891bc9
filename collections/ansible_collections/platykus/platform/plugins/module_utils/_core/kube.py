# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to reach the Kubernetes API server.

It talks REST through the official ``kubernetes`` client's ApiClient (auth, TLS and
kubeconfig handling come from there) and adds what the modules need in bulk: discovery
cached per run, paged lists, ``get``/``delete`` with one rule for missing objects, and
server-side apply of a batch of objects with a field manager, dry-run whole before the first
real write. Every request has connect/read timeouts and bounded retries with backoff; every
failure is a :class:`KubeApiError` reading ``Failed to <verb> <kind> <ns>/<name>: <status> <reason>``.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    FIELD_MANAGER,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import redact_text

try:
    import urllib3
    from kubernetes import client as _k8s_client
    from kubernetes import config as _k8s_config
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
    _TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)
except ImportError as _import_error:  # pragma: no cover - reported through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = _import_error
    ApiException = Exception
    _TRANSPORT_ERRORS = (OSError,)

__all__ = ["FIELD_MANAGER", "MANAGED_BY_LABEL", "MANAGED_BY_VALUE"]

# The connection options every module takes (documented by the platykus.platform.kubeconfig fragment).
KUBE_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    request_timeout=dict(type="float", default=30.0),
    request_retries=dict(type="int", default=3),
)
PAGE_SIZE = 500
# Statuses that mean "the server did not act on it; ask again later".
_RETRY_STATUSES = frozenset((429, 502, 503, 504))
_BACKOFF_SECONDS = 0.5
# The longest a request waits for its TCP connection and TLS handshake (request_timeout if shorter).
CONNECT_TIMEOUT_SECONDS = 10.0
# A dry run of an object whose namespace this batch creates is validated in this namespace,
# which every cluster has (a dry run writes nothing there).
_DRY_RUN_NAMESPACE = "default"

# Metadata the API server writes; ignored when telling whether an object would change.
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")


class KubeApiError(PlatykusError):
    """The API server refused a request, or did not answer: names the verb, the object and the cause."""

    def __init__(self, verb: str, target: str, status: int | None, reason: str) -> None:
        self.status = status
        self.reason = reason
        cause = "%s %s" % (status, reason) if status else reason
        super().__init__("Failed to %s %s: %s" % (verb, target, cause))


@dataclass
class Response:
    """An API answer: the HTTP status and the decoded JSON body (or text)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("reason") or self.body)
        return str(self.body or "")


@dataclass
class ApplyResult:
    """The outcome of applying one object."""

    key: str
    before: dict | None
    after: dict
    changed: bool


@dataclass
class Resource:
    """A listable kind as discovery describes it."""

    path: str
    namespaced: bool
    kind: str
    api_version: str
    verbs: tuple[str, ...] = ()


def client_factory(params: dict) -> Callable[[], KubeClient]:
    """A zero-argument connector, so modules validate their input before any connection is made."""

    def connect() -> KubeClient:
        return KubeClient.from_kubeconfig(
            params.get("kubeconfig"),
            params.get("context"),
            timeout=params.get("request_timeout") or 30.0,
            retries=params.get("request_retries") if params.get("request_retries") is not None else 3,
        )

    return connect


def object_key(obj: dict) -> str:
    """A readable identity: ``Kind/namespace/name`` (or ``Kind/name`` when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", "?")]
    if meta.get("namespace"):
        parts.append(meta["namespace"])
    parts.append(meta.get("name", "?"))
    return "/".join(parts)


def describe(kind: str, name: str | None = None, namespace: str | None = None) -> str:
    """``Kind ns/name`` as the error messages write an object."""
    if not name:
        return kind if not namespace else "%s in namespace %s" % (kind, namespace)
    return "%s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)


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


def _decode(data: Any) -> Any:
    if not data:
        return None
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        return json.loads(data)
    except ValueError:
        return data


def _transport_cause(err: BaseException) -> str:
    """The innermost reason of a urllib3 failure, without the URL's noise."""
    reason = getattr(err, "reason", None) or err
    return redact_text("%s: %s" % (type(reason).__name__, reason))


class KubeClient:
    """REST access to one cluster. Construct with :meth:`from_kubeconfig`."""

    def __init__(
        self,
        api_client: Any,
        timeout: float = 30.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self._sleep = sleep
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered_groups: set[str] = set()

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0, retries: int = 3
    ) -> KubeClient:
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
        # Batches run requests in parallel threads; give each one a connection. Retries are ours
        # (bounded, with backoff, and reported), not urllib3's silent ones.
        configuration.connection_pool_maxsize = 16
        configuration.retries = False
        return cls(_k8s_client.ApiClient(configuration), timeout=timeout, retries=retries)

    def impersonate(self, user: str, group: str | None = None) -> KubeClient:
        """A client on the same cluster and credentials that acts as ``user`` (in ``group``) through
        the Impersonate-* headers; the API server adds system:authenticated. The caller's identity
        needs ``impersonate`` on users and groups."""
        api = type(self.api_client)(self.api_client.configuration)
        api.set_default_header("Impersonate-User", user)
        if group:
            api.set_default_header("Impersonate-Group", group)
        return KubeClient(api, timeout=self.timeout, retries=self.retries, sleep=self._sleep)

    # -- transport --------------------------------------------------------------------------------
    def _send(self, method: str, path: str, body: Any, query: dict | None, content_type: str) -> Response:
        """One HTTP exchange; HTTP errors come back as a Response, transport errors raise."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        try:
            response = self.api_client.call_api(
                path,
                method,
                query_params=query_params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self.timeouts,
            )
        except ApiException as err:
            if not err.status:  # the client reports TLS failures as status 0
                raise OSError(err.reason) from err
            return Response(err.status, _decode(err.body) or err.reason)
        return Response(200, _decode(response.data))

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) seconds of every request: the connect timeout, which also bounds the TLS
        handshake, is request_timeout up to CONNECT_TIMEOUT_SECONDS; the read timeout is request_timeout."""
        return min(CONNECT_TIMEOUT_SECONDS, self.timeout), self.timeout

    def _timeouts_text(self) -> str:
        """The timeouts as they applied: urllib3 calls a stalled TLS handshake a read timeout of
        the connect timeout's length, so both are named when they differ."""
        connect, read = self.timeouts
        if connect == read:
            return "a %gs timeout" % read
        return "a %gs connect timeout (the TLS handshake included) and a %gs read timeout" % (connect, read)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        content_type: str = "application/json",
        verb: str | None = None,
        target: str | None = None,
    ) -> Response:
        """Call the API server with timeouts and bounded retries; any HTTP status comes back as a Response.

        Raises KubeApiError only when the server gave no answer after every retry.
        """
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send(method, path, body, query, content_type)
            except _TRANSPORT_ERRORS as err:
                if last:
                    raise KubeApiError(
                        verb or method.lower(),
                        target or path,
                        None,
                        "no answer from the API server after %d attempt(s) with %s (%s); "
                        "check that the API server is up and reachable, or raise request_timeout"
                        % (attempt + 1, self._timeouts_text(), _transport_cause(err)),
                    ) from err
            else:
                if response.status not in _RETRY_STATUSES or last:
                    return response
            self._sleep(_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def checked(self, verb: str, target: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`call`, returning the body of a 2xx answer and raising KubeApiError otherwise."""
        response = self.call(method, path, verb=verb, target=target, **kwargs)
        if not response.ok:
            raise KubeApiError(verb, target, response.status, response.message)
        return response.body

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        """Call the API server; return the decoded JSON body of a 2xx answer, else raise KubeApiError."""
        return self.checked(method.lower(), path, method, path, body=body, query=query)

    # -- discovery --------------------------------------------------------------------------------
    def _discover(self, api_version: str) -> None:
        base = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
        response = self.call("GET", base, verb="discover", target="apiVersion %s" % api_version)
        if response.status == 404:
            raise KubeApiError(
                "discover", "apiVersion %s" % api_version, 404, "not served by this cluster (is its CRD installed?)"
            )
        if not response.ok:
            raise KubeApiError("discover", "apiVersion %s" % api_version, response.status, response.message)
        for item in (response.body or {}).get("resources", []):
            if "/" in item["name"]:
                continue  # subresources
            self._resources[(api_version, item["kind"])] = Resource(
                path="%s/%s" % (base, item["name"]),
                namespaced=item["namespaced"],
                kind=item["kind"],
                api_version=api_version,
                verbs=tuple(item.get("verbs") or ()),
            )
        self._discovered_groups.add(api_version)

    def resource(self, api_version: str, kind: str) -> Resource:
        """Find the REST path of a kind, discovering its group version once per client."""
        key = (api_version, kind)
        if key not in self._resources and api_version not in self._discovered_groups:
            self._discover(api_version)
        if key not in self._resources:
            raise KubeApiError(
                "discover", describe(kind), 404, "kind %s is not served under apiVersion %s" % (kind, api_version)
            )
        return self._resources[key]

    def api_versions(self) -> list[str]:
        """``v1`` and the preferred version of every API group the server serves."""
        groups = self.checked("discover", "API groups", "GET", "/apis") or {}
        return ["v1"] + [group["preferredVersion"]["groupVersion"] for group in groups.get("groups", [])]

    def namespaced_resources(self, verb: str = "list") -> list[Resource]:
        """Every namespaced kind (preferred versions) that supports ``verb``."""
        found = []
        for version in self.api_versions():
            if version not in self._discovered_groups:
                self._discover(version)
            found.extend(
                res
                for (res_version, _kind), res in self._resources.items()
                if res_version == version and res.namespaced and verb in res.verbs
            )
        return found

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
            page = (
                self.checked(
                    "list",
                    describe(kind, namespace=namespace),
                    "GET",
                    path,
                    query={
                        "limit": page_size,
                        "continue": token,
                        "labelSelector": label_selector,
                        "fieldSelector": field_selector,
                    },
                )
                or {}
            )
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def list_all(self, api_version: str, kind: str, **kwargs: Any) -> list[dict]:
        """Every object of a kind (all pages); keyword arguments as :meth:`iter_list`."""
        return list(self.iter_list(api_version, kind, **kwargs))

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, missing: str = "none"
    ) -> dict | None:
        """One object; when it does not exist, ``missing="none"`` returns None and ``"raise"`` raises."""
        target = describe(kind, name, namespace)
        response = self.call("GET", self.path(api_version, kind, namespace, name), verb="get", target=target)
        if response.status == 404 and missing == "none":
            return None
        if not response.ok:
            raise KubeApiError("get", target, response.status, response.message)
        return response.body

    def _get_obj(self, obj: dict) -> dict | None:
        meta = obj["metadata"]
        return self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    # -- writes -----------------------------------------------------------------------------------
    def apply_one(
        self, obj: dict, field_manager: str = FIELD_MANAGER, dry_run: bool = False, force: bool = True
    ) -> dict:
        meta = obj.get("metadata") or {}
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = {
            "fieldManager": field_manager,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return self.checked(
            "dry-run apply" if dry_run else "apply",
            describe(obj["kind"], meta["name"], meta.get("namespace")),
            "PATCH",
            path,
            body=obj,
            query=query,
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: dict, dry_run: bool = False) -> dict:
        meta = obj.get("metadata") or {}
        return self.checked(
            "create",
            describe(obj.get("kind", "?"), meta.get("name") or meta.get("generateName"), meta.get("namespace")),
            "POST",
            self.path(obj["apiVersion"], obj["kind"], meta.get("namespace")),
            body=obj,
            query={"dryRun": "All" if dry_run else None},
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        dry_run: bool = False,
        missing: str = "none",
    ) -> bool:
        """Delete an object; return False when it was already gone (``missing="raise"`` raises instead)."""
        target = describe(kind, name, namespace)
        response = self.call(
            "DELETE",
            self.path(api_version, kind, namespace, name),
            body={"propagationPolicy": "Foreground" if kind == "Namespace" else "Background"},
            query={"dryRun": "All" if dry_run else None},
            verb="delete",
            target=target,
        )
        if response.status == 404 and missing == "none":
            return False
        if not response.ok:
            raise KubeApiError("delete", target, response.status, response.message)
        return True

    # -- batches ----------------------------------------------------------------------------------
    def _ordered(self, objects: list[dict]) -> tuple[list[dict], list[dict]]:
        """Cluster-scoped objects first (namespaces before what goes into them); discovery is serial."""
        scoped, namespaced = [], []
        for obj in objects:
            (namespaced if self.resource(obj["apiVersion"], obj["kind"]).namespaced else scoped).append(obj)
        return scoped, namespaced

    def _befores(self, pool: ThreadPoolExecutor, objects: list[dict], current: dict[str, dict] | None) -> dict:
        if current is not None:
            return {object_key(o): current.get(object_key(o)) for o in objects}
        return dict(zip((object_key(o) for o in objects), pool.map(self._get_obj, objects)))

    def _dry_run(self, obj: dict, new_namespaces: set[str], field_manager: str) -> dict:
        """The object as the API server would store it; validated elsewhere when its namespace is new."""
        namespace = obj["metadata"].get("namespace")
        if namespace not in new_namespaces:
            return self.apply_one(obj, field_manager=field_manager, dry_run=True)
        # The namespace does not exist yet, so the object cannot be dry-run there: validate the same
        # object in a namespace that exists, and predict it as created.
        stand_in = copy.deepcopy(obj)
        stand_in["metadata"]["namespace"] = _DRY_RUN_NAMESPACE
        try:
            self.apply_one(stand_in, field_manager=field_manager, dry_run=True)
        except KubeApiError as err:
            raise KubeApiError("dry-run apply", object_key(obj), err.status, err.reason) from err
        return obj

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

        The whole batch is dry-run first: if the API server would refuse any object, nothing is
        written and the error lists every refusal. The real run then writes only the objects the
        dry run says change. ``current`` may hold objects already fetched (keyed by :func:`object_key`);
        with ``label_selector`` it is fetched here with one LIST per kind (see :meth:`prefetch`).
        """
        objects = list(objects)
        if current is None and label_selector:
            current = self.prefetch(objects, label_selector, workers=workers)
        scoped, namespaced = self._ordered(objects)
        ordered = scoped + namespaced
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # Read every object before writing any, so "created" means "absent before this run",
            # as in check mode: controllers fill new namespaces (e.g. the default ServiceAccount) meanwhile.
            befores = self._befores(pool, ordered, current)
            new_namespaces = {
                o["metadata"]["name"] for o in scoped if o["kind"] == "Namespace" and befores[object_key(o)] is None
            }
            predicted = self._predict(pool, ordered, befores, new_namespaces, field_manager)
            if dry_run:
                return predicted
            return self._write(pool, scoped, namespaced, predicted, field_manager)

    def _predict(
        self, pool: ThreadPoolExecutor, ordered: list[dict], befores: dict, new_namespaces: set[str], field_manager: str
    ) -> list[ApplyResult]:
        def one(obj: dict) -> ApplyResult | KubeApiError:
            key = object_key(obj)
            try:
                after = self._dry_run(obj, new_namespaces, field_manager)
            except KubeApiError as err:
                return err
            before = befores[key]
            return ApplyResult(
                key=key, before=before, after=after, changed=before is None or normalize(before) != normalize(after)
            )

        outcomes = list(pool.map(one, ordered))
        refused = [str(item) for item in outcomes if isinstance(item, KubeApiError)]
        if refused:
            raise PlatykusError(
                "the API server refused %d of %d objects in a dry run, so nothing was written: %s"
                % (len(refused), len(ordered), "; ".join(refused))
            )
        return [item for item in outcomes if isinstance(item, ApplyResult)]

    def _write(
        self,
        pool: ThreadPoolExecutor,
        scoped: list[dict],
        namespaced: list[dict],
        predicted: list[ApplyResult],
        field_manager: str,
    ) -> list[ApplyResult]:
        by_key = {result.key: result for result in predicted}

        def one(obj: dict) -> ApplyResult:
            planned = by_key[object_key(obj)]
            if not planned.changed:
                return planned
            after = self.apply_one(obj, field_manager=field_manager)
            changed = planned.before is None or normalize(planned.before) != normalize(after)
            return ApplyResult(key=planned.key, before=planned.before, after=after, changed=changed)

        results: list[ApplyResult] = []
        for group in (scoped, namespaced):
            results.extend(pool.map(one, group))
        return results

    def prefetch(self, objects: list[dict], label_selector: str, workers: int = 8) -> dict[str, dict]:
        """The current state of ``objects``: one LIST per kind by label, then GETs only for the rest.

        Objects missing from the labelled lists are read one by one only where they can exist:
        cluster-scoped ones, and namespaced ones whose namespace exists already (a controller may
        have made them, like a namespace's ``default`` ServiceAccount). Absent keys mean absent objects.
        """
        kinds = sorted({(o["apiVersion"], o["kind"]) for o in objects})
        for api_version, kind in kinds:
            self.resource(api_version, kind)  # discover serially, before the threads start
        found: dict[str, dict] = {}
        wanted = {object_key(o): o for o in objects}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for items in pool.map(lambda kind: self.list_all(kind[0], kind[1], label_selector=label_selector), kinds):
                found.update((object_key(item), item) for item in items)
            missing = [o for key, o in wanted.items() if key not in found]
            scoped = [o for o in missing if not self.resource(o["apiVersion"], o["kind"]).namespaced]
            found.update(self._get_found(pool, scoped))
            existing_namespaces = {key.split("/", 1)[1] for key in found if key.startswith("Namespace/")}
            planned_namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
            rest = [
                o
                for o in missing
                if o not in scoped
                and (
                    o["metadata"].get("namespace") in existing_namespaces
                    or o["metadata"].get("namespace") not in planned_namespaces
                )
            ]
            found.update(self._get_found(pool, rest))
        return {key: found[key] for key in wanted if key in found}

    def _get_found(self, pool: ThreadPoolExecutor, objects: list[dict]) -> dict[str, dict]:
        return {
            object_key(obj): item for obj, item in zip(objects, pool.map(self._get_obj, objects)) if item is not None
        }


@dataclass
class BatchSummary:
    """What a batch apply did, in the shape modules return."""

    changed: bool = False
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    diffs: list = field(default_factory=list)

    @classmethod
    def from_results(cls, results: list[ApplyResult], with_diff: bool = False) -> BatchSummary:
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
