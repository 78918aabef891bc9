# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time for the cost allocation: ISO 8601 in and out, exact Decimal hours, and the report window."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

ZERO = Decimal(0)
_ISO_HINT = "write it like 2024-06-01T00:00:00Z"


def parse_time(value: Any, field_name: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``2024-06-01T00:00:00Z``) or a datetime; naive means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as err:
            raise PlatykusError(
                "%s: %r is not an ISO 8601 time; %s" % (field_name, value, _ISO_HINT), field=field_name
            ) from err
    else:
        raise PlatykusError("%s: %r is not an ISO 8601 time; %s" % (field_name, value, _ISO_HINT), field=field_name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Exact hours from ``start`` to ``end`` (negative when end is first)."""
    delta = end - start
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1000000)
    return seconds / Decimal(3600)


def overlap(start: datetime, end: datetime | None, slice_start: datetime, slice_end: datetime) -> Decimal:
    """Hours of ``[start, end)`` (``end`` None: still running) inside ``[slice_start, slice_end)``."""
    lo = max(start, slice_start)
    hi = slice_end if end is None else min(end, slice_end)
    return hours_between(lo, hi) if hi > lo else ZERO


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def month_hours(moment: datetime) -> Decimal:
    """Hours in the calendar month (UTC) holding ``moment``: 720 for June, 744 for July."""
    return Decimal(calendar.monthrange(moment.year, moment.month)[1] * 24)


@dataclass(frozen=True)
class Window:
    """The charged interval ``[start, end)``; ``month_to_date`` when it starts at the month's first instant."""

    start: datetime
    end: datetime
    month_to_date: bool = False

    @property
    def hours(self) -> Decimal:
        return hours_between(self.start, self.end)

    @property
    def month_hours(self) -> Decimal:
        return month_hours(self.start)

    def forecast_factor(self) -> Decimal:
        """Multiply a cost over the window by this to get the month-end forecast (linear run rate)."""
        hours = self.hours
        return self.month_hours / hours if hours > 0 else Decimal(1)

    def days(self) -> list[tuple[datetime, datetime]]:
        """The window cut at UTC midnights."""
        slices = []
        cursor = self.start
        while cursor < self.end:
            midnight = datetime(cursor.year, cursor.month, cursor.day, tzinfo=UTC) + timedelta(days=1)
            slices.append((cursor, min(midnight, self.end)))
            cursor = midnight
        return slices

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        """Whether ``[start, end)`` has any time inside the window (the days cover it without gaps)."""
        return overlap(start, end, self.start, self.end) > 0


def make_window(
    window_start: Any = None, window_end: Any = None, month_to_date: bool = True, now: Any = None
) -> Window:
    """The report window: explicit ``window_start``/``window_end`` (end defaults to now) or month to date.

    A window may not end after now: the allocation charges every running pod up to the window's
    end, so a future end would bill hours that have not happened.
    """
    current = parse_time(now, "now") if now is not None else datetime.now(UTC)
    if window_start is None and window_end is None:
        if not month_to_date:
            raise PlatykusError(
                "window_start: not set and month_to_date is false; set window_start (and window_end) or month_to_date: true",
                field="window_start",
            )
        return Window(month_start(current), current, month_to_date=True)
    if window_start is None:
        raise PlatykusError(
            "window_start: not set while window_end is; set both, or neither for month to date", field="window_start"
        )
    start = parse_time(window_start, "window_start")
    end = parse_time(window_end, "window_end") if window_end is not None else current
    if end <= start:
        raise PlatykusError(
            "window_end: %s is not after window_start %s; set window_end later than window_start"
            % (format_time(end), format_time(start)),
            field="window_end",
        )
    if end > current:
        raise PlatykusError(
            "window_end: %s is after now (%s), and a report charges only hours that have passed; "
            "set window_end to now or earlier, or leave it unset to end the window now"
            % (format_time(end), format_time(current)),
            field="window_end",
        )
    return Window(
        start, end, month_to_date=start == month_start(start) and (end.year, end.month) == (start.year, start.month)
    )
