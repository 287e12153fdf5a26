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
