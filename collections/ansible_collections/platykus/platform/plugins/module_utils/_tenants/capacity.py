# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Do the tenants' quotas fit the cluster?

The sum of every tenant namespace's quota (requests.cpu, requests.memory, pods) is compared
with the schedulable nodes' allocatable capacity times an overcommit ratio per resource.
Schedulable nodes are those not cordoned and without a NoSchedule/NoExecute taint (control-plane
nodes, for example): tenant pods do not land there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import Tenant

RESOURCES = ("cpu", "memory", "pods")
DEFAULT_OVERCOMMIT = {"cpu": Decimal(1), "memory": Decimal(1), "pods": Decimal(1)}
POLICIES = ("fail", "warn")
OVERCOMMIT_SETTING = "platykus_tenant_overcommit"
_GI = Decimal(2**30)


@dataclass(frozen=True)
class CapacityFinding:
    """One resource: what the tenants request against what the cluster offers."""

    resource: str
    requested: Decimal
    by_tenant: dict[str, Decimal]
    allocatable: Decimal
    per_node: Decimal | None  # set when every schedulable node offers the same amount
    nodes: int
    ratio: Decimal
    exceeded: bool
    message: str

    @property
    def capacity(self) -> Decimal:
        return self.allocatable * self.ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "requested": human(self.resource, self.requested),
            "capacity": human(self.resource, self.capacity),
            "allocatable": human(self.resource, self.allocatable),
            "nodes": self.nodes,
            "overcommit": float(self.ratio),
            "by_tenant": {name: human(self.resource, value) for name, value in self.by_tenant.items()},
            "exceeded": self.exceeded,
            "message": self.message,
        }


@dataclass(frozen=True)
class CapacityReport:
    findings: list[CapacityFinding]
    warnings: list[str]

    @property
    def exceeded(self) -> list[CapacityFinding]:
        return [finding for finding in self.findings if finding.exceeded]


def _number(value: Decimal) -> str:
    value = value.quantize(Decimal("0.01")).normalize()
    return f"{value:f}"


def human(resource: str, value: Decimal) -> str:
    """``24 cores``, ``96Gi``, ``440 pods``: how messages show an amount."""
    if resource == "cpu":
        return "%s cores" % _number(value)
    if resource == "memory":
        return "%sGi" % _number(value / _GI)
    return "%s pods" % _number(value)


def _bare(resource: str, value: Decimal) -> str:
    return human(resource, value).replace(" cores", "").replace(" pods", "")


def validate_overcommit(overcommit: Mapping | None) -> dict[str, Decimal]:
    """Ratios per resource (cpu, memory, pods), defaulting to 1.0; each must be a number > 0."""
    ratios = dict(DEFAULT_OVERCOMMIT)
    for key, raw in (overcommit or {}).items():
        path = "overcommit.%s" % key
        if key not in RESOURCES:
            raise PlatykusError("%s: unknown resource; overcommit takes %s" % (path, ", ".join(RESOURCES)), field=path)
        try:
            if isinstance(raw, bool):
                raise ValueError(raw)
            ratio = Decimal(str(raw))
        except (ArithmeticError, ValueError) as err:
            raise PlatykusError("%s: %r is not a number; write a ratio like 1.5" % (path, raw), field=path) from err
        if not ratio.is_finite() or ratio <= 0:
            raise PlatykusError("%s: %r must be more than 0; write a ratio like 1.5" % (path, raw), field=path)
        ratios[key] = ratio
    return ratios


def schedulable(node: Mapping) -> bool:
    """Tenant pods can land on the node: not cordoned, no NoSchedule/NoExecute taint."""
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    return not any(taint.get("effect") in ("NoSchedule", "NoExecute") for taint in spec.get("taints") or [])


def node_allocatable(nodes: Iterable[Mapping]) -> dict[str, list[Decimal]]:
    """``{resource: [allocatable of each schedulable node]}`` from the Nodes' status.allocatable."""
    result: dict[str, list[Decimal]] = {resource: [] for resource in RESOURCES}
    for node in nodes:
        if not schedulable(node):
            continue
        name = (node.get("metadata") or {}).get("name", "?")
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        for resource in RESOURCES:
            raw = allocatable.get(resource, "0")
            result[resource].append(parse_quantity(raw, "node %s status.allocatable.%s" % (name, resource)))
    return result


def requested(tenants: Iterable[Tenant]) -> dict[str, dict[str, Decimal]]:
    """``{resource: {tenant: sum over its namespaces}}`` of requests.cpu, requests.memory and pods."""
    totals: dict[str, dict[str, Decimal]] = {resource: {} for resource in RESOURCES}
    for tenant in tenants:
        for resource in RESOURCES:
            totals[resource][tenant.name] = sum(
                (Decimal(getattr(env.quota, resource)) for env in tenant.environments), Decimal(0)
            )
    return totals


def check_capacity(
    tenants: Iterable[Tenant],
    nodes: Iterable[Mapping],
    overcommit: Mapping | None = None,
    policy: str = "fail",
    setting: str = OVERCOMMIT_SETTING,
) -> CapacityReport:
    """Compare the tenants' summed quotas with the schedulable nodes' allocatable x overcommit.

    With ``policy="fail"`` an excess raises PlatykusError naming the resource and the tenants;
    with ``"warn"`` it is returned in ``warnings``. ``setting`` names the overcommit variable in hints.
    """
    if policy not in POLICIES:
        raise PlatykusError(
            "capacity_policy: %r is not one of %s" % (policy, ", ".join(POLICIES)), field="capacity_policy"
        )
    ratios = validate_overcommit(overcommit)
    tenants = list(tenants)
    per_node = node_allocatable(nodes)
    totals = requested(tenants)
    findings: list[CapacityFinding] = []
    for resource in RESOURCES:
        by_tenant = {name: value for name, value in totals[resource].items() if value}
        wanted = sum(by_tenant.values(), Decimal(0))
        amounts = per_node[resource]
        allocatable = sum(amounts, Decimal(0))
        uniform = amounts[0] if amounts and all(amount == amounts[0] for amount in amounts) else None
        capacity = allocatable * ratios[resource]
        exceeded = wanted > capacity
        if uniform is not None:
            offered = "%d nodes × %s × %s = %s" % (
                len(amounts),
                human(resource, uniform),
                _number(ratios[resource]),
                _bare(resource, capacity),
            )
        else:
            offered = "%s on %d nodes × %s = %s" % (
                human(resource, allocatable),
                len(amounts),
                _number(ratios[resource]),
                _bare(resource, capacity),
            )
        shares = ", ".join("%s %s" % (name, _bare(resource, value)) for name, value in sorted(by_tenant.items()))
        if exceeded:
            message = "tenants exceed cluster %s capacity: requested %s (%s) > %s; lower plans or raise %s.%s" % (
                resource,
                human(resource, wanted),
                shares or "none",
                offered,
                setting,
                resource,
            )
        else:
            message = "tenants fit cluster %s capacity: requested %s <= %s" % (
                resource,
                human(resource, wanted),
                offered,
            )
        findings.append(
            CapacityFinding(
                resource=resource,
                requested=wanted,
                by_tenant=dict(sorted(by_tenant.items())),
                allocatable=allocatable,
                per_node=uniform,
                nodes=len(amounts),
                ratio=ratios[resource],
                exceeded=exceeded,
                message=message,
            )
        )
    excess = [finding.message for finding in findings if finding.exceeded]
    if excess and policy == "fail":
        raise PlatykusError("; ".join(excess), field="capacity")
    return CapacityReport(findings=findings, warnings=excess)
