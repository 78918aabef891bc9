# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Kubernetes client takes and gives back: its error, responses, apply results, discovered
kinds, and the helpers that name and compare objects."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

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
