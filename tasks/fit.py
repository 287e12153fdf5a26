"""Fit or reuse: the active model of every series, retrained only when it must be.

A model is retrained when it is missing, was trained with other settings (config
hash), is older than `retrain.every` (measured in data time, against the series'
watermark), or its file fails the integrity check. Series with too little
history get a recorded cold-start status instead of an exception.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.errors import SourceError
from anomwatch.source import SERIES_COLUMN, TS_COLUMN, SourceReader
from anomwatch.store.db import Store
from anomwatch.store.models_registry import (
    ModelRecord,
    active_models,
    next_version,
    register_model,
)
from detector import DetectorError, EnsembleDetector, InsufficientDataError, ModelIntegrityError
from tasks.base import pipeline_task, retry_if_transient
from tasks.extract import TickData

log = logging.getLogger("anomwatch.fit")


@dataclass
class LoadedModel:
    record: ModelRecord
    detector: EnsembleDetector


@dataclass
class ModelSet:
    """The outcome of the fit step for every series of the tick."""

    models: dict[str, LoadedModel] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    cold_start: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # New series: trained on their history, which is their baseline and is not scored.
    baseline_marks: dict[str, datetime] = field(default_factory=dict)


def model_dir(models_root: Path, monitor: str, series: str, version: int) -> Path:
    digest = hashlib.sha256(series.encode()).hexdigest()[:16]
    return models_root / monitor / digest / f"v{version}"


def _needs_training(
    record: ModelRecord | None, monitor: MonitorConfig, anchor: datetime, config_hash: str
) -> str | None:
    if record is None:
        return "no model yet"
    if record.config_hash != config_hash:
        return "settings changed"
    if record.train_end is None or record.train_end < anchor - monitor.retrain.every:
        return "model older than retrain.every"
    return None


def _training_frame(history: pd.DataFrame, series: str, anchor: datetime, monitor: MonitorConfig):
    part = history[history[SERIES_COLUMN] == series]
    part = part[(part[TS_COLUMN] <= anchor) & (part[TS_COLUMN] > anchor - monitor.retrain.window)]
    return part.tail(monitor.retrain.max_points)


def train_series(
    monitor: MonitorConfig,
    store: Store,
    models_root: Path,
    series: str,
    frame: pd.DataFrame,
    config_hash: str,
) -> LoadedModel:
    detector = EnsembleDetector(monitor.detector).fit(frame[monitor.source.values].to_numpy(float))
    version = next_version(store, monitor.name, series)
    directory = model_dir(models_root, monitor.name, series, version)
    sha256 = detector.save(directory)
    record = register_model(
        store,
        monitor=monitor.name,
        series=series,
        version=version,
        trained_at=utcnow(),
        train_start=frame[TS_COLUMN].iloc[0].to_pydatetime(),
        train_end=frame[TS_COLUMN].iloc[-1].to_pydatetime(),
        n_rows=len(frame),
        config_hash=config_hash,
        params=monitor.detector.model_dump(mode="json"),
        artifact_path=str(directory),
        sha256=sha256,
        metrics=dict(detector.training_summary),
    )
    return LoadedModel(record=record, detector=detector)


def fit_or_reuse(
    monitor: MonitorConfig, store: Store, models_root: Path, tick: TickData
) -> ModelSet:
    config_hash = monitor.config_hash()
    active = active_models(store, monitor.name)
    result = ModelSet()
    plan: dict[str, str] = {}
    series_list = tick.series()
    for series in series_list:
        anchor = tick.watermarks.get(series, tick.until)
        reason = _needs_training(active.get(series), monitor, anchor, config_hash)
        if reason is None:
            record = active[series]
            try:
                detector = EnsembleDetector.load(Path(record.artifact_path), record.sha256)
                result.models[series] = LoadedModel(record=record, detector=detector)
                continue
            except (ModelIntegrityError, FileNotFoundError, OSError) as exc:
                reason = f"model file refused ({exc})"
                log.warning("monitor %s series %s: %s; retraining", monitor.name, series, reason)
        plan[series] = reason
    if not tick.watermarks:
        plan = {"*": "no model yet"}  # first tick: discover series from history
    if not plan:
        return result

    anchors = [tick.watermarks.get(s, tick.until) for s in plan if s != "*"] or [tick.until]
    since = min(anchors) - monitor.retrain.window
    with SourceReader(monitor) as reader:
        history = reader.read_range(since, tick.until).frame
    if "*" in plan:
        if history.empty:
            raise SourceError(
                f"monitor {monitor.name!r}: the source has no rows between {since:%Y-%m-%d %H:%M} "
                f"and {tick.until:%Y-%m-%d %H:%M} UTC to train on; check the table or query, "
                "the timestamp column and source.timezone"
            )
        plan = {s: "no model yet" for s in sorted(history[SERIES_COLUMN].unique())}
    for series, reason in plan.items():
        anchor = tick.watermarks.get(series, tick.until)
        frame = _training_frame(history, series, anchor, monitor)
        try:
            result.models[series] = train_series(
                monitor, store, models_root, series, frame, config_hash
            )
        except InsufficientDataError as exc:
            result.cold_start[series] = str(exc)
            continue
        except DetectorError as exc:
            result.errors[series] = f"training failed: {exc}"
            continue
        result.trained.append(series)
        log.info("monitor %s series %s: trained (%s)", monitor.name, series, reason)
        if series not in tick.watermarks:
            result.baseline_marks[series] = frame[TS_COLUMN].iloc[-1].to_pydatetime()
    return result


fit_task = pipeline_task("fit_or_reuse", retries=1, retry_condition_fn=retry_if_transient)(
    fit_or_reuse
)
