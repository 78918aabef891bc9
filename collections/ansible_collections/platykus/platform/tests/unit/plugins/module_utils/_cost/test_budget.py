# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    BUDGET_ORIGINAL_PODS_ANNOTATION as ORIGINAL_PODS_ANNOTATION,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    BUDGET_STATUS_ANNOTATION as STATUS_ANNOTATION,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget import (
    evaluate,
    plan,
    quota_enforcement,
    validate_thresholds,
)


@pytest.mark.parametrize(
    "spent, forecast, budget, status",
    [
        (10, 40, 100, "ok"),
        (49.99, 49.99, 100, "ok"),
        (50, 50, 100, "notice"),  # spent reaches notice
        (10, 50, 100, "notice"),  # the forecast alone can raise to notice...
        (10, 80, 100, "warning"),  # ...and to warning
        (10, 250, 100, "warning"),  # ...but never to exceeded
        (80, 90, 100, "warning"),
        (100, 100, 100, "exceeded"),  # only money spent makes exceeded
        (120, 130, 100, "exceeded"),
        (5, 5, None, "no_budget"),
    ],
)
def test_status_from_spend_and_forecast(spent, forecast, budget, status):
    result = evaluate(Decimal(str(spent)), Decimal(str(forecast)), None if budget is None else Decimal(budget))
    assert result.status == status


def test_custom_thresholds():
    limits = validate_thresholds({"notice": 25, "warning": 60, "exceeded": 90})
    assert evaluate(Decimal(30), Decimal(30), Decimal(100), limits).status == "notice"
    assert evaluate(Decimal(90), Decimal(90), Decimal(100), limits).status == "exceeded"


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"notice": 90, "warning": 80}, "thresholds"),
        ({"warning": -1}, "thresholds.warning"),
        ({"warning": "eighty"}, "thresholds.warning"),
        ({"critical": 95}, "thresholds.critical"),
        ([50, 80, 100], "thresholds"),
    ],
)
def test_bad_thresholds(raw, field):
    with pytest.raises(PlatykusError) as err:
        validate_thresholds(raw)
    assert err.value.field == field


def quota(pods="20", used=None, original=None):
    q = {
        "metadata": {"name": "tenant-quota", "namespace": "acme-prod", "annotations": {}},
        "spec": {"hard": {"requests.cpu": "8"}},
    }
    if pods is not None:
        q["spec"]["hard"]["pods"] = pods
    if original is not None:
        q["metadata"]["annotations"][ORIGINAL_PODS_ANNOTATION] = original
    if used is not None:
        q["status"] = {"used": {"pods": str(used)}}
    return q


@pytest.mark.parametrize(
    "q, exceeded, enforce, running, action, hard, annotation",
    [
        # over budget: 20 allowed, 7 running -> lowered to 7, original 20 remembered
        (quota("20"), True, True, 7, "lower", "7", "20"),
        # already lowered by an earlier run: left alone (no ratchet as pods finish)
        (quota("7", original="20"), True, True, 3, "keep", None, None),
        # someone put the limit back to 20 while still over budget: lowered again, original kept
        (quota("20", original="20"), True, True, 5, "lower", "5", "20"),
        # the quota had no pods limit: lowered to the running pods, original recorded as none
        (quota(None), True, True, 4, "lower", "4", "none"),
        # back under budget: the original is written back and the annotation dropped
        (quota("7", original="20"), False, True, 7, "restore", "20", None),
        # enforcement switched off while lowered: restored as well
        (quota("7", original="20"), True, False, 7, "restore", "20", None),
        # restoring a quota that had no pods limit releases ours (no spec in the body)
        (quota("4", original="none"), False, True, 4, "restore", None, None),
        # nothing to do
        (quota("20"), False, True, 7, "none", None, None),
        (quota("20"), True, False, 7, "none", None, None),
        (None, True, True, 7, "missing", None, None),
    ],
)
def test_quota_enforcement(q, exceeded, enforce, running, action, hard, annotation):
    got_action, body = quota_enforcement(q, exceeded, enforce, running)
    assert got_action == action
    if action in ("lower", "restore"):
        assert body["kind"] == "ResourceQuota" and body["metadata"]["name"] == "tenant-quota"
        assert (body.get("spec") or {}).get("hard", {}).get("pods") == hard
        assert body["metadata"]["annotations"].get(ORIGINAL_PODS_ANNOTATION) == annotation
        # only pods: the rest of the quota stays with its own field manager
        assert set((body.get("spec") or {}).get("hard", {})) <= {"pods"}
    else:
        assert body is None


REPORT = {
    "currency": "USD",
    "window": {"end": "2024-06-10T18:00:00Z"},
    "tenants": [
        {
            "name": "acme",
            "namespaces": ["acme-prod", "acme-dev"],
            "budget": 50.0,
            "forecast": 130.0,
            "cost": {"total": 55.0},
        },
        {"name": "globex", "namespaces": ["globex-dev"], "budget": 100.0, "forecast": 10.0, "cost": {"total": 1.0}},
    ],
}


def ns(name, status=None):
    annotations = {STATUS_ANNOTATION: status} if status else {}
    return {"metadata": {"name": name, "annotations": annotations}}


def test_plan_annotations_events_and_enforcement():
    namespaces = {
        "acme-prod": ns("acme-prod", "warning"),
        "acme-dev": ns("acme-dev", "exceeded"),
        "globex-dev": ns("globex-dev"),
    }
    quotas = {"acme-prod": quota("20"), "acme-dev": quota("3", original="10")}
    result = plan(REPORT, namespaces, quotas, {"acme-prod": 6, "acme-dev": 3, "globex-dev": 1}, enforce=True)
    acme, globex = result.tenants
    # acme: 55 / 50 = 110 % -> exceeded
    assert (acme.status, acme.percent_used, acme.forecast_percent) == ("exceeded", 110.0, 260.0)
    assert acme.enforcement == {"acme-prod": "lower", "acme-dev": "keep"}
    # globex: 1 % -> ok; its namespace had no status yet: a first ok is not worth an Event
    assert globex.status == "ok"
    # one Event: acme-prod went warning -> exceeded; acme-dev already was exceeded
    (event,) = result.events
    assert event["metadata"]["namespace"] == "acme-prod"
    assert event["reason"] == "BudgetThresholdCrossed" and event["type"] == "Warning"
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "name": "acme-prod",
        "namespace": "acme-prod",
    }
    assert "warning -> exceeded" in event["message"] and "55.00 USD of 50.00 USD" in event["message"]
    patches = {p["metadata"]["name"]: p["metadata"]["annotations"] for p in result.namespace_patches}
    assert patches["acme-prod"] == {
        "platykus.io/budget-status": "exceeded",
        "platykus.io/budget-spent": "55.00 USD",
        "platykus.io/budget-forecast": "130.00 USD",
        "platykus.io/budget-limit": "50.00 USD",
        "platykus.io/budget-percent": "110.00",
        "platykus.io/budget-updated": "2024-06-10T18:00:00Z",
    }
    (quota_patch,) = result.quota_patches
    assert quota_patch["metadata"]["namespace"] == "acme-prod" and quota_patch["spec"]["hard"]["pods"] == "6"


def test_plan_recovery_event_and_restore():
    report = {
        "currency": "USD",
        "window": {"end": "2024-07-01T00:00:00Z"},
        "tenants": [
            {"name": "acme", "namespaces": ["acme-prod"], "budget": 50.0, "forecast": 5.0, "cost": {"total": 5.0}}
        ],
    }
    result = plan(
        report, {"acme-prod": ns("acme-prod", "exceeded")}, {"acme-prod": quota("6", original="20")}, {}, enforce=True
    )
    (event,) = result.events
    assert event["reason"] == "BudgetStatusRecovered" and event["type"] == "Normal"
    (quota_patch,) = result.quota_patches
    assert quota_patch["spec"]["hard"]["pods"] == "20"
    assert result.tenants[0].enforcement == {"acme-prod": "restore"}


def test_plan_is_quiet_when_status_is_unchanged():
    namespaces = {
        "acme-prod": ns("acme-prod", "exceeded"),
        "acme-dev": ns("acme-dev", "exceeded"),
        "globex-dev": ns("globex-dev", "ok"),
    }
    result = plan(REPORT, namespaces, {}, {}, enforce=False)
    assert result.events == []
    assert result.quota_patches == []
