# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._usage_collect import usage_report


def _repo_file(relative):
    """A file of the Platykus repository (outside the collection); skip when the collection runs on its own (ansible-test)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / relative).is_file():
            return parent / relative
    pytest.skip("%s is outside the collection; run pytest from the repository" % relative)


@pytest.fixture(scope="module", autouse=True)
def _example():
    global EXAMPLE
    EXAMPLE = yaml.safe_load(_repo_file("docs/examples/cost-worked-example.yml").read_text())


EXAMPLE: dict = {}


class FakeClient:
    """Serves the worked example's objects; records every list call."""

    def __init__(self):
        self.calls = []
        self.objects = {"Node": EXAMPLE["nodes"], "Pod": EXAMPLE["pods"], "PersistentVolumeClaim": EXAMPLE["pvcs"],
                        "Service": EXAMPLE["services"], "Namespace": EXAMPLE["namespaces"],
                        "PodMetrics": EXAMPLE["pod_metrics"]}

    def iter_list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None, page_size=500):
        self.calls.append((api_version, kind, namespace))
        return iter(self.objects[kind])


def params(**extra):
    base = dict(prices=EXAMPLE["prices"], tenants=EXAMPLE["tenants"], platform_namespaces=EXAMPLE["platform_namespaces"],
                window_start=EXAMPLE["window_start"], window_end=EXAMPLE["window_end"], month_to_date=True, now=None,
                cpu_ram_weight=None, idle="separate", platform="separate", unpriced="fail", usage_source="none",
                prometheus_url=None, thresholds=None)
    base.update(extra)
    return base


def test_lists_each_kind_once_cluster_wide():
    client = FakeClient()
    report = usage_report(client, params(usage_source="metrics"))
    kinds = [call[1] for call in client.calls]
    assert sorted(kinds) == sorted(["Node", "Pod", "PersistentVolumeClaim", "Service", "Namespace", "PodMetrics"])
    assert all(call[2] is None for call in client.calls)
    # the worked example with metrics: globex 0.785 (docs/cost.md)
    assert {t["name"]: t["cost"]["total"] for t in report["tenants"]} == {"acme": 0.611, "globex": 0.785}


def test_prometheus_usage():
    seen = []

    def fetch(url):
        seen.append(url)
        query = parse_qs(urlparse(url).query)
        assert query["time"] == ["1718042400"]  # 2024-06-10T18:00:00Z
        value = "0.5" if "cpu" in query["query"][0] else str(512 * 2**20)
        return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"namespace": "globex-dev", "pod": "api-1"}, "value": [1718042400, value]}]}}).encode()

    report = usage_report(FakeClient(), params(usage_source="prometheus", prometheus_url="http://prom:9090/"), fetch=fetch)
    assert len(seen) == 2 and all(url.startswith("http://prom:9090/api/v1/query?") for url in seen)
    assert "%5B36000s%5D" in seen[0]  # [36000s]: the 10-hour window
    assert {t["name"]: t["cost"]["total"] for t in report["tenants"]}["globex"] == 0.785


def test_prometheus_needs_a_url():
    with pytest.raises(PlatykusError) as err:
        usage_report(FakeClient(), params(usage_source="prometheus"))
    assert err.value.field == "prometheus_url"
