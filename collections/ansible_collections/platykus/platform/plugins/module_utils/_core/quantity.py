# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes quantities, parsed with the kubernetes client's own parser."""

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
