"""Isolation Forest component with a range guard.

An Isolation Forest isolates a point 50 standard deviations away as fast as one at 4,
so its raw score saturates for exactly the spikes operators care most about, and it
cannot split a constant training series at all. The range guard scores how far a
point lies outside the training range (in robust units), and the component reports
the larger of the two calibrated scores. Only for one column: with several, a new
operating point takes some columns outside their training range while the rows stay
ordinary, and the guard alone would call each of them anomalous (78% of the rows of a
multivariate benchmark once); there the forest, which sees the joint values, and the
residual members, which take each column's largest error, decide.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import RobustScaler

from detector.calibration import EmpiricalCalibrator
from detector.compact_forest import CompactForest
from detector.config import IForestParams
from detector.result import ComponentOutput, half_normal_errors


class IForestComponent:
    name = "iforest"

    def __init__(self, params: IForestParams, contamination: float, seed: int) -> None:
        self.params = params
        self.contamination = contamination
        self.seed = seed

    def fit(self, X: np.ndarray) -> IForestComponent:
        self.scaler_ = RobustScaler().fit(X)
        Z = self.scaler_.transform(X)
        forest = IsolationForest(
            n_estimators=self.params.n_estimators,
            max_samples=min(self.params.max_samples, len(X)),
            random_state=self.seed,
        ).fit(Z)
        self.forest_ = CompactForest(forest)  # fast to score, small to store and cache
        self.calibrator_ = EmpiricalCalibrator().fit(-self.forest_.score_samples(Z))
        self.low_ = Z.min(axis=0)
        self.high_ = Z.max(axis=0)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        forest = self.calibrator_.transform(-self.forest_.score_samples(Z))
        if Z.shape[1] > 1:
            return forest
        beyond = np.maximum(Z - self.high_, self.low_ - Z).max(axis=1)
        guard = np.where(
            beyond > 0, 1 - (self.contamination / 2) * np.exp(-np.maximum(beyond, 0.0)), 0.0
        )
        return np.maximum(forest, guard)

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        calibrated = self.score(X)
        return ComponentOutput(calibrated, half_normal_errors(calibrated))
