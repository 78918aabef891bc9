# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where apps' pods run: the catalog's ``placement`` (a node selector and tolerations), the platform's.

A platform that keeps tenant workloads on nodes of their own (a node group, or the lab's real
nodes beside its simulated ones) says so once in the catalog; every pod an app runs (its
Deployments, release Jobs and CronJobs) carries it. Tenants do not choose it in their spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems, check_keys, is_mapping

PLACEMENT_KEYS = ("node_selector", "tolerations")
TOLERATION_KEYS = ("key", "operator", "value", "effect")
OPERATORS = ("Equal", "Exists")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# A label key (an optional DNS-subdomain prefix and a name) and a label value, as Kubernetes has them.
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
EXAMPLE = (
    "{node_selector: {node-role/apps: 'true'}, tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]}"
)


@dataclass(frozen=True)
class Placement:
    """The node selector and tolerations of every app pod (none: wherever the scheduler likes)."""

    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[tuple[str, str], ...], ...] = ()

    def pod_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.node_selector:
            out["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            out["tolerations"] = [dict(t) for t in self.tolerations]
        return out


def _node_selector(problems: Problems, raw: Any) -> tuple[tuple[str, str], ...]:
    path = "catalog.placement.node_selector"
    if not is_mapping(problems, path, raw, "{node-role/apps: 'true'}"):
        return ()
    good = []
    for key, value in raw.items():
        if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
            problems.add("%s.%s" % (path, key), "is not a label key; write it like node-role/apps")
        elif not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
            problems.add("%s.%s" % (path, key), "%r is not a label value; quote it, like 'true'" % (value,))
        else:
            good.append((key, value))
    return tuple(sorted(good))


def _toleration(problems: Problems, path: str, raw: Any) -> tuple[tuple[str, str], ...] | None:
    if not is_mapping(problems, path, raw, "{key: dedicated, operator: Exists, effect: NoSchedule}"):
        return None
    before = len(problems.items)
    check_keys(problems, path, raw, TOLERATION_KEYS)
    operator, key = raw.get("operator", "Equal"), raw.get("key")
    if operator not in OPERATORS:
        problems.add(path + ".operator", "%r is not one of %s" % (operator, ", ".join(OPERATORS)))
    if "effect" in raw and raw["effect"] not in EFFECTS:
        problems.add(path + ".effect", "%r is not one of %s" % (raw["effect"], ", ".join(EFFECTS)))
    if key is not None and (not isinstance(key, str) or not _LABEL_KEY.fullmatch(key)):
        problems.add(path + ".key", "%r is not a taint key; write it like dedicated or example.com/apps" % (key,))
    if key is None and operator != "Exists":
        problems.add(path + ".key", "is required unless operator is Exists (which tolerates every taint)")
    if operator == "Exists" and raw.get("value"):
        problems.add(path + ".value", "must be left out with operator Exists")
    if len(problems.items) > before:
        return None
    return tuple((k, str(raw[k])) for k in TOLERATION_KEYS if raw.get(k) is not None)


def validate_placement(problems: Problems, raw: Any) -> Placement:
    """The catalog's ``placement``; absent means no constraint."""
    if raw is None:
        return Placement()
    if not is_mapping(problems, "catalog.placement", raw, EXAMPLE):
        return Placement()
    check_keys(problems, "catalog.placement", raw, PLACEMENT_KEYS)
    selector = _node_selector(problems, raw.get("node_selector") or {})
    raw_tolerations = raw.get("tolerations") or []
    if not isinstance(raw_tolerations, list):
        problems.add(
            "catalog.placement.tolerations", "is not a list; write it like [{key: dedicated, operator: Exists}]"
        )
        return Placement(node_selector=selector)
    found = [_toleration(problems, "catalog.placement.tolerations[%d]" % i, t) for i, t in enumerate(raw_tolerations)]
    return Placement(node_selector=selector, tolerations=tuple(t for t in found if t is not None))


def from_catalog(raw: Any) -> Placement:
    """The placement of an already validated catalog (a dict), for rendering."""
    problems = Problems()
    placement = validate_placement(problems, (raw or {}).get("placement") if isinstance(raw, Mapping) else None)
    problems.raise_if_any("the app catalog")
    return placement
