"""The monitors page in a handful of grouped queries, whatever the number of monitors.

`anomwatch status` (anomwatch/status.py) evaluates every health check of a monitor now,
about ten statements per monitor: fine for one, too slow for fifty on one page. Here
health is what the ticks recorded (open health events, which status.py also counts);
a monitor's own page runs status.gather for the checks evaluated now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.events import OPEN_STATUSES
from anomwatch.store.schema import events, notifications, runs, watermarks


@dataclass
class MonitorRow:
    monitor: str
    configured: bool
    now: datetime
    last_run: dict[str, Any] | None = None
    newest_row: datetime | None = None
    open_events: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=lambda: {"pending": 0, "dead": 0})

    @property
    def data_lag(self) -> timedelta | None:
        return None if self.newest_row is None else max(self.now - self.newest_row, timedelta(0))

    @property
    def failing(self) -> list[str]:
        """Why it is unhealthy: its open health events (status.py's rule, as recorded)."""
        return [
            f"{e['series']}: {e['detail'] or ''}" for e in self.open_events if e["kind"] == "health"
        ]


def overview(store: Store, configured: list[str], now: datetime | None = None) -> list[MonitorRow]:
    """One row per configured monitor, then the store's other monitors."""
    from anomwatch.store.runs import known_monitors

    now = now or utcnow()
    names = configured + [n for n in known_monitors(store) if n not in set(configured)]
    rows = {n: MonitorRow(n, n in configured, now) for n in names}
    with store.begin() as conn:
        latest = (
            select(runs.c.monitor, func.max(runs.c.started_at).label("started"))
            .group_by(runs.c.monitor)
            .subquery()
        )
        for r in conn.execute(
            select(runs)
            .where(
                tuple_(runs.c.monitor, runs.c.started_at).in_(
                    select(latest.c.monitor, latest.c.started)
                )
            )
            .order_by(runs.c.id)
        ).mappings():
            if r["monitor"] in rows:
                rows[r["monitor"]].last_run = dict(r)
        for monitor, newest in conn.execute(
            select(watermarks.c.monitor, func.max(watermarks.c.last_ts)).group_by(
                watermarks.c.monitor
            )
        ):
            if monitor in rows:
                rows[monitor].newest_row = newest
        opened: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in conn.execute(
            select(
                events.c.id,
                events.c.monitor,
                events.c.series,
                events.c.kind,
                events.c.severity,
                events.c.started_at,
                events.c.detail,
            )
            .where(events.c.status.in_(OPEN_STATUSES))
            .order_by(events.c.started_at, events.c.id)
        ).mappings():
            opened[e["monitor"]].append(dict(e))
        for monitor, status, count in conn.execute(
            select(notifications.c.monitor, notifications.c.status, func.count())
            .where(notifications.c.status.in_(["pending", "dead"]))
            .group_by(notifications.c.monitor, notifications.c.status)
        ):
            if monitor in rows:
                rows[monitor].outbox[status] = int(count)
    for monitor, found in opened.items():
        if monitor in rows:
            rows[monitor].open_events = found
    return list(rows.values())
