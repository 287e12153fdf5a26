"""What a scrape reads from the store: a handful of grouped queries, one per metric family.

Every query groups by monitor in the database, so a scrape costs the same number of
round trips for 1 or 100 monitors. The snapshot is keyed by what the rows say; the
collector reads it only for the monitors registered in the store and the fixed
severities and statuses below, so a label never carries a series name, a value or free
text, whatever is in the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, case, cast, func, literal_column, select

from anomwatch.store.events import OPEN_STATUSES
from anomwatch.store.schema import anomalies, events, monitors, notifications, runs, watermarks

SEVERITIES = ("warning", "critical")
# A run is 'running' until it ends with one of the others; the runs counter counts ended
# runs only, so no count ever goes down when a run finishes.
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "skipped", "abandoned")
ENDED = RUN_STATUSES[1:]
FINISHED = ("succeeded", "partial", "failed")  # runs that did the work (their time counts)
OUTBOX_STATUSES = ("pending", "dead")
# Tick durations: a tick of a few series takes about a second, 1,000 series up to 30 s.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

Key = tuple[str, ...]


@dataclass
class Histogram:
    buckets: list[int]  # cumulative counts, one per DURATION_BUCKETS bound (+Inf is count)
    count: int
    total: float


@dataclass
class Snapshot:
    """The store's figures at one instant, keyed by label values."""

    now: datetime
    monitors: list[str]
    anomalies: dict[Key, int] = field(default_factory=dict)  # (monitor, severity)
    events: dict[Key, int] = field(default_factory=dict)  # (monitor, severity)
    open_events: dict[Key, int] = field(default_factory=dict)  # (monitor, severity, status)
    runs: dict[Key, int] = field(default_factory=dict)  # (monitor, status)
    rows_read: dict[str, int] = field(default_factory=dict)
    points_scored: dict[str, int] = field(default_factory=dict)
    last_run: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # status, start
    last_success: dict[str, datetime] = field(default_factory=dict)
    durations: dict[str, Histogram] = field(default_factory=dict)
    newest_row: dict[str, datetime] = field(default_factory=dict)
    outbox: dict[Key, int] = field(default_factory=dict)  # (monitor, status)
    sent: dict[str, int] = field(default_factory=dict)
    health_open: dict[str, int] = field(default_factory=dict)


def duration_seconds(dialect: str) -> ColumnElement[Any]:
    """finished_at - started_at in seconds, in the dialect's own date arithmetic."""
    start, end = runs.c.started_at, runs.c.finished_at
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return func.timestampdiff(literal_column("MICROSECOND"), start, end) / 1e6


def _count_by(
    conn: Connection, *columns: ColumnElement[Any], where: tuple[Any, ...] = ()
) -> dict[Key, int]:
    """{(column values...): row count}, grouped in the database."""
    query = select(*columns, func.count()).where(*where).group_by(*columns)
    return {tuple(labels): int(n) for *labels, n in conn.execute(query)}


def read_snapshot(conn: Connection, now: datetime) -> Snapshot:
    names = sorted(conn.execute(select(monitors.c.name)).scalars())
    snap = Snapshot(now=now, monitors=names)
    snap.anomalies = _count_by(conn, anomalies.c.monitor, anomalies.c.severity)
    is_anomaly = events.c.kind == "anomaly"
    snap.events = _count_by(conn, events.c.monitor, events.c.severity, where=(is_anomaly,))
    snap.open_events = _count_by(
        conn,
        events.c.monitor,
        events.c.severity,
        events.c.status,
        where=(is_anomaly, events.c.status.in_(OPEN_STATUSES)),
    )
    health = (events.c.kind == "health", events.c.status == "open")
    snap.health_open = {k[0]: n for k, n in _count_by(conn, events.c.monitor, where=health).items()}
    _read_runs(conn, snap)
    newest = select(watermarks.c.monitor, func.max(watermarks.c.last_ts))
    snap.newest_row = {
        m: ts for m, ts in conn.execute(newest.group_by(watermarks.c.monitor)) if ts is not None
    }
    counts = _count_by(conn, notifications.c.monitor, notifications.c.status)
    snap.outbox = {k: n for k, n in counts.items() if k[1] != "sent"}
    snap.sent = {k[0]: n for k, n in counts.items() if k[1] == "sent"}
    return snap


def _read_runs(conn: Connection, snap: Snapshot) -> None:
    snap.runs = _count_by(conn, runs.c.monitor, runs.c.status)
    for monitor, rows_read, points in conn.execute(
        select(runs.c.monitor, func.sum(runs.c.rows_read), func.sum(runs.c.points_scored)).group_by(
            runs.c.monitor
        )
    ):
        snap.rows_read[monitor] = int(rows_read or 0)
        snap.points_scored[monitor] = int(points or 0)
    _read_last_runs(conn, snap)
    _read_durations(conn, snap)


def _read_last_runs(conn: Connection, snap: Snapshot) -> None:
    """Each monitor's latest run (its start) and when its latest successful run finished."""
    latest = (
        select(runs.c.monitor, func.max(runs.c.id).label("id")).group_by(runs.c.monitor).subquery()
    )
    for monitor, status, started in conn.execute(
        select(runs.c.monitor, runs.c.status, runs.c.started_at).join(
            latest, runs.c.id == latest.c.id
        )
    ):
        snap.last_run[monitor] = (status, started)
    for monitor, finished in conn.execute(
        select(runs.c.monitor, func.max(runs.c.finished_at))
        .where(runs.c.status == "succeeded")
        .group_by(runs.c.monitor)
    ):
        if finished is not None:
            snap.last_success[monitor] = finished


def _read_durations(conn: Connection, snap: Snapshot) -> None:
    """The run-duration histogram, bucketed in the database (the runs are not fetched)."""
    seconds = duration_seconds(conn.dialect.name)
    bucket_cols = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    query = (
        select(runs.c.monitor, func.count(), func.sum(seconds), *bucket_cols)
        .where(runs.c.status.in_(FINISHED), runs.c.finished_at.is_not(None))
        .group_by(runs.c.monitor)
    )
    for monitor, count, total, *buckets in conn.execute(query):
        snap.durations[monitor] = Histogram(
            [int(b or 0) for b in buckets], int(count), max(float(total or 0.0), 0.0)
        )
