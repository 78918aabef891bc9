# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import csv
import io
import json
from xml.etree import ElementTree

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.filter.report import FilterModule
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.cost_fixtures import example_report

FILTERS = FilterModule().filters()


@pytest.fixture(scope="module")
def report(cost_example_data):
    return example_report(cost_example_data)


def test_filters_are_registered():
    assert set(FILTERS) == {"report_json", "report_csv", "report_markdown", "report_html"}


def test_json_round_trips(report):
    assert json.loads(FILTERS["report_json"](report)) == report


def test_csv(report):
    rows = list(csv.DictReader(io.StringIO(FILTERS["report_csv"](report))))
    lines = {(r["line"], r["name"]): r for r in rows}
    assert lines[("tenant", "acme")]["total"] == "1.2384"  # with its nodes' unrequested capacity, 0.6274
    assert lines[("tenant", "acme")]["status"] == "warning"
    assert lines[("namespace:tenant", "globex-dev")]["loadbalancer"] == "0.225"
    assert lines[("namespace:platform", "platykus-system")]["total"] == "0.1"
    assert lines[("namespace:tenant", "acme-prod")]["idle"] == "0.6274"
    assert lines[("idle", "idle")]["total"] == "0"  # every node of the example ran a tenant pod


def test_markdown(report):
    text = FILTERS["report_markdown"](report)
    assert "| acme | 0.3608 | 0.1702 | 0.08 | 0 | 0.6274 | 0 | 1.2384 | 50 | 2.48 | 89.1614 | warning |" in text
    assert "**2.429 USD**" in text


def test_html_is_self_contained(report):
    page = FILTERS["report_html"](report, title="June <test>")
    assert page.startswith("<!DOCTYPE html>")
    assert "June &lt;test&gt;" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count("<svg") == 2  # one chart per tenant
    # every chart is well-formed XML
    for chunk in page.split("<svg")[1:]:
        ElementTree.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")


def test_unpriced_items_are_rendered(report):
    broken = copy.deepcopy(report)
    broken["unpriced"] = [
        {
            "kind": "Node",
            "name": "n9",
            "reason": "node 'n9' has instance type 'x', which has no price",
            "fix": "add 'x' to platykus_prices.instance_types",
            "hours": 1.0,
            "core_hours": 0.0,
            "gib_hours": 0.0,
            "storage_gib_hours": 0.0,
            "loadbalancer_hours": 0.0,
        }
    ]
    assert "add 'x' to platykus_prices.instance_types" in FILTERS["report_markdown"](broken)
    assert "n9" in FILTERS["report_html"](broken)
    assert "Node/n9" in FILTERS["report_csv"](broken)


@pytest.mark.parametrize("name", ["report_json", "report_csv", "report_markdown", "report_html"])
def test_not_a_report(name):
    with pytest.raises(AnsibleFilterError, match="usage_report"):
        FILTERS[name]({"changed": False})
