# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation kit: every problem of an input collected at once, each with its field path and the fix.

A validator creates one :class:`Problems`, passes it down with the field path of each part it
checks (``tenants[acme].owners.admin``), and raises once at the end, so users fix a spec in one
pass rather than one error per run. The checks every spec shares live here:

- :func:`check_keys` (unknown keys, with the closest allowed one suggested),
- :func:`is_mapping` (a mapping where one is expected, with an example of one),
- :func:`check_quantity` (a Kubernetes quantity within what the API server stores),
- :func:`dns_label_problem`, :func:`label_key_problem`, :func:`label_value_problem` (Kubernetes names).

Quantities are parsed and written back in :mod:`_core.quantity`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity

# Always used with fullmatch: re.match with "$" also accepts a value ending in a newline.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


class Problems:
    """Collects every problem so users fix their specs in one pass, not one error per run."""

    def __init__(self) -> None:
        # (field path, "path: message"), in the order found.
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, "%s: %s" % (path, message)))

    def raise_if_any(self, what: str) -> None:
        """One PlatykusError naming the first field: the problem itself, or ``N problems in <what>`` and a list."""
        if not self.items:
            return
        if len(self.items) == 1:
            raise PlatykusError(self.items[0][1], field=self.items[0][0])
        lines = "\n".join("- %s" % message for _path, message in self.items)
        raise PlatykusError("%d problems in %s:\n%s" % (len(self.items), what, lines), field=self.items[0][0])

    def raise_on_one_line(self, lead: str) -> None:
        """One PlatykusError ``<lead>: <problem>; <problem>`` (for inventories, read in a task's one-line failure)."""
        if self.items:
            raise PlatykusError("%s: %s" % (lead, "; ".join(message for _path, message in self.items)))


def _suggest(key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = "did you mean %s? " % close[0] if close else ""
    return "unknown key; %sallowed keys are %s" % (hint, ", ".join(allowed))


def check_keys(problems: Problems, path: str, value: Mapping, allowed: Iterable[str]) -> None:
    """Each key of ``value`` not in ``allowed`` is a problem at ``<path>.<key>``, naming the closest allowed key."""
    allowed = tuple(allowed)
    for key in value:
        if key not in allowed:
            problems.add("%s.%s" % (path, key), _suggest(key, allowed))


def is_mapping(problems: Problems, path: str, value: Any, example: str) -> bool:
    """Whether ``value`` is a mapping; when not, a problem showing ``example`` of one."""
    if isinstance(value, Mapping):
        return True
    problems.add(path, "%r is not a mapping; write it like %s" % (value, example))
    return False


def check_quantity(problems: Problems, path: str, raw: Any) -> Decimal | None:
    """``raw`` as a Kubernetes quantity (zero or more, within what the API server stores), or None and a problem."""
    try:
        return parse_quantity(raw, path)
    except PlatykusError as err:
        problems.add(path, str(err).split(": ", 1)[1])
        return None


def dns_label_problem(value: Any, max_len: int) -> str | None:
    """Why ``value`` is not a DNS-1123 label of at most ``max_len`` characters, or None."""
    if not isinstance(value, str) or not value:
        return "%r is not a name; use lowercase letters, digits and '-'" % (value,)
    if len(value) > max_len:
        return "'%s' is %d characters; use at most %d" % (value, len(value), max_len)
    if not _DNS_LABEL.fullmatch(value):
        return (
            "'%s' is not a DNS-1123 label; use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit" % value
        )
    return None


def label_value_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid label value, or None."""
    if not isinstance(value, str):
        return "%r is not a string; quote it in YAML" % (value,)
    if len(value) > 63:
        return "'%s' is %d characters; label values hold at most 63" % (value, len(value))
    if value and not _LABEL_NAME.fullmatch(value):
        return (
            "'%s' is not a valid label value; use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit" % value
        )
    return None


def label_key_problem(key: Any) -> str | None:
    """Why ``key`` is not a valid label key, or None."""
    if not isinstance(key, str) or not key:
        return "%r is not a label key" % (key,)
    prefix, _sep, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "'%s' has an invalid prefix; the part before '/' must be a DNS subdomain like example.com" % key
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            "'%s' is not a valid label key; the name part holds at most 63 letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit" % key
        )
    return None
