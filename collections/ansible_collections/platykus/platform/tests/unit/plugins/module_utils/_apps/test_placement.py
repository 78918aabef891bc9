# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import RenderOptions, render_app
from ansible_collections.platykus.platform.plugins.module_utils._apps.placement import from_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import (
    CATALOG,
    TENANT_DOMAINS,
    spec,
)

PLACEMENT = {
    "node_selector": {"platykus.io/node-kind": "real"},
    "tolerations": [{"key": "platykus.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
}


def pod_specs(objects):
    """Every pod spec the app renders: Deployments, the release Job, CronJobs."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            yield obj["kind"], obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield obj["kind"], obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def render(catalog):
    app = validate_app(spec(), validate_catalog(catalog), TENANT_DOMAINS)
    return render_app(app, RenderOptions(release=1, placement=from_catalog(catalog)))


def test_every_pod_of_the_app_carries_the_catalogs_placement():
    pods = list(pod_specs(render({**CATALOG, "placement": PLACEMENT})))
    assert {kind for kind, _pod in pods} == {"Deployment", "Job", "CronJob"}
    for _kind, pod in pods:
        assert pod["nodeSelector"] == {"platykus.io/node-kind": "real"}
        assert pod["tolerations"] == [{"key": "platykus.io/real-node", "operator": "Exists", "effect": "NoSchedule"}]


def test_without_placement_pods_say_nothing_of_nodes():
    for _kind, pod in pod_specs(render(CATALOG)):
        assert "nodeSelector" not in pod and "tolerations" not in pod


@pytest.mark.parametrize(
    ("placement", "field", "fix"),
    [
        ("real", "catalog.placement", "{node_selector:"),
        ({"nodes": {}}, "catalog.placement.nodes", "allowed keys are node_selector, tolerations"),
        ({"node_selector": {"bad key!": "x"}}, "catalog.placement.node_selector.bad key!", "label key"),
        ({"node_selector": {"kind": True}}, "catalog.placement.node_selector.kind", "quote it"),
        ({"tolerations": {"key": "x"}}, "catalog.placement.tolerations", "is not a list"),
        (
            {"tolerations": [{"key": "x", "operator": "In"}]},
            "catalog.placement.tolerations[0].operator",
            "Equal, Exists",
        ),
        ({"tolerations": [{"key": "x", "effect": "Never"}]}, "catalog.placement.tolerations[0].effect", "NoSchedule"),
        ({"tolerations": [{"value": "x"}]}, "catalog.placement.tolerations[0].key", "is required"),
        (
            {"tolerations": [{"key": "x", "operator": "Exists", "value": "y"}]},
            "catalog.placement.tolerations[0].value",
            "left out",
        ),
        ({"tolerations": [{"key": "x", "seconds": 3}]}, "catalog.placement.tolerations[0].seconds", "allowed keys"),
    ],
)
def test_a_bad_placement_is_refused_naming_the_field(placement, field, fix):
    with pytest.raises(PlatykusError) as err:
        validate_catalog({**CATALOG, "placement": placement})
    assert err.value.field == field and fix in str(err.value)
