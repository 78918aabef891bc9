# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a set of RBAC PolicyRules grants beyond an allowed set (pure functions, no API calls).

RBAC only adds permissions, so rules grant more than ``allowed`` exactly when one of their
(apiGroup, resource, verb) grants, or one of their non-resource URLs, is granted by no allowed
rule. Matching follows the API server's authorizer: ``*`` matches everything in its field,
``*/<subresource>`` matches that subresource of every resource, a non-resource URL ending in
``*`` matches by prefix, and a rule limited by ``resourceNames`` grants only those names.

A wildcard written in the rules under test is judged as written, not by what it happens to
match today: it also covers kinds added later, so only the same (or a wider) wildcard in
``allowed`` covers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

WILDCARD = "*"
_ALL_SUBRESOURCES_PREFIX = "*/"


def _covers_name(allowed: Iterable[str], value: str) -> bool:
    """An allowed apiGroups/verbs list covers one value: ``*`` or the same value."""
    values = list(allowed)
    return WILDCARD in values or value in values


def _covers_resource(allowed: Iterable[str], resource: str) -> bool:
    values = list(allowed)
    if _covers_name(values, resource):
        return True
    if WILDCARD in resource or "/" not in resource:
        return False
    # ``*/scale`` in an allowed rule grants ``deployments/scale``.
    return _ALL_SUBRESOURCES_PREFIX + resource.split("/", 1)[1] in values


def _covers_names(allowed_names: Iterable[str], names: frozenset[str]) -> bool:
    """An allowed rule without resourceNames covers any names; one with names only a subset."""
    allowed_set = set(allowed_names)
    if not allowed_set:
        return True
    return bool(names) and names <= allowed_set


def _covers_url(allowed: Iterable[str], url: str) -> bool:
    for pattern in allowed:
        if pattern in (WILDCARD, url):
            return True
        if WILDCARD not in url and pattern.endswith(WILDCARD) and url.startswith(pattern[:-1]):
            return True
    return False


def _resource_grants(rule: dict[str, Any]) -> Iterator[tuple[str, str, str, frozenset[str]]]:
    names = frozenset(rule.get("resourceNames") or ())
    for group in rule.get("apiGroups") or ():
        for resource in rule.get("resources") or ():
            for verb in rule.get("verbs") or ():
                yield group, resource, verb, names


def _url_grants(rule: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for url in rule.get("nonResourceURLs") or ():
        for verb in rule.get("verbs") or ():
            yield url, verb


def _resource_covered(grant: tuple[str, str, str, frozenset[str]], allowed: list[dict[str, Any]]) -> bool:
    group, resource, verb, names = grant
    return any(
        _covers_name(rule.get("apiGroups") or (), group)
        and _covers_resource(rule.get("resources") or (), resource)
        and _covers_name(rule.get("verbs") or (), verb)
        and _covers_names(rule.get("resourceNames") or (), names)
        for rule in allowed
    )


def _url_covered(url: str, verb: str, allowed: list[dict[str, Any]]) -> bool:
    return any(
        _covers_url(rule.get("nonResourceURLs") or (), url) and _covers_name(rule.get("verbs") or (), verb)
        for rule in allowed
    )


def _verb_text(verb: str) -> str:
    return "every verb on" if verb == WILDCARD else verb


def describe_grant(group: str, resource: str, verb: str, names: Iterable[str] = ()) -> str:
    """One grant in words: ``create serviceaccounts/token``, ``delete deployments.apps``,
    ``every verb on every resource in every apiGroup``."""
    what = "every resource" if resource == WILDCARD else resource
    if group == WILDCARD:
        what += " in every apiGroup"
    elif group:
        what += "." + group
    if names:
        what += " named " + ", ".join(sorted(names))
    return "%s %s" % (_verb_text(verb), what)


def excess_rules(rules: list[dict[str, Any]], allowed: list[dict[str, Any]]) -> list[str]:
    """Each grant of ``rules`` that no rule of ``allowed`` covers, in words, sorted and unique.

    An empty list means ``rules`` grant nothing beyond ``allowed``.
    """
    excess = set()
    for rule in rules:
        for grant in _resource_grants(rule):
            if not _resource_covered(grant, allowed):
                excess.add(describe_grant(*grant))
        for url, verb in _url_grants(rule):
            if not _url_covered(url, verb, allowed):
                excess.add("%s nonResourceURL %s" % (_verb_text(verb), url))
    return sorted(excess)


def binding_excess(
    binding: dict[str, Any],
    roles_in_namespace: dict[str, dict[str, Any]],
    cluster_roles: dict[str, dict[str, Any]],
    allowed: list[dict[str, Any]],
) -> list[str]:
    """What a RoleBinding grants beyond ``allowed``, through the Role or ClusterRole it refers to.

    ``roles_in_namespace`` and ``cluster_roles`` map names to the role objects. A roleRef that
    resolves to nothing is reported, not passed: the role can be created later under that name
    and the binding then grants whatever it holds. Subjects are not looked at; a binding with
    none grants nothing today but one subject away from granting it all.
    """
    ref = binding.get("roleRef") or {}
    kind, name = ref.get("kind") or "", ref.get("name") or ""
    source = {"Role": roles_in_namespace, "ClusterRole": cluster_roles}.get(kind, {})
    role = source.get(name)
    if role is None:
        return [
            "roleRef %s %s does not exist, so what it grants is unknown" % (kind or "(no kind)", name or "(no name)")
        ]
    return excess_rules(role.get("rules") or [], allowed)
