# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant spec files read safely: one non-empty mapping per file, and no alias bombs.

Spec files are written by people outside the platform team. A few lines of YAML anchors and
aliases can stand for billions of nodes ("billion laughs"): loaded and then templated, such a file
hung onboarding. So a file is first composed into YAML nodes, where every alias shares its
anchor's node and nothing is expanded; the aliases are counted and the expanded size is computed
on that graph, and only a file within the bounds is turned into Python data. Each problem names
the file and says what to write instead.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError

try:
    import yaml

    # libyaml's composer when available: fast, and not limited by Python's recursion depth.
    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller
    HAS_YAML = False

# A tenant spec is a page of YAML; these bounds are orders of magnitude above any real one.
MAX_BYTES = 256 * 1024
MAX_ALIASES = 100
# Nodes of the document with every alias expanded (a billion-laughs file passes the alias count).
MAX_NODES = 10_000
MAX_DEPTH = 64
SPEC_PATTERN = "*.yml"
HOW_TO_WRITE = (
    "write one tenant per file as a mapping, e.g. 'name: acme' and 'plan: small' on their own lines (docs/tenants.md)"
)


class _Walk:
    """Counters shared while the node graph of one document is measured."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.aliases = 0
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()


def _children(node: Any) -> list:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_size(node: Any, walk: _Walk, depth: int = 0) -> int:
    """Nodes under ``node`` with aliases expanded; refuses as soon as a bound is passed.

    A node reached a second time is an alias use: it counts again in full but is measured once,
    so the walk is linear in the file, however much the aliases would expand.
    """
    key = id(node)
    if key in walk.sizes:
        walk.aliases += 1
        if walk.aliases > MAX_ALIASES:
            raise PlatykusError(
                f"{walk.source}: more than {MAX_ALIASES} alias uses (*name); write the values out instead of "
                "repeating anchors",
                field=walk.source,
            )
        return walk.sizes[key]
    if key in walk.open:
        raise PlatykusError(
            f"{walk.source}: an alias refers to the node that holds it (a recursive anchor)", field=walk.source
        )
    if depth > MAX_DEPTH:
        raise PlatykusError(f"{walk.source}: nested deeper than {MAX_DEPTH} levels; {HOW_TO_WRITE}", field=walk.source)
    walk.open.add(key)
    size = 1 + sum(_expanded_size(child, walk, depth + 1) for child in _children(node))
    walk.open.discard(key)
    if size > MAX_NODES:
        raise PlatykusError(
            f"{walk.source}: its aliases (*name) expand it past {MAX_NODES} YAML nodes; write the values out "
            "instead of repeating anchors",
            field=walk.source,
        )
    walk.sizes[key] = size
    return size


def _check_shape(documents: list, source: str) -> Any:
    """The one document of a file, when it is a non-empty mapping."""
    if len(documents) > 1:
        raise PlatykusError(
            f"{source} holds more than one YAML document (separated by '---'); put each tenant in a file of "
            "its own (<name>.yml), as one mapping",
            field=source,
        )
    node = documents[0] if documents else None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        raise PlatykusError(f"{source} is empty; {HOW_TO_WRITE}, or delete the file", field=source)
    if isinstance(node, yaml.SequenceNode):
        raise PlatykusError(f"{source} holds a list, not a tenant; {HOW_TO_WRITE}", field=source)
    if isinstance(node, yaml.ScalarNode):
        raise PlatykusError(
            f"{source} holds a single value ({node.value[:40]!r}), not a tenant; {HOW_TO_WRITE}", field=source
        )
    if not node.value:
        raise PlatykusError(f"{source} holds an empty mapping; {HOW_TO_WRITE}", field=source)
    return node


def _problem(err: Exception) -> str:
    """PyYAML's problem and position, without its '<unicode string>' stream name."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def load_spec_text(text: str, source: str) -> dict:
    """The tenant spec in ``text`` (the contents of ``source``, named in every error)."""
    if not HAS_YAML:  # pragma: no cover
        raise PlatykusError("Reading tenant spec files needs PyYAML on the controller")
    loader = _Loader(text)
    try:
        documents = []
        # Composing builds the node graph only; a second document is enough to refuse the file.
        while len(documents) < 2 and loader.check_node():
            documents.append(loader.get_node())
        node = _check_shape(documents, source)
        _expanded_size(node, _Walk(source))
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise PlatykusError(f"{source} is not valid YAML: {_problem(err)}", field=source) from err
    except RecursionError as err:  # the pure-Python composer, on very deep nesting
        raise PlatykusError(f"{source}: nested deeper than {MAX_DEPTH} levels; {HOW_TO_WRITE}", field=source) from err
    finally:
        loader.dispose()


def load_spec_file(path: str) -> dict:
    """One spec file, refused before parsing when it is larger than any spec could be."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PlatykusError(f"{path} is larger than {MAX_BYTES // 1024} KiB; {HOW_TO_WRITE}", field=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PlatykusError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})", field=path) from err
    return load_spec_text(text, path)


def load_spec_dir(directory: str) -> list[dict]:
    """Every spec file (``*.yml``) of ``directory`` in file-name order; none when it does not exist.

    Every file is read before failing, so one error lists every bad file at once.
    """
    if not os.path.exists(directory):
        return []
    if not os.path.isdir(directory):
        raise PlatykusError(
            f"{directory} is not a directory; point it at the folder of tenant spec files", field=directory
        )
    specs, problems = [], []
    for path in sorted(glob.glob(os.path.join(glob.escape(directory), SPEC_PATTERN))):
        try:
            specs.append(load_spec_file(path))
        except PlatykusError as err:
            problems.append(str(err))
    if len(problems) == 1:
        raise PlatykusError(problems[0])
    if problems:
        raise PlatykusError(f"{len(problems)} bad tenant spec files:\n- " + "\n- ".join(problems))
    return specs
