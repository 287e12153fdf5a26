"""Fit or reuse: the model of each series, retrained only when it must be.

A model file is immutable once written (one directory per version), so loaded
models are cached per process by (path, sha256): a long-running `serve` process
or Dask worker loads each model once, not once per tick.

With `lstm_sharing: per_monitor` the LSTM network is one per monitor
(`detector.shared`): registered under the reserved series name `@shared-lstm`,
trained by the first batch that needs it (on its series' histories) and reused by
the others while it is younger than `retrain.every` and its settings match; each
series' own detector then holds its Isolation Forest and its calibration of the
shared network.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.source import TS_COLUMN
from anomwatch.store.db import Store
from anomwatch.store.models_registry import (
    ModelRecord,
    active_models,
    deactivate,
    next_version,
    register_model,
)
from detector import DetectorError, EnsembleDetector, InsufficientDataError, ModelIntegrityError
from detector.shared import (
    SharedLSTM,
    SharedLSTMDetector,
    clear_shared_cache,
    prefetch_training,
    remember_shared,
    resolve_shared,
)
from tasks.base import pipeline_task
from tasks.extract import SeriesWork

log = logging.getLogger("anomwatch.fit")

_CACHE_SIZE = 2000
_cache: OrderedDict[tuple[str, str], EnsembleDetector] = OrderedDict()
_cache_lock = threading.Lock()
SHARED_SERIES = "@shared-lstm"  # registry name of a monitor's shared LSTM (no '=': no clash)
_shared_locks: dict[str, threading.Lock] = {}
_shared_locks_guard = threading.Lock()


@dataclass
class LoadedModel:
    record: ModelRecord
    detector: EnsembleDetector


@dataclass
class ModelSet:
    """The outcome of the fit step for the series of one batch."""

    models: dict[str, LoadedModel] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    cold_start: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # What each newly trained model found of the season (e.g. a seasonal cold start).
    seasonality: dict[str, str] = field(default_factory=dict)
    # New series: trained on their history, which is their baseline and is not scored.
    baseline_marks: dict[str, datetime] = field(default_factory=dict)


def model_dir(models_root: Path, monitor: str, series: str, version: int) -> Path:
    digest = hashlib.sha256(series.encode()).hexdigest()[:16]
    return models_root / monitor / digest / f"v{version}"


def load_model(record: ModelRecord) -> EnsembleDetector:
    """The detector of a registry record, hash-checked, from the cache when possible."""
    key = (record.artifact_path, record.sha256)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    detector = EnsembleDetector.load(Path(record.artifact_path), record.sha256)
    with _cache_lock:
        _cache[key] = detector
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return detector


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()
    clear_shared_cache()


def train_series(
    monitor: MonitorConfig,
    store: Store,
    models_root: Path,
    item: SeriesWork,
    shared: SharedLSTM | None = None,
) -> LoadedModel:
    frame = item.history
    assert frame is not None
    if frame.empty:
        raise InsufficientDataError(
            f"no rows in the last {monitor.retrain.window} to train on "
            f"(need {monitor.detector.min_train_points})"
        )
    X = frame[monitor.source.values].to_numpy(float)
    detector = (
        SharedLSTMDetector(monitor.detector, shared)
        if shared is not None
        else EnsembleDetector(monitor.detector)
    ).fit(X, ts=frame[TS_COLUMN].to_numpy("datetime64[us]"))
    version = next_version(store, monitor.name, item.series)
    directory = model_dir(models_root, monitor.name, item.series, version)
    sha256 = detector.save(directory)
    record = register_model(
        store,
        monitor=monitor.name,
        series=item.series,
        version=version,
        trained_at=utcnow(),
        train_start=frame[TS_COLUMN].iloc[0].to_pydatetime(),
        train_end=frame[TS_COLUMN].iloc[-1].to_pydatetime(),
        n_rows=len(frame),
        config_hash=monitor.config_hash(),
        params=monitor.detector.model_dump(mode="json"),
        artifact_path=str(directory),
        sha256=sha256,
        metrics=dict(detector.training_summary),
    )
    with _cache_lock:
        _cache[(record.artifact_path, record.sha256)] = detector
    return LoadedModel(record=record, detector=detector)


def _shared_lock(monitor: str) -> threading.Lock:
    with _shared_locks_guard:
        return _shared_locks.setdefault(monitor, threading.Lock())


def shared_lstm_for(
    monitor: MonitorConfig, store: Store, models_root: Path, items: list[SeriesWork]
) -> SharedLSTM:
    """The monitor's shared LSTM: the registered one while fresh, else trained on `items`.

    One batch trains it; concurrent batches of the same process wait for it here.
    """
    histories = [i.history for i in items if i.history is not None and not i.history.empty]
    if not histories:
        raise InsufficientDataError("no training rows for the shared LSTM")
    newest = max(h[TS_COLUMN].iloc[-1] for h in histories).to_pydatetime()
    config_hash = monitor.config_hash()
    with _shared_lock(monitor.name):
        record = active_models(store, monitor.name).get(SHARED_SERIES)
        if (
            record is not None
            and record.config_hash == config_hash
            and record.train_end is not None
            and not monitor.retrain.is_due(record.train_end, newest)
        ):
            return resolve_shared(record.artifact_path, record.sha256)
        values = [h[monitor.source.values].to_numpy(float) for h in histories]
        shared = SharedLSTM(monitor.detector, len(monitor.source.values)).fit(values)
        version = next_version(store, monitor.name, SHARED_SERIES)
        directory = model_dir(models_root, monitor.name, SHARED_SERIES, version)
        sha256 = shared.save(directory)
        register_model(
            store,
            monitor=monitor.name,
            series=SHARED_SERIES,
            version=version,
            trained_at=utcnow(),
            train_start=min(h[TS_COLUMN].iloc[0] for h in histories).to_pydatetime(),
            train_end=newest,
            n_rows=int(sum(len(h) for h in histories)),
            config_hash=config_hash,
            params=monitor.detector.model_dump(mode="json"),
            artifact_path=str(directory),
            sha256=sha256,
            metrics=dict(shared.training_summary),
        )
        remember_shared(shared)
        log.info(
            "monitor %s: shared LSTM v%s trained on %s series", monitor.name, version, len(values)
        )
        return shared


def prepare_shared_lstm(
    monitor: MonitorConfig, store: Store, models_root: Path, work: list[SeriesWork]
) -> str | None:
    """Before the batches run: train (or confirm) the monitor's shared LSTM on every series
    of the tick that needs a model, not only on the first batch's, and so only once even
    when the batches run in separate Dask processes. Returns why it could not, if so."""
    if monitor.lstm_sharing != "per_monitor":
        return None
    training = [w for w in work if w.history is not None and not w.history.empty]
    if not training:
        return None
    try:
        shared_lstm_for(monitor, store, models_root, training)
    except (InsufficientDataError, DetectorError) as exc:
        log.warning("monitor %s: shared LSTM not trained before the batches: %s", monitor.name, exc)
        return str(exc)
    return None


prepare_shared_task = pipeline_task("prepare_shared_lstm")(prepare_shared_lstm)


def fit_or_reuse(
    monitor: MonitorConfig, store: Store, models_root: Path, batch: list[SeriesWork]
) -> ModelSet:
    result = ModelSet()
    shared: SharedLSTM | None = None
    shared_error: str | None = None
    to_train = [i for i in batch if i.train_reason is not None]
    if monitor.lstm_sharing == "per_monitor" and to_train:
        try:
            shared = shared_lstm_for(monitor, store, models_root, to_train)
            prefetch_training(  # one batched prediction for every series' calibration
                shared,
                [
                    i.history[monitor.source.values].to_numpy(float)
                    for i in to_train
                    if i.history is not None and len(i.history) >= monitor.detector.min_train_points
                ],
            )
        except DetectorError as exc:
            shared_error = f"shared LSTM training failed: {exc}"
    for item in batch:
        if item.train_reason is None:
            assert item.model is not None
            try:
                result.models[item.series] = LoadedModel(item.model, load_model(item.model))
            except (ModelIntegrityError, OSError) as exc:
                # Refuse the file, retire the model: the next tick reads history and retrains.
                deactivate(store, item.model.id)
                result.errors[item.series] = f"model file refused, retraining next tick: {exc}"
                log.warning("monitor %s series %s: %s", monitor.name, item.series, exc)
            continue
        try:
            if shared_error is not None and item.history is not None and not item.history.empty:
                raise DetectorError(shared_error)
            result.models[item.series] = train_series(monitor, store, models_root, item, shared)
        except InsufficientDataError as exc:
            result.cold_start[item.series] = str(exc)
            continue
        except DetectorError as exc:
            result.errors[item.series] = f"training failed: {exc}"
            continue
        result.trained.append(item.series)
        found = result.models[item.series].detector.training_summary.get("seasonality")
        if found:
            result.seasonality[item.series] = str(found)
        log.info("monitor %s series %s: trained (%s)", monitor.name, item.series, item.train_reason)
        if item.watermark is None and item.history is not None:
            result.baseline_marks[item.series] = item.history[TS_COLUMN].iloc[-1].to_pydatetime()
    return result
