# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small in-memory API server behind the kubernetes client's ``call_api``, for unit tests.

The real :class:`KubeClient` runs against it unchanged: discovery, paged lists with label and
field selectors, GET/DELETE with 404s, server-side apply (dry run or real) and create, the
NamespaceLifecycle rule (nothing goes into a namespace that does not exist), plus injected
refusals and transport failures. Every request is recorded in ``calls``.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.rest import ApiException

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient

# (apiVersion, kind) -> (plural, namespaced)
KINDS = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): ("validatingadmissionpolicies", False),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): (
        "validatingadmissionpolicybindings",
        False,
    ),
    ("scheduling.k8s.io/v1", "PriorityClass"): ("priorityclasses", False),
    ("example.io/v1", "Database"): ("databases", True),
}


@dataclass
class _Raw:
    data: bytes


def _error(status: int, message: str) -> ApiException:
    err = ApiException(status=status, reason=message)
    err.body = json.dumps({"kind": "Status", "message": message, "code": status})
    return err


def _matches(labels: dict, selector: str | None) -> bool:
    for term in (selector or "").split(","):
        if not term:
            continue
        if "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


class FakeApiServer:
    """Holds objects by (apiVersion, kind, namespace, name); answers like kube-apiserver would."""

    def __init__(self, objects: list[dict] = (), page_size: int | None = None) -> None:
        self.store: dict[tuple[str, str, str | None, str], dict] = {}
        self.calls: list[tuple[str, str, dict]] = []
        # refuse(obj) -> message: a validation error the server would give (422) for that object.
        self.refuse: Callable[[dict], str | None] = lambda obj: None
        # Failures to hand out before answering: an exception to raise or an HTTP status to return.
        self.faults: list[Any] = []
        self.page_size = page_size
        self._version = 0
        # KubeClient calls from a thread pool; the real API server serializes writes per object.
        self._lock = threading.RLock()
        for obj in objects:
            self.put(obj)

    def client(self, **kwargs: Any) -> KubeClient:
        return KubeClient(self, sleep=lambda _seconds: None, **kwargs)

    # -- store helpers ----------------------------------------------------------------------------
    def put(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        self._version += 1
        meta["resourceVersion"] = str(self._version)
        meta.setdefault("uid", "uid-%d" % self._version)
        self.store[(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])] = obj
        return obj

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        for (_version, item_kind, item_ns, item_name), obj in self.store.items():
            if (item_kind, item_ns, item_name) == (kind, namespace, name):
                return obj
        return None

    def keys(self, kind: str) -> list[str]:
        return sorted("%s/%s" % (ns, name) if ns else name for (_v, k, ns, name) in self.store if k == kind)

    # -- the transport ----------------------------------------------------------------------------
    def call_api(self, path: str, method: str, query_params=(), body=None, **_kwargs: Any) -> _Raw:
        query = dict(query_params or [])
        with self._lock:
            self.calls.append((method, path, query))
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            if isinstance(fault, BaseException):
                raise fault
            raise _error(fault, "injected %d" % fault)
        with self._lock:
            return _Raw(json.dumps(self._answer(method, path, query, body)).encode())

    def _answer(self, method: str, path: str, query: dict, body: Any) -> Any:
        if path == "/apis":
            groups = sorted({version for version, _kind in KINDS if version != "v1"})
            return {"groups": [{"preferredVersion": {"groupVersion": group}} for group in groups]}
        if path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
            return self._discovery(path[len("/api/") :] if path == "/api/v1" else path[len("/apis/") :])
        version, kind, namespace, name = self._route(path)
        if method == "GET" and name is None:
            return self._list(version, kind, namespace, query)
        if method == "GET":
            return self._get(version, kind, namespace, name)
        if method == "DELETE":
            return self._delete(version, kind, namespace, name, dry_run=query.get("dryRun") == "All")
        if method == "PATCH" and isinstance(body, dict) and "metadata" not in body:  # a merge patch
            return self._write(
                version, kind, namespace, _merged(self._get(version, kind, namespace, name), body), False
            )
        return self._write(version, kind, namespace, body, dry_run=query.get("dryRun") == "All")

    def _discovery(self, version: str) -> dict:
        resources = [
            {"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["get", "list", "create", "delete"]}
            for (api_version, kind), (plural, namespaced) in KINDS.items()
            if api_version == version
        ]
        if not resources:
            raise _error(404, "the server could not find the requested resource")
        return {"groupVersion": version, "resources": resources}

    def _route(self, path: str) -> tuple[str, str, str | None, str | None]:
        parts = path.strip("/").split("/")
        version = parts[1] if parts[0] == "api" else "%s/%s" % (parts[1], parts[2])
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = None
        if rest[0] == "namespaces" and len(rest) > 2:
            namespace, rest = rest[1], rest[2:]
        for (api_version, kind), (plural, _namespaced) in KINDS.items():
            if api_version == version and plural == rest[0]:
                return version, kind, namespace, rest[1] if len(rest) > 1 else None
        raise _error(404, "no route for %s" % path)

    def _list(self, version: str, kind: str, namespace: str | None, query: dict) -> dict:
        items = [
            copy.deepcopy(obj)
            for (item_version, item_kind, item_ns, item_name), obj in sorted(
                self.store.items(), key=lambda kv: str(kv[0])
            )
            if (item_version, item_kind) == (version, kind)
            and (namespace is None or item_ns == namespace)
            and _matches((obj["metadata"].get("labels") or {}), query.get("labelSelector"))
            and query.get("fieldSelector") in (None, "metadata.name=%s" % item_name)
        ]
        start = int(query.get("continue") or 0)
        size = self.page_size or int(query.get("limit") or len(items) or 1)
        page = items[start : start + size]
        token = str(start + size) if start + size < len(items) else None
        return {"items": page, "metadata": {"continue": token} if token else {}}

    def _get(self, version: str, kind: str, namespace: str | None, name: str) -> dict:
        obj = self.store.get((version, kind, namespace, name))
        if obj is None:
            raise _error(404, '%s "%s" not found' % (kind, name))
        return copy.deepcopy(obj)

    def _delete(self, version: str, kind: str, namespace: str | None, name: str, dry_run: bool) -> dict:
        if (version, kind, namespace, name) not in self.store:
            raise _error(404, '%s "%s" not found' % (kind, name))
        if not dry_run:
            del self.store[(version, kind, namespace, name)]
            if kind == "Namespace":  # what the namespace controller finishes later
                for key in [key for key in self.store if key[2] == name]:
                    del self.store[key]
        return {"kind": "Status", "status": "Success"}

    def _write(self, version: str, kind: str, namespace: str | None, body: Any, dry_run: bool) -> dict:
        obj = copy.deepcopy(body)
        if namespace and (None, namespace) not in {(k[2], k[3]) for k in self.store if k[1] == "Namespace"}:
            raise _error(404, 'namespaces "%s" not found' % namespace)
        message = self.refuse(obj)
        if message:
            raise _error(422, message)
        key = (version, kind, namespace, obj["metadata"]["name"])
        before = self.store.get(key)
        if before is not None and _same(before, obj):
            return copy.deepcopy(before)
        if before is not None:
            obj["metadata"]["uid"] = before["metadata"]["uid"]
        if dry_run:
            obj["metadata"]["resourceVersion"] = "dry-run"
            return obj
        return copy.deepcopy(self.put(obj))


def _merged(obj: dict, patch: dict) -> dict:
    """A JSON merge patch (RFC 7386) onto ``obj``: maps merge, anything else replaces, None removes."""
    out = dict(obj)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _same(stored: dict, desired: dict) -> bool:
    """Desired fields already held as they are (a no-op apply keeps the resourceVersion)."""
    clean = copy.deepcopy(stored)
    for key in ("resourceVersion", "uid"):
        clean["metadata"].pop(key, None)
    return clean == desired
