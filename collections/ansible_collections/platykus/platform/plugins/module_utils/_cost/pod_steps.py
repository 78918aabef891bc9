# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost history's pods: each step a pod has a request sample it pays max(request, usage) on its
node, summed per UTC day into one PodRun per pod and node (see _cost.history)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from ansible_collections.platykus.platform.plugins.module_utils._cost.grid import (
    US,
    Grid,
    Samples,
    Series,
    from_micros,
    to_micros,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import PodRun
from ansible_collections.platykus.platform.plugins.module_utils._cost.objects import GIB

# {(namespace, pod): {node: [microseconds, core-microseconds, byte-microseconds, first step]}}
Totals = dict
_SLOT = {"cpu": 1, "memory": 2}


_NONE = Series([], [])


def _steps(requests: list[tuple[str, int, Series]]) -> dict[int, list]:
    """A pod's steps: ``{t: [node, cores, bytes]}``, the node of its first request series at ``t``,
    the cpu and memory requests added over its series."""
    steps: dict[int, list] = {}
    for node, slot, series in requests:
        for t, x in zip(series.ts, series.xs):
            entry = steps.get(t)
            if entry is None:
                steps[t] = [node, x, 0.0] if slot == 1 else [node, 0.0, x]
            else:
                entry[slot] += x
    return steps


def _charge_steps(requests: list, used_cpu: Series, used_memory: Series, grid: Grid, mine: dict) -> None:
    """Any pod, step by step: max(request, usage) times the part of the window each step stands for."""
    cpu, memory = used_cpu.points(), used_memory.points()
    for t, (node, cores, size) in _steps(requests).items():
        piece = grid.piece(t)
        if piece <= 0:
            continue
        cores = max(cores, cpu.get(t, cores))
        size = max(size, memory.get(t, size))
        total = mine.setdefault(node, [0, 0.0, 0.0, t])
        total[0] += piece
        total[1] += cores * piece
        total[2] += size * piece
        if t < total[3]:
            total[3] = t


def _charge_aligned(requests: list, used_cpu: Series, used_memory: Series, grid: Grid, mine: dict) -> bool:
    """The usual pod, in C loops: one node, a cpu and a memory request series and its usage series all on
    the same steps, every step whole. False (nothing charged) when the pod is not like that."""
    if len(requests) != 2 or requests[0][0] != requests[1][0] or requests[0][1] == requests[1][1]:
        return False
    by_slot = {slot: series for _node, slot, series in requests}
    cpu, memory = by_slot[1], by_slot[2]
    ts = cpu.ts
    lo, hi = grid.whole
    if not ts or ts[0] < lo or ts[-1] > hi or memory.ts != ts:
        return False
    if used_cpu.ts not in (ts, []) or used_memory.ts not in (ts, []):
        return False
    full = grid.step * US
    cores = sum(map(max, cpu.xs, used_cpu.xs)) if used_cpu.ts else sum(cpu.xs)
    size = sum(map(max, memory.xs, used_memory.xs)) if used_memory.ts else sum(memory.xs)
    total = mine.setdefault(requests[0][0], [0, 0.0, 0.0, ts[0]])
    total[0] += len(ts) * full
    total[1] += cores * full
    total[2] += size * full
    total[3] = min(total[3], ts[0])
    return True


def step_totals(requests: Samples, cpu: Samples, memory: Samples, grid: Grid, totals: Totals | None = None) -> Totals:
    """Each step a pod has a request sample it pays max(request, usage) on its node for the part of
    the window the step stands for (the whole step but at a cut end of the window)."""
    totals = defaultdict(dict) if totals is None else totals
    pods: dict[tuple[str, str], list[tuple[str, int, Series]]] = {}
    for (namespace, pod, node, resource), series in requests.items():
        slot = _SLOT.get(resource)
        if slot is not None and series.ts:
            pods.setdefault((namespace, pod), []).append((node, slot, series))
    for key, mine in pods.items():
        used_cpu, used_memory = cpu.get(key, _NONE), memory.get(key, _NONE)
        if not _charge_aligned(mine, used_cpu, used_memory, grid, totals[key]):
            _charge_steps(mine, used_cpu, used_memory, grid, totals[key])
    return totals


def runs_of(totals: Totals, day_start: datetime) -> dict[str, list[PodRun]]:
    """One PodRun per pod and node: the day's time-weighted cores and GiB, as long as it ran, from its
    first step (so the ledger knows when it was on the node; a gap between its steps is put at the end)."""
    runs: dict[str, list[PodRun]] = defaultdict(list)
    day_us = to_micros(day_start)
    for (namespace, pod), nodes in totals.items():
        for node, (micros, core_us, byte_us, first) in nodes.items():
            if micros <= 0:
                continue
            start = day_start if first * US <= day_us else from_micros(first * US)
            end = start + timedelta(microseconds=micros)
            cores, gib = Decimal(core_us) / micros, Decimal(byte_us) / micros / GIB
            runs[node].append(PodRun(namespace, pod, node, cores, gib, start, end))
    return runs


def pod_runs(
    requests: Samples, cpu: Samples, memory: Samples, grid: Grid, day_start: datetime
) -> dict[str, list[PodRun]]:
    """One day's pods from their samples."""
    return runs_of(step_totals(requests, cpu, memory, grid), day_start)
