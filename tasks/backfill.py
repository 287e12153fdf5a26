"""Backfill: score a past range chunk by chunk with bounded memory, resumably.

Rows stream from the source as numpy column chunks (`anomwatch.bulk_read`: COPY on
PostgreSQL, the DBAPI cursor elsewhere); each chunk is cut at a timestamp boundary,
sorted once by (series, ts) and sliced per series. Series without a model are
trained on the `retrain.window` before the range. Long ranges of a one-column,
Isolation-Forest-only monitor are scored through each model's step table
(`detector.step_table`: identical scores, one binary search per point); other
detectors score each series with sequence context carried between chunks.
A chunk's anomalies are stored, and its rows fed to the alert events (the same
`apply_events` as the ticks, so both give the same events), before the checkpoint
moves past it. Backfilled anomalies and the events they open are marked
`suppressed = 'backfill'`: history is stored, nobody is paged for it. Watermarks of
the live ticks are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select, update

from anomwatch.bulk_read import BulkReader, RawChunk, SeriesChunk
from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.source import SERIES_COLUMN, SourceReader
from anomwatch.store.anomalies import AnomalyRecord
from anomwatch.store.db import Store, inserted_id
from anomwatch.store.events import SeriesPoints, apply_events
from anomwatch.store.models_registry import ModelRecord, active_models, deactivate
from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import anomalies, backfills
from detector import DetectorError, EnsembleDetector, ModelIntegrityError
from detector.shared import SharedLSTMDetector, prefetch_scoring
from detector.step_table import StepTableScorer
from tasks.extract import SeriesWork
from tasks.fit import fit_or_reuse
from tasks.score import anomaly_records, event_points

log = logging.getLogger("anomwatch.backfill")

# A step table costs about as much to build as walking the forest for ~1,000 rows.
TABLE_MIN_ROWS_PER_SERIES = 2_000
SUPPRESSED = "backfill"


@dataclass
class BackfillProgress:
    backfill_id: int
    total_rows: int
    rows_read: int = 0
    points_scored: int = 0
    anomalies: int = 0
    position: datetime | None = None
    resumed: bool = False
    step_tables: int = 0  # series scored through a step table (the fast path)


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
    register_monitor(store, monitor.name, monitor.config_hash())  # so `report` etc. know it
    backfill_id, position = _checkpoint(store, monitor.name, since, until)
    start = position or since
    with SourceReader(monitor) as reader:
        progress = BackfillProgress(
            backfill_id,
            reader.count_range(start, until),
            position=position,
            resumed=position is not None,
        )
        scorer = _ChunkScorer(monitor, store, models_root, reader, since, progress.total_rows)
        bulk = BulkReader(reader)
        carry: RawChunk | None = None
        try:
            for chunk in bulk.iter_raw(start, until, chunk_rows, progress.total_rows):
                progress.rows_read += len(chunk)
                pending = chunk if carry is None else RawChunk.concat(carry, chunk)
                valid = pending.ts[~np.isnat(pending.ts)]
                if not len(valid):
                    continue
                last = valid.max()
                # rows of the last timestamp may continue in the next chunk: keep them back
                carry = pending.take(np.flatnonzero(pending.ts == last))
                ready = pending.take(np.flatnonzero(pending.ts != last))
                _score_chunk(store, scorer, bulk.tidy(ready), progress)
                if on_progress:
                    on_progress(progress)
            if carry is not None and len(carry):
                _score_chunk(store, scorer, bulk.tidy(carry), progress)
        except Exception as exc:
            _save_progress(store, progress, "failed", f"{type(exc).__name__}: {exc}")
            raise
    progress.step_tables = sum(m.table is not None for m in scorer.loaded.values())
    _save_progress(store, progress, "done")
    if on_progress:
        on_progress(progress)
    return progress


@dataclass
class _SeriesModel:
    record: ModelRecord
    table: StepTableScorer | None
    detector: EnsembleDetector | None
    context_ts: np.ndarray | None = None
    context_values: np.ndarray | None = None


class _ChunkScorer:
    """Models of the backfilled series (loaded once, trained when missing) and their scoring."""

    def __init__(
        self,
        monitor: MonitorConfig,
        store: Store,
        models_root: Path,
        reader: SourceReader,
        since: datetime,
        total_rows: int,
    ) -> None:
        self.monitor = monitor
        self.store = store
        self.models_root = models_root
        self.reader = reader
        self.since = since
        # rows to prepend so that a chunk scores as in one long batch
        default = monitor.detector.sequence_length - 1
        self.k = int(getattr(monitor.detector, "context_rows", default))
        self.config_hash = monitor.config_hash()
        self.records = active_models(store, monitor.name)
        self.loaded: dict[str, _SeriesModel] = {}
        self.skipped: dict[str, str] = {}  # series that cannot be scored in this backfill
        self.use_tables = total_rows / max(len(self.records), 1) >= TABLE_MIN_ROWS_PER_SERIES

    def prepare(self, keys: list[str]) -> None:
        """Load or train the models of the series of a chunk (one history read if any)."""
        missing = [k for k in keys if k not in self.loaded and k not in self.skipped]
        untrained: list[SeriesWork] = []
        for key in missing:
            record = self.records.get(key)
            if record is None or record.config_hash != self.config_hash:
                untrained.append(
                    SeriesWork(key, self.since, pd.DataFrame(), record, "no model yet")
                )
                continue
            try:
                detector = EnsembleDetector.load(Path(record.artifact_path), record.sha256)
            except (ModelIntegrityError, OSError) as exc:
                deactivate(self.store, record.id)
                self.records.pop(key)
                self.skipped[key] = f"model file refused: {exc}"
                log.warning("backfill %s series %s: %s", self.monitor.name, key, exc)
                continue
            self._keep(key, record, detector)
        if untrained:
            self._train(untrained)

    def _keep(self, key: str, record: ModelRecord, detector: EnsembleDetector) -> None:
        table = StepTableScorer.build(detector) if self.use_tables else None
        self.loaded[key] = _SeriesModel(record, table, None if table else detector)

    def _train(self, items: list[SeriesWork]) -> None:
        window = self.monitor.retrain.window
        history = self.reader.read_range(self.since - window, self.since).frame
        for item in items:
            h = history[history[SERIES_COLUMN] == item.series]
            item.history = h.tail(self.monitor.retrain.max_points).reset_index(drop=True)
        fitted = fit_or_reuse(self.monitor, self.store, self.models_root, items)
        for key, message in {**fitted.cold_start, **fitted.errors}.items():
            self.skipped[key] = message
            log.warning("backfill %s series %s skipped: %s", self.monitor.name, key, message)
        for key in fitted.trained:
            loaded = fitted.models[key]
            self.records[key] = loaded.record
            self._keep(key, loaded.record, loaded.detector)

    @staticmethod
    def with_context(
        model: _SeriesModel, ts: np.ndarray, X: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """The rows after the context rows the previous chunk left (sequence components)."""
        if model.context_ts is None or model.context_values is None:
            return ts, X, 0
        return (
            np.concatenate([model.context_ts, ts]),
            np.concatenate([model.context_values, X]),
            len(model.context_ts),
        )

    def prefetch_shared(self, chunk: SeriesChunk) -> None:
        """One batched shared-LSTM prediction for every series of the chunk."""
        pairs = []
        for i, key in enumerate(chunk.keys):
            model = self.loaded.get(key)
            lo, hi = int(chunk.starts[i]), int(chunk.starts[i + 1])
            if model is not None and isinstance(model.detector, SharedLSTMDetector) and hi > lo:
                pairs.append(
                    (
                        model.detector,
                        self.with_context(model, chunk.ts[lo:hi], chunk.values[lo:hi])[1],
                    )
                )
        if pairs:
            try:
                prefetch_scoring(pairs)
            except DetectorError as exc:  # each series then reports its own error
                log.warning(
                    "backfill %s: batched shared-LSTM inference failed: %s", self.monitor.name, exc
                )

    def score(
        self, key: str, ts: np.ndarray, X: np.ndarray
    ) -> tuple[list[AnomalyRecord], SeriesPoints | None]:
        """Anomaly records of one series' rows of a chunk (time-ordered), and the rows
        as the alert events read them."""
        model = self.loaded.get(key)
        if model is None:
            return [], None
        if model.table is not None:
            flagged = np.flatnonzero(model.table.scores(X[:, 0]) >= model.table.threshold)
            detection = model.table.detect(X[flagged])
            scores = np.zeros(len(ts))
            scores[flagged] = detection.score
            is_flagged = np.zeros(len(ts), dtype=bool)
            is_flagged[flagged] = True
            records = anomaly_records(
                self.monitor,
                key,
                ts[flagged],
                X[flagged],
                detection,
                np.arange(len(flagged)),
                model.record.id,
                SUPPRESSED,
            )
            return records, event_points(self.monitor, ts, is_flagged, scores)
        assert model.detector is not None
        ts, X, n_ctx = self.with_context(model, ts, X)
        detection = model.detector.score(X, ts=ts)
        if self.k > 0:
            model.context_ts, model.context_values = ts[-self.k :], X[-self.k :]
        flagged = np.flatnonzero(detection.is_anomaly[n_ctx:]) + n_ctx
        records = anomaly_records(
            self.monitor, key, ts, X, detection, flagged, model.record.id, SUPPRESSED
        )
        points = event_points(
            self.monitor,
            ts[n_ctx:],
            detection.is_anomaly[n_ctx:],
            detection.score[n_ctx:],
            detection.margin_of(slice(n_ctx, None)),
            detection.hold_of(slice(n_ctx, None)),
        )
        return records, points


def _score_chunk(
    store: Store, scorer: _ChunkScorer, chunk: SeriesChunk, progress: BackfillProgress
) -> None:
    if not len(chunk):
        return
    scorer.prepare(chunk.keys)
    scorer.prefetch_shared(chunk)
    records: list[AnomalyRecord] = []
    points: dict[str, SeriesPoints] = {}
    for i, key in enumerate(chunk.keys):
        lo, hi = int(chunk.starts[i]), int(chunk.starts[i + 1])
        if hi == lo or key not in scorer.loaded:
            continue
        try:
            found, scored = scorer.score(key, chunk.ts[lo:hi], chunk.values[lo:hi])
        except DetectorError as exc:
            log.warning("backfill %s series %s: scoring failed: %s", scorer.monitor.name, key, exc)
            continue
        records += found
        if scored is not None:
            points[key] = scored
        progress.points_scored += hi - lo
    progress.anomalies += _insert_new(store, scorer.monitor, records, points)
    progress.position = pd.Timestamp(chunk.ts.max()).to_pydatetime()
    _save_progress(store, progress, "running")


def _insert_new(
    store: Store,
    config: MonitorConfig,
    records: list[AnomalyRecord],
    points: dict[str, SeriesPoints],
) -> int:
    """Insert the records not stored yet (a resumed or repeated range adds nothing)
    and feed the chunk's rows to the alert events, in one transaction.

    One executemany on the DBAPI cursor with values already in the driver's form:
    SQLAlchemy's per-row parameter building costs more than the insert itself here.
    """
    monitor = config.name
    with store.begin() as conn:
        fresh = _insert_records(conn, monitor, records)
        apply_events(conn, monitor, points, config.events, SUPPRESSED)
    return fresh


def _insert_records(conn: Connection, monitor: str, records: list[AnomalyRecord]) -> int:
    if not records:
        return 0
    low = min(r.ts for r in records)
    high = max(r.ts for r in records)
    existing = {
        (r.series, r.ts)
        for r in conn.execute(
            select(anomalies.c.series, anomalies.c.ts).where(
                anomalies.c.monitor == monitor, anomalies.c.ts >= low, anomalies.c.ts <= high
            )
        )
    }
    fresh = [r for r in records if (r.series, r.ts) not in existing]
    if fresh:
        now = utcnow()
        rows = [{**r.__dict__, "run_id": None, "status": "open", "created_at": now} for r in fresh]
        names = list(rows[0])
        compiled = insert(anomalies).compile(dialect=conn.dialect, column_keys=names)
        dialect = conn.dialect
        process = {
            name: anomalies.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        }
        converters = {name: fn for name, fn in process.items() if fn is not None}
        for row in rows:
            for name, fn in converters.items():
                row[name] = fn(row[name])
        if compiled.positional:
            order = compiled.positiontup or []
            params: list[Any] = [tuple(row[name] for name in order) for row in rows]
        else:
            params = rows
        conn.exec_driver_sql(str(compiled), params)
    return len(fresh)
