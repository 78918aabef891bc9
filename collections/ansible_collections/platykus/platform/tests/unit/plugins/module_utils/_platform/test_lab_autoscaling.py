"""NodePools for the lab from the inventory's node pools."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.lab_autoscaling import (
    NODE_CLASS,
    lab_nodepools,
)

POOLS = [
    {
        "name": "general",
        "count": 3,
        "instance_type": "m5.xlarge",
        "zones": ["us-east-1a", "us-east-1b"],
        "capacity": {"cpu": "4", "memory": "16Gi"},
    },
    {
        "name": "spot",
        "count": 0,
        "instance_type": "m5.2xlarge",
        "zones": ["us-east-1a"],
        "capacity": {"cpu": "7500m", "memory": "32Gi"},
        "capacity_type": "spot",
        "labels": {"team": "batch"},
    },
]


def test_one_nodepool_per_pool_after_the_node_class():
    objects = lab_nodepools(POOLS, "0s", ["m5.xlarge", "m5.2xlarge"])
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("KWOKNodeClass", NODE_CLASS),
        ("NodePool", "general"),
        ("NodePool", "spot"),
    ]
    general, spot = objects[1]["spec"], objects[2]["spec"]
    requirements = {r["key"]: r["values"] for r in general["template"]["spec"]["requirements"]}
    assert requirements == {
        "node.kubernetes.io/instance-type": ["m5.xlarge"],
        "topology.kubernetes.io/zone": ["us-east-1a", "us-east-1b"],
        "karpenter.sh/capacity-type": ["on-demand"],
    }
    assert general["template"]["spec"]["nodeClassRef"]["name"] == NODE_CLASS
    assert general["limits"] == {"cpu": "12"} and general["disruption"]["consolidateAfter"] == "0s"
    assert spot["limits"] == {"cpu": "7500m"}
    assert spot["template"]["metadata"]["labels"] == {"platykus.io/node-pool": "spot", "team": "batch"}
    assert {r["key"]: r["values"] for r in spot["template"]["spec"]["requirements"]}["karpenter.sh/capacity-type"] == [
        "spot"
    ]


def test_a_pool_limit_wins():
    pool = dict(POOLS[0], limits={"cpu": "40"})
    assert lab_nodepools([pool])[1]["spec"]["limits"] == {"cpu": "40"}


def test_an_unpriced_type_fails_naming_the_pool():
    with pytest.raises(
        PlatykusError, match=r"platykus_lab_node_pools\[1\].instance_type: 'm5.2xlarge' is not in the price catalog"
    ):
        lab_nodepools(POOLS, priced=["m5.xlarge"])
