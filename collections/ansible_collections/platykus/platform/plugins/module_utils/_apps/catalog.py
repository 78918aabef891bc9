# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's app catalog: the sizes a process may have (like dyno sizes) and the image registries allowed.

:func:`validate_catalog` checks ``platykus_app_catalog`` whole (every problem with its field path
and the fix) before any app spec is read against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._apps.placement import Placement, validate_placement
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    check_quantity,
    is_mapping,
)

SIZE_KEYS = ("cpu", "memory", "limits_cpu", "limits_memory")
CATALOG_KEYS = ("sizes", "registries", "placement")


@dataclass(frozen=True)
class Size:
    """A catalog size (like a dyno size): requests and limits of one container."""

    name: str
    cpu: Decimal
    memory: Decimal
    limits_cpu: Decimal
    limits_memory: Decimal


@dataclass(frozen=True)
class Catalog:
    sizes: dict[str, Size]
    registries: tuple[str, ...]
    placement: Placement = Placement()


def _size(problems: Problems, path: str, name: str, raw: Any) -> Size | None:
    if not is_mapping(problems, path, raw, "{cpu: 250m, memory: 512Mi, limits_cpu: '1', limits_memory: 512Mi}"):
        return None
    check_keys(problems, path, raw, SIZE_KEYS)
    values = {key: check_quantity(problems, "%s.%s" % (path, key), raw.get(key)) for key in ("cpu", "memory")}
    for key, base in (("limits_cpu", "cpu"), ("limits_memory", "memory")):
        values[key] = check_quantity(problems, "%s.%s" % (path, key), raw[key]) if key in raw else values[base]
    if any(value is None for value in values.values()):
        return None
    for key, base in (("limits_cpu", "cpu"), ("limits_memory", "memory")):
        if values[key] < values[base]:
            problems.add("%s.%s" % (path, key), "is below %s; a limit must be at least the request" % base)
    return Size(name=name, **values)


def validate_catalog(raw: Any) -> Catalog:
    """The platform's app catalog: ``sizes`` (name → requests/limits) and allowed image ``registries``."""
    problems = Problems()
    sizes: dict[str, Size] = {}
    registries: tuple[str, ...] = ()
    placement = Placement()
    if is_mapping(
        problems, "catalog", raw, "{sizes: {basic: {cpu: 100m, memory: 256Mi}}, registries: [registry.example.com/]}"
    ):
        check_keys(problems, "catalog", raw, CATALOG_KEYS)
        raw_sizes = raw.get("sizes") or {}
        if is_mapping(problems, "catalog.sizes", raw_sizes, "{basic: {cpu: 100m, memory: 256Mi}}") and not raw_sizes:
            problems.add("catalog.sizes", "is empty; define at least one size")
        for name, spec in raw_sizes.items() if isinstance(raw_sizes, Mapping) else ():
            size = _size(problems, "catalog.sizes.%s" % name, str(name), spec)
            if size:
                sizes[str(name)] = size
        raw_registries = raw.get("registries")
        if (
            not isinstance(raw_registries, list)
            or not raw_registries
            or not all(isinstance(r, str) and r for r in raw_registries)
        ):
            problems.add(
                "catalog.registries",
                "%r is not a list of registry prefixes; write it like [registry.example.com/]" % (raw_registries,),
            )
        else:
            registries = tuple(raw_registries)
        placement = validate_placement(problems, raw.get("placement"))
    problems.raise_if_any("the app catalog")
    return Catalog(sizes=sizes, registries=registries, placement=placement)
