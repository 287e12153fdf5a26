"""Seasonal profile, noise floor, ranking scores and the in-band rule, on real fits."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DetectorConfig, DetectorError, EnsembleDetector
from detector.config import SeasonalityParams
from detector.events import EventParams, track_events
from detector.noise import noise_floor, value_quantum
from detector.seasonality import SeasonalProfile

STEP = np.timedelta64(5, "m")
DAY_US = 86_400_000_000
PER_DAY = 288


def daily_series(days: int, seed: int = 0, weekly: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Business-hours traffic: 100 at night, 500 at the 14:00 peak, 2% noise."""
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2026-03-02T00:00") + STEP * np.arange(days * PER_DAY)
    hour = (np.arange(len(ts)) % PER_DAY) / 12
    shape = 100 + 400 * np.exp(-(((hour - 14) / 3.5) ** 2))
    if weekly:
        weekday = (np.arange(len(ts)) // PER_DAY) % 7
        shape = np.where(weekday >= 5, 100 + 0.3 * (shape - 100), shape)
    return shape * (1 + 0.02 * rng.standard_normal(len(ts))), ts


def seasonal_config(**extra: object) -> DetectorConfig:
    """The shipped defaults (three members, sigma threshold, event budget), plus extras."""
    return DetectorConfig.model_validate(extra)


def test_daily_profile_is_found_and_follows_the_day() -> None:
    x, ts = daily_series(14)
    profile = SeasonalProfile(SeasonalityParams())
    fit = profile.fit(x[:, None], ts)
    assert fit.period == "daily" and fit.gain > 0.5
    values = profile.values(ts[:PER_DAY])[:, 0]
    peak, night = values[14 * 12], values[3 * 12]
    assert peak - night == pytest.approx(400, rel=0.1)


def test_weekly_profile_when_weekends_differ() -> None:
    x, ts = daily_series(21, weekly=True)
    fit = SeasonalProfile(SeasonalityParams()).fit(x[:, None], ts)
    assert fit.period == "weekly"


def test_aperiodic_series_has_no_profile() -> None:
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal(14 * PER_DAY)) * 0.1 + 50 + rng.standard_normal(14 * PER_DAY)
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    fit = SeasonalProfile(SeasonalityParams()).fit(x[:, None], ts)
    assert fit.period is None and "no seasonality" in fit.note


def test_short_history_is_a_recorded_seasonal_cold_start() -> None:
    x, ts = daily_series(14)
    model = EnsembleDetector(seasonal_config()).fit(x[:PER_DAY][:, None], ts=ts[:PER_DAY])
    assert "seasonal cold start" in model.training_summary["seasonality"]
    assert model.seasonal_ is None


def test_contextual_drop_at_the_peak_is_found_and_band_follows_the_day() -> None:
    x, ts = daily_series(16)
    train = 14 * PER_DAY
    model = EnsembleDetector(seasonal_config()).fit(x[:train, None], ts=ts[:train])
    assert model.training_summary["seasonality"].startswith("daily")
    day = x[train:].copy()
    drop = slice(13 * 12, 14 * 12)  # 13:00-14:00 at 40% below, about the night level x2
    day[drop] *= 0.6
    ctx = model.config.context_rows
    window = np.concatenate([x[train - ctx : train], day])
    stamps = ts[train - ctx :]
    found = model.score(window[:, None], ts=stamps)
    flagged = np.flatnonzero(found.is_anomaly[ctx:])
    assert flagged.size and drop.start <= flagged.min() < drop.start + 3
    # the drop and the return to normal are one alert event; the clean hours none
    score = found.score[ctx:]
    feed = track_events(
        stamps[ctx:], found.is_anomaly[ctx:], score, np.ones(len(score), int), EventParams()
    )
    assert feed.opened_rows().tolist() == [flagged.min()]
    expected = found.expected[ctx:, 0]
    assert expected[14 * 12 + 24] > 3 * expected[3 * 12]  # the band follows the daily shape


def test_seasonal_model_refuses_scores_without_timestamps() -> None:
    x, ts = daily_series(14)
    model = EnsembleDetector(seasonal_config()).fit(x[:, None], ts=ts)
    with pytest.raises(DetectorError, match="timestamps"):
        model.score(x[:50, None])


def test_quantised_series_gets_a_floor_of_one_quantum() -> None:
    rng = np.random.default_rng(1)
    levels = rng.choice([10.0, 10.5, 11.0, 11.5, 12.0], size=3000, p=[0.05, 0.1, 0.7, 0.1, 0.05])
    assert value_quantum(levels) == pytest.approx(0.5)
    assert noise_floor(levels[:, None], 0.01)[0] == pytest.approx(0.5)
    assert value_quantum(rng.standard_normal(3000)) == 0.0


def test_step_wise_series_does_not_report_thousands_of_sigmas() -> None:
    # mostly flat with rare one-quantum steps: the MAD of the residuals is 0
    x = np.full(3000, 20.0)
    for start in range(100, 3000, 400):
        x[start : start + 150] = 21.0
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    model = EnsembleDetector(seasonal_config(threshold="sigma")).fit(x[:, None], ts=ts)
    residual = model.components["robust_residual"]
    assert residual.scale_[0] >= 1.0  # one quantum, not ~0
    assert residual.outputs(x[:, None]).errors.max() <= 1.0 + 1e-9
    found = model.score(x[:, None], ts=ts)
    assert found.is_anomaly.mean() < 0.01


def test_a_ten_sigma_spike_ranks_above_a_three_sigma_dip() -> None:
    rng = np.random.default_rng(7)
    x = 100 + rng.standard_normal(2000)
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    model = EnsembleDetector(seasonal_config(threshold="sigma")).fit(x[:1500, None], ts=ts[:1500])
    test = x[1500:].copy()
    test[200] = 110.0  # 10 sigma
    test[300] = 97.0  # 3 sigma
    ctx = model.config.context_rows
    found = model.score(np.concatenate([x[1500 - ctx : 1500], test])[:, None], ts=ts[1500 - ctx :])
    score = found.score[ctx:]
    assert score[200] > score[300]
    assert score[200] > np.sort(score)[-2] - 1e-12  # the spike ranks first of the whole week


def test_with_a_short_history_points_past_the_training_maximum_rank_and_grade() -> None:
    """Three days of 5-minute rows (864): a point just past the training maximum used to
    score n/(n+1) = 0.998845 like every point up to 1.6 times further out."""
    rng = np.random.default_rng(11)
    x = 100 + rng.standard_normal(1064)
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    model = EnsembleDetector(DetectorConfig()).fit(x[:864, None], ts=ts[:864])
    test = x[864:].copy()
    test[[50, 100, 150]] = [105.0, 106.0, 110.0]  # 5, 6 and 10 sigmas
    ctx = model.config.context_rows
    found = model.score(np.concatenate([x[864 - ctx : 864], test])[:, None], ts=ts[864 - ctx :])
    score = found.score[ctx:]
    assert found.is_anomaly[ctx:][[50, 100, 150]].all()
    assert 864 / 865 < score[50] < score[100] < score[150] < 1.0
    # severity (anomwatch's severity.critical_multiple, 1.5) reads the distance past the
    # model's own threshold: the 10-sigma spike is critical, the 5-sigma point a warning
    margin = found.margin[ctx:]  # type: ignore[index]
    assert margin[150] >= 1.5 > margin[50] >= 1


def test_far_outliers_keep_distinct_scores_below_one() -> None:
    rng = np.random.default_rng(2)
    x = 100 + rng.standard_normal(2000)
    ts = np.datetime64("2026-03-02") + STEP * np.arange(len(x))
    model = EnsembleDetector(seasonal_config()).fit(x[:1500, None], ts=ts[:1500])
    test = x[1500:1600].copy()
    test[[40, 60, 80]] = [130.0, 200.0, 1000.0]  # 30, 100 and 900 sigmas
    ctx = model.config.context_rows
    rows = np.concatenate([x[1500 - ctx : 1500], test])[:, None]
    score = model.score(rows, ts=ts[1500 - ctx : 1600]).score[ctx:]
    assert score[40] < score[60] < score[80] < 1.0


def local_daily(ts: np.ndarray, zone: str, seed: int = 0) -> np.ndarray:
    """The business-hours shape in the local time of `zone` (so it moves in UTC at DST)."""
    import pandas as pd

    local = pd.DatetimeIndex(ts).tz_localize("UTC").tz_convert(zone)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60
    shape = 100 + 400 * np.exp(-(((hour - 14) / 3.5) ** 2))
    return shape * (1 + 0.02 * np.random.default_rng(seed).standard_normal(len(ts)))


def test_dst_jump_keeps_the_profile_on_local_time() -> None:
    """Berlin moves to summer time on 2026-03-29: with `timezone` the peak stays at 14:00
    local and the days after the jump fit as well as the days before."""
    ts = np.datetime64("2026-03-16T00:00") + STEP * np.arange(28 * PER_DAY)
    x = local_daily(ts, "Europe/Berlin")
    params = SeasonalityParams(timezone="Europe/Berlin")
    jump = int(np.searchsorted(ts, np.datetime64("2026-03-29T01:00")))
    profile = SeasonalProfile(params)
    assert profile.fit(x[:jump][:, None], ts[:jump]).period == "daily"  # fitted before the jump

    def spread(p: SeasonalProfile, part: slice) -> float:
        rest = x[part] - p.values(ts[part])[:, 0]
        return float(np.median(np.abs(rest - np.median(rest))))

    before, after = spread(profile, slice(0, jump)), spread(profile, slice(jump, None))
    assert after < 1.5 * before
    utc = SeasonalProfile(SeasonalityParams())  # without the zone the profile is an hour off
    utc.fit(x[:jump][:, None], ts[:jump])
    assert spread(utc, slice(jump, None)) > 3 * before


def test_a_gap_longer_than_a_period_still_bins_by_time_of_day() -> None:
    x, ts = daily_series(16)
    keep = np.ones(len(x), bool)
    keep[5 * PER_DAY + 100 : 8 * PER_DAY + 40] = False  # nearly three days missing
    model = EnsembleDetector(seasonal_config()).fit(x[keep][:, None], ts=ts[keep])
    assert model.seasonal_ is not None and model.seasonal_.period_us == DAY_US
    tail = slice(14 * PER_DAY, 16 * PER_DAY)
    assert model.score(x[tail][:, None], ts=ts[tail]).is_anomaly.mean() < 0.01


def test_a_timestamp_step_that_changes_keeps_the_profile() -> None:
    """Five-minute rows, then one-minute rows: bins are read off the clock, not positions."""
    x5, ts5 = daily_series(10)
    ts1 = ts5[-1] + np.timedelta64(1, "m") * np.arange(1, 5 * 1440 + 1)
    hour = ((ts1 - ts1.astype("datetime64[D]")) / np.timedelta64(1, "h")).astype(float)
    rng = np.random.default_rng(9)
    noise = 1 + 0.02 * rng.standard_normal(len(ts1))
    x1 = (100 + 400 * np.exp(-(((hour - 14) / 3.5) ** 2))) * noise
    ts, x = np.concatenate([ts5, ts1]), np.concatenate([x5, x1])
    model = EnsembleDetector(seasonal_config()).fit(x[:, None], ts=ts)
    assert model.seasonal_ is not None and model.seasonal_.period_us == DAY_US
    fresh = slice(len(x) - 1440, len(x))
    assert model.score(x[fresh][:, None], ts=ts[fresh]).is_anomaly.mean() < 0.01


def growing_sine(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth day (100 at 03:00, 400 at 15:00) whose swing grows 30% over the days,
    with noise of 2% of the value: the noisiest hour is the busiest."""
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2026-03-02T00:00") + STEP * np.arange(days * PER_DAY)
    rows = np.arange(len(ts))
    hour = (rows % PER_DAY) / 12
    curve = 0.5 + 0.5 * np.sin(2 * np.pi * (hour - 9) / 24)
    base = 100 + 300 * curve * (1 + 0.3 * rows / len(rows))
    return base * (1 + 0.02 * rng.standard_normal(len(ts))), ts


def test_noise_multipliers_follow_the_noise_not_the_day_to_day_drift() -> None:
    """The multiplier is the point-to-point noise of each time of day. The swing that grows
    from day to day is no noise a member sees (each follows the level locally), so it must
    not inflate the peak and the trough (where the days differ most) over the steep hours:
    the members would then see the steep hours' noise magnified and flag them."""
    x, ts = growing_sine(14)
    profile = SeasonalProfile(SeasonalityParams())
    assert profile.fit(x[:, None], ts).period == "daily"
    day = ts[:PER_DAY]
    multiplier = profile.multipliers(day)[:, 0]
    trough, steep, peak = multiplier[3 * 12], multiplier[9 * 12], multiplier[15 * 12]
    assert trough < steep < peak  # as the noise: 2% of about 115, 290 and 460
    assert peak / trough > 2
    model = EnsembleDetector(seasonal_config()).fit(x[:, None], ts=ts)
    errors = model.components["robust_residual"].errors(model._deseasoned(x[:, None], ts)[0])
    hour = (np.arange(len(x)) % PER_DAY) // 12
    steep_hours = np.isin(hour, [8, 9, 10, 20, 21, 22])
    assert errors[steep_hours].mean() < 1.3 * errors[~steep_hours].mean()


def test_a_quiet_hour_of_a_quantised_series_keeps_one_quantum_one_floor() -> None:
    """Nights that sit on one value of a quantised gauge have no measurable noise; their
    multiplier must not shrink the noise below one quantum, or an ordinary one-quantum
    step at night is many sigmas (and the event budget then lifts the threshold to it,
    blinding every other hour)."""
    rng = np.random.default_rng(4)
    ts = np.datetime64("2026-03-02T00:00") + STEP * np.arange(15 * PER_DAY)
    hour = (np.arange(len(ts)) % PER_DAY) / 12
    base = 100 + 300 * np.exp(-(((hour - 14) / 3.5) ** 2))
    x = np.round(base * (1 + 0.03 * rng.standard_normal(len(ts))) / 20) * 20
    train = 14 * PER_DAY
    model = EnsembleDetector(seasonal_config()).fit(x[:train, None], ts=ts[:train])
    assert model.seasonal_ is not None and value_quantum(x[:train]) == pytest.approx(20)
    day = x[train:].copy()
    assert np.ptp(day[2 * 12 : 4 * 12]) == 0  # the night sits on one value
    day[3 * 12] += 20  # one ordinary step of one quantum, for one row
    ctx = model.config.context_rows
    window = np.concatenate([x[train - ctx : train], day])
    found = model.score(window[:, None], ts=ts[train - ctx :])
    assert model.error_threshold_ is not None
    assert found.errors[ctx + 3 * 12] < 0.6 * model.error_threshold_
    assert not found.is_anomaly[ctx:].any()


def flat_noise_daily(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The business-hours shape with noise of the same size at every hour (sd 5)."""
    ts = np.datetime64("2026-03-02T00:00") + STEP * np.arange(days * PER_DAY)
    hour = (np.arange(len(ts)) % PER_DAY) / 12
    shape = 100 + 400 * np.exp(-(((hour - 14) / 3.5) ** 2))
    return shape + 5 * np.random.default_rng(seed).standard_normal(len(ts)), ts


@pytest.mark.parametrize("seed", range(8))
def test_short_homoscedastic_history_gets_no_noise_multipliers(seed: int) -> None:
    """Three days of 5-minute rows put ~18 steps in each 30-minute bin: by sampling alone
    the bins' noise spans 1.3-1.7x, which must not pass for noise that varies by the hour."""
    x, ts = flat_noise_daily(3, seed)
    profile = SeasonalProfile(SeasonalityParams())
    fit = profile.fit(x[:, None], ts)
    assert fit.period == "daily" and "noise varies" not in fit.note
    assert profile.noise_ is None
    assert np.all(profile.multipliers(ts[:PER_DAY]) == 1.0)


@pytest.mark.parametrize("days", [3, 14])
def test_noise_five_times_larger_at_the_peak_keeps_its_multipliers(days: int) -> None:
    x, ts = daily_series(days)  # 2% of 100 at night, of 500 at the 14:00 peak
    profile = SeasonalProfile(SeasonalityParams())
    fit = profile.fit(x[:, None], ts)
    assert "noise varies with the time of day" in fit.note
    multiplier = profile.multipliers(ts[:PER_DAY])[:, 0]
    assert multiplier[14 * 12] / multiplier[3 * 12] > 3


def test_a_homoscedastic_column_beside_a_heteroscedastic_one_keeps_multipliers_of_one() -> None:
    busy, ts = daily_series(14)
    flat, _ = flat_noise_daily(14, seed=1)
    profile = SeasonalProfile(SeasonalityParams())
    profile.fit(np.column_stack([busy, flat]), ts)
    multiplier = profile.multipliers(ts[:PER_DAY])
    assert multiplier[14 * 12, 0] / multiplier[3 * 12, 0] > 3
    assert np.all(multiplier[:, 1] == 1.0)
