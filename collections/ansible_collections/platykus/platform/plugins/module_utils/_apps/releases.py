# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numbered releases, kept with the app in its ConfigMap ``<app>-releases``.

A release is what the pods run: the image, the config (plain vars and which secrets go where)
and its checksum, with who made it, when, and why. A deploy whose image and config match the
current release makes no new one (scaling is not a release, as on Heroku); a rollback makes a
new release with an old one's image and config. The ConfigMap keeps the last RELEASES_KEPT.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import app_meta, config_checksum, names
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import App, SecretRef
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

RELEASES_KEPT = 20
CURRENT_KEY = "current"


@dataclasses.dataclass
class History:
    """The releases found on the API server, by number, and which one is current."""

    releases: dict[int, dict[str, Any]]
    current: int | None = None

    @property
    def latest(self) -> int:
        return max(self.releases, default=0)

    def previous_good(self, before: int) -> int | None:
        """The newest deployed release older than ``before``."""
        older = [n for n, r in self.releases.items() if n < before and r.get("status") == "deployed"]
        return max(older, default=None)


def load_history(config_map: Mapping | None) -> History:
    if not config_map:
        return History({})
    data = config_map.get("data") or {}
    releases = {}
    for key, value in data.items():
        if key.startswith("v") and key[1:].isdigit():
            releases[int(key[1:])] = json.loads(value)
    current = data.get(CURRENT_KEY)
    return History(releases, int(current) if current and current.isdigit() else None)


def record(app: App, by: str, at: str, description: str, status: str = "deployed") -> dict[str, Any]:
    return {
        "image": app.image,
        "config": dict(app.config),
        "secrets": [[s.env, s.key, s.property] for s in app.secrets],
        "checksum": config_checksum(app),
        "by": by,
        "at": at,
        "description": description,
        "status": status,
    }


def same_release(app: App, release: Mapping[str, Any] | None) -> bool:
    return bool(release) and release.get("image") == app.image and release.get("checksum") == config_checksum(app)


def describe_change(app: App, current: Mapping[str, Any] | None) -> str:
    if not current:
        return "Deploy %s" % app.image
    if current.get("image") != app.image:
        return "Deploy %s" % app.image
    return "Config change"


def next_release(
    history: History, app: App, by: str, at: str, description: str | None = None
) -> tuple[int, dict | None]:
    """The release number this deploy runs as, and the new record (None when the current one fits)."""
    current = history.releases.get(history.current) if history.current else None
    if description is None and same_release(app, current):
        return history.current or 0, None
    number = history.latest + 1
    return number, record(app, by, at, description or describe_change(app, current))


def as_of(app: App, history: History, number: int) -> App:
    """The app with release ``number``'s image and config (for a rollback)."""
    release = history.releases.get(number)
    if release is None:
        known = ", ".join("v%d" % n for n in sorted(history.releases)) or "none"
        raise PlatykusError(
            "release: v%d is not a release of app '%s' (kept: %s); pick one of them" % (number, app.name, known),
            field="release",
        )
    secrets = tuple(SecretRef(env, key, prop) for env, key, prop in release.get("secrets", []))
    return dataclasses.replace(app, image=release["image"], config=dict(release.get("config") or {}), secrets=secrets)


def with_release(history: History, number: int, new: dict | None, status: str | None = None) -> History:
    releases = dict(history.releases)
    if new is not None:
        releases[number] = new
    if status is not None:
        releases[number] = dict(releases[number], status=status)
    kept = dict(sorted(releases.items())[-RELEASES_KEPT:])
    current = number if status in (None, "deployed") else history.current
    return History(kept, current)


def render_releases(app: App, history: History) -> dict[str, Any]:
    data = {"v%d" % n: json.dumps(r, sort_keys=True) for n, r in sorted(history.releases.items())}
    if history.current is not None:
        data[CURRENT_KEY] = str(history.current)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": app_meta(app, names(app)["releases"]), "data": data}


def public(history: History) -> list[dict[str, Any]]:
    """The releases as results show them, newest first (config values left out)."""
    return [
        {
            "version": n,
            "image": r.get("image"),
            "checksum": r.get("checksum"),
            "by": r.get("by"),
            "at": r.get("at"),
            "description": r.get("description"),
            "status": r.get("status"),
            "current": n == history.current,
        }
        for n, r in sorted(history.releases.items(), reverse=True)
    ]
