"""The runs table's figures for a scrape, in one pass over the table.

The runs table grows by one row per tick (100,000 rows a year for a 5-minute monitor),
so counts, sums, the last success and the duration histogram come from a single grouped
scan: each run's duration is computed once, in the dialect's own date arithmetic, and
put in its bucket by the database; only (monitor, status, bucket) groups are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, case, cast, func, literal_column, select

from anomwatch.store.schema import runs

# A run is 'running' until it ends with one of the others; the runs counter counts ended
# runs only, so no count ever goes down when a run finishes.
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "skipped", "abandoned")
ENDED = RUN_STATUSES[1:]
FINISHED = ("succeeded", "partial", "failed")  # runs that did the work (their time counts)
# Tick durations: a tick of a few series takes about a second, 1,000 series up to 30 s.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class Histogram:
    buckets: list[int]  # cumulative counts, one per DURATION_BUCKETS bound (+Inf is count)
    count: int
    total: float


@dataclass
class RunFigures:
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (monitor, status)
    rows_read: dict[str, int] = field(default_factory=dict)
    points_scored: dict[str, int] = field(default_factory=dict)
    last_run: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # status, start
    last_success: dict[str, datetime] = field(default_factory=dict)  # its end
    durations: dict[str, Histogram] = field(default_factory=dict)


def duration_seconds(dialect: str) -> ColumnElement[Any]:
    """finished_at - started_at in seconds, in the dialect's own date arithmetic."""
    start, end = runs.c.started_at, runs.c.finished_at
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return func.timestampdiff(literal_column("MICROSECOND"), start, end) / 1e6


def read_run_figures(conn: Connection) -> RunFigures:
    timed = select(
        runs.c.monitor,
        runs.c.status,
        runs.c.rows_read,
        runs.c.points_scored,
        runs.c.finished_at,
        duration_seconds(conn.dialect.name).label("seconds"),
    ).subquery()
    # bucket i: seconds <= DURATION_BUCKETS[i]; len(DURATION_BUCKETS): above all; -1: unfinished
    bucket = case(
        (timed.c.seconds.is_(None), -1),
        *[(timed.c.seconds <= bound, i) for i, bound in enumerate(DURATION_BUCKETS)],
        else_=len(DURATION_BUCKETS),
    )
    bucketed = select(timed, bucket.label("bucket")).subquery()
    query = select(
        bucketed.c.monitor,
        bucketed.c.status,
        bucketed.c.bucket,
        func.count(),
        func.sum(bucketed.c.rows_read),
        func.sum(bucketed.c.points_scored),
        func.max(bucketed.c.finished_at),
        func.sum(bucketed.c.seconds),
    ).group_by(bucketed.c.monitor, bucketed.c.status, bucketed.c.bucket)
    figures = RunFigures()
    per_bucket: dict[str, list[int]] = {}
    for monitor, status, b, n, read, scored, finished, seconds in conn.execute(query):
        n = int(n)
        figures.counts[(monitor, status)] = figures.counts.get((monitor, status), 0) + n
        figures.rows_read[monitor] = figures.rows_read.get(monitor, 0) + int(read or 0)
        figures.points_scored[monitor] = figures.points_scored.get(monitor, 0) + int(scored or 0)
        if status == "succeeded" and finished is not None:
            figures.last_success[monitor] = max(
                finished, figures.last_success.get(monitor, finished)
            )
        if status in FINISHED and b is not None and int(b) >= 0:
            counts = per_bucket.setdefault(monitor, [0] * (len(DURATION_BUCKETS) + 1))
            counts[int(b)] += n
            hist = figures.durations.setdefault(monitor, Histogram([], 0, 0.0))
            hist.count += n
            hist.total += max(float(seconds or 0.0), 0.0)
    for monitor, counts in per_bucket.items():
        running = 0
        cumulative = []
        for n in counts[:-1]:
            running += n
            cumulative.append(running)
        figures.durations[monitor].buckets = cumulative
    _read_last_runs(conn, figures)
    return figures


def _read_last_runs(conn: Connection, figures: RunFigures) -> None:
    """Each monitor's latest run: its status and start."""
    latest = select(func.max(runs.c.id)).group_by(runs.c.monitor).scalar_subquery()
    query = select(runs.c.monitor, runs.c.status, runs.c.started_at).where(runs.c.id.in_(latest))
    for monitor, status, started in conn.execute(query):
        figures.last_run[monitor] = (status, started)
