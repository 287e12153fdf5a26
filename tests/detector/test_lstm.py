"""LSTM components with tiny networks: alignment, persistence, a spike found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector import DetectorConfig, EnsembleDetector

pytestmark = pytest.mark.slow

TINY = {"units": 4, "epochs": 2, "batch_size": 32, "patience": 1}


def series(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.sin(np.linspace(0, 30, n)) + rng.normal(0, 0.05, n))[:, None]


@pytest.fixture(scope="module")
def ensemble() -> EnsembleDetector:
    config = DetectorConfig(
        components=["iforest", "lstm_forecaster", "lstm_autoencoder"],
        sequence_length=8,
        lstm=TINY,
        seed=2,
    )
    return EnsembleDetector(config).fit(series(300))


def test_every_point_gets_each_components_score(ensemble: EnsembleDetector) -> None:
    for n in (1, 7, 40):
        result = ensemble.score(series(n, seed=4))
        assert result.score.shape == (n,)
        assert set(result.components) == {"iforest", "lstm_forecaster", "lstm_autoencoder"}
        assert all(v.shape == (n,) for v in result.components.values())
        assert result.expected.shape == (n, 1)
        assert ((result.score >= 0) & (result.score <= 1)).all()


def test_context_window_scores_like_the_full_array(ensemble: EnsembleDetector) -> None:
    data = series(200, seed=6)
    full = ensemble.score(data).score
    window = ensemble.score(data[150 - 7 : 170]).score[7:]  # 7 context rows + 20 new
    assert np.allclose(window, full[150:170], atol=1e-5)


def test_spike_is_found(ensemble: EnsembleDetector) -> None:
    data = series(120, seed=8)
    data[60] += 4.0
    result = ensemble.score(data)
    assert result.is_anomaly[60]
    assert result.score[60] == result.score.max()


def test_keras_files_are_saved_natively_and_verified(
    ensemble: EnsembleDetector, tmp_path: Path
) -> None:
    sha = ensemble.save(tmp_path / "m")
    names = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"lstm_forecaster.keras", "lstm_autoencoder.keras", "manifest.json"} <= names
    loaded = EnsembleDetector.load(tmp_path / "m", sha)
    data = series(30, seed=9)
    assert np.allclose(loaded.score(data).score, ensemble.score(data).score, atol=1e-6)
    keras_file = tmp_path / "m" / "lstm_forecaster.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:-10])
    from detector import ModelIntegrityError

    with pytest.raises(ModelIntegrityError):
        EnsembleDetector.load(tmp_path / "m", sha)


def sensors(n: int, seed: int) -> np.ndarray:
    """Eight sensors driven by two smooth drivers, each with its own noise level."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    drivers = np.column_stack([1.0 + 0.5 * np.sin(t / 200), 0.4 * np.cos(t / 500)])
    mix = np.random.default_rng(99).uniform(0.5, 1.5, (2, 8))
    return drivers @ mix + rng.normal(0, 1, (n, 8)) * np.linspace(0.01, 0.04, 8)


def test_forecaster_error_is_the_column_that_strays_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One sensor's 10-sigma spike among eight tops the forecaster's errors; a mean over
    the columns hid it among the noisier sensors. The network is replaced by a
    persistence forecast (the last row of the window): nothing is trained, and Keras
    is not imported."""
    from types import SimpleNamespace

    from detector import lstm
    from detector.config import LSTMParams

    keras = SimpleNamespace(utils=SimpleNamespace(set_random_seed=lambda seed: None))
    monkeypatch.setattr(lstm, "_keras", lambda: keras)
    monkeypatch.setattr(lstm, "build_forecaster", lambda *_: None)
    monkeypatch.setattr(lstm._KerasComponent, "_train", lambda self, *_: None)
    monkeypatch.setattr(lstm._KerasComponent, "_predict", lambda self, inputs: inputs[:, -1, :])
    forecaster = lstm.LSTMForecaster(LSTMParams(), 8, seed=0).fit(sensors(1000, seed=1))
    X = sensors(300, seed=2)
    X[200, 0] += 10 * 0.01  # the quietest sensor, well inside its training range
    errors = forecaster.outputs(X).errors
    spike = errors[200:202]  # the spike, and the way back that persistence predicts wrong
    assert int(np.argmax(errors)) in (200, 201)
    assert spike.min() > 1.5 * np.delete(errors, [200, 201]).max()


def test_shared_forecaster_error_is_the_column_that_strays_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-monitor shared network's view combines columns as the per-series
    forecaster does. Its network is replaced by a persistence forecast, so nothing is
    trained and Keras is not imported."""
    from detector.config import DetectorConfig
    from detector.shared import SharedLSTM, SharedLSTMView

    shared = SharedLSTM(DetectorConfig(components=["lstm_forecaster"]), n_features=8)
    shared.nets["lstm_forecaster"] = None  # never called: predict is replaced below
    monkeypatch.setattr(shared, "predict", lambda kind, inputs: inputs[:, -1, :])
    view = SharedLSTMView("lstm_forecaster", shared).fit(sensors(1000, seed=1))
    X = sensors(300, seed=2)
    X[200, 0] += 10 * 0.01  # the quietest sensor, well inside its training range
    errors = view.outputs(X).errors
    assert int(np.argmax(errors)) in (200, 201)
    assert errors[200:202].min() > 1.5 * np.delete(errors, [200, 201]).max()
