# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The price catalog (``platykus_prices``): validated once, then read by the allocation.

Shape (every price in ``currency``)::

    currency: USD
    cpu_ram_weight: 7.46          # one core-hour costs as much as 7.46 GiB-hours
    spot_discount: 0.6            # spot = on-demand x (1 - 0.6) unless a type sets spot_hourly
    instance_types:
      m5.xlarge: 0.192            # on-demand price per hour, or a mapping:
      c5.large: {hourly: 0.085, spot_hourly: 0.031}
    storage_classes:              # per GiB-month (730 hours)
      gp3: 0.08
    default_storage_class: gp3    # used for PVCs without spec.storageClassName
    loadbalancer_hourly: 0.0225   # per LoadBalancer Service per hour

Every number is held as a ``Decimal`` built from its text, so ``0.096`` stays exactly 0.096.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import CURRENCIES

HOURS_PER_MONTH = Decimal(730)

# OpenCost's default prices are 0.031611 per core-hour and 0.004237 per GiB-hour; a node whose
# total is known is split in that ratio (0.031611 / 0.004237 = 7.4607..., rounded to 7.46).
DEFAULT_CPU_RAM_WEIGHT = Decimal("7.46")

# Above these a price is almost certainly a typo (a monthly price written as hourly, cents as units).
MAX_INSTANCE_HOURLY = Decimal(1000)
MAX_STORAGE_GIB_MONTH = Decimal(100)
MAX_LOADBALANCER_HOURLY = Decimal(100)
MAX_CPU_RAM_WEIGHT = Decimal(1000)

_TOP_LEVEL_KEYS = frozenset(
    (
        "currency",
        "cpu_ram_weight",
        "spot_discount",
        "instance_types",
        "storage_classes",
        "default_storage_class",
        "loadbalancer_hourly",
        "region",
        "source",
        "retrieved",
    )
)
_INSTANCE_KEYS = frozenset(("hourly", "spot_hourly", "spot_discount"))


@dataclass(frozen=True)
class InstancePrice:
    """What one instance type costs per hour."""

    hourly: Decimal
    spot_hourly: Decimal | None = None
    spot_discount: Decimal | None = None


@dataclass(frozen=True)
class PriceCatalog:
    """A validated ``platykus_prices``. Build it with :func:`validate_prices`."""

    currency: str
    cpu_ram_weight: Decimal = DEFAULT_CPU_RAM_WEIGHT
    spot_discount: Decimal | None = None
    instance_types: Mapping[str, InstancePrice] = field(default_factory=dict)
    storage_classes: Mapping[str, Decimal] = field(default_factory=dict)
    default_storage_class: str | None = None
    loadbalancer_hourly: Decimal | None = None

    def node_hourly(self, instance_type: str, spot: bool) -> Decimal | None:
        """The hourly price of one node, or None when the catalog cannot price it."""
        price = self.instance_types.get(instance_type)
        if price is None:
            return None
        if not spot:
            return price.hourly
        if price.spot_hourly is not None:
            return price.spot_hourly
        discount = price.spot_discount if price.spot_discount is not None else self.spot_discount
        if discount is None:
            return None
        return price.hourly * (1 - discount)

    def storage_gib_month(self, storage_class: str | None) -> Decimal | None:
        """The per GiB-month price of a storage class (the default class when ``storage_class`` is empty)."""
        name = storage_class or self.default_storage_class
        if not name:
            return None
        return self.storage_classes.get(name)


def _number(value: Any, field_name: str, fix: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PlatykusError("%s: %r is not a number; %s" % (field_name, value, fix), field=field_name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as err:
        raise PlatykusError("%s: %r is not a number; %s" % (field_name, value, fix), field=field_name) from err
    if not number.is_finite():
        raise PlatykusError("%s: %r is not a finite number; %s" % (field_name, value, fix), field=field_name)
    return number


def _price(value: Any, field_name: str, maximum: Decimal, unit: str) -> Decimal:
    fix = "write the price in currency units %s, like 0.096" % unit
    number = _number(value, field_name, fix)
    if number < 0:
        raise PlatykusError(
            "%s: %s is negative; prices are zero or more (%s)" % (field_name, value, unit), field=field_name
        )
    if number > maximum:
        raise PlatykusError(
            "%s: %s is more than %s %s, which is surely a mistake (a monthly price written as %s?); "
            "fix the value in platykus_prices" % (field_name, value, maximum, unit, unit),
            field=field_name,
        )
    return number


def _discount(value: Any, field_name: str) -> Decimal:
    fix = "write the spot discount as a fraction of the on-demand price, from 0 up to (not including) 1, like 0.6"
    number = _number(value, field_name, fix)
    if not Decimal(0) <= number < 1:
        raise PlatykusError("%s: %s is outside 0..<1; %s" % (field_name, value, fix), field=field_name)
    return number


def validate_weight(value: Any, field_name: str = "cpu_ram_weight") -> Decimal:
    """A cpu:ram weight: how many GiB-hours one core-hour is worth; more than 0, at most 1000."""
    fix = "set it to how many GiB-hours one core-hour is worth, like 7.46 (OpenCost's default ratio)"
    number = _number(value, field_name, fix)
    if not Decimal(0) < number <= MAX_CPU_RAM_WEIGHT:
        raise PlatykusError(
            "%s: %s is outside (0, %s]; %s" % (field_name, value, MAX_CPU_RAM_WEIGHT, fix), field=field_name
        )
    return number


def validate_currency(value: Any, field_name: str) -> str:
    """An ISO 4217 code from ``_core.names.CURRENCIES``, upper-cased (budgets and prices must use the same one)."""
    code = str(value).strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        raise PlatykusError(
            "%s: %r is not a currency Platykus knows; use one of %s" % (field_name, value, ", ".join(CURRENCIES)),
            field=field_name,
        )
    return code


def _check_shape(raw: Any, field_name: str) -> None:
    if not isinstance(raw, Mapping):
        raise PlatykusError(
            "%s: expected a mapping like {currency: USD, instance_types: {...}}, got %s"
            % (field_name, type(raw).__name__),
            field=field_name,
        )
    unknown = sorted(set(raw) - _TOP_LEVEL_KEYS)
    if unknown:
        raise PlatykusError(
            "%s.%s: unknown key; known keys are %s" % (field_name, unknown[0], ", ".join(sorted(_TOP_LEVEL_KEYS))),
            field="%s.%s" % (field_name, unknown[0]),
        )
    if "currency" not in raw:
        raise PlatykusError(
            "%s.currency: missing; set it to the ISO 4217 code of the prices, like USD" % field_name,
            field="%s.currency" % field_name,
        )


def _catalog_weight(raw: Mapping[str, Any], field_name: str, override: Any) -> Decimal:
    """The option ``cpu_ram_weight`` when set, else the catalog's own, else OpenCost's default."""
    if override is not None:
        return validate_weight(override, "cpu_ram_weight")
    if raw.get("cpu_ram_weight") is not None:
        return validate_weight(raw["cpu_ram_weight"], "%s.cpu_ram_weight" % field_name)
    return DEFAULT_CPU_RAM_WEIGHT


def _instance_price(entry: Any, where: str) -> InstancePrice:
    if not isinstance(entry, Mapping):
        entry = {"hourly": entry}
    unknown = sorted(set(entry) - _INSTANCE_KEYS)
    if unknown:
        raise PlatykusError(
            "%s.%s: unknown key; known keys are hourly, spot_hourly, spot_discount" % (where, unknown[0]),
            field="%s.%s" % (where, unknown[0]),
        )
    if "hourly" not in entry:
        raise PlatykusError("%s.hourly: missing; set the on-demand price per hour" % where, field="%s.hourly" % where)
    hourly = _price(entry["hourly"], "%s.hourly" % where, MAX_INSTANCE_HOURLY, "per hour")
    spot_hourly = None
    if entry.get("spot_hourly") is not None:
        spot_hourly = _price(entry["spot_hourly"], "%s.spot_hourly" % where, MAX_INSTANCE_HOURLY, "per hour")
        if spot_hourly > hourly:
            raise PlatykusError(
                "%s.spot_hourly: %s is more than the on-demand price %s; spot never costs more, fix the price"
                % (where, entry["spot_hourly"], entry["hourly"]),
                field="%s.spot_hourly" % where,
            )
    discount = None
    if entry.get("spot_discount") is not None:
        discount = _discount(entry["spot_discount"], "%s.spot_discount" % where)
    return InstancePrice(hourly=hourly, spot_hourly=spot_hourly, spot_discount=discount)


def _instance_types(raw: Mapping[str, Any], field_name: str) -> dict[str, InstancePrice]:
    types_raw = raw.get("instance_types") or {}
    if not isinstance(types_raw, Mapping):
        raise PlatykusError(
            "%s.instance_types: expected a mapping of instance type to hourly price" % field_name,
            field="%s.instance_types" % field_name,
        )
    return {
        str(name): _instance_price(entry, "%s.instance_types[%s]" % (field_name, name))
        for name, entry in types_raw.items()
    }


def _storage_classes(raw: Mapping[str, Any], field_name: str) -> dict[str, Decimal]:
    classes_raw = raw.get("storage_classes") or {}
    if not isinstance(classes_raw, Mapping):
        raise PlatykusError(
            "%s.storage_classes: expected a mapping of storage class to price per GiB-month" % field_name,
            field="%s.storage_classes" % field_name,
        )
    classes = {
        str(name): _price(value, "%s.storage_classes[%s]" % (field_name, name), MAX_STORAGE_GIB_MONTH, "per GiB-month")
        for name, value in classes_raw.items()
    }
    default_class = raw.get("default_storage_class")
    if default_class is not None and default_class not in classes:
        raise PlatykusError(
            "%s.default_storage_class: %r has no price in %s.storage_classes; add it there or change the default"
            % (field_name, default_class, field_name),
            field="%s.default_storage_class" % field_name,
        )
    return classes


def validate_prices(raw: Any, field_name: str = "prices", cpu_ram_weight: Any = None) -> PriceCatalog:
    """Check ``platykus_prices`` and return a :class:`PriceCatalog`.

    ``cpu_ram_weight`` (when not None) overrides the catalog's own weight.
    Raises PlatykusError naming the offending field, e.g. ``prices.instance_types[m5.large].hourly``.
    """
    _check_shape(raw, field_name)
    currency = validate_currency(raw["currency"], "%s.currency" % field_name)
    weight = _catalog_weight(raw, field_name, cpu_ram_weight)
    spot_discount = None
    if raw.get("spot_discount") is not None:
        spot_discount = _discount(raw["spot_discount"], "%s.spot_discount" % field_name)
    instance_types = _instance_types(raw, field_name)
    storage_classes = _storage_classes(raw, field_name)
    lb = None
    if raw.get("loadbalancer_hourly") is not None:
        lb = _price(
            raw["loadbalancer_hourly"], "%s.loadbalancer_hourly" % field_name, MAX_LOADBALANCER_HOURLY, "per hour"
        )
    return PriceCatalog(
        currency=currency,
        cpu_ram_weight=weight,
        spot_discount=spot_discount,
        instance_types=instance_types,
        storage_classes=storage_classes,
        default_storage_class=raw.get("default_storage_class"),
        loadbalancer_hourly=lb,
    )


def split_node_price(hourly: Decimal, cores: Decimal, gib: Decimal, weight: Decimal) -> tuple[Decimal, Decimal]:
    """Split a node's hourly price into (per core-hour, per GiB-hour), as OpenCost does.

    With ``weight`` w = (core-hour price) / (GiB-hour price):
    ``gib_hour = hourly / (w * cores + gib)`` and ``core_hour = w * gib_hour``, so
    ``cores * core_hour + gib * gib_hour == hourly``.
    """
    denominator = weight * cores + gib
    if denominator <= 0:
        return Decimal(0), Decimal(0)
    gib_hour = hourly / denominator
    return weight * gib_hour, gib_hour
