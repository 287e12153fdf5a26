"""The `runs` table: one row per monitor tick, whatever its outcome."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from anomwatch.durations import utcnow
from anomwatch.errors import StoreError
from anomwatch.store.db import Store, inserted_id
from anomwatch.store.schema import monitors, runs


@dataclass
class RunStats:
    series: int = 0
    rows_read: int = 0
    points_scored: int = 0
    anomalies: int = 0
    models_trained: int = 0
    cold_start: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def start_run(store: Store, monitor: str, flow_run_id: str | None) -> int:
    with store.begin() as conn:
        result = conn.execute(
            insert(runs).values(
                monitor=monitor,
                flow_run_id=flow_run_id,
                started_at=utcnow(),
                status="running",
                series=0,
                rows_read=0,
                points_scored=0,
                anomalies=0,
                models_trained=0,
                cold_start=0,
            )
        )
        return inserted_id(result)


def finish_run(
    store: Store, run_id: int, status: str, stats: RunStats, error: str | None = None
) -> None:
    values = asdict(stats)
    values["details"] = json.dumps(values["details"], default=str)
    with store.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(status=status, finished_at=utcnow(), error=error, **values)
        )


def get_run(store: Store, run_id: int) -> dict[str, Any] | None:
    with store.begin() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
    return dict(row) if row else None


def list_runs(store: Store, monitor: str, limit: int = 20) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(runs).where(runs.c.monitor == monitor).order_by(runs.c.id.desc()).limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def register_monitor(store: Store, name: str, config_hash: str) -> None:
    """Insert or update the monitor's row. Two first runs of a new monitor may race
    (a served tick and an `anomwatch run`): the loser's insert fails on the primary
    key, and it updates the row the winner inserted instead."""
    now = utcnow()
    changed = {"config_hash": config_hash, "updated_at": now}
    with store.begin() as conn:
        updated = conn.execute(update(monitors).where(monitors.c.name == name).values(changed))
        if updated.rowcount:
            return
    try:
        with store.begin() as conn:
            conn.execute(insert(monitors).values(name=name, created_at=now, **changed))
    except StoreError as exc:
        if not isinstance(exc.__cause__, IntegrityError):
            raise
        with store.begin() as conn:
            conn.execute(update(monitors).where(monitors.c.name == name).values(changed))


def known_monitors(store: Store) -> list[str]:
    with store.begin() as conn:
        return sorted(conn.execute(select(monitors.c.name)).scalars())


def record_failed_run(store: Store, monitor: str, flow_run_id: str | None, error: str) -> int:
    """A run that failed before it could start (bad config, unknown monitor)."""
    run_id = start_run(store, monitor[:100], flow_run_id)
    finish_run(store, run_id, "failed", RunStats(), error)
    return run_id


def abandon_stale_runs(store: Store, monitor: str, current_run_id: int) -> int:
    """Mark runs left 'running' by a killed process; called while holding the monitor lock."""
    with store.begin() as conn:
        result = conn.execute(
            update(runs)
            .where(
                runs.c.monitor == monitor, runs.c.status == "running", runs.c.id != current_run_id
            )
            .values(status="abandoned", finished_at=utcnow(), error="the process running it died")
        )
        return int(result.rowcount or 0)


def last_read_window(store: Store, monitor: str) -> dict[str, Any] | None:
    """The read window of the monitor's last completed run (for counting late rows)."""
    with store.begin() as conn:
        details = conn.execute(
            select(runs.c.details)
            .where(runs.c.monitor == monitor, runs.c.status.in_(("succeeded", "partial")))
            .order_by(runs.c.id.desc())
            .limit(1)
        ).scalar()
    if not details:
        return None
    parsed = json.loads(details) if isinstance(details, str) else details
    window = parsed.get("read_window") if isinstance(parsed, dict) else None
    return window if isinstance(window, dict) else None
