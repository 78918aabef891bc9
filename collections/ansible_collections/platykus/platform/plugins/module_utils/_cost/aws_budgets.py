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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AWS_COST_CENTER_TAG
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import redact_text

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    HAS_BOTO3 = True
except ImportError:  # pragma: no cover - reported through missing_required_lib when AWS Budgets are enabled
    BotoCoreError = ClientError = Exception
    HAS_BOTO3 = False

BUDGET_PREFIX = "platykus-"
DEFAULT_COST_CENTER_TAG = AWS_COST_CENTER_TAG
PAGE_SIZE = 100


@dataclass
class BudgetChanges(BatchSummary):
    """What a sync did, in the shape of a Kubernetes batch summary, plus deletions and warnings."""

    deleted: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


class UnsupportedCall(PlatykusError):
    """The endpoint does not implement an operation (an emulator such as moto lacks a few)."""


def _error_code(err: Exception) -> str:
    return str(((getattr(err, "response", None) or {}).get("Error") or {}).get("Code", ""))


def _unsupported(err: Exception) -> bool:
    """True when the endpoint answered that it does not implement the call, not an AWS error.

    AWS names every error (``InternalErrorException``, ``NotFoundException`` ...); an emulator that lacks
    an operation answers 501, or a bare 500 page whose code botocore can only give as the number.
    """
    code = _error_code(err)
    status = ((getattr(err, "response", None) or {}).get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in ("NotImplemented", "NotImplementedException", "501") or (status == 500 and code == "500")


def _amount(value: Any) -> str:
    """A plain decimal string: 500.0 -> "500", "80.50" -> "80.5" (never "5E+2")."""
    return format(Decimal(str(value)).normalize(), "f")


def budget_name(tenant: str) -> str:
    return BUDGET_PREFIX + tenant


def desired_budget(
    tenant: str,
    amount: Any,
    currency: str,
    cost_center: str | None = None,
    cost_center_tag: str = DEFAULT_COST_CENTER_TAG,
) -> dict:
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
        {
            "NotificationType": "ACTUAL",
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": float(value),
            "ThresholdType": "PERCENTAGE",
        }
        for value in sorted(thresholds.values(), key=lambda item: Decimal(str(item)))
    ]
    notes.append(
        {
            "NotificationType": "FORECASTED",
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": float(thresholds["exceeded"]),
            "ThresholdType": "PERCENTAGE",
        }
    )
    return notes


def _note_key(note: Mapping[str, Any]) -> tuple:
    return (
        note["NotificationType"],
        note["ComparisonOperator"],
        Decimal(str(note["Threshold"])),
        note.get("ThresholdType", "PERCENTAGE"),
    )


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


def _aws(verb: str, target: str, call: Callable[..., Any], missing: str | None = None, **kwargs: Any) -> Any:
    """One AWS call. Errors read like the KubeClient's: ``Failed to <verb> <target>: <cause>``.

    ``missing`` names the error code meaning "there is nothing": the call then returns None.
    """
    try:
        return call(**kwargs)
    except (BotoCoreError, ClientError) as err:
        if missing and _error_code(err) == missing:
            return None
        if _unsupported(err):
            raise UnsupportedCall(
                "Failed to %s %s: the endpoint does not implement this operation (an emulator?); real AWS Budgets does"
                % (verb, target)
            ) from err
        # botocore quotes the endpoint URL in connection errors; it may carry credentials.
        raise PlatykusError("Failed to %s %s: %s" % (verb, target, redact_text(err))) from err


def _paged(
    verb: str, target: str, call: Callable[..., Any], items: str, missing: str | None = None, **kwargs: Any
) -> list:
    """Every item of a paged Describe call (``missing``: as :func:`_aws`, no pages at all)."""
    found: list = []
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = _aws(verb, target, call, missing=missing, MaxResults=PAGE_SIZE, **kwargs, **extra)
        if page is None:
            return found
        found.extend(page.get(items, []))
        token = page.get("NextToken")
        if not token:
            return found


def require_boto3() -> None:
    if not HAS_BOTO3:
        raise PlatykusError(missing_required_lib("boto3", reason="for aws_budgets.enabled=true"))


def budgets_clients(region: str, endpoint_url: str | None = None) -> tuple[Any, Any]:
    """The boto3 ``budgets`` and ``sts`` clients for ``region`` (and another endpoint, like an emulator)."""
    require_boto3()
    session = boto3.session.Session(region_name=region)
    return session.client("budgets", endpoint_url=endpoint_url), session.client("sts", endpoint_url=endpoint_url)


def caller_account(sts_client: Any) -> str:
    """The account id of the credentials in use."""
    return _aws("get_caller_identity", "the AWS account (STS)", sts_client.get_caller_identity)["Account"]


def _existing(client: Any, account_id: str) -> dict[str, dict]:
    """Our budgets (``platykus-*``) by name; an account without any budget answers NotFoundException."""
    budgets = _paged(
        "describe_budgets",
        "AWS Budgets",
        client.describe_budgets,
        "Budgets",
        missing="NotFoundException",
        AccountId=account_id,
    )
    return {budget["BudgetName"]: budget for budget in budgets if budget["BudgetName"].startswith(BUDGET_PREFIX)}


def _wanted(tenants: Iterable[Mapping[str, Any]], cost_center_tag: str) -> dict[str, dict]:
    """The budget of every tenant that has one, by name."""
    wanted = {}
    for tenant in tenants:
        if tenant.get("budget") is not None:
            budget = desired_budget(
                tenant["name"], tenant["budget"], tenant["currency"], tenant.get("cost_center"), cost_center_tag
            )
            wanted[budget["BudgetName"]] = budget
    return wanted


def _subscription(sub: tuple) -> dict:
    return {"SubscriptionType": sub[0], "Address": sub[1]}


class _BudgetSync:
    """Brings one account's ``platykus-*`` budgets in line, recording each change; check mode writes nothing."""

    def __init__(self, client: Any, account_id: str, subs: list[dict], notes: list[dict], check_mode: bool) -> None:
        self.client = client
        self.account_id = account_id
        self.subs = subs
        self.wanted_subs = {_subscriber_key(sub) for sub in subs}
        self.notes = {_note_key(note): note for note in notes}
        self.check_mode = check_mode
        self.changes = BudgetChanges()

    def _write(self, verb: str, name: str, **kwargs: Any) -> None:
        if not self.check_mode:
            _aws(verb, "AWS Budget %s" % name, getattr(self.client, verb), AccountId=self.account_id, **kwargs)

    def _diff(self, name: str, before: dict, after: dict) -> None:
        self.changes.diffs.append({"before_header": name, "after_header": name, "before": before, "after": after})

    def create(self, name: str, budget: dict) -> None:
        self.changes.created.append(name)
        self._diff(name, {}, _budget_view(budget))
        self._write(
            "create_budget",
            name,
            Budget=budget,
            NotificationsWithSubscribers=[
                {"Notification": note, "Subscribers": self.subs} for note in self.notes.values()
            ],
        )

    def update(self, name: str, current: dict, budget: dict) -> None:
        touched = _budget_view(current) != _budget_view(budget)
        if touched:
            self._diff(name, _budget_view(current), _budget_view(budget))
            self._write("update_budget", name, NewBudget=budget)
        touched = self._sync_notifications(name) or touched
        (self.changes.updated if touched else self.changes.unchanged).append(name)

    def delete(self, name: str, current: dict) -> None:
        self.changes.deleted.append(name)
        self._diff(name, _budget_view(current), {})
        self._write("delete_budget", name, BudgetName=name)

    def _sync_notifications(self, name: str) -> bool:
        notes = _paged(
            "describe_notifications_for_budget",
            "AWS Budget %s" % name,
            self.client.describe_notifications_for_budget,
            "Notifications",
            AccountId=self.account_id,
            BudgetName=name,
        )
        have = {_note_key(note): note for note in notes}
        for key in sorted(set(have) - set(self.notes)):
            self._write("delete_notification", name, BudgetName=name, Notification=have[key])
        for key in sorted(set(self.notes) - set(have)):
            self._write(
                "create_notification", name, BudgetName=name, Notification=self.notes[key], Subscribers=self.subs
            )
        touched = set(have) != set(self.notes)
        for key in sorted(set(self.notes) & set(have)):
            try:
                touched = self._sync_subscribers(name, have[key]) or touched
            except UnsupportedCall as err:
                # Only the subscriber check is skipped; the budget and its notifications were compared above.
                self.changes.warnings.append("%s: subscribers of its notifications not checked: %s" % (name, err))
                break
        return touched

    def _sync_subscribers(self, name: str, note: Mapping[str, Any]) -> bool:
        page = _aws(
            "describe_subscribers_for_notification",
            "AWS Budget %s" % name,
            self.client.describe_subscribers_for_notification,
            AccountId=self.account_id,
            BudgetName=name,
            Notification=dict(note),
            MaxResults=PAGE_SIZE,
        )
        present = {_subscriber_key(sub) for sub in page.get("Subscribers", [])}
        for sub in sorted(self.wanted_subs - present):
            self._write("create_subscriber", name, BudgetName=name, Notification=note, Subscriber=_subscription(sub))
        for sub in sorted(present - self.wanted_subs):
            self._write("delete_subscriber", name, BudgetName=name, Notification=note, Subscriber=_subscription(sub))
        return present != self.wanted_subs


def sync_budgets(
    client: Any,
    account_id: str,
    tenants: Iterable[Mapping[str, Any]],
    thresholds: Mapping[str, Any],
    emails: Iterable[str] = (),
    sns_topics: Iterable[str] = (),
    cost_center_tag: str = DEFAULT_COST_CENTER_TAG,
    prune: bool = True,
    check_mode: bool = False,
) -> BudgetChanges:
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
    sync = _BudgetSync(client, account_id, subs, desired_notifications(thresholds), check_mode)
    existing = _existing(client, account_id)
    wanted = _wanted(tenants, cost_center_tag)
    for name, budget in sorted(wanted.items()):
        if name in existing:
            sync.update(name, existing[name], budget)
        else:
            sync.create(name, budget)
    if prune:
        for name in sorted(set(existing) - set(wanted)):
            sync.delete(name, existing[name])
    changes = sync.changes
    changes.changed = bool(changes.created or changes.updated or changes.deleted)
    return changes
