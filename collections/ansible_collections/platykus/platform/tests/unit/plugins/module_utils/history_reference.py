# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost history's previous pod reading (a Decimal per sample), kept to compare the current one with
(the unit tests on built answers, the integration test on a real Prometheus).

Since the ledger charges a node's unrequested capacity to the tenants whose pods ran on it *when* they ran, it
also gives each pod's first step on the node (the current reading starts the pod's day there)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import GIB


def reference_runs(requests, cpu, memory, grid):
    """Per node, (pod key, microseconds, mean cores, mean GiB, first step) of each pod's steps, step by step in Decimal."""
    present = defaultdict(dict)
    for (namespace, pod, node, resource), points in requests.items():
        slot = 1 if resource == "cpu" else 2 if resource == "memory" else 0
        if not slot:
            continue
        for t, value in points.items():
            present[(namespace, pod)].setdefault(t, [node, Decimal(0), Decimal(0)])[slot] += value
    runs = defaultdict(list)
    for key, steps in present.items():
        totals = {}
        for t, (node, cores, size) in steps.items():
            piece = grid.piece(t)
            if piece <= 0:
                continue
            cores = max(cores, cpu.get(key, {}).get(t, Decimal(0)))
            size = max(size, memory.get(key, {}).get(t, Decimal(0)))
            total = totals.setdefault(node, [0, Decimal(0), Decimal(0), t])
            total[0] += piece
            total[1] += cores * piece
            total[2] += size * piece
            total[3] = min(total[3], t)
        for node, (micros, core_us, byte_us, first) in totals.items():
            runs[node].append((key, micros, core_us / micros, byte_us / micros / GIB, first))
    return runs
