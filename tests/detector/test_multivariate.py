"""Several value columns: one sensor's spike is not averaged away, relations between
sensors count, and the range guard does not decide alone (issue 12, item 9)."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DetectorConfig, EnsembleDetector

SENSORS = 8


def sensors(n: int, seed: int, level: float = 1.0) -> np.ndarray:
    """Eight sensors driven by two smooth drivers, each with its own noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    load = level * (1.0 + 0.5 * np.sin(t / 150))
    ambient = 0.4 * np.cos(t / 410)
    mix = np.random.default_rng(99).uniform(0.5, 1.5, (2, SENSORS))
    return np.column_stack([load, ambient]) @ mix + rng.normal(0, 0.02, (n, SENSORS))


@pytest.fixture(scope="module")
def fitted() -> EnsembleDetector:
    return EnsembleDetector(DetectorConfig(seed=1)).fit(sensors(3000, seed=1))


def test_multivariate_models_carry_the_cross_sectional_member_and_univariate_ones_not(
    fitted: EnsembleDetector,
) -> None:
    assert "cross_residual" in fitted.components
    one = EnsembleDetector(DetectorConfig(seed=1)).fit(sensors(3000, seed=1)[:, :1])
    assert "cross_residual" not in one.components


def test_one_sensor_spike_among_eight_is_flagged_inside_its_own_range(
    fitted: EnsembleDetector,
) -> None:
    X = sensors(600, seed=2)
    row, column = 400, 3
    X[row, column] += 0.2  # 10 noise sigmas, well inside the column's training range
    train = sensors(3000, seed=1)
    assert train[:, column].min() < X[row, column] < train[:, column].max()
    found = fitted.score(X)
    assert found.is_anomaly[row]
    assert found.components["cross_residual"][row] > 0.999
    others = np.delete(np.arange(len(X)), [row])
    assert found.is_anomaly[others].mean() < 0.01


def test_a_sensor_drifting_from_its_partners_is_flagged(fitted: EnsembleDetector) -> None:
    X = sensors(600, seed=3)
    X[300:336, 5] += np.linspace(0.05, 0.15, 36)  # 2.5-7.5 sigmas away from what the others imply
    found = fitted.score(X)
    assert found.is_anomaly[320:336].any()
    assert found.is_anomaly[:300].mean() < 0.02


def test_a_new_operating_point_is_not_an_anomaly_of_the_range_guard(
    fitted: EnsembleDetector,
) -> None:
    X = sensors(600, seed=4, level=1.3)  # every sensor higher, relations intact
    train = sensors(3000, seed=1)
    beyond = (train.max(axis=0) < X).any(axis=1)
    assert beyond.mean() > 0.3  # the case where a range rule floods
    found = fitted.score(X)
    assert found.is_anomaly.mean() < 0.02
    # the guard would pin every such row at >= 1 - contamination / 2; the forest decides
    forest = found.components["iforest"][beyond]
    assert (forest < 1 - DetectorConfig().contamination / 2).sum() >= 3


def test_one_column_keeps_its_range_guard() -> None:
    x = sensors(3000, seed=1)[:, :1]
    model = EnsembleDetector(DetectorConfig(seed=1, components=["iforest"])).fit(x)
    far = np.array([[x.max() + 50.0]])
    assert model.score(far).components["iforest"][0] > 0.99


def test_residual_errors_follow_the_column_that_strays_most() -> None:
    """A mean over eight columns would turn one sensor's 6-sigma spike into about 1.5."""
    config = DetectorConfig(seed=1, components=["robust_residual"])
    model = EnsembleDetector(config).fit(sensors(3000, seed=1))
    X = sensors(600, seed=5)
    X[300, 2] += 0.12  # 6 noise sigmas in one sensor
    found = model.score(X)
    assert found.is_anomaly[300]
    assert found.is_anomaly.mean() < 0.02


def test_auto_weights_give_related_sensors_to_the_relation(fitted: EnsembleDetector) -> None:
    """Each column's own residual fires on the sensors moving together as on a fault in
    one of them; the relation between them does not (before: 0.48 each)."""
    assert fitted.weights_["cross_residual"] > 0.8
    assert fitted.weights_["robust_residual"] < 0.2


def test_sensors_moving_together_to_a_new_operating_point_raise_no_alarm(
    fitted: EnsembleDetector,
) -> None:
    X = sensors(600, seed=4)
    X[300:] = sensors(600, seed=4, level=1.1)[300:]  # the load steps up 10% at row 300
    step = X[300:310].mean(axis=0) - X[290:300].mean(axis=0)
    assert (np.abs(step) > 3 * 0.02).all()  # every sensor: over 3 noise sigmas at once
    found = fitted.score(X)
    assert not found.is_anomaly[295:340].any()
