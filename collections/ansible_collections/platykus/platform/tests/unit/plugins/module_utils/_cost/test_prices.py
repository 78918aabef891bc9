# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import (
    DEFAULT_CPU_RAM_WEIGHT,
    split_node_price,
    validate_prices,
)

BASE = {
    "currency": "USD",
    "spot_discount": 0.6,
    "instance_types": {"m5.xlarge": 0.192, "c5.large": {"hourly": 0.085, "spot_hourly": 0.031}},
    "storage_classes": {"gp3": 0.08},
    "loadbalancer_hourly": 0.0225,
}


def with_(path, value):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return raw


def test_valid_catalog_keeps_exact_decimals():
    catalog = validate_prices(BASE)
    assert catalog.currency == "USD"
    assert catalog.cpu_ram_weight == DEFAULT_CPU_RAM_WEIGHT == Decimal("7.46")
    assert catalog.node_hourly("m5.xlarge", spot=False) == Decimal("0.192")
    # spot from the discount: 0.192 x (1 - 0.6) = 0.0768
    assert catalog.node_hourly("m5.xlarge", spot=True) == Decimal("0.0768")
    # an explicit spot price wins over the discount
    assert catalog.node_hourly("c5.large", spot=True) == Decimal("0.031")
    assert catalog.node_hourly("x1.32xlarge", spot=False) is None
    assert catalog.storage_gib_month("gp3") == Decimal("0.08")
    assert catalog.storage_gib_month(None) is None


def test_weight_override_and_no_spot_price():
    catalog = validate_prices({"currency": "eur", "instance_types": {"m5.large": 0.1}}, cpu_ram_weight=8)
    assert catalog.currency == "EUR"
    assert catalog.cpu_ram_weight == 8
    assert catalog.node_hourly("m5.large", spot=True) is None  # no discount, no spot price: unpriced, not zero


@pytest.mark.parametrize(
    "raw, field, words",
    [
        (with_(["instance_types", "m5.xlarge"], -0.192), "prices.instance_types[m5.xlarge].hourly", "negative"),
        (with_(["instance_types", "m5.xlarge"], 1500), "prices.instance_types[m5.xlarge].hourly", "mistake"),
        (with_(["instance_types", "m5.xlarge"], "cheap"), "prices.instance_types[m5.xlarge].hourly", "not a number"),
        (with_(["instance_types", "m5.xlarge"], True), "prices.instance_types[m5.xlarge].hourly", "not a number"),
        (
            with_(["instance_types", "c5.large"], {"hourly": 0.085, "spot_hourly": 0.1}),
            "prices.instance_types[c5.large].spot_hourly",
            "never costs more",
        ),
        (
            with_(["instance_types", "c5.large"], {"spot_hourly": 0.03}),
            "prices.instance_types[c5.large].hourly",
            "missing",
        ),
        (
            with_(["instance_types", "c5.large"], {"hourly": 0.085, "spot": 0.03}),
            "prices.instance_types[c5.large].spot",
            "unknown",
        ),
        (with_(["storage_classes", "gp3"], -1), "prices.storage_classes[gp3]", "negative"),
        (with_(["storage_classes", "gp3"], 500), "prices.storage_classes[gp3]", "mistake"),
        (with_(["loadbalancer_hourly"], 250), "prices.loadbalancer_hourly", "mistake"),
        (with_(["spot_discount"], 1), "prices.spot_discount", "0..<1"),
        (with_(["spot_discount"], -0.1), "prices.spot_discount", "0..<1"),
        (with_(["currency"], "XYZ"), "prices.currency", "not a currency"),
        (with_(["currency"], 840), "prices.currency", "not a currency"),
        (with_(["cpu_ram_weight"], 0), "prices.cpu_ram_weight", "outside"),
        (with_(["default_storage_class"], "io2"), "prices.default_storage_class", "no price"),
        (with_(["instance_type"], {}), "prices.instance_type", "unknown key"),
        ({"instance_types": {}}, "prices.currency", "missing"),
        ("USD", "prices", "expected a mapping"),
    ],
)
def test_bad_catalogs_name_the_field(raw, field, words):
    with pytest.raises(PlatykusError) as err:
        validate_prices(raw)
    assert err.value.field == field
    assert field in str(err.value)
    assert words in str(err.value)


def test_bad_weight_override_names_the_option():
    with pytest.raises(PlatykusError) as err:
        validate_prices(BASE, cpu_ram_weight=-1)
    assert err.value.field == "cpu_ram_weight"


@pytest.mark.parametrize(
    "hourly, cores, gib, weight, core_hour, gib_hour",
    [
        # m5.xlarge, weight 8: GiB-hour = 0.192 / (8 x 4 + 16) = 0.192 / 48 = 0.004; core-hour = 8 x 0.004 = 0.032
        ("0.192", 4, 16, 8, "0.032", "0.004"),
        # c5.large spot 0.034, weight 8: GiB-hour = 0.034 / (8 x 2 + 4) = 0.0017; core-hour = 0.0136
        ("0.034", 2, 4, 8, "0.0136", "0.0017"),
        # weight 1 (a core costs a GiB): 0.30 / (1 x 2 + 4) = 0.05 each
        ("0.30", 2, 4, 1, "0.05", "0.05"),
    ],
)
def test_split_node_price(hourly, cores, gib, weight, core_hour, gib_hour):
    core, mem = split_node_price(Decimal(hourly), Decimal(cores), Decimal(gib), Decimal(weight))
    assert (core, mem) == (Decimal(core_hour), Decimal(gib_hour))
    assert core * cores + mem * gib == Decimal(hourly)


def test_shipped_catalog_is_valid(repo_file):
    """The one price catalog every inventory shares (vars/prices.yml)."""
    data = yaml.safe_load(repo_file("vars/prices.yml").read_text())
    catalog = validate_prices(data["platykus_prices"], "platykus_prices")
    assert catalog.node_hourly("m5.xlarge", spot=False) == Decimal("0.192")
    assert catalog.storage_gib_month("gp3") == Decimal("0.08")
