# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spec files read safely (tenants, apps, add-ons): one non-empty mapping per file, no alias
bombs, no key given twice, no spec in two files. The one loader of every spec file tenants write.

Spec files are written by people outside the platform team. A few lines of YAML anchors and
aliases can stand for billions of nodes ("billion laughs"): loaded and then templated, such a file
hung onboarding. So a file is first composed into YAML nodes, where every alias shares its
anchor's node and nothing is expanded; the aliases are counted and the expanded size is computed
on that graph, and only a file within the bounds is turned into Python data. Each problem names
the file and says what to write instead.

A key given twice in one mapping is refused too (YAML loaders keep the last one silently: a
tenant file with ``owners.admin`` twice bound the admin role to another tenant's group), naming
the key's path and both lines. Merge keys (``<<: *base``) follow YAML's merge rule: a key written
in the mapping overrides the one merged in, which is what merging is for, and is no duplicate;
two ``<<`` in one mapping are (write ``<<: [*a, *b]``).
"""

from __future__ import annotations

import glob
import os
from typing import Any, NamedTuple

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

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
SPEC_SUFFIXES = (".yml", ".yaml")
MERGE_TAG = "tag:yaml.org,2002:merge"


class Kind(NamedTuple):
    """What a kind of spec file holds: its word in messages, its key path prefix, what identifies
    one spec (unique across files), and how to write one."""

    word: str
    plural: str
    identity: tuple
    how_to_write: str


KINDS = {
    "tenant": Kind(
        "tenant",
        "tenants",
        ("name",),
        "write one tenant per file as a mapping, e.g. 'name: acme' and 'plan: small' on their own lines "
        "(docs/tenants.md)",
    ),
    "app": Kind(
        "app",
        "apps",
        ("tenant", "environment", "name"),
        "write one app per file as a mapping, e.g. 'name: shop', 'tenant: acme' and 'environment: dev' on "
        "their own lines (docs/apps.md)",
    ),
    "add-on": Kind(
        "add-on",
        "addons",
        ("tenant", "name"),
        "write one add-on per file as a mapping, e.g. 'name: orders-db', 'tenant: acme' and 'type: postgresql' "
        "on their own lines (docs/data-services.md)",
    ),
}
HOW_TO_WRITE = KINDS["tenant"].how_to_write


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise PlatykusError("kind: %r is not one of %s" % (kind, ", ".join(KINDS)), field="kind")
    return KINDS[kind]


class _Walk:
    """Counters shared while the node graph of one document is measured."""

    def __init__(self, source: str, how_to_write: str = HOW_TO_WRITE) -> None:
        self.source = source
        self.how_to_write = how_to_write
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
        raise PlatykusError(
            f"{walk.source}: nested deeper than {MAX_DEPTH} levels; {walk.how_to_write}", field=walk.source
        )
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


def _check_shape(documents: list, source: str, kind: Kind = KINDS["tenant"]) -> Any:
    """The one document of a file, when it is a non-empty mapping."""
    how = kind.how_to_write
    if len(documents) > 1:
        raise PlatykusError(
            f"{source} holds more than one YAML document (separated by '---'); put each {kind.word} in a file of "
            "its own (<name>.yml), as one mapping",
            field=source,
        )
    node = documents[0] if documents else None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        raise PlatykusError(f"{source} is empty; {how}, or delete the file", field=source)
    if isinstance(node, yaml.SequenceNode):
        raise PlatykusError(f"{source} holds a list, not a {kind.word}; {how}", field=source)
    if isinstance(node, yaml.ScalarNode):
        raise PlatykusError(
            f"{source} holds a single value ({node.value[:40]!r}), not a {kind.word}; {how}", field=source
        )
    if not node.value:
        raise PlatykusError(f"{source} holds an empty mapping; {how}", field=source)
    return node


# ------------------------------------------------------------------------------- keys given twice
def _scalar_key(loader: Any, node: Any) -> Any:
    """A mapping key as YAML reads it ('yes' and 'true' are one key), or None for a key that is
    not a plain value (PyYAML refuses those that cannot be keys when it constructs the mapping)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        key = loader.construct_object(node)
        hash(key)
    except (yaml.YAMLError, TypeError, ValueError):
        return None
    return key


def _step(path: str, key: Any) -> str:
    text = str(key)
    if text and all(c.isalnum() or c in "_-" for c in text):
        return f"{path}.{text}"
    return f"{path}[{text!r}]"


def _prefix(loader: Any, node: Any, source: str, kind: Kind) -> str:
    """``tenants[acme]``, ``apps[acme/dev/shop]``: the spec's identity, or its file's name without one."""
    values = {}
    for key_node, value_node in node.value:
        key = _scalar_key(loader, key_node)
        if key in kind.identity and isinstance(value_node, yaml.ScalarNode):
            values.setdefault(key, value_node.value)
    if kind.identity and all(values.get(field) for field in kind.identity):
        return "%s[%s]" % (kind.plural, "/".join(values[field] for field in kind.identity))
    return "%s[%s]" % (kind.plural, os.path.splitext(os.path.basename(source))[0])


def duplicate_keys(loader: Any, root: Any, prefix: str) -> list[str]:
    """Every key given twice in a mapping of the (already bounded) node graph, with its path and
    both lines; each node is visited once however many aliases reach it."""
    found, seen, pending = [], set(), [(root, prefix)]
    while pending:
        node, path = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            pending.extend((item, f"{path}[{index}]") for index, item in reversed(list(enumerate(node.value))))
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict = {}
        children = []
        for key_node, value_node in node.value:
            key = "<<" if key_node.tag == MERGE_TAG else _scalar_key(loader, key_node)
            here = _step(path, key) if key is not None else path
            children.append((value_node, here))
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first:
                found.append(f"{here} is given twice (lines {first[key]} and {line})")
            else:
                first[key] = line
        pending.extend(reversed(children))
    return found


def _refuse_duplicates(loader: Any, node: Any, source: str, kind: Kind) -> None:
    found = duplicate_keys(loader, node, _prefix(loader, node, source, kind))
    if found:
        raise PlatykusError(
            f"{source}: " + "; ".join(found) + "; YAML would keep only the last value silently: write each key once",
            field=source,
        )


def _problem(err: Exception) -> str:
    """PyYAML's problem and position, without its '<unicode string>' stream name."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


class Spec(NamedTuple):
    """A loaded spec, the file it came from, and the line of each of its top-level keys."""

    data: dict
    source: str
    lines: dict


def _load(text: str, source: str, kind: Kind) -> Spec:
    if not HAS_YAML:  # pragma: no cover
        raise PlatykusError("Reading spec files needs PyYAML on the controller")
    loader = _Loader(text)
    try:
        documents = []
        # Composing builds the node graph only; a second document is enough to refuse the file.
        while len(documents) < 2 and loader.check_node():
            documents.append(loader.get_node())
        node = _check_shape(documents, source, kind)
        _expanded_size(node, _Walk(source, kind.how_to_write))
        _refuse_duplicates(loader, node, source, kind)
        lines = {}
        for key_node, _value in node.value:
            key = _scalar_key(loader, key_node)
            if key is not None:
                lines.setdefault(key, key_node.start_mark.line + 1)
        return Spec(loader.construct_document(node), source, lines)
    except yaml.YAMLError as err:
        raise PlatykusError(f"{source} is not valid YAML: {_problem(err)}", field=source) from err
    except RecursionError as err:  # the pure-Python composer, on very deep nesting
        raise PlatykusError(
            f"{source}: nested deeper than {MAX_DEPTH} levels; {kind.how_to_write}", field=source
        ) from err
    finally:
        loader.dispose()


def load_spec_text(text: str, source: str, kind: str = "tenant") -> dict:
    """The spec in ``text`` (the contents of ``source``, named in every error)."""
    return _load(text, source, _kind(kind)).data


def _read(path: str, kind: Kind) -> Spec:
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PlatykusError(f"{path} is larger than {MAX_BYTES // 1024} KiB; {kind.how_to_write}", field=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PlatykusError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})", field=path) from err
    return _load(text, path, kind)


def load_spec_file(path: str, kind: str = "tenant") -> dict:
    """One spec file, refused before parsing when it is larger than any spec could be."""
    return _read(path, _kind(kind)).data


def _files(path: str, kind: Kind) -> list[str]:
    """The spec files a path stands for: a file itself, a directory's ``*.yml`` in name order;
    a directory that does not exist holds none, a missing ``.yml`` file is refused."""
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(glob.escape(path), SPEC_PATTERN)))
    if os.path.exists(path):
        if not path.endswith(SPEC_SUFFIXES):
            raise PlatykusError(
                f"{path} is not a directory; point it at the folder of {kind.word} spec files", field=path
            )
        return [path]
    if path.endswith(SPEC_SUFFIXES):
        raise PlatykusError(f"{path} does not exist; name an existing {kind.word} spec file", field=path)
    return []


def _same_spec_twice(specs: list[Spec], kind: Kind) -> list[str]:
    """The specs whose identity (a tenant's name; an app's tenant, environment and name...) is in
    two files: each named with the line of its identity."""
    first: dict = {}
    problems = []
    for spec in specs:
        values = tuple(spec.data.get(field) for field in kind.identity)
        if not all(isinstance(value, str) and value for value in values):
            continue  # the validator names the missing field
        where = "%s (line %d)" % (spec.source, spec.lines.get(kind.identity[-1], 1))
        if values in first:
            problems.append(
                "%s '%s' is in two files: %s and %s; keep one file per %s"
                % (kind.word, "/".join(values), first[values], where, kind.word)
            )
        else:
            first[values] = where
    return problems


def load_specs(paths: list[str], kind: str = "tenant") -> list[dict]:
    """Every spec of ``paths`` (spec files, or folders of them), in order.

    Every file is read before failing, so one error lists every bad file at once; a spec in two
    files is refused naming both.
    """
    how = _kind(kind)
    specs, problems = [], []
    for path in paths:
        try:
            files = _files(path, how)
        except PlatykusError as err:
            problems.append(str(err))
            continue
        for name in files:
            try:
                specs.append(_read(name, how))
            except PlatykusError as err:
                problems.append(str(err))
    problems.extend(_same_spec_twice(specs, how))
    if len(problems) == 1:
        raise PlatykusError(problems[0])
    if problems:
        raise PlatykusError(f"{len(problems)} bad {how.word} spec files:\n- " + "\n- ".join(problems))
    return [spec.data for spec in specs]


def load_spec_dir(directory: str, kind: str = "tenant") -> list[dict]:
    """Every spec file (``*.yml``) of ``directory`` in file-name order; none when it does not exist."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise PlatykusError(
            f"{directory} is not a directory; point it at the folder of {_kind(kind).word} spec files",
            field=directory,
        )
    return load_specs([directory], kind)
