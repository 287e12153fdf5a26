"""The replay (benchmarks, `anomwatch preview`) refits exactly when the tick would."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from anomwatch.config import RetrainPolicy
from anomwatch.replay import stream_series
from detector import DetectorConfig


def test_replay_refits_on_the_ticks_the_product_retrains_at() -> None:
    # 5-minute rows, ticks of 12 rows (one hour): with every = 3 h a model is due at the
    # tick 3 h after its last training row, i.e. every 3rd tick (not the 4th)
    rng = np.random.default_rng(0)
    ts = np.datetime64("2026-01-05T00:00", "us") + np.timedelta64(5, "m") * np.arange(600)
    x = rng.normal(10, 1, len(ts))
    retrain = RetrainPolicy(every=timedelta(hours=3), window=timedelta(days=14))
    config = DetectorConfig(components=["robust_residual"], seasonality={"mode": "off"})
    out = stream_series(x, ts, 120, config=config, retrain=retrain, tick_rows=12)
    ticks = len(range(120, 600, 12))
    assert out.fits == len(range(0, ticks, 3))  # a fit at ticks 0, 3, 6, ...


def shifted_day(hours: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """16 days of a daily cycle with noise 1; on day 16 a shift of +8 for `hours`."""
    rng = np.random.default_rng(seed)
    n = 16 * 288
    ts = np.datetime64("2026-01-01T00:00", "us") + np.timedelta64(5, "m") * np.arange(n)
    x = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    start = 15 * 288 + 100
    x[start : start + int(hours * 12)] += 8
    return x, ts, start


def test_the_return_from_a_long_shift_joins_its_event_and_a_lasting_one_is_the_new_normal() -> None:
    # the members adapt to the shifted level within two hours and stop flagging; the
    # level is still outside the training range, which holds the event open, so the
    # return to normal (flagged again, 5 h later) is not a new page
    x, ts, start = shifted_day(5)
    out = stream_series(x, ts, 14 * 288)
    opened = np.flatnonzero(out.opened) - start
    assert opened[0] in (0, 1)
    back = 5 * 12
    assert not ((opened > 1) & (opened <= back + 12)).any(), opened
    first = out.events[0]
    assert first.last >= ts[start + back]  # the return's points are the event's
    assert not first.new_normal
    # a shift that lasts: one new-normal message 6 h after it opened, no other page
    x, ts, start = shifted_day(9)
    out = stream_series(x, ts, 14 * 288)
    opened = np.flatnonzero(out.opened) - start
    notified = np.flatnonzero(out.notified) - start
    assert opened[0] in (0, 1) and not ((opened > 1) & (opened < 9 * 12)).any(), opened
    assert out.events[0].new_normal
    assert opened[0] + 72 in notified
