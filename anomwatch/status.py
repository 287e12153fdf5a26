"""`anomwatch status`: is each monitor working? One screen, one exit code.

For each monitor: its last run, the next run its schedule gives, the data lag (newest
scored row vs now), open events, pending and dead messages, active snoozes and the
health checks of anomwatch/health.py evaluated now (read only: `status` records
nothing). A monitor is unhealthy when a check fails or a health event is open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cronsim import CronSim
from sqlalchemy import func, select

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.health import Check, evaluate, human, stored_step
from anomwatch.output import new_anomalies
from anomwatch.store.db import Store
from anomwatch.store.events import OPEN_STATUSES, query_events
from anomwatch.store.schema import notifications, runs, snoozes, watermarks


@dataclass
class MonitorStatus:
    monitor: str
    now: datetime
    last_run: dict[str, Any] | None
    next_run: datetime | None
    newest_row: datetime | None
    open_events: list[dict[str, Any]]
    outbox: dict[str, int]
    snoozes: list[dict[str, Any]]
    health: list[Check] = field(default_factory=list)

    @property
    def data_lag(self) -> timedelta | None:
        return data_lag(self.newest_row, self.now)

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.health) and not any(
            e["kind"] == "health" for e in self.open_events
        )

    def to_json(self) -> dict[str, Any]:
        lag = self.data_lag
        return {
            "monitor": self.monitor,
            "healthy": self.healthy,
            "last_run": self.last_run,
            "next_run": self.next_run,
            "newest_row": self.newest_row,
            "data_lag_seconds": lag.total_seconds() if lag is not None else None,
            "open_events": self.open_events,
            "outbox": self.outbox,
            "snoozes": self.snoozes,
            "health": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.health],
        }


def data_lag(newest_row: datetime | None, now: datetime) -> timedelta | None:
    """How far the newest scored source row is behind now (never negative: a source whose
    clock runs ahead is not 'early'); None before any row was scored."""
    return None if newest_row is None else max(now - newest_row, timedelta(0))


def next_run(monitor: MonitorConfig, now: datetime) -> datetime | None:
    """The next time the monitor's cron fires (its schedule's time zone, shown in UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(monitor.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    fire = next(CronSim(monitor.schedule, local))
    return fire.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def gather(store: Store, monitor: MonitorConfig, now: datetime | None = None) -> MonitorStatus:
    now = now or utcnow()
    name = monitor.name
    with store.begin() as conn:
        last = (
            conn.execute(
                select(
                    runs.c.id,
                    runs.c.status,
                    runs.c.started_at,
                    runs.c.finished_at,
                    runs.c.rows_read,
                    runs.c.points_scored,
                    runs.c.anomalies,
                    runs.c.error,
                )
                .where(runs.c.monitor == name)
                .order_by(runs.c.started_at.desc(), runs.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        newest = conn.execute(
            select(func.max(watermarks.c.last_ts)).where(watermarks.c.monitor == name)
        ).scalar()
        open_events = [
            {
                k: e[k]
                for k in ("id", "kind", "series", "status", "severity", "started_at", "last_at")
            }
            | {"points": e["n_points"], "peak_score": e["peak_score"], "detail": e["detail"]}
            for e in query_events(conn, name, statuses=OPEN_STATUSES)
        ]
        counts: dict[str, int] = dict(
            conn.execute(
                select(notifications.c.status, func.count())
                .where(notifications.c.monitor == name, notifications.c.status != "sent")
                .group_by(notifications.c.status)
            ).all()
        )
        active = [
            {"series": r.series, "until": r.until}
            for r in conn.execute(
                select(snoozes.c.series, snoozes.c.until)
                .where(snoozes.c.monitor == name, snoozes.c.until > now)
                .order_by(snoozes.c.until)
            )
        ]
        checks = evaluate(conn, monitor, now, now, stored_step(conn, name))
    return MonitorStatus(
        monitor=name,
        now=now,
        last_run=dict(last) if last is not None else None,
        next_run=next_run(monitor, now),
        newest_row=newest,
        open_events=open_events,
        outbox={"pending": int(counts.get("pending", 0)), "dead": int(counts.get("dead", 0))},
        snoozes=active,
        health=checks,
    )


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else "never"


def render_text(status: MonitorStatus) -> str:
    run = status.last_run
    if run is None:
        run_line = "none yet"
    else:
        run_line = (
            f"#{run['id']} {run['status']} at {_when(run['started_at'])}: "
            f"{run['rows_read']} rows read, {run['points_scored']} points scored, "
            f"{new_anomalies(run['anomalies'])}"
        )
        if run["error"]:
            run_line += f"; error: {run['error'].splitlines()[0][:200]}"
    lag = status.data_lag
    lag_line = (
        "no rows scored yet"
        if lag is None
        else f"{human(lag)} (newest row {_when(status.newest_row)})"
    )
    events = [
        f"{e['kind']} {e['series']}: {e['status']} since {_when(e['started_at'])}, "
        + (
            f"{e['severity']}, {e['points']} points"
            if e["kind"] == "anomaly"
            else e["detail"] or ""
        )
        for e in status.open_events
    ]
    snoozed = [
        f"{s['series'] or '(whole monitor)'} until {_when(s['until'])}" for s in status.snoozes
    ]
    health = [f"{'ok' if c.ok else 'FAILING'} {c.name}: {c.detail}" for c in status.health]
    lines = [
        f"{status.monitor}: {'healthy' if status.healthy else 'UNHEALTHY'}",
        f"  last run      {run_line}",
        f"  next run      {_when(status.next_run)} (by schedule)",
        f"  data lag      {lag_line}",
        f"  open events   {len(events)}" + "".join(f"\n    {e}" for e in events),
        f"  outbox        {status.outbox['pending']} pending, {status.outbox['dead']} dead",
        f"  snoozes       {'; '.join(snoozed) if snoozed else 'none'}",
        "  health" + "".join(f"\n    {h}" for h in health),
    ]
    return "\n".join(lines)


def render_json(statuses: list[MonitorStatus]) -> str:
    body = {
        "healthy": all(s.healthy for s in statuses),
        "monitors": [s.to_json() for s in statuses],
    }
    return json.dumps(body, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
