"""One LSTM for all series of a monitor (`lstm_sharing: per_monitor`).

Training an LSTM per series costs seconds each, so a 1,000-series retrain would
take hours. Here one network per LSTM kind (forecaster, autoencoder) learns from
windows of many series, each standardised by its own mean and standard deviation,
so a series at 10 and one at 10,000 look alike to it. Every series keeps its own
scaler, error calibration and forecast band (fitted on its own windows), so a
score still means "this rare for this series". Isolation Forests and the other
components stay per series.

Files: the network(s) are saved once per monitor and version (Keras native files +
state + manifest, sha256-checked like any model); each series' detector stores
only the path and sha256 of the shared model it uses and resolves it on load
through a process cache. Inference can be batched across series: `prefetch`
predicts the windows of many series in one call and the per-series views pick
their rows up.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.calibration import EmpiricalCalibrator
from detector.config import DetectorConfig
from detector.ensemble import EnsembleDetector, SeasonalView
from detector.errors import DetectorError, InsufficientDataError
from detector.lstm import (
    build_autoencoder,
    build_forecaster,
    fit_column_errors,
    strayed_most,
)
from detector.persistence import read_artifact, write_artifact
from detector.thresholds import noise_sigma
from detector.windows import padded_windows, windows

FORECASTER = "lstm_forecaster"
AUTOENCODER = "lstm_autoencoder"
LSTM_KINDS = (FORECASTER, AUTOENCODER)
MAX_TRAIN_WINDOWS = 30_000  # sampled across series: enough to learn shapes, bounded time
_DIRECT_PREDICT_ROWS = 4096  # below this a direct call beats model.predict's set-up


def _keras() -> Any:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and scale of one series (scale 1 for a constant column)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def _key(kind: str, inputs: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    data = np.ascontiguousarray(inputs, dtype=np.float32)
    return kind, data.shape, hashlib.blake2b(data.tobytes(), digest_size=16).digest()


class SharedLSTM:
    """The shared network(s) of one monitor and their batched inference."""

    def __init__(self, config: DetectorConfig, n_features: int) -> None:
        self.config = config
        self.length = config.sequence_length
        self.n_features = n_features
        self.kinds = [k for k in LSTM_KINDS if k in config.components]
        self.nets: dict[str, Any] = {}
        self.path: str | None = None
        self.sha256: str | None = None
        self.training_summary: dict[str, Any] = {}
        self._memo: dict[tuple[str, tuple[int, ...], bytes], np.ndarray] = {}
        self._lock = threading.Lock()

    # -- training ---------------------------------------------------------------------

    def inputs(self, kind: str, Z: np.ndarray, training: bool) -> np.ndarray:
        """Network inputs of one standardised series: training windows or one per row."""
        if kind == FORECASTER:
            if training:
                return windows(Z[:-1], self.length - 1)
            return padded_windows(Z, self.length)[:, :-1, :]
        return windows(Z, self.length) if training else padded_windows(Z, self.length)

    def fit(self, series: list[np.ndarray]) -> SharedLSTM:
        """Train on the windows of many series (each (n, f), standardised on its own)."""
        if not self.kinds:
            raise DetectorError("a shared LSTM needs lstm_forecaster or lstm_autoencoder")
        usable = [np.asarray(X, dtype=float) for X in series if len(X) > self.length]
        if not usable:
            raise InsufficientDataError(
                f"no series has more than {self.length} points to train a shared LSTM on"
            )
        keras = _keras()
        keras.utils.set_random_seed(self.config.seed)
        rng = np.random.default_rng(self.config.seed)
        standardised = []
        for X in usable:
            mean, scale = standardise(X)
            standardised.append((X - mean) / scale)
        p = self.config.lstm
        for kind in self.kinds:
            batches = [self.inputs(kind, Z, training=True) for Z in standardised]
            inputs = np.concatenate(batches).astype(np.float32)
            if kind == FORECASTER:
                w = self.length - 1
                targets = np.concatenate([Z[w:] for Z in standardised]).astype(np.float32)
            else:
                targets = inputs
            if len(inputs) > MAX_TRAIN_WINDOWS:
                pick = rng.choice(len(inputs), MAX_TRAIN_WINDOWS, replace=False)
            else:
                pick = rng.permutation(len(inputs))  # validation_split takes the tail
            model = self._build(kind)
            model.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss="mse")
            stop = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=p.patience, restore_best_weights=True
            )
            history = model.fit(
                inputs[pick],
                targets[pick],
                epochs=p.epochs,
                batch_size=p.batch_size,
                validation_split=p.validation_split,
                shuffle=True,
                callbacks=[stop],
                verbose=0,
            )
            self.nets[kind] = model
            self.training_summary[kind] = {
                "windows": int(len(pick)),
                "series": len(usable),
                "epochs": len(history.history["loss"]),
                "val_loss": float(min(history.history["val_loss"])),
            }
        return self

    def _build(self, kind: str) -> Any:
        if kind == FORECASTER:
            return build_forecaster(self.config.lstm, self.length - 1, self.n_features)
        return build_autoencoder(self.config.lstm, self.length, self.n_features)

    # -- inference --------------------------------------------------------------------

    def _run(self, kind: str, inputs: np.ndarray) -> np.ndarray:
        net = self.nets[kind]
        data = np.ascontiguousarray(inputs, dtype=np.float32)
        if len(data) <= _DIRECT_PREDICT_ROWS:
            return np.asarray(_keras().ops.convert_to_numpy(net(data, training=False)))
        return np.asarray(net.predict(data, batch_size=2048, verbose=0))

    def predict(self, kind: str, inputs: np.ndarray) -> np.ndarray:
        """Network output for these inputs; taken from a prefetch when one covered them."""
        if not len(inputs):
            shape = (0, self.n_features) if kind == FORECASTER else (0, *inputs.shape[1:])
            return np.empty(shape)
        key = _key(kind, inputs)
        with self._lock:
            cached = self._memo.pop(key, None)
        return cached if cached is not None else self._run(kind, inputs)

    def prefetch(self, kind: str, batches: list[np.ndarray]) -> None:
        """Predict the inputs of many series in one call, for their views to pick up."""
        batches = [b for b in batches if len(b)]
        if kind not in self.nets or not batches:
            return
        out = self._run(kind, np.concatenate(batches))
        bounds = np.cumsum([0] + [len(b) for b in batches])
        with self._lock:
            for b, lo, hi in zip(batches, bounds[:-1], bounds[1:], strict=True):
                self._memo[_key(kind, b)] = out[lo:hi]

    def clear_prefetched(self) -> None:
        with self._lock:
            self._memo.clear()

    # -- files ------------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        """Keras native files + state + manifest; returns the manifest's sha256."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for kind, net in self.nets.items():
            net.save(directory / f"{kind}.keras")
        manifest = {
            "kind": "shared_lstm",
            "config_hash": self.config.config_hash(),
            "training_summary": self.training_summary,
        }
        self.sha256 = write_artifact(directory, self, manifest)
        self.path = str(directory)
        return self.sha256

    @classmethod
    def load(cls, directory: Path, expected_sha256: str) -> SharedLSTM:
        state, _manifest = read_artifact(Path(directory), expected_sha256)
        if not isinstance(state, cls):
            raise DetectorError(f"{directory} does not hold a shared LSTM")
        keras = _keras()
        for kind in state.kinds:
            state.nets[kind] = keras.saving.load_model(
                Path(directory) / f"{kind}.keras", safe_mode=True
            )
        state.path, state.sha256 = str(directory), expected_sha256
        return state

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["nets"] = {}  # saved separately in Keras' native format
        state["_memo"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._memo = {}
        self._lock = threading.Lock()


_cache: OrderedDict[tuple[str, str], SharedLSTM] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def resolve_shared(path: str, sha256: str) -> SharedLSTM:
    """The shared model saved at path, hash-checked, loaded once per process."""
    key = (path, sha256)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    model = SharedLSTM.load(Path(path), sha256)
    remember_shared(model)
    return model


def remember_shared(model: SharedLSTM) -> None:
    if model.path is None or model.sha256 is None:
        raise DetectorError("save the shared LSTM before using it")
    with _cache_lock:
        _cache[(model.path, model.sha256)] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def clear_shared_cache() -> None:
    with _cache_lock:
        _cache.clear()


class SharedLSTMView:
    """One series' view of a shared network: its scaler, calibration and band.

    Behaves as the per-series LSTM component of the same name inside an
    EnsembleDetector (fit/score/forecast/outputs, band_ for the forecaster).
    """

    def __init__(self, kind: str, shared: SharedLSTM) -> None:
        if kind not in shared.nets:
            raise DetectorError(f"the shared LSTM has no {kind}")
        self.name = kind
        self.length = shared.length
        self.validation_split = shared.config.lstm.validation_split
        self.shared_path = shared.path
        self.shared_relpath: str | None = None  # from the series' model directory (save_extra)
        self.shared_sha256 = shared.sha256
        self._shared: SharedLSTM | None = shared

    @property
    def shared(self) -> SharedLSTM:
        if self._shared is None:
            assert self.shared_path is not None and self.shared_sha256 is not None
            self._shared = resolve_shared(self.shared_path, self.shared_sha256)
        return self._shared

    def scoring_inputs(self, X: np.ndarray) -> np.ndarray:
        """What score(X) will ask the network for (to prefetch across series)."""
        Z = (np.asarray(X, dtype=float) - self.mean_) / self.scale_
        return self.shared.inputs(self.name, Z, training=False)

    def fit(self, X: np.ndarray, normal_mask: np.ndarray | None = None) -> SharedLSTMView:
        X = np.asarray(X, dtype=float)
        self.mean_, self.scale_ = standardise(X)
        Z = (X - self.mean_) / self.scale_
        inputs = self.shared.inputs(self.name, Z, training=True)
        predicted = self.shared.predict(self.name, inputs)
        if self.name == FORECASTER:
            targets = Z[self.length - 1 :]
            residual = np.abs(predicted - targets)
        else:
            residual = np.abs(predicted[:, -1, :] - inputs[:, -1, :])
            if normal_mask is not None:  # calibrate on windows the forest calls normal
                clean = windows(normal_mask[:, None].astype(float), self.length).min(axis=(1, 2))
                if (clean > 0).sum() >= max(20, len(residual) // 4):
                    residual = residual[clean > 0]
        self.column_scale_, sample = fit_column_errors(residual, self.validation_split)
        self.calibrator_ = EmpiricalCalibrator().fit(sample)
        self.error_scale_ = noise_sigma(sample)
        if self.name == FORECASTER:
            self.band_ = np.quantile(residual, 0.995, axis=0) * self.scale_
        return self

    def _raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(error per row in standardised units, forecast in original units or None)."""
        Z = (np.asarray(X, dtype=float) - self.mean_) / self.scale_
        inputs = self.shared.inputs(self.name, Z, training=False)
        predicted = self.shared.predict(self.name, inputs)
        if self.name == FORECASTER:
            return self._combine(np.abs(predicted - Z)), predicted * self.scale_ + self.mean_
        return self._combine(np.abs(predicted[:, -1, :] - inputs[:, -1, :])), None

    def _combine(self, residual: np.ndarray) -> np.ndarray:
        return strayed_most(residual, getattr(self, "column_scale_", None))

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(self._raw(X)[0])

    def forecast(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw, expected = self._raw(X)
        assert expected is not None
        return expected, self.calibrator_.transform(raw)

    def outputs(self, X: np.ndarray) -> Any:
        """Calibrated score, error in noise sigmas and forecast (the ensemble's contract)."""
        from detector.result import ComponentOutput

        raw, expected = self._raw(X)
        return ComponentOutput(self.calibrator_.transform(raw), raw / self.error_scale_, expected)

    def save_extra(self, directory: Path) -> None:
        """Called by EnsembleDetector.save: keep the shared network's place relative to
        this model's directory too, so a moved models folder still finds it."""
        if self.shared_path is not None:
            self.shared_relpath = os.path.relpath(
                Path(self.shared_path).resolve(), Path(directory).resolve()
            )

    def load_extra(self, directory: Path) -> None:
        """Called by EnsembleDetector.load: attach the shared network (hash-checked),
        found relative to this model's directory when saved so."""
        relative = getattr(self, "shared_relpath", None)  # None: saved before it existed
        if relative is not None:
            self.shared_path = os.path.normpath(Path(directory).resolve() / relative)
        self._shared = None
        _ = self.shared

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shared"] = None  # saved once per monitor, referenced by path and sha256
        return state


class SharedLSTMDetector(EnsembleDetector):
    """An EnsembleDetector whose LSTM components are views of a monitor's shared LSTM."""

    def __init__(self, config: DetectorConfig, shared: SharedLSTM) -> None:
        super().__init__(config)
        self._shared_model: SharedLSTM | None = shared

    def _fit_seasonality(self, X: np.ndarray, ts: np.ndarray | None, quanta: np.ndarray) -> str:
        self.seasonal_ = None  # the shared network is trained on the raw values
        return "off: a shared LSTM models the raw values"

    def _fit_components(self, X: np.ndarray, view: SeasonalView) -> None:
        shared = self._shared_model
        assert shared is not None, "a loaded detector is already fitted"
        for name in list(self.components):
            if name in LSTM_KINDS:
                self.components[name] = SharedLSTMView(name, shared)
        super()._fit_components(X, view)

    def shared_views(self) -> list[SharedLSTMView]:
        return [c for c in self.components.values() if isinstance(c, SharedLSTMView)]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shared_model"] = None
        return state


def prefetch_scoring(pairs: Sequence[tuple[EnsembleDetector, np.ndarray]]) -> None:
    """Batch the shared-LSTM inference of many series' score(X) calls into one per network."""
    grouped: dict[tuple[int, str], tuple[SharedLSTM, list[np.ndarray]]] = {}
    for detector, X in pairs:
        if not isinstance(detector, SharedLSTMDetector):
            continue
        for view in detector.shared_views():
            shared = view.shared
            entry = grouped.setdefault((id(shared), view.name), (shared, []))
            entry[1].append(view.scoring_inputs(X))
    for (_, kind), (shared, batches) in grouped.items():
        shared.prefetch(kind, batches)


def prefetch_training(shared: SharedLSTM, series: list[np.ndarray]) -> None:
    """Batch the per-series calibration predictions of many series being fitted."""
    for kind in shared.kinds:
        batches = []
        for X in series:
            X = np.asarray(X, dtype=float)
            mean, scale = standardise(X)
            batches.append(shared.inputs(kind, (X - mean) / scale, training=True))
        shared.prefetch(kind, batches)
