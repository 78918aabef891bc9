# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/cost.md's worked example run through ``allocate``, for every test that needs its report."""

from __future__ import annotations

import copy

from ansible_collections.platykus.platform.plugins.module_utils._prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._usage import allocate
from ansible_collections.platykus.platform.plugins.module_utils._usage_objects import usage_from_pod_metrics
from ansible_collections.platykus.platform.plugins.module_utils._usage_time import make_window


def example_report(example: dict, **overrides) -> dict:
    """The worked example's report (its pod metrics as usage); ``overrides`` replace allocate's arguments."""
    ex = copy.deepcopy(example)
    kwargs = dict(
        nodes=ex["nodes"],
        pods=ex["pods"],
        pvcs=ex["pvcs"],
        services=ex["services"],
        namespaces=ex["namespaces"],
        catalog=validate_prices(ex["prices"]),
        window=make_window(ex["window_start"], ex["window_end"]),
        tenants=ex["tenants"],
        platform_namespaces=ex["platform_namespaces"],
        usage=usage_from_pod_metrics(ex["pod_metrics"]),
    )
    kwargs.update(overrides)
    return allocate(**kwargs)
