"""Robust local residual: how far a point is from what the points before it predict.

The prediction is the median of the previous `window` points, or (trend: true) a
robust local line through them: the median of the slopes across half the window
and the median intercept, extrapolated one step. Medians ignore a spike among the
points, so (unlike a forecaster fed the spike) there are no false alarms for the
points after an anomaly; the median adapts to a level shift after half a window,
which turns a shift into one event. The plain median lags behind a slope (on a
sine it is off by the slope times half the window); the line does not, at the
cost of a noisier estimate, so it needs a longer window (30-40 points).

Errors are in units of the training residuals' noise sigma (1.4826 x their median
absolute deviation); the calibrated score is their empirical CDF, like every
component's.
"""

from __future__ import annotations

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.result import ComponentOutput
from detector.windows import padded_windows


class RobustResidual:
    name = "robust_residual"

    def __init__(
        self, sequence_length: int, trend: bool = False, window: int | None = None
    ) -> None:
        self.length = (window or sequence_length - 1) + 1  # the window plus the point itself
        self.trend = trend

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Each row's expected value from the `window` rows before it (no look-ahead)."""
        before = padded_windows(X, self.length)[:, :-1, :]  # (n, w, f)
        if not getattr(self, "trend", False):
            return np.median(before, axis=1)
        w = before.shape[1]
        h = max(w // 2, 1)
        slope = np.median((before[:, h:, :] - before[:, : w - h, :]) / h, axis=1)
        position = np.arange(w, dtype=float)[None, :, None]
        intercept = np.median(before - slope[:, None, :] * position, axis=1)
        return intercept + slope * w

    def fit(self, X: np.ndarray, floor: np.ndarray | None = None) -> RobustResidual:
        """`floor`: smallest noise sigma per feature (see detector.noise.noise_floor)."""
        residuals = X - self.predict(X)
        mad = np.median(np.abs(residuals - np.median(residuals, axis=0)), axis=0)
        fallback = np.std(residuals, axis=0)
        self.scale_ = np.where(mad > 0, 1.4826 * mad, np.where(fallback > 0, fallback, 1.0))
        if floor is not None:
            self.scale_ = np.maximum(self.scale_, floor)
        self.calibrator_ = EmpiricalCalibrator().fit(self.errors(X))
        self.band_ = self.scale_  # one noise sigma; the ensemble widens it to its threshold
        return self

    def errors(self, X: np.ndarray) -> np.ndarray:
        """|residual| in noise sigmas, of the feature that strays most: a mean over
        features would hide one sensor's 8-sigma spike among seven quiet ones."""
        return (np.abs(X - self.predict(X)) / self.scale_).max(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self.errors(X))

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        expected = self.predict(X)
        errors = (np.abs(X - expected) / self.scale_).max(axis=1)
        return ComponentOutput(self.calibrator_.transform(errors), errors, expected)
