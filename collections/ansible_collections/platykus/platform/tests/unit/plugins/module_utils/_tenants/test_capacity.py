# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.capacity import (
    check_capacity,
    node_allocatable,
    requested,
    validate_overcommit,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants


def node(name, cpu="4", memory="16Gi", pods="110", **spec):
    return {
        "metadata": {"name": name},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}},
    }


def tenant_spec(name, plan, environments, overrides=None):
    spec = {"name": name, "owners": {"admin": ["%s-admins" % name]}, "environments": environments, "plan": plan}
    if overrides:
        spec["overrides"] = overrides
    return spec


@pytest.fixture
def two_tenants(plans):
    # acme: 3 namespaces x 8 cores = 24; beta: 2 namespaces x 14 cores = 28 -> 52 cores
    return validate_tenants(
        [
            tenant_spec("acme", "medium", ["dev", "stage", "prod"]),
            tenant_spec("beta", "medium", ["dev", "prod"], {"cpu": "14"}),
        ],
        plans,
    )


def test_requested_sums_every_namespace_per_tenant(two_tenants):
    totals = requested(two_tenants)
    assert totals["cpu"] == {"acme": Decimal(24), "beta": Decimal(28)}
    assert totals["memory"]["acme"] == Decimal(48 * 2**30)
    assert totals["pods"] == {"acme": Decimal(240), "beta": Decimal(160)}


def test_over_capacity_fails_naming_tenants_and_resource(two_tenants):
    nodes = [node("n%d" % i) for i in range(4)]
    with pytest.raises(PlatykusError) as raised:
        check_capacity(two_tenants, nodes, {"cpu": 1.5, "memory": 2}, "fail")
    assert str(raised.value) == (
        "tenants exceed cluster cpu capacity: requested 52 cores (acme 24, beta 28) > "
        "4 nodes × 4 cores × 1.5 = 24; lower plans or raise platykus_tenant_overcommit.cpu"
    )


def test_over_capacity_warns_with_policy_warn(two_tenants):
    nodes = [node("n%d" % i) for i in range(4)]
    report = check_capacity(two_tenants, nodes, {"cpu": 1.5}, "warn")
    assert [f.resource for f in report.exceeded] == ["cpu", "memory"]
    assert len(report.warnings) == 2
    assert "memory capacity: requested 80Gi (acme 48Gi, beta 32Gi) > 4 nodes × 16Gi × 1 = 64Gi" in report.warnings[1]
    pods = report.findings[2]
    assert not pods.exceeded and pods.capacity == Decimal(440)


def test_fits_with_enough_overcommit(two_tenants):
    nodes = [node("n%d" % i, cpu="8", memory="32Gi") for i in range(4)]
    report = check_capacity(two_tenants, nodes, {"cpu": 2}, "fail")
    assert report.warnings == []
    cpu = report.findings[0]
    assert cpu.capacity == Decimal(64) and cpu.requested == Decimal(52)
    assert cpu.to_dict()["by_tenant"] == {"acme": "24 cores", "beta": "28 cores"}


def test_mixed_nodes_are_summed(two_tenants):
    nodes = [node("a", cpu="16"), node("b", cpu="8"), node("c", cpu="2000m")]
    with pytest.raises(PlatykusError, match=r"> 26 cores on 3 nodes × 1 = 26; lower plans"):
        check_capacity(two_tenants, nodes, None, "fail")


@pytest.mark.parametrize(
    "extra",
    [
        {"unschedulable": True},
        {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
        {"taints": [{"key": "maintenance", "effect": "NoExecute"}]},
    ],
)
def test_unschedulable_nodes_do_not_count(extra):
    allocatable = node_allocatable([node("a"), node("b", **extra)])
    assert allocatable["cpu"] == [Decimal(4)]


def test_prefer_no_schedule_taint_still_counts():
    allocatable = node_allocatable([node("a", taints=[{"key": "x", "effect": "PreferNoSchedule"}])])
    assert allocatable["cpu"] == [Decimal(4)]


def test_no_nodes_means_no_capacity(two_tenants):
    with pytest.raises(PlatykusError, match="0 cores on 0 nodes"):
        check_capacity(two_tenants, [], None, "fail")


@pytest.mark.parametrize(
    "overcommit, message",
    [
        ({"gpu": 1}, "overcommit.gpu: unknown resource"),
        ({"cpu": 0}, "overcommit.cpu: 0 must be more than 0"),
        ({"cpu": -1}, "overcommit.cpu: -1 must be more than 0"),
        ({"memory": "lots"}, "overcommit.memory: 'lots' is not a number"),
        ({"memory": True}, "overcommit.memory: True is not a number"),
    ],
)
def test_bad_overcommit(overcommit, message):
    with pytest.raises(PlatykusError) as raised:
        validate_overcommit(overcommit)
    assert message in str(raised.value)


def test_bad_policy(two_tenants):
    with pytest.raises(PlatykusError, match="capacity_policy"):
        check_capacity(two_tenants, [], None, "ignore")
