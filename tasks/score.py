"""Score: calibrated scores for every new row, and the anomaly records to store."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from anomwatch.config import MonitorConfig
from anomwatch.source import TS_COLUMN
from anomwatch.store.anomalies import AnomalyRecord
from anomwatch.store.events import SEVERITY_NAME, SeriesPoints
from detector import Detection, DetectorError
from detector.events import EventParams
from detector.result import Hold
from detector.shared import SharedLSTMDetector, prefetch_scoring
from tasks.extract import SeriesWork
from tasks.fit import LoadedModel, ModelSet

log = logging.getLogger("anomwatch.score")


@dataclass
class SeriesScores:
    """Scored rows of one series with anomalies, kept for the digest plot."""

    frame: pd.DataFrame  # context + new rows
    is_anomaly: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_context: int


@dataclass
class ScoredBatch:
    records: list[AnomalyRecord] = field(default_factory=list)
    marks: dict[str, datetime] = field(default_factory=dict)
    points_scored: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    per_series: dict[str, SeriesScores] = field(default_factory=dict)
    points: dict[str, SeriesPoints] = field(default_factory=dict)  # every new row, for events
    events: EventParams | None = None

    def merge(self, other: ScoredBatch) -> None:
        self.records += other.records
        self.marks.update(other.marks)
        self.points_scored += other.points_scored
        self.errors.update(other.errors)
        self.per_series.update(other.per_series)
        self.points.update(other.points)
        self.events = other.events or self.events


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def score_series(
    monitor: MonitorConfig,
    item: SeriesWork,
    loaded: LoadedModel,
    out: ScoredBatch,
    min_score: float | None = None,
) -> None:
    if item.watermark is None:
        return
    frame = item.rows
    ts = frame[TS_COLUMN].to_numpy("datetime64[us]")
    is_new = ts > np.datetime64(item.watermark, "us")  # numpy, not a frame filter per series
    n_new = int(is_new.sum())
    if not n_new:
        return
    n_ctx = len(frame) - n_new
    values = monitor.source.values
    X = frame[values].to_numpy(float)
    detection = loaded.detector.score(X, ts=ts)
    out.points_scored += n_new
    out.marks[item.series] = ts[is_new][-1].astype("datetime64[us]").item()
    is_anomaly = detection.is_anomaly
    if min_score is not None:  # a threshold tuned from feedback labels narrows the flags
        is_anomaly = is_anomaly & (detection.score >= min_score)
    flagged = np.flatnonzero(is_anomaly[n_ctx:]) + n_ctx
    out.points[item.series] = event_points(
        monitor,
        ts[n_ctx:],
        is_anomaly[n_ctx:],
        detection.score[n_ctx:],
        detection.margin_of(slice(n_ctx, None)),
        detection.hold_of(slice(n_ctx, None)),
    )
    if len(flagged):
        out.per_series[item.series] = SeriesScores(
            frame=frame,
            is_anomaly=is_anomaly,
            expected=detection.expected,
            lower=detection.lower,
            upper=detection.upper,
            n_context=n_ctx,
        )
    out.records += anomaly_records(
        monitor, item.series, ts, X, detection, flagged, loaded.record.id
    )


def event_points(
    monitor: MonitorConfig,
    ts: np.ndarray,
    flagged: np.ndarray,
    score: np.ndarray,
    margin: np.ndarray | None = None,
    hold: Hold | None = None,
) -> SeriesPoints:
    """What the alert-event tracker reads of scored rows: time, flag, score, severity,
    and what holds an open event open (Detection.hold)."""
    score = np.asarray(score, dtype=float)
    return SeriesPoints(
        ts=np.asarray(ts).astype("datetime64[us]"),
        flagged=np.asarray(flagged, dtype=bool),
        score=score,
        severity=monitor.severity.ranks(score, margin),
        hold=hold,
    )


def anomaly_records(
    monitor: MonitorConfig,
    series: str,
    ts: np.ndarray,
    X: np.ndarray,
    detection: Detection,
    rows: np.ndarray,
    model_id: int | None,
    suppressed: str | None = None,
) -> list[AnomalyRecord]:
    """One record per flagged row (rows index ts, X and the detection's arrays)."""
    if not len(rows):
        return []
    values = monitor.source.values
    stamps = ts[rows].astype("datetime64[us]").tolist()  # datetime objects
    points = X[rows].tolist()
    scores = detection.score[rows].tolist()
    ranks = monitor.severity.ranks(detection.score[rows], detection.margin_of(rows)).tolist()
    expected = detection.expected[rows, 0].tolist()
    lower = detection.lower[rows, 0].tolist()
    upper = detection.upper[rows, 0].tolist()
    parts = {
        k: [round(x, 6) for x in v[rows].astype(float).tolist()]
        for k, v in detection.components.items()
    }
    records = []
    for j, score in enumerate(scores):
        records.append(
            AnomalyRecord(
                monitor=monitor.name,
                series=series,
                ts=stamps[j],
                value=float(points[j][0]),
                expected=_finite(expected[j]),
                lower=_finite(lower[j]),
                upper=_finite(upper[j]),
                score=float(score),
                components=json.dumps({k: v[j] for k, v in parts.items()}),
                feature_values=json.dumps(dict(zip(values, points[j], strict=True))),
                severity=SEVERITY_NAME[ranks[j]],
                model_id=model_id,
                suppressed=suppressed,
            )
        )
    return records


def score_batch(
    monitor: MonitorConfig,
    models: ModelSet,
    batch: list[SeriesWork],
    min_score: float | None = None,
) -> ScoredBatch:
    """Score each series on its own; one failing series does not stop the others.

    A shared LSTM (lstm_sharing: per_monitor) first predicts for every series of the
    batch in one call; each series' score then picks its rows up.
    """
    out = ScoredBatch(marks=dict(models.baseline_marks), events=monitor.events)
    values = monitor.source.values
    shared = [
        (loaded.detector, item.rows[values].to_numpy(float))
        for item in batch
        if (loaded := models.models.get(item.series)) is not None
        and isinstance(loaded.detector, SharedLSTMDetector)
        and item.watermark is not None
        and bool((item.rows[TS_COLUMN] > item.watermark).any())  # else never scored
    ]
    if shared:
        try:
            prefetch_scoring(shared)
        except DetectorError as exc:  # each series then reports its own error
            log.warning("monitor %s: batched shared-LSTM inference failed: %s", monitor.name, exc)
    for item in batch:
        loaded = models.models.get(item.series)
        if loaded is None or item.watermark is None:
            continue  # cold start, error, or just trained on its history (its baseline)
        try:
            score_series(monitor, item, loaded, out, min_score)
        except DetectorError as exc:
            out.errors[item.series] = f"scoring failed: {exc}"
            out.marks.pop(item.series, None)
            out.points.pop(item.series, None)
            log.warning("monitor %s series %s: %s", monitor.name, item.series, exc)
    return out
