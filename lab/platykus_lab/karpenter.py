"""Karpenter with its kwok cloud provider on the lab: NodeClaims become simulated nodes.

The instance types Karpenter may launch are the upstream AWS examples (kwok/examples/
aws_instance_types.json: cpu, memory, pods, architecture) narrowed to the ones the inventory's
price catalog prices, offered in the zones of the inventory's node pools at the catalog's
on-demand and spot prices. So every node Karpenter adds carries an instance type and capacity
type the usage report can price. NodePools and the KWOKNodeClass are the autoscaling stage's.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

from .config import LAB_DIR, NodePool, inventory_vars, node_pools_from_inventory
from .controllers import Context, Identity, Runner, chart_objects, http_check, register, yaml_objects

sys.path.insert(0, str(LAB_DIR.parent / "collections"))
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import PriceCatalog, validate_prices  # noqa: E402

NAMESPACE = "platykus-system"  # the catalog's namespace for the karpenter release
RELEASE = "karpenter"
CAPACITY_TYPES = ("on-demand", "spot")
# The chart's aggregate-to-admin ClusterRole is left out: Platykus reviews every ClusterRole that
# aggregates into the tenants' roles (catalog aggregate_cluster_roles), and NodePools are the
# platform's, not a tenant's.
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def price_catalog(inventory: Path | None) -> PriceCatalog | None:
    """The inventory's platykus_prices (shared vars/ or its group_vars), validated; None when it has none."""
    if inventory is None:
        return None
    found = inventory_vars(inventory).get("platykus_prices")
    if found is None:
        return None
    value, path = found
    return validate_prices(value, f"{path}: platykus_prices")


def _linux_entries(upstream: list[dict]) -> dict[str, dict]:
    """One upstream entry per instance type: the Linux one (the file also lists Windows)."""
    entries: dict[str, dict] = {}
    for entry in upstream:
        if "linux" in entry.get("operatingSystems", []):
            entries.setdefault(entry["name"], entry)
    return entries


def _offering(zone: str, capacity_type: str, price: Decimal) -> dict:
    return {
        "Price": float(price),
        "Available": True,
        "Requirements": [
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity_type]},
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]},
        ],
    }


def instance_types(upstream: list[dict], pools: tuple[NodePool, ...], prices: PriceCatalog | None) -> list[dict]:
    """Karpenter's instance types file: priced types only, in the pools' zones, both capacity types."""
    zones = sorted({zone for pool in pools for zone in pool.zones})
    wanted = set(prices.instance_types) if prices else {pool.instance_type for pool in pools}
    result = []
    for name, entry in sorted(_linux_entries(upstream).items()):
        if name not in wanted:
            continue
        offerings = []
        for capacity_type in CAPACITY_TYPES:
            price = prices.node_hourly(name, capacity_type == "spot") if prices else Decimal("1")
            offerings += [_offering(zone, capacity_type, price) for zone in zones if price is not None]
        result.append({**entry, "operatingSystems": ["linux"], "offerings": offerings})
    return result


def _prepare(ctx: Context) -> None:
    target = ctx.workdir / "instance_types.json"
    if ctx.inventory is None and target.exists():
        return  # `up` without an inventory keeps the types of the last one given
    upstream = json.loads((ctx.share / "kwok" / "examples" / "aws_instance_types.json").read_text())
    types = instance_types(upstream, node_pools_from_inventory(ctx.inventory), price_catalog(ctx.inventory))
    target.write_text(json.dumps(types, indent=1))


def _objects(ctx: Context) -> list[dict]:
    crds = yaml_objects(ctx.share / "kwok" / "charts" / "crds", ctx.share / "kwok" / "apis" / "crds")
    rbac = chart_objects(ctx.lab, ctx.share / "kwok" / "charts", RELEASE, NAMESPACE, RBAC_KINDS)
    return crds + [
        o for o in rbac if not o["metadata"].get("labels", {}).get("rbac.authorization.k8s.io/aggregate-to-admin")
    ]


def _args(ctx: Context) -> list[str]:
    return [
        f"--instance-types-file-path={ctx.workdir / 'instance_types.json'}",
        f"--metrics-port={ctx.own['metrics']}",
        f"--health-probe-port={ctx.own['health']}",
        "--log-level=info",
    ]


def _env(ctx: Context) -> dict[str, str]:
    # Its kubeconfig comes from KUBECONFIG (controller-runtime); one replica, no leader election.
    return {"KUBECONFIG": str(ctx.kubeconfig), "SYSTEM_NAMESPACE": NAMESPACE, "DISABLE_LEADER_ELECTION": "true"}


KARPENTER = register(
    Runner(
        name="karpenter",
        identity=Identity(NAMESPACE, "karpenter"),
        # The health port first: the one the health check asks.
        ports=("health", "metrics"),
        args=_args,
        env=_env,
        health=http_check("health", "/readyz"),
        objects=_objects,
        prepare=_prepare,
    )
)
