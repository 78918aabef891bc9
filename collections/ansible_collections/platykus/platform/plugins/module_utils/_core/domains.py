# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostname ownership: the DNS domains a tenant may use, and whether a hostname falls under them.

A tenant spec lists ``domains`` (e.g. ``[acme.apps.example.com]``); a tenant may use those names
and any name under them, and no two tenants' domains may overlap. The same rule is checked in
the app spec validator (before anything is written) and on the API server by the admission
policy of :mod:`_admission.hostnames` (which reads the namespace annotation written here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems

DOMAINS_ANNOTATION = "platykus.io/domains"
# The one rule for a hostname, here and in the admission policy's CEL (RE2 reads it the same):
# lowercase labels of letters, digits and '-', at least two of them, no trailing dot, and '*' only
# as the whole first label ("*.shop.acme..."). DNS is case-insensitive and a trailing dot names
# the same host, so LOGIN.GLOBEX... or login.globex....  would be another tenant's host in
# disguise: both are refused rather than normalized.
HOST_PATTERN = r"(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+"
MAX_HOST_LENGTH = 253
_HOST = re.compile(HOST_PATTERN)
EXAMPLE = "[acme.apps.example.com]"


def hostname_problem(value: Any, wildcard: bool = False) -> str | None:
    """Why ``value`` is not a lowercase, dotted DNS name (``*.`` first only when ``wildcard``), or None."""
    if not isinstance(value, str) or not value:
        return "%r is not a hostname; write it like shop.acme.apps.example.com" % (value,)
    if len(value) > MAX_HOST_LENGTH or not _HOST.fullmatch(value) or (value.startswith("*.") and not wildcard):
        return (
            "'%s' is not a DNS name; use lowercase labels of letters, digits and '-', dotted, like shop.acme.apps.example.com"
            % value
        )
    return None


def under(hostname: str, domain: str) -> bool:
    """Whether ``hostname`` is ``domain`` or a name below it."""
    host = hostname[2:] if hostname.startswith("*.") else hostname
    return host == domain or host.endswith("." + domain)


def covered(hostname: str, domains: Iterable[str]) -> bool:
    return any(under(hostname, domain) for domain in domains)


def validate_domains(problems: Problems, path: str, raw: Any) -> tuple[str, ...]:
    """A tenant spec's ``domains``: a list of distinct DNS names (no wildcards: a domain covers its subnames)."""
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
        problems.add(path, "%r is not a list; write it like %s" % (raw, EXAMPLE))
        return ()
    clean: list[str] = []
    for index, domain in enumerate(raw):
        problem = hostname_problem(domain)
        if problem:
            problems.add("%s[%d]" % (path, index), problem)
        elif domain not in clean:
            clean.append(domain)
    return tuple(clean)


def check_overlaps(problems: Problems, path: str, tenant: str, domains: Iterable[str], claimed: dict[str, str]) -> None:
    """No domain of ``tenant`` may equal, contain or lie under another tenant's; ``claimed`` maps domain → tenant."""
    for domain in domains:
        for other, owner in claimed.items():
            if owner != tenant and (under(domain, other) or under(other, domain)):
                problems.add(
                    path,
                    "'%s' overlaps '%s' of tenant '%s'; a hostname must belong to one tenant, pick a domain outside it"
                    % (domain, other, owner),
                )
    for domain in domains:
        claimed.setdefault(domain, tenant)


def namespace_annotations(domains: Iterable[str]) -> dict[str, str]:
    """The namespace annotation the hostname admission policy reads; none without domains (no hostname
    is allowed then, and server-side apply removes an annotation the platform stops setting)."""
    domains = list(domains)
    return {DOMAINS_ANNOTATION: ",".join(domains)} if domains else {}
