# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The REST half of the Kubernetes client: one request with timeouts and bounded retries, discovery
cached per client, paged lists, and ``get``/``create``/``delete``/``apply_one`` with one rule for
missing objects. :class:`~.kube.KubeClient` adds the connection and the batches on top of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import TRANSPORT_ERRORS, ApiException
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import (
    KubeApiError,
    Resource,
    Response,
    describe,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import FIELD_MANAGER
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import redact_text

PAGE_SIZE = 500
# Statuses that mean "the server did not act on it; ask again later".
_RETRY_STATUSES = frozenset((429, 502, 503, 504))
_BACKOFF_SECONDS = 0.5
# The longest a request waits for its TCP connection and TLS handshake (request_timeout if shorter).
CONNECT_TIMEOUT_SECONDS = 10.0


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


class RestClient:
    """REST access to one cluster through a ``kubernetes`` ApiClient (the base of KubeClient)."""

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
            except TRANSPORT_ERRORS as err:
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
