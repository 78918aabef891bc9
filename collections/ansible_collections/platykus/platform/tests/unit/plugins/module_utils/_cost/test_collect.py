# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import usage_report


class FakeClient:
    """Serves the worked example's objects; records every list call."""

    def __init__(self, example):
        self.calls = []
        self.objects = {
            "Node": example["nodes"],
            "Pod": example["pods"],
            "PersistentVolumeClaim": example["pvcs"],
            "Service": example["services"],
            "Namespace": example["namespaces"],
            "PodMetrics": example["pod_metrics"],
        }

    def list_all(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append((api_version, kind, namespace))
        return list(self.objects[kind])


def params(example, **extra):
    base = dict(
        prices=example["prices"],
        tenants=example["tenants"],
        platform_namespaces=example["platform_namespaces"],
        window_start=example["window_start"],
        window_end=example["window_end"],
        month_to_date=True,
        now=None,
        cpu_ram_weight=None,
        idle="separate",
        platform="separate",
        unpriced="fail",
        usage_source="none",
        prometheus_url=None,
        thresholds=None,
    )
    base.update(extra)
    return base


def test_lists_each_kind_once_cluster_wide(cost_example):
    client = FakeClient(cost_example)
    report = usage_report(params(cost_example, usage_source="metrics"), lambda: client)
    kinds = [call[1] for call in client.calls]
    assert sorted(kinds) == sorted(["Node", "Pod", "PersistentVolumeClaim", "Service", "Namespace", "PodMetrics"])
    assert all(call[2] is None for call in client.calls)
    # the worked example with metrics: globex 1.0906 (docs/cost.md)
    assert {t["name"]: t["cost"]["total"] for t in report["tenants"]} == {"acme": 1.2384, "globex": 1.0906}


def test_prometheus_usage(cost_example):
    seen = []

    def fetch(url):
        seen.append(url)
        query = parse_qs(urlparse(url).query)
        assert query["time"] == ["1718042400"]  # 2024-06-10T18:00:00Z
        value = "0.5" if "cpu" in query["query"][0] else str(512 * 2**20)
        return json.dumps(
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"namespace": "globex-dev", "pod": "api-1"}, "value": [1718042400, value]}],
                },
            }
        ).encode()

    report = usage_report(
        params(cost_example, usage_source="prometheus", prometheus_url="http://prom:9090/"),
        lambda: FakeClient(cost_example),
        fetch=fetch,
    )
    assert len(seen) == 2 and all(url.startswith("http://prom:9090/api/v1/query?") for url in seen)
    assert "%5B36000s%5D" in seen[0]  # [36000s]: the 10-hour window
    assert {t["name"]: t["cost"]["total"] for t in report["tenants"]}["globex"] == 1.0906


def test_prometheus_needs_a_url(cost_example):
    with pytest.raises(PlatykusError) as err:
        usage_report(params(cost_example, usage_source="prometheus"), lambda: FakeClient(cost_example))
    assert err.value.field == "prometheus_url"


def test_history_source_reads_prometheus_not_pods_and_nodes(cost_example):
    client = FakeClient(cost_example)
    asked = []

    def fetch(url):
        query = parse_qs(urlparse(url).query)
        asked.append((query["query"][0], query["step"][0]))
        return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()

    report = usage_report(
        params(cost_example, source="prometheus", prometheus_url="http://prom:9090", prometheus_step="5m"),
        lambda: client,
        fetch=fetch,
    )
    assert "Pod" not in [c[1] for c in client.calls] and "Node" not in [c[1] for c in client.calls]
    assert {step for _q, step in asked} == {"300s"}
    assert any("kube_pod_resource_request" in q for q, _s in asked)
    assert report["options"]["source"] == "prometheus" and report["options"]["prometheus_step"] == 300


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"source": "prometheus"}, "prometheus_url: required when source is prometheus"),
        ({"source": "prometheus", "prometheus_url": "http://p", "prometheus_step": "7m"}, "prometheus_step: '7m'"),
        ({"source": "history"}, "source: 'history' is not one of objects, prometheus"),
        ({"aws_costs": {"enabled": True, "metric": "Cost"}}, "aws_costs.metric: 'Cost' is not one of"),
    ],
)
def test_history_and_aws_inputs_refused_before_connecting(cost_example, extra, words):
    def connect():
        raise AssertionError("connected")

    with pytest.raises(PlatykusError, match=words):
        usage_report(params(cost_example, **extra), connect)
