# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the lab provider's stages (logic in module_utils/_platform/lab_autoscaling.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_nodepools
short_description: Karpenter NodePools (kwok provider) from the lab inventory's node pools
description:
  - Returns the KWOKNodeClass C(platykus-lab) and one NodePool per pool of C(platykus_lab_node_pools),
    with the pool's instance type, zones and capacity type as requirements, its name and labels on
    every node, and a CPU limit (the pool's C(limits.cpu), else as many nodes as it has static ones).
options:
  _input:
    description: The node pools (platykus_lab_node_pools).
    type: list
    elements: dict
    required: true
  consolidate_after:
    description: How long a node stays empty or underused before Karpenter removes it.
    type: str
    default: 30s
  priced:
    description: The instance types of the price catalog; a pool of another type fails.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: NodePools of the lab
  ansible.builtin.set_fact:
    nodepools: "{{ platykus_lab_node_pools | platykus.platform.lab_nodepools(priced=platykus_prices.instance_types | list) }}"
"""

RETURN = r"""
_value:
  description: The KWOKNodeClass, then one NodePool per pool.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.lab_autoscaling import lab_nodepools


def _lab_nodepools(pools, consolidate_after="30s", priced=None):
    try:
        return lab_nodepools(list(pools), consolidate_after, list(priced or ()))
    except (PlatykusError, KeyError, TypeError) as err:
        raise AnsibleFilterError("Failed to make the lab's NodePools: %s" % err) from err


class FilterModule:
    """platykus.platform lab filters."""

    def filters(self):
        return {"lab_nodepools": _lab_nodepools}
