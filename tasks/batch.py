"""One batch of series: fit or reuse their models, then score their new rows.

This is the unit of parallel work (a Prefect task per batch, never per series or
point). Its arguments pickle, so it runs the same on threads or Dask workers: the
store is passed as a URL and opened here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from anomwatch.config import MonitorConfig
from anomwatch.store.db import Store
from tasks.base import pipeline_task
from tasks.extract import SeriesWork
from tasks.fit import fit_or_reuse
from tasks.score import ScoredBatch, score_batch


@dataclass
class BatchResult:
    scored: ScoredBatch
    trained: list[str] = field(default_factory=list)
    cold_start: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seasonality: dict[str, str] = field(default_factory=dict)


def process_batch(
    monitor: MonitorConfig,
    store_url: str,
    models_root: Path,
    batch: list[SeriesWork],
    min_score: float | None = None,
) -> BatchResult:
    store = Store(store_url)
    try:
        models = fit_or_reuse(monitor, store, models_root, batch)
        scored = score_batch(monitor, models, batch, min_score)
    finally:
        store.dispose()
    return BatchResult(
        scored=scored,
        trained=models.trained,
        cold_start=models.cold_start,
        errors={**models.errors, **scored.errors},
        seasonality=models.seasonality,
    )


def merge_results(results: list[BatchResult]) -> BatchResult:
    total = BatchResult(scored=ScoredBatch())
    for r in results:
        total.scored.merge(r.scored)
        total.trained += r.trained
        total.cold_start.update(r.cold_start)
        total.errors.update(r.errors)
        total.seasonality.update(r.seasonality)
    return total


batch_task = pipeline_task("fit_and_score_batch")(process_batch)
