"""Cross-sectional residual: how far each value is from what the other columns of the
same row predict.

Sensors of one machine move together (load, temperature, pressure drive all of
them), so a value that is ordinary for its own column can still be impossible
beside the others: a sensor drifting away from its partners, or one spiking while
the rest stay put. Each column is predicted from the other columns of the same row
by a ridge regression fitted on the training rows (robustly: refitted once without
the rows it explains worst, so anomalies in the training data do not bend it). The
error is the largest |residual| over the columns, in that column's noise sigmas
(1.4826 x MAD of its training residuals, floored by the noise floor); the
calibrated score is its empirical CDF. Only for two or more columns: the ensemble
leaves it out of univariate models.
"""

from __future__ import annotations

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.result import ComponentOutput

RIDGE = 1e-3  # relative to each standardised column's variance: keeps collinear sensors stable
TRIM_SIGMAS = 4.0  # training rows beyond this are left out of the second fit


class CrossResidual:
    name = "cross_residual"

    def fit(self, X: np.ndarray, floor: np.ndarray | None = None) -> CrossResidual:
        """`floor`: smallest noise sigma per feature (see detector.noise.noise_floor)."""
        if X.shape[1] < 2:
            raise ValueError("cross_residual needs at least two columns")
        self.center_ = np.median(X, axis=0)
        spread = np.quantile(X, 0.75, axis=0) - np.quantile(X, 0.25, axis=0)
        self.spread_ = np.where(spread > 0, spread, 1.0)
        Z = (X - self.center_) / self.spread_
        keep = np.ones(len(X), dtype=bool)
        for _ in range(2):
            self.coef_ = self._solve(Z[keep])
            residuals = Z - self._predict_std(Z)
            scale = self._scale(residuals[keep])
            keep = (np.abs(residuals) / scale <= TRIM_SIGMAS).all(axis=1)
            if keep.sum() < max(10, X.shape[1] + 1):  # too few rows left: keep the first fit
                keep[:] = True
        self.scale_ = self._scale(residuals[keep]) * self.spread_
        if floor is not None:
            self.scale_ = np.maximum(self.scale_, floor)
        self.calibrator_ = EmpiricalCalibrator().fit(self.errors(X))
        return self

    @staticmethod
    def _scale(residuals: np.ndarray) -> np.ndarray:
        mad = np.median(np.abs(residuals - np.median(residuals, axis=0)), axis=0)
        fallback = np.std(residuals, axis=0)
        return np.where(mad > 0, 1.4826 * mad, np.where(fallback > 0, fallback, 1.0))

    @staticmethod
    def _solve(Z: np.ndarray) -> np.ndarray:
        """coef[:, j]: column j from the others (its own coefficient is 0) plus an intercept."""
        n, f = Z.shape
        coef = np.zeros((f + 1, f))
        design = np.column_stack([Z, np.ones(n)])
        for j in range(f):
            cols = [k for k in range(f + 1) if k != j]
            A = design[:, cols]
            penalty = RIDGE * n * np.eye(len(cols))
            penalty[-1, -1] = 0.0  # the intercept is not shrunk
            coef[cols, j] = np.linalg.solve(A.T @ A + penalty, A.T @ Z[:, j])
        return coef

    def _predict_std(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([Z, np.ones(len(Z))]) @ self.coef_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Each column's value as the other columns of its row imply it."""
        Z = (X - self.center_) / self.spread_
        return self.center_ + self._predict_std(Z) * self.spread_

    def errors(self, X: np.ndarray) -> np.ndarray:
        return (np.abs(X - self.predict(X)) / self.scale_).max(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self.errors(X))

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        errors = self.errors(X)
        return ComponentOutput(self.calibrator_.transform(errors), errors)
