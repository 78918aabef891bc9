# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost history's grid: which steps lie wholly inside the window."""

from __future__ import annotations

from datetime import UTC, datetime

from ansible_collections.platykus.platform.plugins.module_utils._cost.grid import Grid
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window

T0 = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
HOUR = 3600


def test_whole_steps():
    window = make_window(datetime.fromtimestamp(T0 + 1200, UTC), datetime.fromtimestamp(T0 + 5 * HOUR + 600, UTC))
    grid = Grid(window, HOUR)
    assert grid.points(window.start, window.end) == (T0, T0 + 5 * HOUR)
    assert grid.whole == (T0 + HOUR, T0 + 4 * HOUR)
    short = make_window(datetime.fromtimestamp(T0 + 60, UTC), datetime.fromtimestamp(T0 + 120, UTC))
    first, last = Grid(short, HOUR).whole
    assert first > last
