"""Data lifecycle: a monitor's old rows expire (`retention:`), a removed monitor's go.

Everything here is keyed by the monitor's name, so nothing of another monitor is ever
touched. Deletes run child tables first (anomalies -> events -> notifications ->
digests -> runs -> models), because PostgreSQL and MariaDB enforce the foreign keys.

Retention keeps what is still live: open events (and their anomalies' links), pending
messages, and runs or digests that kept rows still point at.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.schema import (
    anomalies,
    backfills,
    classifiers,
    digests,
    event_cursors,
    events,
    locks,
    models,
    monitors,
    notifications,
    runs,
    snoozes,
    thresholds,
    watermarks,
)

# What `monitors remove --purge` deletes, children before parents (foreign keys).
PURGED = (
    ("anomalies", anomalies),
    ("events", events),
    ("event cursors", event_cursors),
    ("messages", notifications),
    ("digests", digests),
    ("runs", runs),
    ("models", models),
    ("thresholds", thresholds),
    ("classifiers", classifiers),
    ("watermarks", watermarks),
    ("snoozes", snoozes),
    ("backfills", backfills),
)


@dataclass
class Pruned:
    """Rows deleted per table (only tables with deletions are listed)."""

    cutoff: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int | None) -> None:
        if count:
            self.counts[name] = self.counts.get(name, 0) + int(count)

    def describe(self) -> str:
        return ", ".join(f"{n:,} {name}" for name, n in self.counts.items()) or "nothing"


def monitor_rows(store: Store, monitor: str) -> dict[str, int]:
    """How many rows of each purged table belong to the monitor (for the confirmation)."""
    with store.begin() as conn:
        counts = {
            name: int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.monitor == monitor)
                ).scalar_one()
            )
            for name, table in PURGED
        }
    return {name: n for name, n in counts.items() if n}


def remove_monitor(
    store: Store, monitor: str, purge: bool, models_dir: Path, plots_dir: Path
) -> Pruned:
    """Unregister the monitor; with `purge`, delete every row and file of it too."""
    out = Pruned()
    with store.begin() as conn:
        if purge:
            for name, table in PURGED:
                out.add(
                    name, conn.execute(delete(table).where(table.c.monitor == monitor)).rowcount
                )
            conn.execute(delete(locks).where(locks.c.name == monitor))
        out.add(
            "monitor", conn.execute(delete(monitors).where(monitors.c.name == monitor)).rowcount
        )
    if purge:
        for folder in (models_dir / monitor, plots_dir / monitor):
            if folder.is_dir():
                shutil.rmtree(folder)
                out.add("folders", 1)
    return out


def apply_retention(
    store: Store, monitor: str, keep: timedelta, now: datetime | None = None
) -> Pruned:
    """Delete the monitor's rows older than `keep`: anomalies (by their time), resolved
    events, cursors of series fed nothing since, runs, and delivered or given-up messages."""
    cutoff = (now or utcnow()) - keep
    out = Pruned(cutoff)
    with store.begin() as conn:
        _old_anomalies(conn, monitor, cutoff, out)
        _old_events(conn, monitor, cutoff, out)
        _old_outbox(conn, monitor, cutoff, out)
        _old_runs(conn, monitor, cutoff, out)
    return out


def _old_anomalies(conn: Connection, monitor: str, cutoff: datetime, out: Pruned) -> None:
    result = conn.execute(
        delete(anomalies).where(anomalies.c.monitor == monitor, anomalies.c.ts < cutoff)
    )
    out.add("anomalies", result.rowcount)


def _old_events(conn: Connection, monitor: str, cutoff: datetime, out: Pruned) -> None:
    old = _ids(
        conn,
        select(events.c.id).where(
            events.c.monitor == monitor,
            events.c.status == "resolved",
            func.coalesce(events.c.resolved_at, events.c.last_at) < cutoff,
        ),
    )
    for chunk in _chunks(old):  # kept anomalies of an expired event lose the link only
        conn.execute(
            update(anomalies)
            .where(anomalies.c.monitor == monitor, anomalies.c.event_id.in_(chunk))
            .values(event_id=None)
        )
        out.add("events", conn.execute(delete(events).where(events.c.id.in_(chunk))).rowcount)
    # cursors of series fed nothing since the cutoff and without an open event: series
    # that went away (one that comes back starts a new cursor)
    live = set(
        _ids(
            conn,
            select(events.c.series).where(
                events.c.monitor == monitor,
                events.c.kind == "anomaly",
                events.c.status != "resolved",
            ),
        )
    )
    stale = [
        s
        for s in _ids(
            conn,
            select(event_cursors.c.series).where(
                event_cursors.c.monitor == monitor, event_cursors.c.last_ts < cutoff
            ),
        )
        if s not in live
    ]
    for chunk in _chunks(stale):
        result = conn.execute(
            delete(event_cursors).where(
                event_cursors.c.monitor == monitor, event_cursors.c.series.in_(chunk)
            )
        )
        out.add("event cursors", result.rowcount)


def _old_outbox(conn: Connection, monitor: str, cutoff: datetime, out: Pruned) -> None:
    done = conn.execute(
        delete(notifications).where(
            notifications.c.monitor == monitor,
            notifications.c.created_at < cutoff,
            notifications.c.status != "pending",  # a message is never dropped unsent
        )
    )
    out.add("messages", done.rowcount)
    used = set(
        _ids(conn, select(notifications.c.digest_id).where(notifications.c.monitor == monitor))
    ) | set(
        _ids(
            conn,
            select(events.c.digest_id).where(
                events.c.monitor == monitor, events.c.digest_id.is_not(None)
            ),
        )
    )
    old = _ids(
        conn,
        select(digests.c.id).where(digests.c.monitor == monitor, digests.c.created_at < cutoff),
    )
    for chunk in _chunks([d for d in old if d not in used]):
        out.add("digests", conn.execute(delete(digests).where(digests.c.id.in_(chunk))).rowcount)


def _old_runs(conn: Connection, monitor: str, cutoff: datetime, out: Pruned) -> None:
    used = set(
        _ids(
            conn,
            select(anomalies.c.run_id)
            .where(anomalies.c.monitor == monitor, anomalies.c.run_id.is_not(None))
            .distinct(),
        )
    ) | set(
        _ids(
            conn,
            select(digests.c.run_id).where(
                digests.c.monitor == monitor, digests.c.run_id.is_not(None)
            ),
        )
    )
    old = _ids(
        conn,
        select(runs.c.id).where(
            runs.c.monitor == monitor, runs.c.started_at < cutoff, runs.c.status != "running"
        ),
    )
    for chunk in _chunks([r for r in old if r not in used]):
        out.add("runs", conn.execute(delete(runs).where(runs.c.id.in_(chunk))).rowcount)


def _ids(conn: Connection, stmt: Select[Any]) -> list[Any]:
    """Materialised first: MariaDB refuses a DELETE whose subquery reads the same table."""
    return list(conn.execute(stmt).scalars())


def _chunks(values: list[Any], size: int = 1000) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
