from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detector.compact_forest import CompactForest


@pytest.mark.parametrize("n_features", [1, 4])
def test_scores_equal_scikit_learn(n_features: int) -> None:
    rng = np.random.default_rng(n_features)
    train = rng.normal(size=(700, n_features))
    forest = IsolationForest(n_estimators=60, random_state=3).fit(train)
    probe = np.vstack([rng.normal(size=(50, n_features)) * 3, train[:10]])
    compact = CompactForest(forest)
    assert np.allclose(compact.score_samples(probe), forest.score_samples(probe), atol=1e-7)


def test_tiny_training_set() -> None:
    forest = IsolationForest(n_estimators=10, random_state=0).fit(np.zeros((3, 1)))
    probe = np.array([[0.0], [5.0]])
    assert np.allclose(CompactForest(forest).score_samples(probe), forest.score_samples(probe))
