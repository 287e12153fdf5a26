"""Level-shift member: has the level of the last few points moved?

Compares the median of the last `recent` points (the point itself included) with
the median of the `reference` points before them, in units of the standard error
of that difference under the series' own noise (sigma from the median absolute
first difference, which neither a trend nor an earlier shift inflates). A step
stays visible for `reference` points while a forecaster or autoencoder has
already adapted (or collapsed to predicting the mean), and a single spike moves
neither median.

The return to normal after a short incident is a step too, away from a reference
that holds the incident. So a clear shift also has to be a move away from the
`reference` points before that reference: where the series comes back to where it
was, the smaller of the two differences counts, and recovery is not a new alarm.
"""

from __future__ import annotations

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.result import ComponentOutput
from detector.windows import padded_windows

MEDIAN_EFFICIENCY = 1.2533  # sd of a sample median / sd of a sample mean, Gaussian data
CLEAR_SHIFT = 3.0  # standard errors beyond which a shift must also be a move from further back


class LevelShift:
    name = "level_shift"

    def __init__(self, recent: int, reference: int) -> None:
        self.recent = recent
        self.reference = reference

    def _shift(self, X: np.ndarray) -> np.ndarray:
        """(n, f) → (n, f): |shift| in standard errors, recovery to the earlier level discounted."""
        ref = self.reference
        W = padded_windows(X, 2 * ref + self.recent)
        recent = np.median(W[:, 2 * ref :, :], axis=1)
        shift = np.abs(recent - np.median(W[:, ref : 2 * ref, :], axis=1)) / self.scale_
        moved = np.abs(recent - np.median(W[:, :ref, :], axis=1)) / self.scale_
        return np.where(shift > CLEAR_SHIFT, np.minimum(shift, moved), shift)

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
        return self._shift(X).max(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self.errors(X))

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        errors = self.errors(X)
        return ComponentOutput(self.calibrator_.transform(errors), errors)
