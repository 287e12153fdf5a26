"""Seasonal level: has the last hour's mean left its seasonal expectation?

A 40% drop of a count near 3 for an hour is invisible point by point (every point
is within its Poisson noise) but not as an hour: twelve points averaged have a
standard error of sigma / sqrt(12). This member works on the deseasoned rows (the
profile removed, the noise made even), so the expectation of every row is the
series' level; it compares the trimmed mean of the last `window` rows (the `trim`
largest and smallest left out, so a spike of one or two points does not move it)
with the median of the `reference` rows before them (the level, which follows a
slow trend), in units of the standard error of that difference. The standard error
is measured, not assumed: the robust spread (1.4826 x MAD) of the same difference
over the training rows, which holds whatever the noise is (Poisson counts, AR
noise whose neighbours move together, the profile's own estimation error).

It joins a model only with a seasonal profile (without one there is no seasonal
expectation to compare with) and stays out of the weighted mean: the ensemble's
statistic is the larger of the members' weighted mean and this error, both in
sigmas, so an hour that is clearly off is not diluted by members that see each of
its points as normal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.calibration import EmpiricalCalibrator
from detector.result import ComponentOutput
from detector.windows import padded_windows

MAD_TO_SD = 1.4826


class SeasonalLevel:
    name = "seasonal_level"

    def __init__(self, window: int, reference: int, trim: int) -> None:
        if window - 2 * trim < 1:
            raise ValueError(f"trim {trim} leaves nothing of a window of {window}")
        self.window = window
        self.reference = reference
        self.trim = trim

    def _difference(self, X: np.ndarray) -> np.ndarray:
        """Trimmed mean of the last `window` rows minus the median of the `reference`
        rows before them, per row and feature. Near the start the reference is the rows
        there are, and a row with fewer than `window` of them differs by 0 (no level yet;
        the recent window repeats the first row)."""
        recent = np.sort(padded_windows(X, self.window), axis=1)
        kept = recent[:, self.trim : self.window - self.trim, :].mean(axis=1)
        level = (
            pd.DataFrame(X)
            .shift(self.window)
            .rolling(self.reference, min_periods=self.window)
            .median()
            .to_numpy()
        )
        return np.where(np.isnan(level), 0.0, kept - np.nan_to_num(level))

    def fit(self, X: np.ndarray, floor: np.ndarray | None = None) -> SeasonalLevel:
        """`floor`: smallest noise sigma of one point per feature (detector.noise)."""
        X = np.asarray(X, dtype=float)
        diff = self._difference(X)
        full = self.reference + self.window - 1  # rows whose windows are all real rows
        if len(diff) > full + 1:
            diff = diff[full:]
        spread = MAD_TO_SD * np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
        fallback = np.std(diff, axis=0)
        scale = np.where(spread > 0, spread, np.where(fallback > 0, fallback, 1.0))
        if floor is not None:
            scale = np.maximum(scale, np.asarray(floor) / np.sqrt(self.window - 2 * self.trim))
        self.scale_ = scale
        self.calibrator_ = EmpiricalCalibrator().fit(self.errors(X))
        return self

    def errors(self, X: np.ndarray) -> np.ndarray:
        """|difference| in standard errors, of the feature that moves most."""
        return (np.abs(self._difference(np.asarray(X, dtype=float))) / self.scale_).max(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self.errors(X))

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        errors = self.errors(X)
        return ComponentOutput(self.calibrator_.transform(errors), errors)
