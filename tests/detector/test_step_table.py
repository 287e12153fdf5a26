"""The step table scores exactly as the detector, and refuses what it cannot tabulate."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DetectorConfig, EnsembleDetector
from detector.step_table import StepTableScorer


def _series(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 50 + 10 * np.sin(np.arange(n) / 40) + rng.normal(0, 1, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_scores_flags_and_components_as_the_detector(seed: int) -> None:
    train = _series(seed)
    if seed == 2:
        train = np.round(train)  # many ties between training and scored values
    config = DetectorConfig(
        seed=seed, components=["iforest"], weights="equal", threshold="quantile"
    )
    detector = EnsembleDetector(config).fit(train[:, None])
    table = StepTableScorer.build(detector)
    assert table is not None
    rng = np.random.default_rng(100 + seed)
    X = np.concatenate([rng.normal(50, 20, 5000), train, [1e6, -1e6, 50.0]])[:, None]
    expected = detector.score(X)
    got = table.detect(X)
    np.testing.assert_array_equal(got.score, expected.score)
    np.testing.assert_array_equal(got.is_anomaly, expected.is_anomaly)
    np.testing.assert_array_equal(got.components["iforest"], expected.components["iforest"])
    np.testing.assert_array_equal(got.expected, expected.expected)
    np.testing.assert_array_equal(table.scores(X[:, 0]), expected.score)
    assert got.is_anomaly[-3] and got.is_anomaly[-2]  # far outside the training range


def test_only_one_column_isolation_forest_detectors_are_tabulated() -> None:
    train = _series(0)
    multi = EnsembleDetector(DetectorConfig()).fit(np.column_stack([train, train[::-1]]))
    mixed = EnsembleDetector(DetectorConfig(components=["iforest", "robust_residual"])).fit(
        train[:, None]
    )
    constant = EnsembleDetector(DetectorConfig()).fit(np.full((200, 1), 3.0))
    assert StepTableScorer.build(multi) is None
    assert StepTableScorer.build(mixed) is None
    assert StepTableScorer.build(constant) is None  # no splits: the detector scores it
