# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout of module_utils: domain packages in layers, imports only downwards, no cycles.

Read from the source text (every ``from ...module_utils.<package>`` import), so a new import that
climbs a layer or closes a cycle fails here, naming the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.platykus.platform.plugins.module_utils."

# Each package may import the packages of the layers below it (and itself), never above or beside.
LAYERS = (
    ("_core",),
    ("_aws", "_admission"),
    ("_tenants",),
    ("_addons",),
    ("_apps",),
    ("_audit", "_cost", "_platform"),
)
LAYER_OF = {package: depth for depth, layer in enumerate(LAYERS) for package in layer}
# A module may be imported whole (``from ..._core import kube``) or by name (``from ..._core.kube import X``).
IMPORT = re.compile(r"^\s*from %s(_\w+)(?:\.(\w+))? import" % re.escape(PREFIX), re.MULTILINE)

FILE_LINES_MAX = 500
# Files still over the limit, each to be split; the list may only shrink.
OVER_LIMIT: dict[str, int] = {}


def _sources() -> list[Path]:
    return sorted(path for path in MODULE_UTILS.rglob("*.py") if path.name != "__init__.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in IMPORT.finditer(text)]


def test_every_file_is_in_a_package_of_a_layer():
    loose = [path.name for path in MODULE_UTILS.glob("*.py") if path.name != "__init__.py"]
    assert not loose, "module_utils files outside a domain package: %s" % loose
    packages = {path.parent.name for path in _sources()}
    assert packages == set(LAYER_OF), "packages without a layer (add them to LAYERS): %s" % (packages - set(LAYER_OF))


@pytest.mark.parametrize("path", _sources(), ids=lambda path: "%s/%s" % (path.parent.name, path.name))
def test_imports_go_down_the_layers(path):
    own = path.parent.name
    upwards = [
        "line %d imports %s (layer %d) from %s (layer %d)" % (line, target, LAYER_OF[target], own, LAYER_OF[own])
        for line, target in _imports(path)
        if target != own and LAYER_OF.get(target, -1) >= LAYER_OF[own]
    ]
    assert not upwards, "%s/%s: %s" % (own, path.name, "; ".join(upwards))


def test_the_package_graph_has_no_cycles():
    edges: dict[str, set[str]] = {package: set() for package in LAYER_OF}
    for path in _sources():
        edges[path.parent.name].update(target for _line, target in _imports(path) if target != path.parent.name)
    done: set[str] = set()

    def visit(package: str, trail: tuple[str, ...]) -> None:
        assert package not in trail, "import cycle: %s" % " -> ".join(trail + (package,))
        if package not in done:
            for target in sorted(edges[package]):
                visit(target, trail + (package,))
            done.add(package)

    for package in sorted(edges):
        visit(package, ())


def test_files_stay_short_enough_to_read():
    lengths = {"%s/%s" % (p.parent.name, p.name): len(p.read_text(encoding="utf-8").splitlines()) for p in _sources()}
    over = {name: n for name, n in lengths.items() if n > FILE_LINES_MAX and name not in OVER_LIMIT}
    assert not over, "over %d lines (split them): %s" % (FILE_LINES_MAX, over)
    grown = {name: lengths.get(name) for name, cap in OVER_LIMIT.items() if lengths.get(name, 0) > cap}
    assert not grown, "files on the split list grew: %s" % grown
