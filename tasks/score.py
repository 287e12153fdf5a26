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
from detector import DetectorError
from tasks.base import pipeline_task
from tasks.extract import TickData
from tasks.fit import ModelSet

log = logging.getLogger("anomwatch.score")


@dataclass
class SeriesScores:
    """Scored new rows of one series, kept for the plot and the report."""

    frame: pd.DataFrame  # context + new rows
    score: np.ndarray  # aligned with frame
    is_anomaly: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_context: int


@dataclass
class ScoredTick:
    records: list[AnomalyRecord] = field(default_factory=list)
    marks: dict[str, datetime] = field(default_factory=dict)
    points_scored: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    per_series: dict[str, SeriesScores] = field(default_factory=dict)


def severity_of(score: float, monitor: MonitorConfig) -> str:
    return "critical" if score >= monitor.severity.critical_score else "warning"


def score_series(
    monitor: MonitorConfig, series: str, models: ModelSet, tick: TickData, scored: ScoredTick
) -> None:
    loaded = models.models[series]
    new = tick.new_rows(series)
    if new.empty:
        return
    context = tick.context_rows(series, monitor.detector.sequence_length - 1)
    frame = pd.concat([context, new], ignore_index=True)
    values = monitor.source.values
    detection = loaded.detector.score(frame[values].to_numpy(float))
    n_ctx = len(context)
    scored.per_series[series] = SeriesScores(
        frame=frame,
        score=detection.score,
        is_anomaly=detection.is_anomaly,
        expected=detection.expected,
        lower=detection.lower,
        upper=detection.upper,
        n_context=n_ctx,
    )
    scored.points_scored += len(new)
    scored.marks[series] = new[TS_COLUMN].iloc[-1].to_pydatetime()
    for i in np.flatnonzero(detection.is_anomaly[n_ctx:]) + n_ctx:
        row = frame.iloc[i]
        score = float(detection.score[i])
        scored.records.append(
            AnomalyRecord(
                monitor=monitor.name,
                series=series,
                ts=row[TS_COLUMN].to_pydatetime(),
                value=float(row[values[0]]),
                expected=_finite(detection.expected[i, 0]),
                lower=_finite(detection.lower[i, 0]),
                upper=_finite(detection.upper[i, 0]),
                score=score,
                components=json.dumps(
                    {k: round(float(v[i]), 6) for k, v in detection.components.items()}
                ),
                feature_values=json.dumps({c: float(row[c]) for c in values}),
                severity=severity_of(score, monitor),
                model_id=loaded.record.id,
            )
        )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def score_tick(monitor: MonitorConfig, models: ModelSet, tick: TickData) -> ScoredTick:
    """Score each series on its own; one failing series does not stop the others."""
    scored = ScoredTick(marks=dict(models.baseline_marks))
    for series in sorted(models.models):
        if series not in tick.watermarks:
            continue  # just trained on its history; scoring starts with the next rows
        try:
            score_series(monitor, series, models, tick, scored)
        except DetectorError as exc:
            scored.errors[series] = f"scoring failed: {exc}"
            scored.marks.pop(series, None)
            log.warning("monitor %s series %s: %s", monitor.name, series, exc)
    return scored


score_task = pipeline_task("score")(score_tick)
