# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Out-of-cluster costs per tenant: AWS Cost Explorer grouped by the tenant tag and the service.

Everything Platykus makes in AWS for a tenant (bucket, IAM identity, databases, load balancers)
is tagged ``AWS_TENANT_TAG=<tenant>`` (``_tenants.aws.tenant_tags``). Cost Explorer answers per UTC
day, so the days asked are those the report window touches (whole days: Cost Explorer has no
finer grain). Spend whose tag is empty (untagged) or names no known tenant is kept and reported,
never dropped. The boto3 ``ce`` client is passed in (tests point it at moto).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AWS_TENANT_TAG
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import redact_text
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import Window

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    HAS_BOTO3 = True
except ImportError:  # pragma: no cover - reported by require_boto3
    HAS_BOTO3 = False
    BotoCoreError = ClientError = Exception  # type: ignore[misc,assignment]

METRICS = ("UnblendedCost", "AmortizedCost", "BlendedCost", "NetUnblendedCost", "NetAmortizedCost")
MAX_PAGES = 1000

# tenant -> day (YYYY-MM-DD) -> service -> amount
Spend = dict


@dataclass
class AwsCosts:
    """What Cost Explorer said, by tag value: tenants' spend and the untagged rest."""

    tag_key: str
    metric: str
    by_tag: Spend = field(default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(Decimal))))

    def untagged(self) -> Mapping[str, Mapping[str, Decimal]]:
        return self.by_tag.get("", {})


def validate_aws_costs(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``aws_costs`` option checked; None when it is off."""
    if not raw or not raw.get("enabled"):
        return None
    metric = raw.get("metric") or "UnblendedCost"
    if metric not in METRICS:
        raise PlatykusError(
            "aws_costs.metric: %r is not one of %s" % (metric, ", ".join(METRICS)), field="aws_costs.metric"
        )
    tag_key = raw.get("tag_key") or AWS_TENANT_TAG
    if not isinstance(tag_key, str) or not tag_key.strip():
        raise PlatykusError("aws_costs.tag_key: must be a tag key like %s" % AWS_TENANT_TAG, field="aws_costs.tag_key")
    return {
        "region": raw.get("region") or "us-east-1",
        "endpoint_url": raw.get("endpoint_url"),
        "tag_key": tag_key,
        "metric": metric,
    }


def cost_explorer_client(region: str, endpoint_url: str | None = None) -> Any:
    if not HAS_BOTO3:
        raise PlatykusError("aws_costs: boto3 is required to read Cost Explorer; install boto3", field="aws_costs")
    return boto3.session.Session(region_name=region).client("ce", endpoint_url=endpoint_url)


def window_days(window: Window) -> tuple[str, str]:
    """Cost Explorer's TimePeriod (Start inclusive, End exclusive) covering every day the window touches."""
    first: date = window.start.date()
    last: date = window.end.date()
    if window.end.time() != window.end.time().min or last == first:
        last += timedelta(days=1)
    return first.isoformat(), last.isoformat()


def _amount(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as err:
        raise PlatykusError("Cost Explorer answered a non-number %r at %s" % (value, where), field="aws_costs") from err
    if not number.is_finite():
        raise PlatykusError("Cost Explorer answered %r at %s" % (value, where), field="aws_costs")
    return number


def _tag_value(key: str, tag_key: str) -> str:
    """``<tag_key>$<value>`` -> value; ``<tag_key>$`` (no such tag) -> ''."""
    prefix = tag_key + "$"
    return key[len(prefix) :] if key.startswith(prefix) else key.split("$", 1)[-1]


def read_costs(client: Any, window: Window, tag_key: str, metric: str, currency: str) -> AwsCosts:
    """Daily spend per tag value and service over the window's days, every page."""
    start, end = window_days(window)
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": "DAILY",
        "Metrics": [metric],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    costs = AwsCosts(tag_key, metric)
    for _page in range(MAX_PAGES):
        try:
            answer = client.get_cost_and_usage(**request)
        except (BotoCoreError, ClientError) as err:
            raise PlatykusError(
                "Failed to read Cost Explorer (ce:GetCostAndUsage %s..%s by tag %s): %s"
                % (start, end, tag_key, redact_text(err)),
                field="aws_costs",
            ) from err
        for period in answer.get("ResultsByTime") or []:
            day = (period.get("TimePeriod") or {}).get("Start", start)
            for group in period.get("Groups") or []:
                keys = list(group.get("Keys") or []) + ["", ""]
                value = (group.get("Metrics") or {}).get(metric) or {}
                unit = value.get("Unit") or currency
                if unit != currency:
                    raise PlatykusError(
                        "aws_costs: Cost Explorer answered in %s, the prices are in %s, and Platykus does not convert "
                        "currencies; set platykus_prices.currency: %s" % (unit, currency, unit),
                        field="aws_costs",
                    )
                amount = _amount(value.get("Amount", "0"), "%s %s" % (day, keys[:2]))
                costs.by_tag[_tag_value(keys[0], tag_key)][day][keys[1] or "(no service)"] += amount
        token = answer.get("NextPageToken")
        if not token:
            return costs
        request["NextPageToken"] = token
    raise PlatykusError("Cost Explorer kept paging past %d pages; narrow the window" % MAX_PAGES, field="aws_costs")
