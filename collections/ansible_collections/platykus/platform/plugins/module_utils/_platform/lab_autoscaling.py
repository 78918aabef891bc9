# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karpenter NodePools for the lab, from the inventory's node pools (platykus_lab_node_pools).

The lab runs Karpenter with its kwok cloud provider (lab/platykus_lab/karpenter.py): a NodePool per
inventory pool lets it add nodes of that pool's instance type, zones and capacity type, labelled
as the pool's static nodes are, so the usage report prices them like the rest. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE

NODE_CLASS = "platykus-lab"
NODE_POOL_LABEL = "platykus.io/node-pool"


def _millicores(value: Any, where: str) -> int:
    text = str(value)
    try:
        return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)
    except ValueError as err:
        raise PlatykusError(
            "%s: %r is not a CPU quantity; write it like 4 or 500m" % (where, value), field=where
        ) from err


def _limit(pool: Mapping[str, Any], where: str) -> str:
    """Karpenter may add as many nodes as the pool has static ones (at least one): a CPU limit."""
    if pool.get("limits", {}).get("cpu") is not None:
        return str(pool["limits"]["cpu"])
    millis = _millicores(pool["capacity"]["cpu"], "%s.capacity.cpu" % where) * max(int(pool.get("count", 1)), 1)
    return "%dm" % millis if millis % 1000 else str(millis // 1000)


def nodepool(pool: Mapping[str, Any], where: str, consolidate_after: str, priced: Sequence[str]) -> dict:
    """One NodePool: the pool's instance type, zones and capacity type; its labels on every node."""
    if priced and pool["instance_type"] not in priced:
        raise PlatykusError(
            "%s.instance_type: %r is not in the price catalog (platykus_prices.instance_types); "
            "Karpenter's nodes must be priceable: add its price or pick a listed type" % (where, pool["instance_type"]),
            field="%s.instance_type" % where,
        )
    labels = {NODE_POOL_LABEL: pool["name"], **{str(k): str(v) for k, v in (pool.get("labels") or {}).items()}}
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool["name"], "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": NODE_CLASS},
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": [pool["instance_type"]],
                        },
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(pool["zones"])},
                        {
                            "key": "karpenter.sh/capacity-type",
                            "operator": "In",
                            "values": [pool.get("capacity_type", "on-demand")],
                        },
                    ],
                    "expireAfter": "Never",
                },
            },
            "limits": {"cpu": _limit(pool, where)},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": consolidate_after},
        },
    }


def lab_nodepools(
    pools: Sequence[Mapping[str, Any]], consolidate_after: str = "30s", priced: Sequence[str] = ()
) -> list[dict]:
    """The KWOKNodeClass and one NodePool per inventory pool (the lab validated the pools at `up`)."""
    node_class = {
        "apiVersion": "karpenter.kwok.sh/v1alpha1",
        "kind": "KWOKNodeClass",
        "metadata": {"name": NODE_CLASS, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
    }
    where = "platykus_lab_node_pools"
    return [node_class] + [
        nodepool(pool, "%s[%d]" % (where, index), consolidate_after, priced) for index, pool in enumerate(pools)
    ]
