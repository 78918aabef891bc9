# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-on catalog, requests, quota, prices and app add-ons (no network)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    from_app,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef, factory
from ansible_collections.platykus.platform.plugins.module_utils._addons.quota import Held, check_quota, cost_lines
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

CATALOG = {
    "providers": {"postgresql": "local", "redis": "local"},
    "plans": {
        "postgresql": {
            "standard-0": {"version": "15", "storage": "10Gi", "connections": 20, "monthly": 50},
            "premium-0": {"version": "15", "storage": "50Gi", "ha": True, "monthly": 200},
        },
        "redis": {"mini": {"version": "7.0", "storage": 0, "monthly": 3}},
    },
    "quota": {"small": {"addons": 2, "storage": "25Gi", "monthly": 100}},
}


def request(**changes):
    doc = {"name": "db", "tenant": "acme", "environment": "dev", "type": "postgresql", "plan": "standard-0"}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("inventory", ["lab", "generic"])
def test_inventory_catalogs_are_valid(repo_file, inventory):
    raw = yaml.safe_load(repo_file("inventories/%s/group_vars/all/addons.yml" % inventory).read_text())
    catalog = validate_catalog(raw["platykus_addons"])
    assert catalog.plans["postgresql"] and catalog.quota["small"].addons > 0


def test_catalog_problems_are_listed_at_once_with_their_field():
    raw = copy.deepcopy(CATALOG)
    raw["providers"]["mongodb"] = "local"
    raw["providers"]["redis"] = "cloud"
    raw["plans"]["postgresql"]["standard-0"]["monthly"] = "fifty"
    raw["plans"]["postgresql"]["standard-0"]["storage"] = "ten"
    raw["plans"]["redis"]["mini"]["colour"] = "red"
    raw["quota"]["small"]["addons"] = -1
    with pytest.raises(PlatykusError) as err:
        validate_catalog(raw)
    message = str(err.value)
    for field in (
        "platykus_addons.providers.mongodb: unknown type",
        "platykus_addons.providers.redis: 'cloud' is not a provider",
        "platykus_addons.plans.postgresql.standard-0.monthly",
        "platykus_addons.plans.postgresql.standard-0.storage",
        "platykus_addons.plans.redis.mini.colour: unknown key",
        "platykus_addons.quota.small.addons",
    ):
        assert field in message


def test_requests_problems_name_each_field_and_the_fix():
    catalog = validate_catalog(CATALOG)
    bad = [
        request(name="a", type="mongodb"),
        request(name="b", plan="huge"),
        request(name="c", type="mysql"),
        request(name="Bad_Name"),
        request(name="e", extra=1),
    ]
    with pytest.raises(PlatykusError) as err:
        validate_requests(bad, catalog)
    message = str(err.value)
    assert "addons.acme/a.type: 'mongodb' is not an add-on type; choose one of postgresql, mysql" in message
    assert "addons.acme/b.plan: 'huge' is not a postgresql plan; choose one of premium-0, standard-0" in message
    assert "addons.acme/c.type: 'mysql' add-ons are not offered here; set platykus_addons.providers.mysql" in message
    assert "addons.acme/Bad_Name.name" in message
    assert "addons.acme/e.extra: unknown key" in message


def test_requests_are_unique_per_tenant():
    catalog = validate_catalog(CATALOG)
    with pytest.raises(PlatykusError, match="addons.acme/db.name: is requested twice"):
        validate_requests([request(), request()], catalog)
    assert len(validate_requests([request(), request(tenant="globex")], catalog)) == 2


def test_quota_counts_held_and_requested_and_names_the_field():
    catalog = validate_catalog(CATALOG)
    plans = {"acme": "small"}
    # Fits: 10Gi + 0, 53 a month, 2 add-ons.
    check_quota(validate_requests([request()], catalog), [Held("acme", "cache", "redis", "mini")], plans, catalog)
    with pytest.raises(PlatykusError) as err:
        check_quota(validate_requests([request(plan="premium-0")], catalog), [], plans, catalog)
    assert (
        "addons.acme/db.plan: would give tenant 'acme' (plan small) 50 GiB of add-on storage, over its quota of 25"
        in str(err.value)
    )
    assert "a month, over its quota of 100" in str(err.value)
    held = [Held("acme", "one", "redis", "mini"), Held("acme", "two", "redis", "mini")]
    with pytest.raises(PlatykusError, match=r"addons.acme/db.name: would give tenant 'acme' \(plan small\) 3 add-ons"):
        check_quota(validate_requests([request()], catalog), held, plans, catalog)


def test_a_resize_counts_the_new_plan_only():
    catalog = validate_catalog(CATALOG)
    held = [Held("acme", "db", "postgresql", "standard-0"), Held("acme", "cache", "redis", "mini")]
    check_quota(validate_requests([request()], catalog), held, {"acme": "small"}, catalog)


def test_quota_needs_an_onboarded_namespace_and_a_quota_for_the_plan():
    catalog = validate_catalog(CATALOG)
    with pytest.raises(PlatykusError, match="addons.acme/db.tenant: tenant 'acme' has no onboarded namespace"):
        check_quota(validate_requests([request()], catalog), [], {}, catalog)
    with pytest.raises(PlatykusError, match="add platykus_addons.quota.large"):
        check_quota(validate_requests([request()], catalog), [], {"acme": "large"}, catalog)


def test_cost_lines_are_prorated_from_the_monthly_price():
    catalog = validate_catalog(CATALOG)
    lines = cost_lines(
        [Held("acme", "db", "postgresql", "standard-0"), Held("acme", "x", "postgresql", "gone")], catalog, Decimal(73)
    )
    assert lines == [
        {"tenant": "acme", "addon": "db", "type": "postgresql", "plan": "standard-0", "monthly": "50", "cost": "5.0000"}
    ]


def test_app_addons_become_requests_and_url_variables():
    app = {
        "name": "shop",
        "tenant": "acme",
        "environment": "dev",
        "addons": [{"type": "postgresql", "plan": "standard-0"}, {"type": "redis", "plan": "mini", "as": "CACHE"}],
    }
    requests, env = from_app(app)
    assert env == {"DATABASE_URL": "addon-shop-postgresql", "CACHE_URL": "addon-shop-redis"}
    assert requests[1] == {
        "name": "shop-redis",
        "tenant": "acme",
        "environment": "dev",
        "type": "redis",
        "plan": "mini",
    }


@pytest.mark.parametrize(
    "addons, field",
    [
        ([{"type": "redis", "plan": "mini", "as": "cache-url"}], "addons[0].as"),
        ([{"type": "postgresql", "plan": "x"}, {"type": "mysql", "plan": "y"}], "addons[1].as"),
        ([{"type": "redis", "plan": "mini", "size": 1}], "addons[0].size"),
        ("postgresql", "addons"),
    ],
)
def test_bad_app_addons_are_refused_with_the_field(addons, field):
    with pytest.raises(PlatykusError, match=field.replace("[", r"\[").replace("]", r"\]")):
        from_app({"name": "shop", "tenant": "acme", "environment": "dev", "addons": addons})


def test_ident_is_unique_safe_and_short():
    one = AddonRef("a-b", "c", "redis", "a-b-dev", "mini", {}).ident
    two = AddonRef("a", "b-c", "redis", "a-dev", "mini", {}).ident
    assert one != two
    long = AddonRef("t" * 40, "n" * 40, "redis", "x", "mini", {}).ident
    assert len(long) <= 48 and long.replace("_", "").isalnum() and long == long.lower()


def test_unknown_provider_type_pair_names_the_fix():
    with pytest.raises(PlatykusError, match="provider 'local' does not serve 'bucket' add-ons"):
        factory("local", "bucket")


def test_aws_provider_points_at_its_playbook():
    with pytest.raises(PlatykusError, match="made by playbooks/addon-aws.yml"):
        factory("aws", "postgresql")


def test_an_app_reads_its_addon_urls_from_their_secrets():
    from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog as app_catalog
    from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import RenderOptions, render_app
    from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
    from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG as APPS
    from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import spec

    doc = spec(addons=[{"type": "postgresql", "plan": "standard-0"}, {"type": "redis", "plan": "mini"}])
    app = validate_app(doc, app_catalog(APPS))
    assert app.addon_env == (("DATABASE_URL", "addon-shop-postgresql"), ("REDIS_URL", "addon-shop-redis"))
    web = next(
        o
        for o in render_app(app, RenderOptions(release=1))
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop-web"
    )
    env = web["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {"name": "addon-shop-redis", "key": "url"}}} in env
    with pytest.raises(PlatykusError, match="DATABASE_URL is also in config"):
        validate_app(dict(doc, config={"DATABASE_URL": "x"}), app_catalog(APPS))
