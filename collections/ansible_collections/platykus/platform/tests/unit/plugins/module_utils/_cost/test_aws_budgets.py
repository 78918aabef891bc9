# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Budgets sync. moto (in-process) covers create and delete; moto 5.2.5 has no update_budget
nor subscriber calls, so updates and the idempotent second run use botocore's Stubber."""

from __future__ import annotations

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
from botocore.stub import Stubber  # noqa: E402

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._cost.aws_budgets import (  # noqa: E402
    desired_budget,
    desired_notifications,
    sync_budgets,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget import DEFAULT_THRESHOLDS  # noqa: E402

ACCOUNT = "123456789012"
TENANTS = [
    {"name": "acme", "budget": 500.0, "currency": "USD", "cost_center": "cc-1001"},
    {"name": "globex", "budget": 100.0, "currency": "USD", "cost_center": None},
    {"name": "initech", "budget": None, "currency": "USD"},
]


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(key, value)


def test_desired_budget_and_notifications():
    budget = desired_budget("acme", 500.0, "USD", "cc-1001")
    assert budget == {
        "BudgetName": "platykus-acme",
        "BudgetLimit": {"Amount": "500", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
        "CostFilters": {"TagKeyValue": ["user:platykus:cost-center$cc-1001"]},
    }
    assert desired_budget("globex", "80.50", "EUR")["BudgetLimit"] == {"Amount": "80.5", "Unit": "EUR"}
    notes = desired_notifications(DEFAULT_THRESHOLDS)
    assert [(n["NotificationType"], n["Threshold"]) for n in notes] == [
        ("ACTUAL", 50.0),
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 100.0),
    ]


@moto.mock_aws
def test_create_then_prune_against_moto(aws_env):
    client = boto3.client("budgets", region_name="us-east-1")
    client.create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "platykus-gone",
            "BudgetLimit": {"Amount": "1", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )
    client.create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "finance-owned",
            "BudgetLimit": {"Amount": "1", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )

    # check mode: the plan, nothing written
    planned = sync_budgets(client, ACCOUNT, TENANTS, DEFAULT_THRESHOLDS, emails=["finops@example.com"], check_mode=True)
    assert (planned.created, planned.deleted, planned.changed) == (
        ["platykus-acme", "platykus-globex"],
        ["platykus-gone"],
        True,
    )
    names = {b["BudgetName"] for b in client.describe_budgets(AccountId=ACCOUNT)["Budgets"]}
    assert names == {"platykus-gone", "finance-owned"}

    done = sync_budgets(client, ACCOUNT, TENANTS, DEFAULT_THRESHOLDS, emails=["finops@example.com"])
    assert (done.created, done.deleted) == (planned.created, planned.deleted)
    names = {b["BudgetName"] for b in client.describe_budgets(AccountId=ACCOUNT)["Budgets"]}
    assert names == {"platykus-acme", "platykus-globex", "finance-owned"}  # not ours: untouched
    acme = client.describe_budget(AccountId=ACCOUNT, BudgetName="platykus-acme")["Budget"]
    assert float(acme["BudgetLimit"]["Amount"]) == 500.0
    assert acme["TimeUnit"] == "MONTHLY" and acme["BudgetType"] == "COST"
    notes = client.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="platykus-acme")["Notifications"]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notes) == [
        ("ACTUAL", 50.0),
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 100.0),
    ]


def test_subscribers_are_required():
    with pytest.raises(PlatykusError) as err:
        sync_budgets(object(), ACCOUNT, TENANTS, DEFAULT_THRESHOLDS)
    assert err.value.field == "aws_budgets.notify"


def _stubbed(amount):
    client = boto3.client("budgets", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    budget = dict(desired_budget("globex", 100.0, "USD"))
    budget["BudgetLimit"] = {"Amount": amount, "Unit": "USD"}
    stub.add_response("describe_budgets", {"Budgets": [budget]}, {"AccountId": ACCOUNT, "MaxResults": 100})
    return client, stub


def _existing_notifications(stub, subscribers):
    notes = desired_notifications(DEFAULT_THRESHOLDS)
    stub.add_response(
        "describe_notifications_for_budget",
        {"Notifications": notes},
        {"AccountId": ACCOUNT, "BudgetName": "platykus-globex", "MaxResults": 100},
    )
    for note in sorted(notes, key=lambda n: (n["NotificationType"], n["ComparisonOperator"], n["Threshold"])):
        stub.add_response(
            "describe_subscribers_for_notification",
            {"Subscribers": subscribers},
            {"AccountId": ACCOUNT, "BudgetName": "platykus-globex", "Notification": note, "MaxResults": 100},
        )
    return notes


def test_second_run_is_unchanged():
    # AWS returns the amount as "100.0": the same as our "100" once normalised
    client, stub = _stubbed("100.0")
    _existing_notifications(stub, [{"SubscriptionType": "EMAIL", "Address": "finops@example.com"}])
    with stub:
        result = sync_budgets(client, ACCOUNT, TENANTS[1:2], DEFAULT_THRESHOLDS, emails=["finops@example.com"])
    stub.assert_no_pending_responses()
    assert (result.changed, result.unchanged) == (False, ["platykus-globex"])


def test_changed_limit_and_subscriber_are_updated():
    client, stub = _stubbed("80.0")
    stub.add_response("update_budget", {}, {"AccountId": ACCOUNT, "NewBudget": desired_budget("globex", 100.0, "USD")})
    notes = desired_notifications(DEFAULT_THRESHOLDS)
    stub.add_response(
        "describe_notifications_for_budget",
        {"Notifications": notes},
        {"AccountId": ACCOUNT, "BudgetName": "platykus-globex", "MaxResults": 100},
    )
    old = {"SubscriptionType": "EMAIL", "Address": "old@example.com"}
    new = {"SubscriptionType": "EMAIL", "Address": "finops@example.com"}
    for note in sorted(notes, key=lambda n: (n["NotificationType"], n["ComparisonOperator"], n["Threshold"])):
        stub.add_response(
            "describe_subscribers_for_notification",
            {"Subscribers": [old]},
            {"AccountId": ACCOUNT, "BudgetName": "platykus-globex", "Notification": note, "MaxResults": 100},
        )
        expected = {"AccountId": ACCOUNT, "BudgetName": "platykus-globex", "Notification": note}
        stub.add_response("create_subscriber", {}, dict(expected, Subscriber=new))
        stub.add_response("delete_subscriber", {}, dict(expected, Subscriber=old))
    with stub:
        result = sync_budgets(
            client, ACCOUNT, TENANTS[1:2], DEFAULT_THRESHOLDS, emails=["finops@example.com"], prune=False
        )
    stub.assert_no_pending_responses()
    assert (result.changed, result.updated) == (True, ["platykus-globex"])
    (diff,) = result.diffs
    assert diff["before"]["BudgetLimit"]["Amount"] == "80" and diff["after"]["BudgetLimit"]["Amount"] == "100"
