"""The demo runs on the same time of day whenever it is started, so its output repeats."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from anomwatch.demo_run import TICK, demo_start


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 24, 16, 0), datetime(2026, 11, 24, 13, 55)),
        (datetime(2026, 11, 24, 15, 55), datetime(2026, 11, 24, 13, 55)),  # last tick == now
        (datetime(2026, 11, 24, 15, 54), datetime(2026, 11, 23, 13, 55)),
        (datetime(2026, 11, 25, 0, 40), datetime(2026, 11, 24, 13, 55)),
    ],
)
def test_first_tick_is_1355_of_the_latest_day_whose_ticks_are_past(now, expected) -> None:
    t0 = demo_start(now, 6)
    assert t0 == expected
    assert t0 + 6 * TICK <= now < t0 + 6 * TICK + timedelta(days=1)
