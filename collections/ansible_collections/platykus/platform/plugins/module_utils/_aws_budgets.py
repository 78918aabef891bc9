# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One AWS Budget per tenant, kept in line with the tenant's monthly budget.

Budget ``platykus-<tenant>``: COST, MONTHLY, limit = the tenant's budget, optionally filtered on the
cost-allocation tag ``<cost_center_tag>=<cost_center>``, with an ACTUAL notification at each
threshold and a FORECASTED one at the ``exceeded`` threshold, all to the same subscribers.

The boto3 ``budgets`` client is passed in (tests point it at moto). Budgets named ``platykus-*``
that no tenant wants any more are deleted when ``prune`` is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError

try:
    from botocore.exceptions import BotoCoreError, ClientError

    HAS_BOTOCORE = True
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    BotoCoreError = ClientError = Exception
    HAS_BOTOCORE = False

BUDGET_PREFIX = "platykus-"
DEFAULT_COST_CENTER_TAG = "cost-center"


@dataclass
class BudgetChanges:
    changed: bool = False
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    diffs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


class UnsupportedCall(PlatykusError):
    """The endpoint does not implement an operation (an emulator such as moto lacks a few)."""


def _unsupported(err: Exception) -> bool:
    """True when the endpoint answered that it does not implement the call, not an AWS error.

    AWS names every error (``InternalErrorException``, ``NotFoundException`` ...); an emulator that lacks
    an operation answers 501, or a bare 500 page whose code botocore can only give as the number.
    """
    response = getattr(err, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in ("NotImplemented", "NotImplementedException", "501") or (status == 500 and code == "500")


def _amount(value: Any) -> str:
    """A plain decimal string: 500.0 -> "500", "80.50" -> "80.5" (never "5E+2")."""
    return format(Decimal(str(value)).normalize(), "f")


def budget_name(tenant: str) -> str:
    return BUDGET_PREFIX + tenant


def desired_budget(tenant: str, amount: Any, currency: str, cost_center: str | None = None,
                   cost_center_tag: str = DEFAULT_COST_CENTER_TAG) -> dict:
    """The ``Budget`` structure for create_budget/update_budget."""
    budget = {
        "BudgetName": budget_name(tenant),
        "BudgetLimit": {"Amount": _amount(amount), "Unit": currency},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
        "CostFilters": {},
    }
    if cost_center:
        budget["CostFilters"] = {"TagKeyValue": ["user:%s$%s" % (cost_center_tag, cost_center)]}
    return budget


def subscribers(emails: Iterable[str] = (), sns_topics: Iterable[str] = ()) -> list[dict]:
    result = [{"SubscriptionType": "EMAIL", "Address": address} for address in emails or ()]
    result += [{"SubscriptionType": "SNS", "Address": arn} for arn in sns_topics or ()]
    return result


def desired_notifications(thresholds: Mapping[str, Any]) -> list[dict]:
    """An ACTUAL notification per threshold and a FORECASTED one at ``exceeded`` (percent of the limit)."""
    notes = [
        {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": float(value),
         "ThresholdType": "PERCENTAGE"}
        for value in sorted(thresholds.values(), key=lambda item: Decimal(str(item)))
    ]
    notes.append({"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN",
                  "Threshold": float(thresholds["exceeded"]), "ThresholdType": "PERCENTAGE"})
    return notes


def _note_key(note: Mapping[str, Any]) -> tuple:
    return (note["NotificationType"], note["ComparisonOperator"], Decimal(str(note["Threshold"])),
            note.get("ThresholdType", "PERCENTAGE"))


def _subscriber_key(sub: Mapping[str, Any]) -> tuple:
    return (sub["SubscriptionType"], sub["Address"])


def _budget_view(budget: Mapping[str, Any]) -> dict:
    """The fields we manage, comparable between what AWS returns and what we want."""
    limit = budget.get("BudgetLimit") or {}
    filters = {key: sorted(values) for key, values in (budget.get("CostFilters") or {}).items() if values}
    return {
        "BudgetName": budget["BudgetName"],
        "BudgetLimit": {"Amount": _amount(limit.get("Amount", "0")), "Unit": limit.get("Unit")},
        "TimeUnit": budget.get("TimeUnit"),
        "BudgetType": budget.get("BudgetType"),
        "CostFilters": filters,
    }


def _aws(what: str, call: Any, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except (BotoCoreError, ClientError) as err:
        if _unsupported(err):
            raise UnsupportedCall(
                "AWS Budgets: %s failed: the endpoint does not implement this operation (an emulator?); "
                "real AWS Budgets does" % what
            ) from err
        raise PlatykusError("AWS Budgets: %s failed: %s" % (what, err)) from err


def caller_account(sts_client: Any) -> str:
    """The account id of the credentials in use."""
    return _aws("sts get_caller_identity", sts_client.get_caller_identity)["Account"]


def _existing(client: Any, account_id: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    token = None
    while True:
        kwargs = {"AccountId": account_id, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        try:
            page = client.describe_budgets(**kwargs)
        except (BotoCoreError, ClientError) as err:
            if (getattr(err, "response", None) or {}).get("Error", {}).get("Code") == "NotFoundException":
                return found  # no budgets at all
            raise PlatykusError("AWS Budgets: describe_budgets failed: %s" % err) from err
        for budget in page.get("Budgets", []):
            if budget["BudgetName"].startswith(BUDGET_PREFIX):
                found[budget["BudgetName"]] = budget
        token = page.get("NextToken")
        if not token:
            return found


def _notifications(client: Any, account_id: str, name: str) -> list[dict]:
    notes: list[dict] = []
    token = None
    while True:
        kwargs = {"AccountId": account_id, "BudgetName": name, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = _aws("describe_notifications_for_budget %s" % name, client.describe_notifications_for_budget, **kwargs)
        notes.extend(page.get("Notifications", []))
        token = page.get("NextToken")
        if not token:
            return notes


def _subscribers_of(client: Any, account_id: str, name: str, note: Mapping[str, Any]) -> set[tuple]:
    page = _aws(
        "describe_subscribers_for_notification %s" % name,
        client.describe_subscribers_for_notification,
        AccountId=account_id, BudgetName=name, Notification=dict(note), MaxResults=100,
    )
    return {_subscriber_key(sub) for sub in page.get("Subscribers", [])}


def sync_budgets(client: Any, account_id: str, tenants: Iterable[Mapping[str, Any]], thresholds: Mapping[str, Any],
                 emails: Iterable[str] = (), sns_topics: Iterable[str] = (), cost_center_tag: str = DEFAULT_COST_CENTER_TAG,
                 prune: bool = True, check_mode: bool = False) -> BudgetChanges:
    """Make the account's ``platykus-*`` budgets match ``tenants`` (dicts with name, budget, currency, cost_center).

    Tenants without a budget get none (and lose theirs when ``prune``). In check mode nothing is written
    and the result says what a real run would do.
    """
    subs = subscribers(emails, sns_topics)
    if not subs:
        raise PlatykusError(
            "aws_budgets.notify: no subscriber; AWS Budgets notifications need at least one email or SNS topic",
            field="aws_budgets.notify",
        )
    wanted_subs = {_subscriber_key(sub) for sub in subs}
    wanted_notes = desired_notifications(thresholds)
    changes = BudgetChanges()
    existing = _existing(client, account_id)
    wanted: dict[str, dict] = {}
    for tenant in tenants:
        if tenant.get("budget") is None:
            continue
        budget = desired_budget(tenant["name"], tenant["budget"], tenant["currency"], tenant.get("cost_center"), cost_center_tag)
        wanted[budget["BudgetName"]] = budget

    for name, budget in sorted(wanted.items()):
        current = existing.get(name)
        if current is None:
            changes.created.append(name)
            changes.diffs.append({"before_header": name, "after_header": name, "before": {}, "after": _budget_view(budget)})
            if not check_mode:
                _aws("create_budget %s" % name, client.create_budget, AccountId=account_id, Budget=budget,
                     NotificationsWithSubscribers=[{"Notification": note, "Subscribers": subs} for note in wanted_notes])
            continue
        touched = False
        if _budget_view(current) != _budget_view(budget):
            touched = True
            changes.diffs.append({"before_header": name, "after_header": name,
                                  "before": _budget_view(current), "after": _budget_view(budget)})
            if not check_mode:
                _aws("update_budget %s" % name, client.update_budget, AccountId=account_id, NewBudget=budget)
        have = {_note_key(note): note for note in _notifications(client, account_id, name)}
        want = {_note_key(note): note for note in wanted_notes}
        for key in sorted(set(have) - set(want)):
            touched = True
            if not check_mode:
                _aws("delete_notification %s" % name, client.delete_notification, AccountId=account_id,
                     BudgetName=name, Notification=have[key])
        for key in sorted(set(want) - set(have)):
            touched = True
            if not check_mode:
                _aws("create_notification %s" % name, client.create_notification, AccountId=account_id,
                     BudgetName=name, Notification=want[key], Subscribers=subs)
        for key in sorted(set(want) & set(have)):
            try:
                present = _subscribers_of(client, account_id, name, have[key])
            except UnsupportedCall as err:
                # Only the subscriber check is skipped; the budget and its notifications were compared above.
                changes.warnings.append("%s: subscribers of its notifications not checked: %s" % (name, err))
                break
            for sub in sorted(wanted_subs - present):
                touched = True
                if not check_mode:
                    _aws("create_subscriber %s" % name, client.create_subscriber, AccountId=account_id, BudgetName=name,
                         Notification=have[key], Subscriber={"SubscriptionType": sub[0], "Address": sub[1]})
            for sub in sorted(present - wanted_subs):
                touched = True
                if not check_mode:
                    _aws("delete_subscriber %s" % name, client.delete_subscriber, AccountId=account_id, BudgetName=name,
                         Notification=have[key], Subscriber={"SubscriptionType": sub[0], "Address": sub[1]})
        (changes.updated if touched else changes.unchanged).append(name)

    if prune:
        for name in sorted(set(existing) - set(wanted)):
            changes.deleted.append(name)
            changes.diffs.append({"before_header": name, "after_header": name,
                                  "before": _budget_view(existing[name]), "after": {}})
            if not check_mode:
                _aws("delete_budget %s" % name, client.delete_budget, AccountId=account_id, BudgetName=name)

    changes.changed = bool(changes.created or changes.updated or changes.deleted)
    return changes
