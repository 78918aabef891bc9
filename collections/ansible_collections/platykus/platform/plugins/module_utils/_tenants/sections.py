# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sections of a tenant spec that are checked on their own: budget, alerts, network and labels.

Each ``check_<section>(problems, path, raw)`` adds its problems at ``path`` and returns the clean
value (None or empty when bad). :func:`validate_budget` is the one rule for a ``budget`` that the
AWS budgets and the usage report apply too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.names import CURRENCIES, DEFAULT_CURRENCY
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    is_mapping,
    label_key_problem,
    label_value_problem,
)

SUPPORTED_CURRENCIES = CURRENCIES
ALERT_KEYS = ("webhook_url", "email")
# Label keys tenants may not set: the platform's own, and the ones that steer security.
RESERVED_LABEL_PREFIXES = (
    "platykus.io/",
    "app.kubernetes.io/managed-by",
    "pod-security.kubernetes.io/",
    "kubernetes.io/",
    "k8s.io/",
)


@dataclass(frozen=True)
class Budget:
    monthly: Decimal
    currency: str


MAX_MONTHLY_BUDGET = Decimal(10) ** 12


def _parse_monthly(problems: Problems, path: str, raw: Any) -> Decimal | None:
    """A positive, finite amount; zero is refused (a tenant that may spend nothing has no namespaces)."""
    example = "write the monthly budget like 2500"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        problems.add(path, "%r is not a number; %s" % (raw, example))
        return None
    try:
        monthly = Decimal(str(raw).strip())
    except ArithmeticError:
        problems.add(path, "%r is not a number; %s" % (raw, example))
        return None
    if not monthly.is_finite() or monthly > MAX_MONTHLY_BUDGET:
        problems.add(path, "%r is not a real budget; %s" % (raw, example))
    elif monthly <= 0:
        problems.add(path, "%r is not positive; %s, or leave budget out" % (raw, example))
    else:
        return monthly
    return None


def check_budget(problems: Problems, path: str, budget: Any) -> Budget | None:
    """``budget: {monthly, currency}``: the Budget, or None (absent, or a problem added)."""
    if budget is None:
        return None
    if not is_mapping(problems, path, budget, "{monthly: 2500, currency: EUR}"):
        return None
    check_keys(problems, path, budget, ("monthly", "currency"))
    monthly = _parse_monthly(problems, "%s.monthly" % path, budget.get("monthly"))
    currency = budget.get("currency", DEFAULT_CURRENCY)
    if currency not in SUPPORTED_CURRENCIES:
        problems.add(
            "%s.currency" % path,
            "%r is not a supported currency; use one of %s (a budget without currency is in %s)"
            % (currency, ", ".join(SUPPORTED_CURRENCIES), DEFAULT_CURRENCY),
        )
        return None
    if monthly is None:
        return None
    return Budget(monthly=monthly, currency=currency)


def validate_budget(budget: Any, where: str) -> Budget | None:
    """The one rule for a tenant's ``budget`` (onboarding, budgets and the usage report use it):
    ``monthly`` positive, ``currency`` one of CURRENCIES, USD when not given. ``where`` is the field path."""
    problems = Problems()
    result = check_budget(problems, where, budget)
    problems.raise_if_any(where)
    return result


@dataclass(frozen=True)
class Alerts:
    """Where the platform's alerts about a tenant go: a webhook (its URL may carry a token) and/or an address."""

    webhook_url: str | None = None
    email: str | None = None


# An address as alert receivers take it: one @, no spaces or angle brackets, a dotted domain.
_EMAIL = re.compile(r"[^@\s<>]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+", re.I)
_WEBHOOK = re.compile(r"https?://[^\s/?#@]+(:\d+)?(/\S*)?")


def check_alerts(problems: Problems, path: str, alerts: Any) -> Alerts | None:
    """``alerts: {webhook_url, email}``: where Alertmanager sends the tenant's alerts (one at least)."""
    if alerts is None:
        return None
    if not is_mapping(problems, path, alerts, "{webhook_url: https://hooks.example.com/acme, email: ops@acme.example}"):
        return None
    check_keys(problems, path, alerts, ALERT_KEYS)
    before = len(problems.items)
    webhook, email = alerts.get("webhook_url"), alerts.get("email")
    if webhook is None and email is None:
        problems.add(path, "names no receiver; set webhook_url, email or both, or leave alerts out")
    if webhook is not None and (not isinstance(webhook, str) or not _WEBHOOK.fullmatch(webhook)):
        # The value is not echoed: a webhook URL may carry a token.
        problems.add(
            "%s.webhook_url" % path,
            "is not an http(s) URL without user info; write it like https://hooks.example.com/acme",
        )
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email)):
        problems.add("%s.email" % path, "%r is not an email address; write it like ops@acme.example" % (email,))
    if len(problems.items) > before:
        return None
    return Alerts(webhook_url=webhook, email=email)


def check_network(problems: Problems, path: str, network: Any) -> tuple[bool, tuple[str, ...]]:
    """``network: {allow_from_ingress, egress_cidrs}``: the flag and the distinct CIDRs (bad ones reported)."""
    if network is None:
        return True, ()
    if not is_mapping(problems, path, network, "{allow_from_ingress: true, egress_cidrs: [10.20.0.0/16]}"):
        return True, ()
    check_keys(problems, path, network, ("allow_from_ingress", "egress_cidrs"))
    allow = network.get("allow_from_ingress", True)
    if not isinstance(allow, bool):
        problems.add("%s.allow_from_ingress" % path, "%r is not a boolean; write true or false" % (allow,))
        allow = True
    cidrs_raw = network.get("egress_cidrs") or []
    cidrs: list[str] = []
    if isinstance(cidrs_raw, str) or not isinstance(cidrs_raw, (list, tuple)):
        problems.add("%s.egress_cidrs" % path, "%r is not a list; write it like [10.20.0.0/16]" % (cidrs_raw,))
        return allow, ()
    for index, cidr in enumerate(cidrs_raw):
        cidr_path = "%s.egress_cidrs[%d]" % (path, index)
        if not isinstance(cidr, str) or "/" not in cidr:
            problems.add(cidr_path, "%r is not a CIDR; write it like 10.20.0.0/16" % (cidr,))
            continue
        try:
            network_obj = ipaddress.ip_network(cidr, strict=False)
        except ValueError as err:
            problems.add(cidr_path, "'%s' is not a CIDR (%s); write it like 10.20.0.0/16" % (cidr, err))
            continue
        if str(network_obj) != cidr:
            problems.add(cidr_path, "'%s' has host bits set; write %s" % (cidr, network_obj))
            continue
        if str(network_obj) not in cidrs:
            cidrs.append(str(network_obj))
    return allow, tuple(cidrs)


def check_labels(problems: Problems, path: str, labels: Any) -> dict[str, str]:
    """``labels``: the good ones (a key under a platform prefix is refused)."""
    if labels is None:
        return {}
    if not is_mapping(problems, path, labels, "{team: payments}"):
        return {}
    clean: dict[str, str] = {}
    for key, value in labels.items():
        key_path = "%s.%s" % (path, key)
        problem = label_key_problem(key)
        if problem:
            problems.add(key_path, problem)
            continue
        if any(key == prefix or key.startswith(prefix) for prefix in RESERVED_LABEL_PREFIXES):
            problems.add(
                key_path,
                "'%s' is set by the platform (reserved prefixes: %s); choose another key"
                % (key, ", ".join(RESERVED_LABEL_PREFIXES)),
            )
            continue
        problem = label_value_problem(value)
        if problem:
            problems.add(key_path, problem)
            continue
        clean[key] = value
    return clean
