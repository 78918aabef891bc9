# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes quantities: parsed with the kubernetes client's own parser, and written back."""

from __future__ import annotations

from decimal import Decimal

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

try:
    from kubernetes.utils.quantity import parse_quantity as _parse_quantity
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    _parse_quantity = None


# Kubernetes stores a quantity as a signed 64-bit integer of its smallest unit (bytes, or
# millicores for CPU); anything above cannot be written to the API server and only breaks arithmetic.
MAX_QUANTITY = Decimal(2**63 - 1) / 1000


def parse_quantity(value: object, field: str) -> Decimal:
    """Parse a quantity such as ``500m``, ``2``, ``16Gi``; raise naming ``field`` when it is not one."""
    if _parse_quantity is None:
        raise PlatykusError("the Python 'kubernetes' library is required to parse quantities")
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise PlatykusError(
            "%s: %r is not a Kubernetes quantity; write it like 500m, 2, 512Mi or 16Gi" % (field, value),
            field=field,
        )
    try:
        parsed = _parse_quantity(value)
    except (ValueError, TypeError) as err:
        raise PlatykusError(
            "%s: %r is not a Kubernetes quantity (%s); write it like 500m, 2, 512Mi or 16Gi" % (field, value, err),
            field=field,
        ) from err
    if not parsed.is_finite() or parsed > MAX_QUANTITY:
        raise PlatykusError(
            "%s: %r is larger than Kubernetes can store (at most %.3E); write a real size like 512Mi or 16Gi"
            % (field, value, MAX_QUANTITY),
            field=field,
        )
    if parsed < 0:
        raise PlatykusError("%s: %r is negative; quantities must be zero or more" % (field, value), field=field)
    return parsed


_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def format_quantity(value: Decimal, kind: str) -> str:
    """Write a Decimal back as a Kubernetes quantity: ``cpu`` as cores or millicores, ``bytes`` with
    the suffix (binary or decimal) that gives the shortest exact number."""
    value = Decimal(value)
    if kind == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        milli = value * 1000
        if milli == milli.to_integral_value():
            return "%dm" % int(milli)
        return str(value.normalize())
    if value != value.to_integral_value():
        return str(value.normalize())
    whole = int(value)
    if whole == 0:
        return "0"
    best = str(whole)
    for suffix, factor in _BINARY + _DECIMAL:
        if whole % factor == 0:
            candidate = "%d%s" % (whole // factor, suffix)
            if len(candidate) < len(best):
                best = candidate
    return best
