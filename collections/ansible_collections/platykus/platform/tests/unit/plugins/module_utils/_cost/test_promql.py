# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost history's queries and step: profiles, overrides and steps checked, naming the field."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.promql import (
    METRIC_PROFILES,
    history_queries,
    parse_step,
)


@pytest.mark.parametrize("step, seconds", [("60s", 60), ("5m", 300), ("1h", 3600), ("10", 10)])
def test_steps(step, seconds):
    assert parse_step(step) == seconds


@pytest.mark.parametrize("step", ["7m", "0s", "1d", "", None, "abc"])
def test_bad_steps_name_the_field(step):
    with pytest.raises(PlatykusError, match="prometheus_step: .* divid"):
        parse_step(step)


def test_profiles_have_every_query_and_overrides_are_checked():
    for profile in METRIC_PROFILES:
        assert set(history_queries(profile, None, 60)) == {
            "nodes",
            "node_capacity",
            "pod_requests",
            "pod_cpu_usage",
            "pod_memory_usage",
            "volumes",
            "loadbalancers",
            "addon_labels",
            "addon_annotations",
        }
    assert "[300s]" in history_queries("scheduler", None, 300)["pod_cpu_usage"]
    with pytest.raises(PlatykusError, match="prometheus_queries.pods: not a query"):
        history_queries("scheduler", {"pods": "up"}, 60)
    with pytest.raises(PlatykusError, match="prometheus_metrics: 'ksm' is not one of"):
        history_queries("ksm", None, 60)
