"""The seasonal level: an hour off its seasonal expectation, in standard errors of a mean."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DetectorConfig, EnsembleDetector
from detector.events import EventParams, track_events
from detector.seasonal_level import SeasonalLevel

STEP = np.timedelta64(5, "m")
PER_DAY = 288
PEAK = 14 * 12  # 14:00


def counts(days: int, peak: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts with a daily shape (a tenth of the peak at night), the same every day;
    the values, their timestamps and the Poisson means."""
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2026-03-02T00:00") + STEP * np.arange(days * PER_DAY)
    hour = (np.arange(len(ts)) % PER_DAY) / 12
    lam = peak * (0.1 + 0.9 * np.exp(-(((hour - 14) / 3.5) ** 2)))
    return rng.poisson(lam).astype(float), ts, lam


def events_in(model: EnsembleDetector, x: np.ndarray, ts: np.ndarray, start: int) -> np.ndarray:
    """Rows (from `start`) opening an alert event when rows start.. are scored with context."""
    ctx = model.config.context_rows
    found = model.score(x[start - ctx :, None], ts=ts[start - ctx :])
    flags, score = found.is_anomaly[ctx:], found.score[ctx:]
    feed = track_events(ts[start:], flags, score, np.ones(len(score), int), EventParams())
    return feed.opened_rows()


def test_an_hour_long_drop_of_counts_is_found_though_every_point_is_within_its_noise() -> None:
    """A 40% drop of a count near 20 for an hour: each point is within sqrt(20) of the
    usual, twelve of them averaged are 5 standard errors below it."""
    x, ts, lam = counts(17, peak=20.0)
    train = 14 * PER_DAY
    model = EnsembleDetector(DetectorConfig()).fit(x[:train, None], ts=ts[:train])
    assert model.seasonal_level_ is not None
    drop = slice(train + PER_DAY + PEAK, train + PER_DAY + PEAK + 12)  # day 15, 14:00-15:00
    x = x.copy()
    x[drop] = np.random.default_rng(5).poisson(0.6 * lam[drop])
    opened = events_in(model, x, ts, train)
    hits = opened[(opened >= drop.start - train) & (opened < drop.stop - train)]
    assert hits.size == 1
    assert len(opened) <= 2  # three days scored: at most one other event
    # the members of the weighted mean alone do not see it: the points are inside the band
    alone = EnsembleDetector(DetectorConfig(seasonal_level=None))
    alone.fit(x[:train, None], ts=ts[:train])
    assert not (
        set(events_in(alone, x, ts, train)) & set(range(drop.start - train, drop.stop - train))
    )


def test_the_seasonal_level_needs_a_seasonal_profile() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(50.0, 2.0, 14 * PER_DAY)  # no daily shape
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    model = EnsembleDetector(DetectorConfig()).fit(x[:, None], ts=ts)
    assert model.seasonal_ is None and model.seasonal_level_ is None
    assert SeasonalLevel.name not in model.score(x[:50, None], ts=ts[:50]).components


def test_a_spike_of_two_points_does_not_move_the_trimmed_mean() -> None:
    level = SeasonalLevel(window=12, reference=36, trim=2)
    x = np.full((100, 1), 10.0) + np.random.default_rng(0).normal(0, 1, (100, 1))
    level.fit(x)
    spiked = x.copy()
    spiked[80:82] += 50.0
    assert level.errors(spiked)[80:93].max() < 3.0


def test_scoring_in_ticks_with_context_rows_matches_one_batch() -> None:
    x, ts, _ = counts(16, peak=20.0, seed=2)
    train = 14 * PER_DAY
    model = EnsembleDetector(DetectorConfig()).fit(x[:train, None], ts=ts[:train])
    assert model.seasonal_level_ is not None
    ctx = model.config.context_rows
    assert ctx >= model.config.seasonal_level.window + model.config.seasonal_level.reference - 1
    whole = model.score(x[:, None], ts=ts).errors[train:]
    parts = []
    for start in range(train, len(x), 12):
        batch = slice(start - ctx, start + 12)
        parts.append(model.score(x[batch, None], ts=ts[batch]).errors[ctx:])
    assert np.allclose(np.concatenate(parts), whole)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_short_series_give_finite_errors(n: int) -> None:
    x = np.random.default_rng(3).normal(10, 1, (n, 1))
    level = SeasonalLevel(window=12, reference=288, trim=2).fit(x)
    assert np.isfinite(level.errors(x)).all() and level.errors(x).shape == (n,)


def test_a_constant_series_has_no_errors_and_a_step_is_finite() -> None:
    x = np.full((600, 1), 7.0)
    level = SeasonalLevel(window=12, reference=288, trim=2).fit(x, floor=np.array([0.5]))
    assert level.errors(x).max() == 0.0
    stepped = x.copy()
    stepped[500:] = 8.0
    errors = level.errors(stepped)
    # no spread at all: the scale falls back to one unit (or the floor, when larger)
    assert np.isfinite(errors).all() and errors.max() == pytest.approx(1.0)


def test_a_trim_that_leaves_no_row_is_refused() -> None:
    with pytest.raises(ValueError, match="trim"):
        DetectorConfig(seasonal_level={"window": 4, "trim": 2})
