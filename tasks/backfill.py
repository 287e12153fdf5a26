"""Backfill: score a past range chunk by chunk with bounded memory, resumably.

Rows are streamed from the source in chunks (server-side cursor); each chunk is
cut at a timestamp boundary, scored with the monitor's models (series without a
model are trained on the `retrain.window` before the range), and its anomalies are
stored before the checkpoint moves past it. Backfilled anomalies are marked
`suppressed = 'backfill'`: history is stored, nobody is paged for it. Watermarks
of the live ticks are never touched.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select, update

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.source import SERIES_COLUMN, TS_COLUMN, SourceReader
from anomwatch.store.anomalies import persist_tick
from anomwatch.store.db import Store, inserted_id
from anomwatch.store.models_registry import ModelRecord, active_models
from anomwatch.store.schema import backfills
from tasks.extract import SeriesWork
from tasks.fit import fit_or_reuse
from tasks.score import score_batch

log = logging.getLogger("anomwatch.backfill")


@dataclass
class BackfillProgress:
    backfill_id: int
    total_rows: int
    rows_read: int = 0
    points_scored: int = 0
    anomalies: int = 0
    position: datetime | None = None
    resumed: bool = False


def _checkpoint(
    store: Store, monitor: str, since: datetime, until: datetime
) -> tuple[int, datetime | None]:
    """The unfinished backfill of this exact range (to resume), or a new one."""
    now = utcnow()
    with store.begin() as conn:
        row = conn.execute(
            select(backfills.c.id, backfills.c.position)
            .where(
                backfills.c.monitor == monitor,
                backfills.c.since == since,
                backfills.c.until == until,
                backfills.c.status != "done",
            )
            .order_by(backfills.c.id.desc())
        ).first()
        if row is not None:
            conn.execute(
                update(backfills)
                .where(backfills.c.id == row.id)
                .values(status="running", updated_at=now, error=None)
            )
            return int(row.id), row.position
        result = conn.execute(
            insert(backfills).values(
                monitor=monitor,
                since=since,
                until=until,
                position=None,
                status="running",
                rows_read=0,
                anomalies=0,
                started_at=now,
                updated_at=now,
            )
        )
        return inserted_id(result), None


def _save_progress(
    store: Store, progress: BackfillProgress, status: str, error: str | None = None
) -> None:
    with store.begin() as conn:
        conn.execute(
            update(backfills)
            .where(backfills.c.id == progress.backfill_id)
            .values(
                position=progress.position,
                status=status,
                rows_read=progress.rows_read,
                anomalies=progress.anomalies,
                updated_at=utcnow(),
                error=error,
            )
        )


def run_backfill(
    monitor: MonitorConfig,
    store: Store,
    models_root: Path,
    since: datetime,
    until: datetime,
    chunk_rows: int = 100_000,
    on_progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillProgress:
    backfill_id, position = _checkpoint(store, monitor.name, since, until)
    start = position or since
    k = monitor.detector.sequence_length - 1
    models = active_models(store, monitor.name)
    config_hash = monitor.config_hash()
    context: dict[str, pd.DataFrame] = {}
    with SourceReader(monitor) as reader:
        progress = BackfillProgress(
            backfill_id,
            reader.count_range(start, until),
            position=position,
            resumed=position is not None,
        )
        carry: pd.DataFrame | None = None
        try:
            for chunk in reader.iter_range(start, until, chunk_rows):
                frame = chunk.frame if carry is None else pd.concat([carry, chunk.frame])
                progress.rows_read += chunk.rows_read
                last_ts = frame[TS_COLUMN].max()
                carry = frame[frame[TS_COLUMN] == last_ts]
                ready = frame[frame[TS_COLUMN] < last_ts]
                _score_chunk(
                    monitor,
                    store,
                    models_root,
                    reader,
                    ready,
                    context,
                    models,
                    config_hash,
                    k,
                    since,
                    progress,
                )
                if on_progress:
                    on_progress(progress)
            if carry is not None and not carry.empty:
                _score_chunk(
                    monitor,
                    store,
                    models_root,
                    reader,
                    carry,
                    context,
                    models,
                    config_hash,
                    k,
                    since,
                    progress,
                )
        except Exception as exc:
            _save_progress(store, progress, "failed", f"{type(exc).__name__}: {exc}")
            raise
    _save_progress(store, progress, "done")
    if on_progress:
        on_progress(progress)
    return progress


def _score_chunk(
    monitor: MonitorConfig,
    store: Store,
    models_root: Path,
    reader: SourceReader,
    ready: pd.DataFrame,
    context: dict[str, pd.DataFrame],
    models: dict[str, ModelRecord],
    config_hash: str,
    k: int,
    since: datetime,
    progress: BackfillProgress,
) -> None:
    if ready.empty:
        return
    batch: list[SeriesWork] = []
    untrained: list[str] = []
    for series, part in ready.sort_values([SERIES_COLUMN, TS_COLUMN]).groupby(SERIES_COLUMN):
        ctx = context.get(str(series), ready.iloc[0:0])
        rows = pd.concat([ctx, part], ignore_index=True)
        mark = ctx[TS_COLUMN].iloc[-1].to_pydatetime() if len(ctx) else since
        record = models.get(series)
        reason = (
            None if record is not None and record.config_hash == config_hash else "no model yet"
        )
        item = SeriesWork(str(series), mark, rows, record, reason)
        if reason:
            untrained.append(str(series))
        batch.append(item)
        context[str(series)] = rows.tail(k) if k > 0 else rows.iloc[0:0]
    if untrained:
        history = reader.read_range(since - monitor.retrain.window, since).frame
        for item in batch:
            if item.train_reason:
                h = history[history[SERIES_COLUMN] == item.series]
                item.history = h.tail(monitor.retrain.max_points).reset_index(drop=True)
    fitted = fit_or_reuse(monitor, store, models_root, batch)
    for series in fitted.trained:
        models[series] = fitted.models[series].record
    for series, message in {**fitted.cold_start, **fitted.errors}.items():
        log.warning("backfill %s series %s skipped: %s", monitor.name, series, message)
    scored = score_batch(monitor, fitted, batch)
    records = [dataclasses.replace(r, suppressed="backfill") for r in scored.records]
    new_ids = persist_tick(store, monitor.name, None, records, {})
    progress.points_scored += scored.points_scored
    progress.anomalies += len(new_ids)
    progress.position = ready[TS_COLUMN].max().to_pydatetime()
    _save_progress(store, progress, "running")
