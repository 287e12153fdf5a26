"""Scoring a batch: alignment with context rows, and the feedback-tuned minimum score."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from anomwatch.config import SeverityPolicy, parse_monitors
from anomwatch.store.models_registry import ModelRecord
from detector import DetectorConfig, EnsembleDetector
from tasks.extract import SeriesWork
from tasks.fit import LoadedModel, ModelSet
from tasks.score import score_batch

T0 = datetime(2026, 11, 20)
MONITOR = parse_monitors(
    {
        "monitors": [
            {
                "name": "m",
                "source": {
                    "url": "sqlite://",
                    "table": "t",
                    "timestamp": "ts",
                    "values": ["value"],
                },
            }
        ]
    }
).get("m")


def setup() -> tuple[ModelSet, SeriesWork]:
    rng = np.random.default_rng(0)
    detector = EnsembleDetector(DetectorConfig()).fit(rng.normal(size=(500, 1)))
    record = ModelRecord(1, "m", "all", 1, T0, T0, "h", "/nowhere", "0" * 64)
    values = rng.normal(size=40)
    values[30] = 12.0
    frame = pd.DataFrame(
        {"series": "all", "ts": [T0 + timedelta(minutes=5 * i) for i in range(40)], "value": values}
    )
    work = SeriesWork("all", T0 + timedelta(minutes=5 * 14), frame, record)
    return ModelSet(models={"all": LoadedModel(record, detector)}), work


def test_only_new_rows_are_scored_and_the_spike_is_recorded() -> None:
    models, work = setup()
    out = score_batch(MONITOR, models, [work])
    assert out.points_scored == 25  # rows after the watermark, not the 15 context rows
    assert out.marks == {"all": T0 + timedelta(minutes=5 * 39)}
    assert [r.ts for r in out.records] == [T0 + timedelta(minutes=150)]


def test_tuned_minimum_score_narrows_the_flags() -> None:
    models, work = setup()
    assert score_batch(MONITOR, models, [work], min_score=1.01).records == []
    assert score_batch(MONITOR, models, [work], min_score=1.01).points_scored == 25


def frame_with(values: np.ndarray) -> pd.DataFrame:
    stamps = [T0 + timedelta(minutes=5 * i) for i in range(len(values))]
    return pd.DataFrame({"series": "all", "ts": stamps, "value": values})


def test_severity_follows_the_distance_past_the_alert_line_not_the_history_length() -> None:
    """About a week of training rows (2,000): the event budget puts the threshold near
    the training maximum, so every flag scores above 0.999; only the one at least 1.5
    times as far out as the model's threshold is critical."""
    rng = np.random.default_rng(4)
    step = np.timedelta64(5, "m")
    train_ts = np.datetime64(T0, "us") - step * np.arange(2000, 0, -1)
    detector = EnsembleDetector(DetectorConfig()).fit(rng.normal(size=(2000, 1)), ts=train_ts)
    record = ModelRecord(1, "m", "all", 1, T0, T0, "h", "/nowhere", "0" * 64)
    values = rng.normal(size=80) * 0.3
    ts = np.datetime64(T0, "us") + step * np.arange(80)
    # the smallest step up that the detector flags at row 40, found on the detector itself
    for bump in np.arange(2.0, 12.0, 0.1):
        values[40] = bump
        found = detector.score(values[:, None], ts=ts)
        if found.is_anomaly[40]:
            break
    assert found.margin is not None and 1 <= found.margin[40] < 1.5
    values[70] = 40.0  # far out
    assert detector.score(values[:, None], ts=ts).margin[70] >= 2  # type: ignore[index]
    work = SeriesWork("all", T0 + timedelta(minutes=5 * 30), frame_with(values), record)
    models = ModelSet(models={"all": LoadedModel(record, detector)})
    out = score_batch(MONITOR, models, [work])
    by_row = {int((r.ts - T0) / timedelta(minutes=5)): r for r in out.records}
    assert by_row[40].score >= 0.999 and by_row[40].severity == "warning"
    assert by_row[70].severity == "critical"
    points = out.points["all"]  # the alert events read the same ranks (rows after row 30)
    assert points.severity[40 - 31] == 1 and points.severity[70 - 31] == 2
    # a monitor that sets critical_score keeps the score rule
    by_score = MONITOR.model_copy(update={"severity": SeverityPolicy(critical_score=0.999)})
    again = score_batch(by_score, models, [work])
    assert {r.severity for r in again.records} == {"critical"}


def test_severity_policy_ranks() -> None:
    score, margin = np.array([0.9, 0.9995, 0.9995]), np.array([1.0, 1.5, 2.0])
    assert SeverityPolicy().ranks(score, margin).tolist() == [1, 2, 2]  # 1.5 times
    assert SeverityPolicy(critical_multiple=2).ranks(score, margin).tolist() == [1, 1, 2]
    # explicit score rule, and models without an error threshold (margin None)
    assert SeverityPolicy(critical_score=0.999).ranks(score, margin).tolist() == [1, 2, 2]
    assert SeverityPolicy().ranks(score, None).tolist() == [1, 2, 2]
