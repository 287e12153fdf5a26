"""The detector a monitor uses per series: components, calibration, threshold.

Only the components named in the config are built; TensorFlow is imported only by
LSTM components, so an Isolation-Forest-only monitor never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.config import DetectorConfig
from detector.errors import DetectorError, InsufficientDataError
from detector.iforest import IForestComponent
from detector.persistence import read_artifact, write_artifact
from detector.residual import RobustResidual
from detector.result import Detection


class Component(Protocol):
    name: str

    def fit(self, X: np.ndarray) -> Any: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...


def build_component(name: str, config: DetectorConfig) -> Component:
    if name == "iforest":
        return IForestComponent(config.iforest, config.contamination, config.seed)
    if name == "robust_residual":
        return RobustResidual(config.sequence_length)
    from detector.lstm import LSTMAutoencoder, LSTMForecaster  # imports Keras lazily

    if name == "lstm_forecaster":
        return LSTMForecaster(config.lstm, config.sequence_length, config.seed)
    if name == "lstm_autoencoder":
        return LSTMAutoencoder(config.lstm, config.sequence_length, config.seed)
    raise DetectorError(f"unknown detector component {name!r}")


class EnsembleDetector:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.components: dict[str, Component] = {}
        self.n_features: int | None = None

    # -- input checks ----------------------------------------------------------------

    def _check(self, X: np.ndarray, fitting: bool) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise DetectorError(f"expected a (points, features) array, got shape {X.shape}")
        if not fitting and self.n_features is not None and X.shape[1] != self.n_features:
            raise DetectorError(
                f"the model was trained on {self.n_features} feature(s) but got {X.shape[1]}; "
                "the value columns changed: retrain the model"
            )
        bad = ~np.isfinite(X)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DetectorError(
                f"{int(bad.sum())} NaN/inf value(s), first at row {row}; clean or drop them first"
            )
        return X

    # -- fit / score -------------------------------------------------------------------

    def fit(self, X: np.ndarray) -> EnsembleDetector:
        X = self._check(X, fitting=True)
        if len(X) < self.config.min_train_points:
            raise InsufficientDataError(
                f"{len(X)} training point(s), at least {self.config.min_train_points} needed "
                "(detector.min_train_points)"
            )
        self.n_features = X.shape[1]
        self.components = {n: build_component(n, self.config) for n in self.config.components}
        self._fit_components(X)
        self.weights_ = self._weights()
        self.center_ = np.median(X, axis=0)
        self.lower_ = np.quantile(X, 0.005, axis=0)
        self.upper_ = np.quantile(X, 0.995, axis=0)
        parts = {n: c.score(X) for n, c in self.components.items()}
        # A mean of calibrated scores is no longer a CDF: calibrate the ensemble again,
        # so that the threshold keeps meaning "this rare on normal data".
        self.ensemble_calibrator_: EmpiricalCalibrator | None = None
        if len(parts) > 1:
            self.ensemble_calibrator_ = EmpiricalCalibrator().fit(self._combine(parts))
        train_scores = self._final(parts)
        self.threshold_ = 1.0 - self.config.contamination
        self.training_summary: dict[str, float | int] = {
            "n_points": int(len(X)),
            "n_features": int(self.n_features),
            "train_flag_rate": float(np.mean(train_scores >= self.threshold_)),
            "train_score_p99": float(np.quantile(train_scores, 0.99)),
        }
        return self

    def _fit_components(self, X: np.ndarray) -> None:
        """The Isolation Forest first: its pre-labels keep anomalies out of AE training."""
        normal = None
        for name, component in self.components.items():
            if name == "lstm_autoencoder":
                if normal is None:
                    prelabel = IForestComponent(
                        self.config.iforest, self.config.contamination, self.config.seed
                    ).fit(X)
                    normal = prelabel.score(X) < 1.0 - self.config.contamination
                component.fit(X, normal_mask=normal)  # type: ignore[call-arg]
            else:
                component.fit(X)
                if name == "iforest":
                    normal = component.score(X) < 1.0 - self.config.contamination

    def _final(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        combined = self._combine(parts)
        if self.ensemble_calibrator_ is not None:
            combined = self.ensemble_calibrator_.transform(combined)
        return np.clip(combined, 0.0, 1.0)

    def _weights(self) -> dict[str, float]:
        if isinstance(self.config.weights, dict):
            raw = {n: self.config.weights.get(n, 0.0) for n in self.components}
        else:
            raw = dict.fromkeys(self.components, 1.0)
        total = sum(raw.values()) or 1.0
        return {n: w / total for n, w in raw.items()}

    def _combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        return np.sum([self.weights_[n] * s for n, s in parts.items()], axis=0)

    def score(self, X: np.ndarray) -> Detection:
        if not self.components:
            raise DetectorError("the detector is not fitted")
        X = self._check(X, fitting=False)
        n = len(X)
        parts: dict[str, np.ndarray] = {}
        expected = np.tile(self.center_, (n, 1))
        lower, upper = np.tile(self.lower_, (n, 1)), np.tile(self.upper_, (n, 1))
        for name, component in self.components.items():
            if name == "lstm_forecaster":
                predicted, parts[name] = component.forecast(X)  # type: ignore[attr-defined]
                band = component.band_  # type: ignore[attr-defined]
                expected, lower, upper = predicted, predicted - band, predicted + band
            else:
                parts[name] = component.score(X)
        score = self._final(parts)
        return Detection(
            score=score,
            is_anomaly=score >= self.threshold_,
            threshold=self.threshold_,
            components=parts,
            expected=expected,
            lower=lower,
            upper=upper,
        )

    # -- persistence -----------------------------------------------------------------

    def save(self, directory: Path) -> str:
        manifest = {
            "config": self.config.model_dump(mode="json"),
            "config_hash": self.config.config_hash(),
            "training_summary": self.training_summary,
        }
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for component in self.components.values():
            if hasattr(component, "save_extra"):
                component.save_extra(directory)
        return write_artifact(directory, self, manifest)

    @classmethod
    def load(cls, directory: Path, expected_sha256: str) -> EnsembleDetector:
        state, _manifest = read_artifact(Path(directory), expected_sha256)
        if not isinstance(state, cls):
            raise DetectorError(f"{directory} does not hold an anomwatch detector")
        for component in state.components.values():
            if hasattr(component, "load_extra"):
                component.load_extra(Path(directory))
        return state
