# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost history's time grid and Prometheus's range-query answers read onto it (see _cost.history).

The window is cut on a grid of ``step`` seconds anchored at the Unix epoch; the sample at ``t``
stands for ``[t, t + step)`` clipped to the window. Answers are read once into plain maps: Decimal
per sample for the few node, volume and add-on series (:func:`matrix`), two flat float lists per
series for the many pod series (:func:`samples`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import ZERO, Window

DAY_SECONDS = 86400
MAX_POINTS = 11000  # Prometheus refuses a range query with more points per series
US = 1_000_000


# {(label values...): {t (Unix seconds): Decimal}}
Matrix = dict
# {(label values...): Series}: the pods' samples, read without an object per sample
Samples = dict


def _result(answer: Any, name: str) -> list:
    """The series of a range-query answer; refuses an error or anything but a matrix."""
    if isinstance(answer, Mapping) and answer.get("status") not in (None, "success"):
        raise PlatykusError(
            "prometheus %s query: Prometheus answered %s: %s" % (name, answer.get("status"), answer.get("error")),
            field="prometheus_queries.%s" % name,
        )
    data = (answer or {}).get("data") if isinstance(answer, Mapping) else None
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
        raise PlatykusError(
            "prometheus %s query: expected a range-query matrix, got %r" % (name, str(answer)[:200]),
            field="prometheus_queries.%s" % name,
        )
    return data.get("result") or []


def matrix(answer: Any, name: str, labels: tuple[str, ...]) -> Matrix:
    """A range-query answer as ``{label values: {t: Decimal}}`` (nodes, capacity, volumes: few samples)."""
    out: Matrix = defaultdict(dict)
    for series in _result(answer, name):
        metric = series.get("metric") or {}
        key = tuple(metric.get(label, "") for label in labels)
        points = out[key]
        for t, value in series.get("values") or []:
            number = Decimal(value)
            if number.is_finite():
                stamp = int(round(float(t)))
                points[stamp] = points.get(stamp, ZERO) + number
    return out


@dataclass(frozen=True)
class Grid:
    """The window's steps: sample ``t`` stands for ``[t, t + step)`` clipped to the window."""

    window: Window
    step: int

    @cached_property
    def start_us(self) -> int:
        return to_micros(self.window.start)

    @cached_property
    def end_us(self) -> int:
        return to_micros(self.window.end)

    @cached_property
    def whole(self) -> tuple[int, int]:
        """First and last grid point whose step lies wholly inside the window (first > last: none)."""
        size = self.step * US
        return -(-self.start_us // size) * self.step, self.end_us // size * self.step - self.step

    def points(self, start: datetime, end: datetime) -> tuple[int, int] | None:
        """First and last grid point whose step starts in ``[start, end)`` (or covers ``start``)."""
        first = (to_micros(start) // US) // self.step * self.step
        last = (to_micros(end) - 1) // US // self.step * self.step
        return (first, last) if last >= first else None

    def piece(self, t: int) -> int:
        """Microseconds of the window the sample at ``t`` stands for."""
        lo = max(t * US, self.start_us)
        hi = min((t + self.step) * US, self.end_us)
        return max(0, hi - lo)

    def chunks(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        """``points`` cut so that no range query asks for more than Prometheus allows."""
        span = self.points(start, end)
        if span is None:
            return []
        chunks, first = [], span[0]
        while first <= span[1]:
            last = min(span[1], first + (MAX_POINTS - 1) * self.step)
            chunks.append((first, last))
            first = last + self.step
        return chunks


def to_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * DAY_SECONDS + delta.seconds) * US + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


@dataclass
class Series:
    """One series' samples in time order: timestamps and finite float values, side by side."""

    ts: list[int]
    xs: list[float]

    def points(self) -> dict[int, float]:
        return dict(zip(self.ts, self.xs))


def _series(values: Any) -> Series:
    ts = [int(point[0]) for point in values]
    xs = [float(point[1]) for point in values]
    total = sum(xs)
    if total - total != 0:  # a NaN or an infinity among them (x - x is 0 only for a finite x)
        kept = [(t, x) for t, x in zip(ts, xs) if x - x == 0]
        ts, xs = [t for t, _x in kept], [x for _t, x in kept]
    return Series(ts, xs)


def samples(answer: Any, name: str, labels: tuple[str, ...]) -> Samples:
    """A range-query answer as ``{label values: Series}``: non-finite samples dropped, series with the
    same label values added (as :func:`matrix` does), two flat lists per series and nothing per sample."""
    out: Samples = {}
    for raw in _result(answer, name):
        metric = raw.get("metric") or {}
        key = tuple(metric.get(label, "") for label in labels)
        series = _series(raw.get("values") or ())
        if key in out:
            merged = out[key].points()
            for t, x in zip(series.ts, series.xs):
                merged[t] = merged.get(t, 0.0) + x
            stamps = sorted(merged)
            series = Series(stamps, [merged[t] for t in stamps])
        out[key] = series
    return out
