"""Scoring a batch: alignment with context rows, and the feedback-tuned minimum score."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from anomwatch.config import parse_monitors
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
