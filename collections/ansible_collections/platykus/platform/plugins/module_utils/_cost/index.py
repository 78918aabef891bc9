# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2 of the allocation: the cluster's objects indexed with their prices, and the price checks.

Nothing is priced at a silent zero: with ``unpriced: fail`` a node, PVC or LoadBalancer that ran in
the window without a price stops the report, naming it and the fix; with ``unpriced: report`` it is
kept with a None price and the ledger lists it as unpriced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import (
    GIB,
    Usage,
    ident,
    metadata,
    object_interval,
    pod_interval,
    pod_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import PriceCatalog, split_node_price
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, Window

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
KARPENTER_CAPACITY_LABEL = "karpenter.sh/capacity-type"
EKS_CAPACITY_LABEL = "eks.amazonaws.com/capacityType"
_OR_REPORT = "(or set unpriced: report to list it as unpriced)"


@dataclass
class Node:
    name: str
    instance_type: str | None
    capacity_type: str
    zone: str | None
    hourly: Decimal | None
    cores: Decimal
    gib: Decimal
    core_price: Decimal
    gib_price: Decimal
    start: datetime
    end: datetime | None
    problem: str | None = None
    fix: str | None = None


@dataclass
class PodRun:
    namespace: str
    name: str
    node: str
    cores: Decimal
    gib: Decimal
    start: datetime
    end: datetime | None


@dataclass
class Volume:
    namespace: str
    name: str
    storage_class: str | None
    gib: Decimal
    price: Decimal | None  # per GiB-month
    start: datetime
    end: datetime | None


@dataclass
class Balancer:
    namespace: str
    name: str
    start: datetime
    end: datetime | None


@dataclass
class PricedCluster:
    """What the ledger charges: nodes (with the pods that ran on each), volumes and load balancers."""

    nodes: list[Node]
    pods_by_node: dict[str, list[PodRun]]
    volumes: list[Volume]
    balancers: list[Balancer]
    loadbalancer_hourly: Decimal | None

    def node_groups(self) -> list[tuple[str, list[PodRun]]]:
        """Every node name with its pods: nodes that ran pods first (gone ones included), then idle ones."""
        idle = [(node.name, []) for node in self.nodes if node.name not in self.pods_by_node]
        return list(self.pods_by_node.items()) + idle


def _is_spot(labels: Mapping[str, str]) -> bool:
    return labels.get(KARPENTER_CAPACITY_LABEL) == "spot" or labels.get(EKS_CAPACITY_LABEL) == "SPOT"


def _node_price(
    name: str, instance_type: str | None, spot: bool, catalog: PriceCatalog
) -> tuple[Decimal | None, str | None, str | None]:
    """``(hourly, problem, fix)``: the price, or why there is none and how to add it."""
    if not instance_type:
        return (
            None,
            "node '%s' has no %s label" % (name, INSTANCE_TYPE_LABEL),
            "label it with its instance type and price that type in platykus_prices.instance_types",
        )
    hourly = catalog.node_hourly(instance_type, spot)
    if hourly is not None:
        return hourly, None, None
    if instance_type not in catalog.instance_types:
        return (
            None,
            "node '%s' has instance type '%s', which has no price" % (name, instance_type),
            "add '%s' to platykus_prices.instance_types" % instance_type,
        )
    return (
        None,
        "node '%s' is a spot node of type '%s' and there is no spot price for it" % (name, instance_type),
        "set platykus_prices.spot_discount or platykus_prices.instance_types['%s'].spot_hourly" % instance_type,
    )


def _size(name: str, status: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """Cores and GiB the node's price is split over: ``status.capacity``, or ``allocatable`` where that is more.

    A real node's allocatable is its capacity less what the kubelet reserves; Karpenter's kwok provider (the lab)
    writes the requests of the pods that made it buy the node as the capacity instead, which would price
    the whole node into those pods' requests.
    """
    sizes = []
    for resource in ("cpu", "memory"):
        values = [
            parse_quantity(where[resource], "Node %s status.%s.%s" % (name, key, resource))
            for key, where in (
                ("capacity", status.get("capacity") or {}),
                ("allocatable", status.get("allocatable") or {}),
            )
            if where.get(resource) is not None
        ]
        if not values:
            raise PlatykusError(
                "Node %s has no status.capacity cpu and memory; is it registered yet?" % name,
                field="nodes[%s].status.capacity" % name,
            )
        sizes.append(max(values))
    return sizes[0], sizes[1] / GIB


def _node(obj: Mapping[str, Any], catalog: PriceCatalog) -> Node:
    meta = metadata(obj)
    name = meta.get("name")
    labels = meta.get("labels") or {}
    cores, gib = _size(name, obj.get("status") or {})
    instance_type = labels.get(INSTANCE_TYPE_LABEL)
    spot = _is_spot(labels)
    start, end = object_interval(obj, "Node")
    hourly, problem, fix = _node_price(name, instance_type, spot, catalog)
    core_price, gib_price = (
        (ZERO, ZERO) if hourly is None else split_node_price(hourly, cores, gib, catalog.cpu_ram_weight)
    )
    return Node(
        name=name,
        instance_type=instance_type,
        capacity_type="spot" if spot else "on-demand",
        zone=labels.get(ZONE_LABEL),
        hourly=hourly,
        cores=cores,
        gib=gib,
        core_price=core_price,
        gib_price=gib_price,
        start=start,
        end=end,
        problem=problem,
        fix=fix,
    )


def _nodes(objects: Iterable[Mapping[str, Any]], catalog: PriceCatalog, window: Window, unpriced: str) -> list[Node]:
    nodes = [_node(obj, catalog) for obj in objects]
    for node in nodes:
        if node.problem and unpriced == "fail" and window.overlaps(node.start, node.end):
            raise PlatykusError(
                "Failed to price the cluster: %s; %s %s" % (node.problem, node.fix, _OR_REPORT),
                field="prices.instance_types",
            )
    return nodes


def _pods_by_node(objects: Iterable[Mapping[str, Any]], usage: Usage) -> dict[str, list[PodRun]]:
    """Pods that ran, each charged max(request, usage)."""
    by_node: dict[str, list[PodRun]] = defaultdict(list)
    for obj in objects:
        interval = pod_interval(obj)
        if interval is None:
            continue
        meta = metadata(obj)
        cores, mem = pod_requests(obj)
        used = usage.get((meta.get("namespace"), meta.get("name"))) or {}
        cores = max(cores, used.get("cpu", ZERO))
        mem = max(mem, used.get("memory", ZERO))
        node = obj["spec"]["nodeName"]
        by_node[node].append(PodRun(meta["namespace"], meta["name"], node, cores, mem / GIB, interval[0], interval[1]))
    return by_node


def _volume(obj: Mapping[str, Any], catalog: PriceCatalog) -> Volume:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    size = (status.get("capacity") or {}).get("storage") or ((spec.get("resources") or {}).get("requests") or {}).get(
        "storage"
    )
    gib = parse_quantity(size, "PersistentVolumeClaim %s status.capacity.storage" % ident(obj)) / GIB
    storage_class = spec.get("storageClassName")
    start, end = object_interval(obj, "PersistentVolumeClaim")
    return Volume(
        metadata(obj)["namespace"], ident(obj), storage_class, gib, catalog.storage_gib_month(storage_class), start, end
    )


def _volumes(
    objects: Iterable[Mapping[str, Any]], catalog: PriceCatalog, window: Window, unpriced: str
) -> list[Volume]:
    """Bound PVCs; an unpriced storage class fails here unless ``unpriced`` is report."""
    volumes = []
    for obj in objects:
        if (obj.get("status") or {}).get("phase") != "Bound":
            continue
        volume = _volume(obj, catalog)
        if volume.price is None and unpriced == "fail" and window.overlaps(volume.start, volume.end):
            raise PlatykusError(
                "Failed to price the cluster: PersistentVolumeClaim %s uses storage class '%s', which has no price; "
                "add it to platykus_prices.storage_classes %s"
                % (volume.name, volume.storage_class or "(default)", _OR_REPORT),
                field="prices.storage_classes",
            )
        volumes.append(volume)
    return volumes


def _balancers(
    objects: Iterable[Mapping[str, Any]], catalog: PriceCatalog, window: Window, unpriced: str
) -> list[Balancer]:
    """``type: LoadBalancer`` Services; a missing LoadBalancer price fails here unless ``unpriced`` is report."""
    balancers = []
    for obj in objects:
        if (obj.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        start, end = object_interval(obj, "Service")
        if catalog.loadbalancer_hourly is None and unpriced == "fail" and window.overlaps(start, end):
            raise PlatykusError(
                "Failed to price the cluster: Service %s is of type LoadBalancer and there is no LoadBalancer price; "
                "set platykus_prices.loadbalancer_hourly %s" % (ident(obj), _OR_REPORT),
                field="prices.loadbalancer_hourly",
            )
        balancers.append(Balancer(metadata(obj)["namespace"], ident(obj), start, end))
    return balancers


def price_cluster(
    *,
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    pvcs: Iterable[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    catalog: PriceCatalog,
    window: Window,
    usage: Usage,
    unpriced: str,
) -> PricedCluster:
    """Index the objects with their prices; fail on the first unpriced one unless ``unpriced`` is report."""
    return PricedCluster(
        nodes=_nodes(nodes, catalog, window, unpriced),
        pods_by_node=_pods_by_node(pods, usage),
        volumes=_volumes(pvcs, catalog, window, unpriced),
        balancers=_balancers(services, catalog, window, unpriced),
        loadbalancer_hourly=catalog.loadbalancer_hourly,
    )
