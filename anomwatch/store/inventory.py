"""What the store has seen: monitors and their series, and the active snoozes.

Commands that take a monitor or series name check it here, so a typo is refused
with the known names instead of silently matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, models, snoozes, watermarks


def known_series(store: Store, monitor: str) -> list[str]:
    """Series the monitor has read (watermarks), trained a model for or stored anomalies of."""
    query = union(
        select(watermarks.c.series).where(watermarks.c.monitor == monitor),
        select(models.c.series).where(models.c.monitor == monitor),
        select(anomalies.c.series).where(anomalies.c.monitor == monitor),
    )
    with store.begin() as conn:
        return sorted(conn.execute(query).scalars())


@dataclass(frozen=True)
class Snooze:
    id: int
    monitor: str
    series: str | None
    until: datetime
    created_by: str
    created_at: datetime


def active_snoozes(
    store: Store, monitor: str | None = None, now: datetime | None = None
) -> list[Snooze]:
    """Snoozes still in force, soonest to end first."""
    now = now or utcnow()
    query = select(snoozes).where(snoozes.c.until > now)
    if monitor is not None:
        query = query.where(snoozes.c.monitor == monitor)
    with store.begin() as conn:
        rows = conn.execute(query.order_by(snoozes.c.until, snoozes.c.id)).all()
    return [Snooze(r.id, r.monitor, r.series, r.until, r.created_by, r.created_at) for r in rows]


def newest_anomaly_ts(store: Store, monitor: str) -> datetime | None:
    """The time of the monitor's newest stored anomaly (reports anchor their range on it)."""
    with store.begin() as conn:
        return conn.execute(
            select(func.max(anomalies.c.ts)).where(anomalies.c.monitor == monitor)
        ).scalar()
