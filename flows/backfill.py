"""Backfill flow: score a past range of one monitor, resumable, bounded memory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from anomwatch.durations import to_naive_utc
from flows.runtime import monitor_and_store
from tasks.backfill import BackfillProgress, run_backfill
from tasks.base import pipeline_task

backfill_task = pipeline_task("backfill_range")(run_backfill)


@flow(name="anomwatch-backfill")
def backfill(
    monitor: str,
    since: datetime,
    until: datetime,
    monitors_file: str | None = None,
    chunk_rows: int = 100_000,
) -> dict[str, Any]:
    with monitor_and_store(monitor, monitors_file) as (settings, config, store):
        progress: BackfillProgress = backfill_task(
            config, store, settings.models_dir, to_naive_utc(since), to_naive_utc(until), chunk_rows
        )
    return progress.__dict__
