"""Anomalies, watermarks and alert events: written together, so a tick is all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, tuple_, update

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.events import SeriesPoints, apply_events, points_from_records, unflag
from anomwatch.store.schema import anomalies, watermarks
from detector.events import EventParams

SEVERITY_RANK = {"warning": 1, "critical": 2}


@dataclass(frozen=True)
class AnomalyRecord:
    """One anomalous point as the detector found it, before it is stored."""

    monitor: str
    series: str
    ts: datetime
    value: float
    expected: float | None
    lower: float | None
    upper: float | None
    score: float
    components: str  # JSON: component -> calibrated score
    feature_values: str  # JSON: value column -> value
    severity: str
    model_id: int | None
    suppressed: str | None = None  # e.g. "backfill": stored, never notified


def get_watermarks(store: Store, monitor: str) -> dict[str, datetime]:
    with store.begin() as conn:
        rows = conn.execute(
            select(watermarks.c.series, watermarks.c.last_ts).where(watermarks.c.monitor == monitor)
        )
        return {r.series: r.last_ts for r in rows}


def _existing_keys(
    conn: Connection, monitor: str, records: Sequence[AnomalyRecord]
) -> set[tuple[str, datetime]]:
    if not records:
        return set()
    low = min(r.ts for r in records)
    high = max(r.ts for r in records)
    rows = conn.execute(
        select(anomalies.c.series, anomalies.c.ts).where(
            anomalies.c.monitor == monitor, anomalies.c.ts >= low, anomalies.c.ts <= high
        )
    )
    return {(r.series, r.ts) for r in rows}


def _advance_watermarks(conn: Connection, monitor: str, new_marks: dict[str, datetime]) -> None:
    if not new_marks:
        return
    now = utcnow()
    current = {
        r.series: r.last_ts
        for r in conn.execute(
            select(watermarks.c.series, watermarks.c.last_ts).where(watermarks.c.monitor == monitor)
        )
    }
    for series, last_ts in new_marks.items():
        if series not in current:
            conn.execute(
                insert(watermarks).values(
                    monitor=monitor, series=series, last_ts=last_ts, updated_at=now
                )
            )
        elif last_ts > current[series]:
            conn.execute(
                update(watermarks)
                .where(watermarks.c.monitor == monitor, watermarks.c.series == series)
                .values(last_ts=last_ts, updated_at=now)
            )


def persist_tick(
    store: Store,
    monitor: str,
    run_id: int | None,
    records: Sequence[AnomalyRecord],
    new_marks: dict[str, datetime],
    points: dict[str, SeriesPoints] | None = None,
    events: EventParams | None = None,
) -> list[int]:
    """Insert new anomalies, advance watermarks and update alert events in one transaction.

    Anomalies already stored (a rerun of the same rows) are skipped, so reruns
    change nothing; watermarks only ever move forward. Points the monitor's feedback
    classifier (if any) predicts to be false positives are stored with
    suppressed='classifier' and so never notified nor part of an event. `points` are
    every row scored (what events need to resolve); without them the records alone
    feed the events. Returns the new ids.
    """
    from anomwatch.feedback_classifier import suppress_predicted_false_positives

    records = suppress_predicted_false_positives(store, monitor, list(records))
    if points is None:
        points = points_from_records(r for r in records if r.suppressed != "classifier")
    else:
        points = {s: p.take(np.ones(len(p), dtype=bool)) for s, p in points.items()}  # a copy
        unflag(points, {(r.series, r.ts) for r in records if r.suppressed == "classifier"})
    with store.begin() as conn:
        existing = _existing_keys(conn, monitor, records)
        fresh = [r for r in records if (r.series, r.ts) not in existing]
        now = utcnow()
        if fresh:
            conn.execute(
                insert(anomalies),
                [
                    {
                        **r.__dict__,
                        "run_id": run_id,
                        "status": "open",
                        "created_at": now,
                    }
                    for r in fresh
                ],
            )
        _advance_watermarks(conn, monitor, new_marks)
        apply_events(conn, monitor, points, events or EventParams())
        if not fresh:
            return []
        keys = [(r.series, r.ts) for r in fresh]
        ids = conn.execute(
            select(anomalies.c.id).where(
                anomalies.c.monitor == monitor,
                tuple_(anomalies.c.series, anomalies.c.ts).in_(keys),
            )
        ).scalars()
        return sorted(int(i) for i in ids)


def series_matches(column: Any, series: str) -> ColumnElement[bool]:
    """`column = series`, or a LIKE of the glob (* and ?) with % and _ taken literally."""
    if any(ch in series for ch in "*?"):
        pattern = series.replace("%", r"\%").replace("_", r"\_")
        pattern = pattern.replace("*", "%").replace("?", "_")
        return column.like(pattern, escape="\\")
    return column == series


def query_anomalies(
    store: Store,
    monitor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    series: str | None = None,
    min_score: float | None = None,
    min_severity: str | None = None,
    status: str | None = None,
    ids: Sequence[int] | None = None,
    limit: int | None = None,
    newest_first: bool = True,
    notified: bool | None = None,
    older_than: tuple[datetime, int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stored anomalies matching the filters, streamed (server-side where possible).

    `older_than` (ts, id) pages newest-first lists by key, not OFFSET, so a deep page
    costs what the first one does.
    """
    conditions: list[ColumnElement[bool]] = []
    if older_than is not None:
        ts, key = older_than
        conditions.append(
            or_(anomalies.c.ts < ts, and_(anomalies.c.ts == ts, anomalies.c.id < key))
        )
    if notified is not None:
        notified_at = anomalies.c.notified_at
        conditions.append(notified_at.is_not(None) if notified else notified_at.is_(None))
    if monitor is not None:
        conditions.append(anomalies.c.monitor == monitor)
    if since is not None:
        conditions.append(anomalies.c.ts >= since)
    if until is not None:
        conditions.append(anomalies.c.ts <= until)
    if series is not None:
        conditions.append(series_matches(anomalies.c.series, series))
    if min_score is not None:
        conditions.append(anomalies.c.score >= min_score)
    if min_severity is not None:
        allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
        conditions.append(anomalies.c.severity.in_(allowed))
    if status is not None:
        conditions.append(anomalies.c.status == status)
    if ids is not None:
        conditions.append(anomalies.c.id.in_(list(ids)))
    order = (
        (anomalies.c.ts.desc(), anomalies.c.id.desc())
        if newest_first
        else (anomalies.c.ts, anomalies.c.id)
    )
    stmt = select(anomalies).where(and_(True, *conditions)).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=1000).execute(stmt).mappings()
        for row in result:
            yield dict(row)
