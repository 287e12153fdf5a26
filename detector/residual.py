"""Robust local residual: how far a point is from the median of the points before it.

The median of the previous sequence_length - 1 points ignores a spike among them,
so (unlike a forecaster fed the spike) it does not raise false alarms for the
points after an anomaly; it adapts to a level shift after half a window, which
turns a shift into one event. Scaled by the training residuals' median absolute
deviation and calibrated on training data, like every component.
"""

from __future__ import annotations

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.windows import padded_windows


class RobustResidual:
    name = "robust_residual"

    def __init__(self, sequence_length: int) -> None:
        self.length = sequence_length

    def _residuals(self, X: np.ndarray) -> np.ndarray:
        before = padded_windows(X, self.length)[:, :-1, :]
        return X - np.median(before, axis=1)

    def fit(self, X: np.ndarray) -> RobustResidual:
        residuals = self._residuals(X)
        mad = np.median(np.abs(residuals - np.median(residuals, axis=0)), axis=0)
        fallback = np.std(residuals, axis=0)
        self.scale_ = np.where(mad > 0, 1.4826 * mad, np.where(fallback > 0, fallback, 1.0))
        self.calibrator_ = EmpiricalCalibrator().fit(self._raw(X))
        return self

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return (np.abs(self._residuals(X)) / self.scale_).mean(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self._raw(X))
