"""Level-shift member: has the level of the last few points moved?

Compares the median of the last `recent` points (the point itself included) with
the median of the `reference` points before them, in units of the standard error
of that difference under the series' own noise (sigma from the median absolute
first difference, which neither a trend nor an earlier shift inflates). A step
stays visible for `reference` points while a forecaster or autoencoder has
already adapted (or collapsed to predicting the mean), and a single spike moves
neither median.
"""

from __future__ import annotations

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.result import ComponentOutput
from detector.windows import padded_windows

MEDIAN_EFFICIENCY = 1.2533  # sd of a sample median / sd of a sample mean, Gaussian data


class LevelShift:
    name = "level_shift"

    def __init__(self, recent: int, reference: int) -> None:
        self.recent = recent
        self.reference = reference

    def _shift(self, X: np.ndarray) -> np.ndarray:
        W = padded_windows(X, self.reference + self.recent)
        return np.median(W[:, self.reference :, :], axis=1) - np.median(
            W[:, : self.reference, :], axis=1
        )

    def fit(self, X: np.ndarray, floor: np.ndarray | None = None) -> LevelShift:
        diffs = np.diff(X, axis=0) if len(X) > 1 else np.zeros_like(X)
        mad = np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0)
        sigma = 1.4826 * mad / np.sqrt(2)
        fallback = np.std(diffs, axis=0) / np.sqrt(2)
        sigma = np.where(sigma > 0, sigma, np.where(fallback > 0, fallback, 1.0))
        if floor is not None:
            sigma = np.maximum(sigma, floor)
        self.scale_ = MEDIAN_EFFICIENCY * sigma * np.sqrt(1 / self.recent + 1 / self.reference)
        self.calibrator_ = EmpiricalCalibrator().fit(self.errors(X))
        return self

    def errors(self, X: np.ndarray) -> np.ndarray:
        """|shift| in standard errors of a shift under noise, of the feature that shifts most."""
        return (np.abs(self._shift(X)) / self.scale_).max(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self.errors(X))

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        errors = self.errors(X)
        return ComponentOutput(self.calibrator_.transform(errors), errors)
