# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-ons priced from the history's samples (kube-state-metrics' kube_secret_labels/_annotations).

Every expected figure is computed by hand next to it: redis mini is 14.6 a month (0.02 an hour at
730 hours a month), premium-0 73 (0.1 an hour).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._cost.addons import (
    charge_addon_history,
    charge_addons,
    unsampled_addons,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import (
    METRIC_PROFILES,
    Grid,
    History,
    history_queries,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window

START = datetime(2024, 6, 1, tzinfo=UTC)
T0 = int(START.timestamp())
HOUR = 3600
CATALOG = validate_catalog(
    {
        "providers": {"redis": "local", "mysql": "operator"},
        "plans": {
            "redis": {"mini": {"version": "7", "monthly": 14.6}, "premium-0": {"version": "7", "monthly": 73}},
            "mysql": {"standard-0": {"version": "8", "storage": "10Gi", "monthly": 50}},
        },
        "quota": {"small": {"addons": 4, "storage": "40Gi"}},
    }
)
LABELS = {
    "namespace": "acme-dev",
    "secret": "addon-cache",
    "label_platykus_io_tenant": "acme",
    "label_platykus_io_addon": "cache",
    "label_platykus_io_data_service": "redis",
}


def notes(plan: str, provider: str = "local", secret: str = "addon-cache") -> dict:
    return {
        "namespace": "acme-dev",
        "secret": secret,
        "annotation_platykus_io_addon_plan": plan,
        "annotation_platykus_io_addon_provider": provider,
    }


def answer(*result: dict) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": list(result)}}


def series(labels: dict, stamps) -> dict:
    return {"metric": labels, "values": [[t, "1"] for t in sorted(stamps)]}


def hours(first: int, count: int) -> list[int]:
    return [T0 + (first + i) * HOUR for i in range(count)]


def charged(labels: list[dict], annotations: list[dict], start=START, end_hour=10, step=HOUR):
    """The add-on charges of a window read through History from built range-query answers."""
    window = make_window(start, datetime.fromtimestamp(T0 + end_hour * HOUR, UTC))
    queries = history_queries("kube-state-metrics", None, step)
    by_query = {queries["addon_labels"]: labels, queries["addon_annotations"]: annotations}
    asked = []

    def fetch(query, first, last):
        asked.append(query)
        cut = [
            {"metric": s["metric"], "values": [v for v in s["values"] if first <= v[0] <= last]}
            for s in by_query[query]
        ]
        return answer(*[s for s in cut if s["values"]])

    history = History(queries, Grid(window, step), fetch)
    result = charge_addon_history(history.addon_samples(), CATALOG)
    assert sorted(set(asked)) == sorted({queries["addon_labels"], queries["addon_annotations"]})
    return window, result


def test_destroyed_addon_is_charged_its_sampled_hours():
    # Sampled hours 2-5, then destroyed (no more samples): 4 hours x 0.02 = 0.08
    _window, result = charged([series(LABELS, hours(2, 4))], [series(notes("mini"), hours(2, 4))])
    (line,) = result.lines
    assert (line["tenant"], line["addon"], line["type"], line["plan"], line["charged_by"]) == (
        "acme", "cache", "redis", "mini", "catalog",
    )  # fmt: skip
    assert line["hours"] == 4
    assert line["cost"] == Decimal("0.08")
    assert [(t, d, n) for t, d, n, _a in result.daily] == [("acme", "2024-06-01", "cache")]


def test_resize_splits_at_the_step():
    # mini for hours 0-3, premium-0 for hours 4-9: 4 x 0.02 + 6 x 0.1 = 0.08 + 0.6
    labels = [series(LABELS, hours(0, 10))]
    annotations = [series(notes("mini"), hours(0, 4)), series(notes("premium-0"), hours(4, 6))]
    _window, result = charged(labels, annotations)
    got = [(line["plan"], line["hours"], line["cost"]) for line in result.lines]
    assert got == [("mini", 4, Decimal("0.08")), ("premium-0", 6, Decimal("0.6"))]
    assert sum(a for *_k, a in result.daily) == Decimal("0.68")


def test_alive_the_whole_window_is_the_objects_sources_money_to_the_last_digit():
    # A window across a midnight with cut ends (20:30:07.25 to 05:15:03 next day), 15-minute steps:
    # the sample at t stands for [t, t + step) clipped to the window, so the hours are the window's.
    step = 900
    start = datetime(2024, 6, 1, 20, 30, 7, 250000, tzinfo=UTC)
    window = make_window(start, datetime(2024, 6, 2, 5, 15, 3, tzinfo=UTC))
    first = int(start.timestamp()) // step * step
    stamps = list(range(first, int(window.end.timestamp()) + 1, step))
    history = charged_window(stamps, window, step)
    secret = {
        "metadata": {
            "name": "addon-cache",
            "namespace": "acme-dev",
            "creationTimestamp": "2024-05-01T00:00:00Z",
            "labels": {"platykus.io/tenant": "acme", "platykus.io/addon": "cache", "platykus.io/data-service": "redis"},
            "annotations": {"platykus.io/addon-plan": "mini", "platykus.io/addon-provider": "local"},
        }
    }
    objects = charge_addons([secret], CATALOG, window)
    assert history.lines == objects.lines
    assert history.daily == objects.daily
    assert [d for _t, d, _n, _a in history.daily] == ["2024-06-01", "2024-06-02"]


def charged_window(stamps, window, step):
    queries = history_queries("scheduler", None, step)
    by_query = {
        queries["addon_labels"]: [series(LABELS, stamps)],
        queries["addon_annotations"]: [series(notes("mini"), stamps)],
    }

    def fetch(query, first, last):
        cut = [
            {"metric": s["metric"], "values": [v for v in s["values"] if first <= v[0] <= last]}
            for s in by_query[query]
        ]
        return answer(*[s for s in cut if s["values"]])

    history = History(queries, Grid(window, step), fetch)
    return charge_addon_history(history.addon_samples(), CATALOG)


def test_operator_addon_listed_not_charged_and_unknown_plan_named():
    mysql = dict(LABELS, secret="addon-db", label_platykus_io_addon="db", label_platykus_io_data_service="mysql")
    other = dict(LABELS, secret="addon-old", label_platykus_io_addon="old")
    not_addon = dict(LABELS, secret="app-config")  # not an add-on's Secret name: ignored
    labels = [series(mysql, hours(0, 2)), series(other, hours(0, 3)), series(not_addon, hours(0, 5))]
    annotations = [
        series(notes("standard-0", "operator", "addon-db"), hours(0, 2)),
        series(notes("huge", "local", "addon-old"), hours(0, 3)),
    ]
    _window, result = charged(labels, annotations)
    lines = {line["addon"]: line for line in result.lines}
    assert set(lines) == {"db", "old"}
    assert (lines["db"]["charged_by"], lines["db"]["hours"], lines["db"]["cost"]) == ("cluster", 2, 0)
    assert lines["old"]["charged_by"] == "unpriced" and "platykus_addons.plans.redis" in lines["old"]["reason"]
    assert result.daily == []


def test_every_profile_reads_the_allow_listed_secret_series():
    for profile in METRIC_PROFILES:
        queries = history_queries(profile, None, 60)
        assert 'kube_secret_labels{label_platykus_io_addon!=""}' in queries["addon_labels"]
        assert "label_platykus_io_data_service" in queries["addon_labels"]
        assert "annotation_platykus_io_addon_plan" in queries["addon_annotations"]
    assert history_queries("scheduler", {"addon_labels": "my_labels"}, 60)["addon_labels"] == "my_labels"


def held_secret(name: str, created: str) -> dict:
    labels = {"platykus.io/tenant": "acme", "platykus.io/addon": name, "platykus.io/data-service": "redis"}
    meta = {"name": "addon-" + name, "namespace": "acme-dev", "creationTimestamp": created, "labels": labels}
    return {"metadata": {**meta, "annotations": {"platykus.io/addon-plan": "mini"}}}


def test_an_addon_alive_all_window_without_samples_is_named():
    """kube-state-metrics without the allow-lists: the add-ons that exist now and before the window have
    no samples; they are named (the report would charge them nothing). One made inside the window may
    not be scraped yet and is not."""
    window = make_window(START, datetime.fromtimestamp(T0 + 10 * HOUR, UTC))
    secrets = [
        held_secret("cache", "2024-05-01T00:00:00Z"),
        held_secret("old", "2024-05-02T00:00:00Z"),
        held_secret("new", "2024-06-01T09:59:00Z"),
    ]
    sampled = [({"name": "addon-cache", "labels": secrets[0]["metadata"]["labels"]}, T0, HOUR * 10**6)]
    assert unsampled_addons(secrets, sampled, window) == ["acme/old"]
    assert unsampled_addons(secrets, [], window) == ["acme/cache", "acme/old"]
