"""lstm_sharing: per_monitor: one tiny LSTM for series on different scales, calibrated
per series, saved and loaded through the registry with its sha256."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomwatch.config import MonitorConfig, parse_monitors
from anomwatch.source import SERIES_COLUMN, TS_COLUMN
from anomwatch.store.db import Store
from anomwatch.store.models_registry import active_models
from detector import DetectorConfig, ModelIntegrityError
from detector.shared import SharedLSTM, SharedLSTMDetector, clear_shared_cache
from tasks.extract import SeriesWork
from tasks.fit import (
    SHARED_SERIES,
    clear_model_cache,
    fit_or_reuse,
    load_model,
    prepare_shared_lstm,
)
from tasks.score import score_batch

pytestmark = pytest.mark.slow

TINY = {"units": 4, "epochs": 4, "batch_size": 32, "patience": 2}
SCALES = {"small": (10.0, 1.0), "large": (10_000.0, 1_000.0)}  # level, daily amplitude
SPIKE_AT = 150


def series(name: str, n: int, seed: int, spike: bool = False) -> np.ndarray:
    level, amplitude = SCALES[name]
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + amplitude * np.sin(2 * np.pi * t / 48) + rng.normal(0, amplitude / 10, n)
    if spike:
        values[SPIKE_AT] += 8 * amplitude
    return values


def config() -> DetectorConfig:
    return DetectorConfig(
        components=["lstm_forecaster"], sequence_length=8, contamination=0.01, lstm=TINY
    )


def test_one_network_finds_a_spike_in_series_on_very_different_scales() -> None:
    train = {name: series(name, 480, seed=1)[:, None] for name in SCALES}
    shared = SharedLSTM(config(), n_features=1).fit(list(train.values()))
    assert list(shared.nets) == ["lstm_forecaster"]
    detectors = {name: SharedLSTMDetector(config(), shared) for name in train}
    for name, X in train.items():
        detectors[name].fit(X)
    for name, detector in detectors.items():
        level, amplitude = SCALES[name]
        result = detector.score(series(name, 300, seed=2, spike=True)[:, None])
        assert result.is_anomaly[SPIKE_AT], name
        elsewhere = np.delete(result.is_anomaly, range(SPIKE_AT, SPIKE_AT + 8))
        assert elsewhere.mean() < 0.05, name
        # forecast and band in the series' own units: calibrated per series
        assert abs(np.median(result.expected) - level) < amplitude
        view = detector.shared_views()[0]
        assert amplitude / 100 < view.band_[0] < amplitude * 3
    small = detectors["small"].shared_views()[0]
    large = detectors["large"].shared_views()[0]
    assert small.shared is large.shared  # one network ...
    assert large.scale_[0] / small.scale_[0] > 500  # ... each series standardised on its own


def _monitor(url: str) -> MonitorConfig:
    return parse_monitors(
        {
            "monitors": [
                {
                    "name": "shared",
                    "source": {
                        "url": url,
                        "table": "metrics",
                        "timestamp": "ts",
                        "series": ["host"],
                        "values": ["value"],
                    },
                    "detector": config().model_dump(mode="json"),
                    "lstm_sharing": "per_monitor",
                }
            ]
        }
    ).get("shared")


def _work(name: str, values: np.ndarray, start: datetime, watermark: datetime | None) -> SeriesWork:
    frame = pd.DataFrame(
        {
            SERIES_COLUMN: f"host={name}",
            TS_COLUMN: pd.date_range(start, periods=len(values), freq="5min"),
            "value": values,
        }
    )
    if watermark is None:
        return SeriesWork(f"host={name}", None, frame.iloc[0:0], None, "no model yet", frame)
    return SeriesWork(f"host={name}", watermark, frame, None)


@pytest.fixture
def shared_store(sqlite_databases):  # type: ignore[no-untyped-def]
    """A migrated SQLite store and the per_monitor monitor of these tests."""
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    yield store, _monitor("sqlite:///unused.db")
    store.dispose()


T0 = datetime(2026, 11, 1)


def test_shared_model_is_registered_with_its_sha256_and_reloads(
    shared_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store, monitor = shared_store
    models_root = tmp_path / "models"
    t0 = T0
    batch = [_work(name, series(name, 480, seed=1), t0, None) for name in SCALES]
    fitted = fit_or_reuse(monitor, store, models_root, batch)
    assert sorted(fitted.trained) == ["host=large", "host=small"], fitted.errors
    registry = active_models(store, "shared")
    shared_record = registry[SHARED_SERIES]
    assert Path(shared_record.artifact_path, "lstm_forecaster.keras").exists()
    assert len(shared_record.sha256) == 64

    # a second batch reuses the registered network instead of training another one
    again = fit_or_reuse(
        monitor, store, models_root, [_work("small", series("small", 480, seed=3), t0, None)]
    )
    assert active_models(store, "shared")[SHARED_SERIES].id == shared_record.id
    assert again.trained == ["host=small"]

    # fresh process state: per-series models and the shared network load from files
    clear_model_cache()
    clear_shared_cache()
    start = t0 + timedelta(days=2)
    scoring = []
    for name in SCALES:
        record = active_models(store, "shared")[f"host={name}"]
        loaded = load_model(record)
        assert isinstance(loaded, SharedLSTMDetector)
        item = _work(name, series(name, 300, seed=2, spike=True), start, start)
        item.model = record
        scoring.append(item)
    models = fit_or_reuse(monitor, store, models_root, scoring)
    scored = score_batch(monitor, models, scoring)
    flagged = {(r.series, r.ts) for r in scored.records}
    spike_ts = (start + SPIKE_AT * timedelta(minutes=5)).replace()
    assert ("host=small", spike_ts) in flagged
    assert ("host=large", spike_ts) in flagged

    # a modified shared network is refused on load
    clear_model_cache()
    clear_shared_cache()
    keras_file = Path(shared_record.artifact_path, "lstm_forecaster.keras")
    keras_file.write_bytes(keras_file.read_bytes() + b"tampered")
    with pytest.raises(ModelIntegrityError):
        load_model(active_models(store, "shared")["host=large"])


def test_backfill_with_a_shared_lstm_finds_both_spikes(sqlite_databases, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    from anomwatch.store.anomalies import query_anomalies
    from tasks.backfill import run_backfill

    source = sqlite_databases.new("src")
    t0 = datetime(2026, 11, 1)
    frames = []
    for name in SCALES:
        values = np.concatenate([series(name, 480, seed=1), series(name, 300, seed=2, spike=True)])
        frames.append(
            pd.DataFrame(
                {
                    "ts": pd.date_range(t0, periods=len(values), freq="5min"),
                    "host": name,
                    "value": values,
                }
            )
        )
    engine = create_engine(source)
    pd.concat(frames).sort_values("ts").to_sql("metrics", engine, index=False)
    engine.dispose()
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    monitor = _monitor(source)
    since = t0 + 479 * timedelta(minutes=5)  # the first 480 points train, the rest is scored
    until = since + 300 * timedelta(minutes=5)
    result = run_backfill(monitor, store, tmp_path / "models", since, until, chunk_rows=120)
    assert result.points_scored == 600
    spike_ts = since + (SPIKE_AT + 1) * timedelta(minutes=5)
    stored = {(r["series"], r["ts"]) for r in query_anomalies(store, monitor="shared")}
    assert ("host=small", spike_ts) in stored
    assert ("host=large", spike_ts) in stored
    assert SHARED_SERIES in active_models(store, "shared")
    store.dispose()


def test_sharing_without_an_lstm_is_a_clear_config_error() -> None:
    from anomwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="lstm_sharing: per_monitor shares an LSTM"):
        parse_monitors(
            {
                "monitors": [
                    {
                        "name": "no-lstm",
                        "source": {
                            "url": "sqlite:///x.db",
                            "table": "metrics",
                            "timestamp": "ts",
                            "values": ["value"],
                        },
                        "lstm_sharing": "per_monitor",
                    }
                ]
            }
        )
    monitor = _monitor("sqlite:///x.db")
    assert monitor.lstm_sharing == "per_monitor"
    plain = monitor.model_copy(update={"lstm_sharing": "per_series"})
    assert plain.config_hash() != monitor.config_hash()  # sharing retrains the models


def test_tick_trains_the_shared_network_on_every_series_before_the_batches(
    shared_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store, monitor = shared_store
    models_root = tmp_path / "models"
    t0 = T0
    work = [_work(name, series(name, 480, seed=1), t0, None) for name in SCALES]
    assert prepare_shared_lstm(monitor, store, models_root, work) is None
    shared_record = active_models(store, "shared")[SHARED_SERIES]
    network = SharedLSTM.load(Path(shared_record.artifact_path), shared_record.sha256)
    assert network.training_summary["lstm_forecaster"]["series"] == len(SCALES)

    # one batch per series (batch_size 1): each reuses the network trained on both
    for item in work:
        fitted = fit_or_reuse(monitor, store, models_root, [item])
        assert fitted.trained == [item.series], fitted.errors
    assert active_models(store, "shared")[SHARED_SERIES].id == shared_record.id

    # nothing to train: nothing happens
    assert prepare_shared_lstm(monitor, store, models_root, []) is None
