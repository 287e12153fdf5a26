"""The detector contract the service relies on: alignment, calibration, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detector import (
    DetectorConfig,
    DetectorError,
    EnsembleDetector,
    InsufficientDataError,
    ModelIntegrityError,
)


def sine(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.sin(np.linspace(0, 20, n)) + rng.normal(0, 0.1, n))[:, None]


# The Isolation Forest alone with the contamination quantile: a member whose scores
# need no context rows, so a window scores exactly like the same rows of a batch.
FOREST = {"components": ["iforest"], "weights": "equal", "threshold": "quantile"}


@pytest.fixture(scope="module")
def fitted() -> EnsembleDetector:
    return EnsembleDetector(DetectorConfig(seed=3, **FOREST)).fit(sine(2000))


def test_the_defaults_find_the_spike_and_keep_a_quiet_sine() -> None:
    stamps = np.datetime64("2026-01-01") + np.arange(2500) * np.timedelta64(5, "m")
    data = sine(2500, seed=9)
    data[2250] += 3.0
    model = EnsembleDetector(DetectorConfig(seed=3)).fit(data[:2000], ts=stamps[:2000])
    context = model.config.context_rows
    result = model.score(data[2000 - context :], ts=stamps[2000 - context :])
    assert set(result.components) == {"iforest", "robust_residual", "level_shift"}
    flagged = np.flatnonzero(result.is_anomaly[context:]) + 2000
    assert flagged.tolist() == [2250]


def test_every_row_gets_a_score_in_unit_interval(fitted: EnsembleDetector) -> None:
    result = fitted.score(sine(37, seed=1))
    assert result.score.shape == (37,) and result.is_anomaly.shape == (37,)
    assert result.expected.shape == result.lower.shape == result.upper.shape == (37, 1)
    assert set(result.components) == {"iforest"}  # the fixture: the forest alone
    assert ((result.score >= 0) & (result.score <= 1)).all()


def test_small_window_scores_like_the_same_rows_in_a_big_batch(fitted: EnsembleDetector) -> None:
    big = sine(20_000, seed=5)
    big[12_345] += 5.0
    window = big[12_330:12_350]
    assert np.allclose(fitted.score(window).score, fitted.score(big).score[12_330:12_350])


def test_injected_spike_is_found_and_normal_points_mostly_not(fitted: EnsembleDetector) -> None:
    data = sine(500, seed=9)
    data[250] += 3.0
    result = fitted.score(data)
    assert result.is_anomaly[250]
    assert result.score[250] > 0.99
    assert result.is_anomaly.mean() < 0.05


def test_constant_series_flags_any_change() -> None:
    det = EnsembleDetector(DetectorConfig()).fit(np.full((200, 1), 7.0))
    result = det.score(np.array([[7.0], [7.0], [7.5], [7.0]]))
    assert result.is_anomaly.tolist() == [False, False, True, False]


def test_bad_input_is_refused_clearly(fitted: EnsembleDetector) -> None:
    with pytest.raises(InsufficientDataError, match="5 training point\\(s\\), at least 100"):
        EnsembleDetector(DetectorConfig()).fit(sine(5))
    with pytest.raises(DetectorError, match="1 NaN/inf value\\(s\\), first at row 2"):
        fitted.score(np.array([[0.0], [0.1], [np.nan]]))
    with pytest.raises(DetectorError, match="trained on 1 feature\\(s\\) but got 2"):
        fitted.score(np.zeros((3, 2)))


def test_same_data_and_seed_give_the_same_scores() -> None:
    a = EnsembleDetector(DetectorConfig(seed=4)).fit(sine(400)).score(sine(50, 2)).score
    b = EnsembleDetector(DetectorConfig(seed=4)).fit(sine(400)).score(sine(50, 2)).score
    assert np.array_equal(a, b)


def test_saved_model_loads_and_a_tampered_one_is_refused(
    fitted: EnsembleDetector, tmp_path: Path
) -> None:
    sha = fitted.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["config_hash"] == fitted.config.config_hash()
    assert "scikit-learn" in manifest["versions"]
    loaded = EnsembleDetector.load(tmp_path / "m", sha)
    data = sine(30, 7)
    assert np.array_equal(loaded.score(data).score, fitted.score(data).score)
    with pytest.raises(ModelIntegrityError, match="differs from the registry"):
        EnsembleDetector.load(tmp_path / "m", "0" * 64)
    state = tmp_path / "m" / "state.joblib"
    state.write_bytes(state.read_bytes() + b"x")
    with pytest.raises(ModelIntegrityError, match="modified since it was saved"):
        EnsembleDetector.load(tmp_path / "m", sha)


def test_config_hash_changes_with_settings() -> None:
    assert DetectorConfig().config_hash() != DetectorConfig(contamination=0.02).config_hash()
    with pytest.raises(ValueError, match="weights name components"):
        DetectorConfig(weights={"lstm": 1.0})


def test_the_event_budget_raises_the_threshold_no_further_than_it_must() -> None:
    """Two weeks of training rows with six 6-sigma spikes on different days (more events
    than the budget of 1 a week allows) and one 100-sigma incident: the threshold rises
    just above the spikes, not to the incident's own peak, so a 30-sigma spike later is
    still found."""
    rng = np.random.default_rng(4)
    n = 14 * 288
    x = 100 + rng.standard_normal(n + 288)
    ts = np.datetime64("2026-03-02") + np.timedelta64(5, "m") * np.arange(len(x))
    for day in range(1, 13, 2):
        x[day * 288 + 100] += 6.0
    x[6 * 288 + 200] += 100.0
    config = DetectorConfig(components=["robust_residual"], seasonality={"mode": "off"})
    model = EnsembleDetector(config).fit(x[:n, None], ts=ts[:n])
    assert "threshold raised" in model.training_summary["budget"]
    assert model.error_threshold_ is not None and model.error_threshold_ < 20
    later = x[n:].copy()
    later[150] += 30.0
    ctx = config.context_rows
    rows = np.concatenate([x[n - ctx : n], later])
    found = model.score(rows[:, None], ts=ts[n - ctx :])
    assert found.is_anomaly[ctx + 150]


def test_a_lasting_level_holds_its_event_a_residual_window_past_the_return_a_spike_does_not() -> (
    None
):
    rng = np.random.default_rng(5)
    n = 15 * 288
    ts = np.datetime64("2026-01-01T00:00", "us") + np.timedelta64(5, "m") * np.arange(n)
    x = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    detector = EnsembleDetector(DetectorConfig()).fit(x[: 14 * 288], ts=ts[: 14 * 288])
    day = slice(14 * 288, n)
    shifted = x[day].copy()
    shifted[50:110] += 8  # five hours away
    shifted[80:86] += 8  # and half an hour further away meanwhile
    shifted[200:202] += 30  # a two-row spike
    found = detector.score(shifted, ts=ts[day])
    assert found.hold is not None
    assert found.hold.away[53:110].all() and not found.hold.away[115:195].any()
    window = detector.config.residual_window
    assert found.hold.held[53 : 110 + window - 4].all()  # the residual window still leans on it
    assert not found.hold.held[110 + window + 4 : 195].any()
    assert found.is_anomaly[200]  # the spike is flagged, but it is no level: nothing held
    assert not found.hold.away[200:].any() and not found.hold.held[200:].any()
    assert found.hold.departing[80:83].all()  # leaving normal further: a new incident
    # the return's flags move back towards normal (departing is read on flagged rows only)
    assert found.is_anomaly[110:115].any()
    assert not (found.hold.departing & found.is_anomaly)[110:195].any()
