"""LSTM components: a next-point forecaster and a window autoencoder (Keras 3).

Both score a point by an error that is calibrated on held-out training windows, so
scores mean the same in any batch size. Keras is imported only when one of these
components is built. Models are saved in Keras' native format and loaded with
safe_mode=True; the rest of the state goes through joblib with the ensemble.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from detector.calibration import EmpiricalCalibrator
from detector.config import LSTMParams
from detector.result import ComponentOutput, half_normal_errors
from detector.thresholds import noise_sigma
from detector.windows import padded_windows, windows


def _keras() -> Any:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build_forecaster(p: LSTMParams, steps: int, features: int) -> Any:
    """LSTM(units) -> Dropout -> LSTM(units/2) -> Dropout -> Dense: the next point."""
    keras = _keras()
    return keras.Sequential(
        [
            keras.Input((steps, features)),
            keras.layers.LSTM(p.units, return_sequences=True),
            keras.layers.Dropout(p.dropout),
            keras.layers.LSTM(max(p.units // 2, 1)),
            keras.layers.Dropout(p.dropout),
            keras.layers.Dense(features),
        ]
    )


def build_autoencoder(p: LSTMParams, steps: int, features: int) -> Any:
    """LSTM units -> units/2 -> RepeatVector -> units/2 -> units -> TimeDistributed Dense."""
    keras = _keras()
    inner = max(p.units // 2, 1)
    return keras.Sequential(
        [
            keras.Input((steps, features)),
            keras.layers.LSTM(p.units, return_sequences=True),
            keras.layers.LSTM(inner),
            keras.layers.RepeatVector(steps),
            keras.layers.LSTM(inner, return_sequences=True),
            keras.layers.LSTM(p.units, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(features)),
        ]
    )


class _KerasComponent:
    """Shared plumbing: seeding, training with early stopping, native save/load."""

    name = "lstm"

    def __init__(self, params: LSTMParams, sequence_length: int, seed: int) -> None:
        self.params = params
        self.length = sequence_length
        self.seed = seed
        self.model_: Any = None

    def _train(self, model: Any, inputs: np.ndarray, targets: np.ndarray) -> None:
        keras = _keras()
        model.compile(optimizer=keras.optimizers.Adam(self.params.learning_rate), loss="mse")
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=self.params.patience, restore_best_weights=True
        )
        model.fit(
            inputs,
            targets,
            epochs=self.params.epochs,
            batch_size=self.params.batch_size,
            validation_split=self.params.validation_split,
            shuffle=False,
            callbacks=[stop],
            verbose=0,
        )
        self.model_ = model

    def _predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(inputs, batch_size=1024, verbose=0))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["model_"] = None  # saved separately in Keras' native format
        return state

    def save_extra(self, directory: Path) -> None:
        self.model_.save(directory / f"{self.name}.keras")

    def load_extra(self, directory: Path) -> None:
        self.model_ = _keras().saving.load_model(directory / f"{self.name}.keras", safe_mode=True)


class LSTMForecaster(_KerasComponent):
    """Predicts each point from the sequence_length - 1 points before it."""

    name = "lstm_forecaster"

    def fit(self, X: np.ndarray) -> LSTMForecaster:
        keras = _keras()
        keras.utils.set_random_seed(self.seed)
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        w = self.length - 1
        inputs, targets = windows(Z[:-1], w), Z[w:]
        p = self.params
        model = build_forecaster(p, w, Z.shape[1])
        self._train(model, inputs, targets)
        residual = np.abs(self._predict(inputs) - targets)  # (rows, columns)
        self.column_scale_, held_out = fit_column_errors(residual, p.validation_split)
        self.calibrator_ = EmpiricalCalibrator().fit(held_out)
        self.error_scale_ = noise_sigma(held_out)
        self.band_ = np.quantile(residual, 0.995, axis=0) * self.scaler_.scale_
        return self

    def _combine(self, residual: np.ndarray) -> np.ndarray:
        return strayed_most(residual, getattr(self, "column_scale_", None))

    def forecast(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prediction per row in original units, calibrated error score per row)."""
        out = self.outputs(X)
        assert out.expected is not None
        return out.expected, out.calibrated

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        Z = self.scaler_.transform(X)
        history = padded_windows(Z, self.length)[:, :-1, :]  # the points before each row
        predicted = self._predict(history)
        raw = self._combine(np.abs(predicted - Z))
        calibrated = self.calibrator_.transform(raw)
        scale = getattr(self, "error_scale_", None)
        errors = raw / scale if scale else half_normal_errors(calibrated)
        return ComponentOutput(calibrated, errors, self.scaler_.inverse_transform(predicted))

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.forecast(X)[1]


def _column_sigmas(residual: np.ndarray) -> np.ndarray:
    """Noise sigma of each column's |forecast error| (as noise_sigma, column by column)."""
    return np.array([noise_sigma(column) for column in residual.T])


def strayed_most(residual: np.ndarray, column_scale: np.ndarray | None) -> np.ndarray:
    """A row's error: the column that strays most, in that column's noise sigmas. A mean
    over columns would hide one sensor's 10-sigma spike among seven quiet ones (a model
    saved before it had column scales passes None and keeps its mean)."""
    if column_scale is None:
        return np.asarray(residual.mean(axis=1))
    return np.asarray((residual / column_scale).max(axis=1))


def fit_column_errors(
    residual: np.ndarray, validation_split: float
) -> tuple[np.ndarray, np.ndarray]:
    """(each column's noise sigma, the rows' errors to calibrate on) from training
    |errors| (rows, columns): both from the validation tail when it has 20 rows or more,
    so that they describe errors on rows the network was not fitted to."""
    split = int(len(residual) * (1 - validation_split))
    enough = len(residual) - split >= 20
    scale = _column_sigmas(residual[split:] if enough else residual)
    errors = strayed_most(residual, scale)
    return scale, errors[split:] if enough else errors


class LSTMAutoencoder(_KerasComponent):
    """Reconstructs windows; a point scores by the error at the end of its window.

    Trained only on windows that an Isolation Forest pre-labels as normal, so the
    anomalies in the training data are not learned as normal. Multivariate input is
    standardised and reduced with PCA first.
    """

    name = "lstm_autoencoder"

    def fit(self, X: np.ndarray, normal_mask: np.ndarray | None = None) -> LSTMAutoencoder:
        keras = _keras()
        keras.utils.set_random_seed(self.seed)
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        self.pca_: PCA | None = None
        if Z.shape[1] > 2:
            self.pca_ = PCA(n_components=0.95, random_state=self.seed).fit(Z)
            Z = self.pca_.transform(Z)
        train = windows(Z, self.length)
        if normal_mask is not None:
            clean = windows(normal_mask[:, None].astype(float), self.length).min(axis=(1, 2)) > 0
            if clean.sum() >= max(20, len(train) // 4):
                train = train[clean]
        p = self.params
        model = build_autoencoder(p, self.length, Z.shape[1])
        self._train(model, train, train)
        errors = self._errors(train)
        held_out = errors[int(len(errors) * (1 - p.validation_split)) :]
        self.calibrator_ = EmpiricalCalibrator().fit(held_out if len(held_out) >= 20 else errors)
        self.error_scale_ = noise_sigma(held_out if len(held_out) >= 20 else errors)
        return self

    def _errors(self, batch: np.ndarray) -> np.ndarray:
        return np.abs(self._predict(batch)[:, -1, :] - batch[:, -1, :]).mean(axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.outputs(X).calibrated

    def outputs(self, X: np.ndarray) -> ComponentOutput:
        Z = self.scaler_.transform(X)
        if self.pca_ is not None:
            Z = self.pca_.transform(Z)
        raw = self._errors(padded_windows(Z, self.length))
        calibrated = self.calibrator_.transform(raw)
        scale = getattr(self, "error_scale_", None)
        errors = raw / scale if scale else half_normal_errors(calibrated)
        return ComponentOutput(calibrated, errors)
