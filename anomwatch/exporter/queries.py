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

from sqlalchemy import ColumnElement, Connection, func, select

from anomwatch.exporter.run_figures import RunFigures, read_run_figures
from anomwatch.store.events import OPEN_STATUSES
from anomwatch.store.schema import anomalies, events, monitors, notifications, watermarks

SEVERITIES = ("warning", "critical")
OUTBOX_STATUSES = ("pending", "dead")

Key = tuple[str, ...]


@dataclass
class Snapshot:
    """The store's figures at one instant, keyed by label values."""

    now: datetime
    monitors: list[str]
    runs: RunFigures
    anomalies: dict[Key, int] = field(default_factory=dict)  # (monitor, severity)
    events: dict[Key, int] = field(default_factory=dict)  # (monitor, severity)
    open_events: dict[Key, int] = field(default_factory=dict)  # (monitor, severity, status)
    newest_row: dict[str, datetime] = field(default_factory=dict)
    outbox: dict[Key, int] = field(default_factory=dict)  # (monitor, status)
    sent: dict[str, int] = field(default_factory=dict)
    health_open: dict[str, int] = field(default_factory=dict)


def _count_by(
    conn: Connection, *columns: ColumnElement[Any], where: tuple[Any, ...] = ()
) -> dict[Key, int]:
    """{(column values...): row count}, grouped in the database."""
    query = select(*columns, func.count()).where(*where).group_by(*columns)
    return {tuple(labels): int(n) for *labels, n in conn.execute(query)}


def read_snapshot(conn: Connection, now: datetime) -> Snapshot:
    names = sorted(conn.execute(select(monitors.c.name)).scalars())
    snap = Snapshot(now=now, monitors=names, runs=read_run_figures(conn))
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
    newest = select(watermarks.c.monitor, func.max(watermarks.c.last_ts))
    snap.newest_row = {
        m: ts for m, ts in conn.execute(newest.group_by(watermarks.c.monitor)) if ts is not None
    }
    counts = _count_by(conn, notifications.c.monitor, notifications.c.status)
    snap.outbox = {k: n for k, n in counts.items() if k[1] != "sent"}
    snap.sent = {k[0]: n for k, n in counts.items() if k[1] == "sent"}
    return snap
