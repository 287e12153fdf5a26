"""Backfill flow: score a past range of one monitor, resumable, bounded memory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow

from anomwatch.config import load_monitors
from anomwatch.durations import to_naive_utc
from anomwatch.settings import Settings
from anomwatch.store.db import Store
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
    settings = Settings()
    config = load_monitors(Path(monitors_file) if monitors_file else settings.monitors_file).get(
        monitor
    )
    store = Store(settings.resolved_store_url)
    try:
        store.require_migrated()
        progress: BackfillProgress = backfill_task(
            config, store, settings.models_dir, to_naive_utc(since), to_naive_utc(until), chunk_rows
        )
    finally:
        store.dispose()
    return progress.__dict__
