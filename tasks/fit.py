"""Fit or reuse: the model of each series, retrained only when it must be.

A model file is immutable once written (one directory per version), so loaded
models are cached per process by (path, sha256): a long-running `serve` process
or Dask worker loads each model once, not once per tick.
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
from anomwatch.store.models_registry import ModelRecord, deactivate, next_version, register_model
from detector import DetectorError, EnsembleDetector, InsufficientDataError, ModelIntegrityError
from tasks.extract import SeriesWork

log = logging.getLogger("anomwatch.fit")

_CACHE_SIZE = 2000
_cache: OrderedDict[tuple[str, str], EnsembleDetector] = OrderedDict()
_cache_lock = threading.Lock()


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


def train_series(
    monitor: MonitorConfig, store: Store, models_root: Path, item: SeriesWork
) -> LoadedModel:
    frame = item.history
    assert frame is not None
    if frame.empty:
        raise InsufficientDataError(
            f"no rows in the last {monitor.retrain.window} to train on "
            f"(need {monitor.detector.min_train_points})"
        )
    detector = EnsembleDetector(monitor.detector).fit(frame[monitor.source.values].to_numpy(float))
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


def fit_or_reuse(
    monitor: MonitorConfig, store: Store, models_root: Path, batch: list[SeriesWork]
) -> ModelSet:
    result = ModelSet()
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
            result.models[item.series] = train_series(monitor, store, models_root, item)
        except InsufficientDataError as exc:
            result.cold_start[item.series] = str(exc)
            continue
        except DetectorError as exc:
            result.errors[item.series] = f"training failed: {exc}"
            continue
        result.trained.append(item.series)
        log.info("monitor %s series %s: trained (%s)", monitor.name, item.series, item.train_reason)
        if item.watermark is None and item.history is not None:
            result.baseline_marks[item.series] = item.history[TS_COLUMN].iloc[-1].to_pydatetime()
    return result
