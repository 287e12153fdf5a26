"""Detector options: thresholds, EWMA, level shift, auto weights, alarm aggregation."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DetectorConfig, DetectorError, EnsembleDetector
from detector.alarms import aggregate, k_of_m
from detector.config import smoothing_length
from detector.level_shift import LevelShift
from detector.smoothing import ewma
from detector.thresholds import quantile_threshold, sigma_threshold


def sine(n: int, seed: int = 0, step: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.sin(np.arange(n) * step) + rng.normal(0, 0.1, n))[:, None]


# -- alarm aggregation --------------------------------------------------------------


def test_k_of_m_needs_k_crossings_within_the_last_m_points() -> None:
    crossed = np.array([1, 0, 1, 0, 0, 0, 1, 1, 0, 1], bool)
    assert k_of_m(crossed, 2, 3).tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 1, 1]
    assert k_of_m(crossed, 1, 1).tolist() == crossed.tolist()


def test_alarm_fires_then_stays_quiet_for_the_suppression_period() -> None:
    crossed = np.zeros(20, bool)
    crossed[[3, 4, 5, 6, 12, 13, 17, 18]] = True
    # 2 of 3: candidates 4, 5, 6, 7, 13, 14, 18, 19; quiet for 5 after each alarm
    alarms = aggregate(crossed, k=2, m=3, suppress=5)
    assert np.flatnonzero(alarms).tolist() == [4, 13, 19]
    assert np.flatnonzero(aggregate(crossed, 1, 1, 0)).tolist() == np.flatnonzero(crossed).tolist()


def test_rearm_lets_a_bigger_excursion_through_the_quiet_period() -> None:
    scores = np.array([0.0, 0.6, 0.0, 0.0, 0.9, 0.95, 0.0, 0.7, 0.0])
    crossed = scores >= 0.5
    assert np.flatnonzero(aggregate(crossed, 1, 1, 6)).tolist() == [1]
    # 0.9 beats everything in the 6 points before it; 0.95 too; 0.7 does not
    assert np.flatnonzero(aggregate(crossed, 1, 1, 6, scores)).tolist() == [1, 4, 5]


def test_ensemble_reports_alarms_as_anomalies_and_keeps_the_crossings() -> None:
    train = sine(1500)
    test = sine(400, seed=1)
    test[200:230] += 2.0  # a 30-point excursion
    member = {
        "components": ["robust_residual"],
        "weights": "equal",
        "threshold": "quantile",
        "max_events_per_week": None,
        "robust_residual": {"trend": False, "window": None},
    }
    plain = EnsembleDetector(DetectorConfig.model_validate(member)).fit(train)
    config = DetectorConfig.model_validate({**member, "alarm": {"k": 2, "m": 3, "suppress": 50}})
    alarmed = EnsembleDetector(config).fit(train)
    crossings, result = plain.score(test), alarmed.score(test)
    assert result.crossed is not None
    assert np.array_equal(result.crossed, crossings.is_anomaly)
    assert crossings.is_anomaly[200:230].sum() >= 2
    assert result.is_anomaly[200:203].sum() == 1  # one alarm for the excursion, early
    assert result.is_anomaly[203:253].sum() == 0
    with pytest.raises(ValueError, match="must not exceed"):
        DetectorConfig(alarm={"k": 3, "m": 2})


# -- EWMA ---------------------------------------------------------------------------


def test_ewma_is_normalised_decays_and_follows_the_recursive_form() -> None:
    impulse = np.zeros(30)
    impulse[10] = 1.0
    smoothed = ewma(impulse, 5)
    assert np.allclose(ewma(np.full(30, 3.0), 5), 3.0)
    assert smoothed[:10].max() == 0 and smoothed[10] == smoothed.max()
    assert (np.diff(smoothed[10 : 10 + smoothing_length(5)]) < 0).all()
    assert smoothed[10 + smoothing_length(5) :].max() == 0  # finite memory
    values = np.random.default_rng(0).normal(size=500)
    alpha, recursive = 2 / 6, np.empty(500)
    recursive[0] = values[0]
    for i in range(1, 500):
        recursive[i] = alpha * values[i] + (1 - alpha) * recursive[i - 1]
    assert np.abs(ewma(values, 5)[50:] - recursive[50:]).max() < 0.05


def test_smoothed_detector_scores_a_batch_with_context_like_the_long_series() -> None:
    config = DetectorConfig(
        components=["robust_residual", "level_shift"],
        threshold="sigma",
        smoothing=6,
        robust_residual={"trend": True, "window": 24},
    )
    detector = EnsembleDetector(config).fit(sine(1200))
    long = sine(900, seed=3)
    long[600] += 2.0
    start = 590
    batch = long[start - config.context_rows : start + 20]
    small = detector.score(batch).score[config.context_rows :]
    assert np.allclose(small, detector.score(long).score[start : start + 20])
    # without the extra context the smoothed rows would differ
    assert config.context_rows > config.sequence_length - 1


# -- level shift --------------------------------------------------------------------


def test_level_shift_member_sees_a_step_and_not_a_spike() -> None:
    rng = np.random.default_rng(0)
    member = LevelShift(recent=4, reference=12).fit(rng.normal(0, 1, (1000, 1)))
    series = rng.normal(0, 1, (300, 1))
    series[150:] += 4.0  # a step of 4 noise sigmas
    series[60] += 8.0  # a spike
    errors = member.errors(series)
    seen = errors[152:156]  # from the third shifted point, until the reference catches up
    assert seen.min() > 4
    assert errors[:150].max() < seen.min()
    assert errors[55:70].max() < 3  # one point does not move a median of four


def test_level_shift_does_not_score_the_return_to_normal_after_a_short_incident() -> None:
    rng = np.random.default_rng(3)
    member = LevelShift(recent=4, reference=12).fit(rng.normal(0, 1, (1000, 1)))
    series = rng.normal(0, 1, (300, 1))
    series[100:110] -= 8.0  # a 10-point drop, then back to the level it left
    series[200:] += 8.0  # a step that stays
    errors = member.errors(series)
    assert errors[103:107].min() > 6  # the drop itself is seen
    # once most of the recent points are back, coming back is not a new shift
    assert errors[112:140].max() < 3
    assert errors[203:207].min() > 6  # a step that stays is


def test_level_shift_in_an_ensemble_flags_the_step_under_the_sigma_threshold() -> None:
    train = np.random.default_rng(1).normal(10, 1, (800, 1))
    config = DetectorConfig(components=["level_shift"], threshold="sigma")
    detector = EnsembleDetector(config).fit(train)
    test = np.random.default_rng(2).normal(10, 1, (200, 1))
    test[100:] += 5.0
    flags = detector.score(test).is_anomaly
    assert flags[101:110].any() and flags[:100].sum() <= 2


def test_level_shift_needs_reference_points() -> None:
    with pytest.raises(ValueError, match="level_shift needs at least 2 reference points"):
        DetectorConfig(components=["level_shift"], sequence_length=4, level_shift={"recent": 3})


# -- thresholds ---------------------------------------------------------------------


def test_dynamic_threshold_finds_an_injected_anomaly_and_nothing_in_clean_noise() -> None:
    long = sine(3000, seed=4)
    config = DetectorConfig(components=["robust_residual"], threshold="dynamic", smoothing=5)
    detector = EnsembleDetector(config).fit(long[:2000])
    clean = long[2000:]
    assert detector.score(clean).is_anomaly.sum() <= 5
    broken = clean.copy()
    broken[500:510] += 1.0  # ten points, 10 noise sigmas
    flags = detector.score(broken).is_anomaly
    assert flags[500:512].sum() >= 5
    assert flags.sum() - flags[500:530].sum() <= 5  # the smoothed excursion lasts a while


def test_sigma_threshold_ignores_the_contamination_it_has_to_find() -> None:
    rng = np.random.default_rng(5)
    errors = np.abs(rng.normal(0, 1, 2000))
    contaminated = errors.copy()
    contaminated[:100] += 8.0  # 5% anomalies
    assert abs(sigma_threshold(contaminated, 3.5) - sigma_threshold(errors, 3.5)) < 0.3
    assert (contaminated[:100] >= sigma_threshold(contaminated, 3.5)).all()


def test_sigma_threshold_flags_injected_spikes_in_a_contaminated_training_series() -> None:
    x = sine(2000, seed=6)
    spikes = np.random.default_rng(7).choice(np.arange(50, 2000), 40, replace=False)
    x[spikes, 0] += 1.0
    config = DetectorConfig(
        components=["robust_residual"], threshold="sigma", robust_residual={"trend": True}
    )
    flags = EnsembleDetector(config).fit(x).score(x).is_anomaly
    assert flags[spikes].mean() > 0.9
    assert flags.sum() < 60


def test_f1_threshold_from_labels_at_fit_and_by_tuning() -> None:
    x = sine(1500, seed=8)
    labels = np.zeros(1500, bool)
    labels[np.arange(100, 1500, 50)] = True
    x[labels, 0] += 0.8
    config = DetectorConfig(components=["robust_residual"], threshold="f1")
    detector = EnsembleDetector(config).fit(x, labels=labels)
    flags = detector.score(x).is_anomaly
    assert (flags == labels).mean() > 0.99
    with pytest.raises(DetectorError, match="threshold 'f1' needs labels"):
        EnsembleDetector(config).fit(x)
    quantile = EnsembleDetector(DetectorConfig(components=["robust_residual"])).fit(x)
    with pytest.raises(DetectorError, match="labels are only used by threshold 'f1'"):
        EnsembleDetector(quantile.config).fit(x, labels=labels)
    before = quantile.score(x).is_anomaly
    f1 = quantile.tune_threshold(x, labels)
    after = quantile.score(x).is_anomaly
    assert f1 > 0.95 and (after == labels).mean() > (before == labels).mean()


# -- auto weights -------------------------------------------------------------------


def test_auto_weights_favour_the_member_that_sees_the_anomalies() -> None:
    # a big slow wave: spikes of 1 stay inside the value range, where an Isolation
    # Forest on values cannot see them, while the residual sees every one
    x = 10 * np.sin(np.arange(3000) * 0.01)[:, None]
    x += np.random.default_rng(9).normal(0, 0.1, x.shape)
    config = DetectorConfig(
        components=["iforest", "robust_residual"],
        weights="auto",
        threshold="sigma",
        robust_residual={"trend": True, "window": None},
    )
    detector = EnsembleDetector(config).fit(x)
    assert detector.weights_["robust_residual"] > 0.8 > detector.weights_["iforest"]
    assert detector.training_summary["injected_ap"]["robust_residual"] > 0.9
    assert set(detector.score(x[:20]).components) == {"iforest", "robust_residual"}


def test_default_configuration_is_the_benchmarked_one() -> None:
    config = DetectorConfig()
    assert config.components == ["iforest", "robust_residual", "level_shift", "cross_residual"]
    assert config.weights == "auto" and config.threshold == "sigma"
    assert config.max_events_per_week == 1.0 and config.seasonality.mode == "auto"
    assert config.robust_residual.trend and config.robust_residual.window == 40
    assert config.alarm is None and config.smoothing == 0
    # the residual window, and the 3 rows before it that say whether it held an away level
    assert config.context_rows == 43


def test_quantile_threshold_never_flags_more_than_the_contamination_on_ties() -> None:
    scores = np.array([0.1] * 90 + [0.995] * 6 + [0.999] * 3 + [1.0])
    # 1 - 0.05 = 0.95 would flag 10%; the tie at 0.995 must stay below the threshold
    t = quantile_threshold(scores, 0.05)
    assert t == 0.999 and np.mean(scores >= t) == 0.04
    assert quantile_threshold(np.linspace(0, 1, 1001), 0.01) == pytest.approx(0.991)  # 10 of 1001
    assert quantile_threshold(np.full(50, 0.5), 0.01) == 0.99  # never below 1 - c


def test_one_column_forest_flags_at_most_its_contamination_on_training_data() -> None:
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(50, 5, 5000), 1)[:, None]  # few distinct values: tied scores
    for c in (0.01, 0.02):
        detector = EnsembleDetector(
            DetectorConfig(
                components=["iforest"], contamination=c, threshold="quantile", weights="equal"
            )
        )
        result = detector.fit(X).score(X)
        assert 0.5 * c <= result.is_anomaly.mean() <= c
