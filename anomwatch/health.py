"""Health of a monitor: is the monitoring itself working? (Grafana's "Error" and "No Data".)

Four checks, read from the store:
- `failed_runs`: the last `health.failed_runs` runs all failed;
- `no_data`: the newest scored row is older than `health.expect_data_every` (unset: three
  times the data's own step, measured on the rows a tick reads and kept on its run);
- `notifications`: a message is dead, or still unsent `health.notify_pending_after` after
  it was made;
- `training`: a series' training failed in each of the last `health.training_failures` runs.

A failing check opens a health event (kind 'health', series = the check's name) that the
next digest announces through the monitor's own targets; when the check passes again the
event resolves, and that is announced too. `anomwatch status` shows the same checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, or_, select, update

from anomwatch.config import HealthPolicy, MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.schema import events, notifications, runs, watermarks

CHECKS = ("failed_runs", "no_data", "notifications", "training")
STEP_KEY = "data_step_seconds"  # in runs.details: the data's step as a tick measured it


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def human(delta: timedelta) -> str:
    """'2h 5m', '40m', '35s': durations as people say them."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    text = " ".join(p for p in parts if p)
    return text or f"{secs}s"


def data_step(stamps: Iterable[np.ndarray]) -> timedelta | None:
    """The median gap between consecutive rows of the series (None without two rows)."""
    gaps = [np.diff(np.sort(np.asarray(t).astype("datetime64[us]"))) for t in stamps if len(t) > 1]
    pooled = np.concatenate(gaps) if gaps else np.array([], dtype="timedelta64[us]")
    pooled = pooled[pooled > np.timedelta64(0, "us")]
    if not len(pooled):
        return None
    return timedelta(microseconds=int(np.median(pooled.astype(np.int64))))


def _details(raw: str | None) -> dict[str, Any]:
    try:
        out = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _recent_runs(conn: Connection, monitor: str, n: int) -> list[Any]:
    """The last n runs that finished (skipped and abandoned runs say nothing of health)."""
    return list(
        conn.execute(
            select(runs.c.status, runs.c.error, runs.c.details, runs.c.started_at)
            .where(runs.c.monitor == monitor, runs.c.status.in_(("succeeded", "partial", "failed")))
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(n)
        )
    )


def stored_step(conn: Connection, monitor: str) -> timedelta | None:
    """The data step the latest tick measured (for checks made outside a tick)."""
    for row in _recent_runs(conn, monitor, 20):
        seconds = _details(row.details).get(STEP_KEY)
        if seconds:
            return timedelta(seconds=float(seconds))
    return None


@dataclass(frozen=True)
class RunOutcome:
    """The tick being finished (not yet in `runs`): it did not fail; these series failed
    to train."""

    training_failed: tuple[str, ...] = ()


def check_failed_runs(
    conn: Connection, monitor: str, policy: HealthPolicy, current: RunOutcome | None = None
) -> Check:
    if current is not None:
        return Check("failed_runs", True, "this run did not fail")
    last = _recent_runs(conn, monitor, policy.failed_runs)
    failing = len(last) == policy.failed_runs and all(r.status == "failed" for r in last)
    if not failing:
        return Check("failed_runs", True, "the last runs did not all fail")
    error = (last[0].error or "no error recorded").splitlines()[0][:300]
    return Check("failed_runs", False, f"{len(last)} runs failed in a row; last error: {error}")


def check_no_data(
    conn: Connection,
    monitor: str,
    policy: HealthPolicy,
    data_now: datetime,
    step: timedelta | None,
) -> Check:
    newest = conn.execute(
        select(func.max(watermarks.c.last_ts)).where(watermarks.c.monitor == monitor)
    ).scalar()
    if newest is None:
        return Check("no_data", True, "no rows scored yet")
    limit = policy.expect_data_every or (3 * step if step else None)
    lag = max(data_now - newest, timedelta(0))
    if limit is None:
        return Check("no_data", True, f"data lag {human(lag)} (the data's step is not known yet)")
    expected = f"expected a row at least every {human(limit)}"
    if lag <= limit:
        return Check("no_data", True, f"data lag {human(lag)}; {expected}")
    return Check(
        "no_data",
        False,
        f"no new source rows for {human(lag)} (newest {newest:%Y-%m-%d %H:%M:%S} UTC); {expected}",
    )


def check_notifications(
    conn: Connection, monitor: str, policy: HealthPolicy, now: datetime
) -> Check:
    dead, late = _count_stuck(conn, monitor, now - policy.notify_pending_after)
    if not dead and not late:
        return Check("notifications", True, "no dead or late messages")
    parts = [
        f"{dead} dead" if dead else "",
        f"{late} unsent after {human(policy.notify_pending_after)}" if late else "",
    ]
    return Check("notifications", False, "messages: " + " and ".join(p for p in parts if p))


def _count_stuck(conn: Connection, monitor: str, pending_before: datetime) -> tuple[int, int]:
    rows = conn.execute(
        select(notifications.c.status, func.count())
        .where(
            notifications.c.monitor == monitor,
            or_(
                notifications.c.status == "dead",
                (notifications.c.status == "pending")
                & (notifications.c.created_at < pending_before),
            ),
        )
        .group_by(notifications.c.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    return counts.get("dead", 0), counts.get("pending", 0)


def training_failures(errors: dict[str, str]) -> tuple[str, ...]:
    return tuple(sorted(s for s, e in errors.items() if "training failed" in str(e)))


def check_training(
    conn: Connection, monitor: str, policy: HealthPolicy, current: RunOutcome | None = None
) -> Check:
    n = policy.training_failures
    series = [list(current.training_failed)] if current is not None else []
    series += [
        list(training_failures(_details(r.details).get("errors") or {}))
        for r in _recent_runs(conn, monitor, n - len(series))
    ]
    if len(series) < n or not all(series):
        return Check("training", True, "models train")
    names = sorted(set(series[0]))
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return Check(
        "training",
        False,
        f"training failed in {n} runs in a row (latest: {shown})",
    )


def evaluate(
    conn: Connection,
    monitor: MonitorConfig,
    now: datetime,
    data_now: datetime,
    step: timedelta | None,
    current: RunOutcome | None = None,
) -> list[Check]:
    policy = monitor.health
    return [
        check_failed_runs(conn, monitor.name, policy, current),
        check_no_data(
            conn, monitor.name, policy, data_now, step or stored_step(conn, monitor.name)
        ),
        check_notifications(conn, monitor.name, policy, now),
        check_training(conn, monitor.name, policy, current),
    ]


def _record(conn: Connection, monitor: str, checks: Sequence[Check], now: datetime) -> None:
    """Open a health event for each failing check, resolve the ones that pass again."""
    open_events = {
        r.series: r
        for r in conn.execute(
            select(events).where(
                events.c.monitor == monitor, events.c.kind == "health", events.c.status == "open"
            )
        )
    }
    for check in checks:
        current = open_events.get(check.name)
        if not check.ok and current is None:
            conn.execute(
                insert(events).values(
                    monitor=monitor,
                    series=check.name,
                    kind="health",
                    status="open",
                    started_at=now,
                    last_at=now,
                    severity="critical",  # every target hears that monitoring is broken
                    n_points=1,
                    detail=check.detail,
                    notice="opened",
                    notice_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif not check.ok and current is not None:
            conn.execute(
                update(events)
                .where(events.c.id == current.id)
                .values(
                    last_at=now,
                    n_points=events.c.n_points + 1,
                    detail=check.detail,
                    updated_at=now,
                )
            )
        elif current is not None:
            # a failure nobody was told of (snoozed, capped) resolves without a message
            announced = current.digest_id is not None
            conn.execute(
                update(events)
                .where(events.c.id == current.id)
                .values(
                    status="resolved",
                    resolved_at=now,
                    notice="resolved" if announced else None,
                    notice_at=now if announced else None,
                    updated_at=now,
                )
            )


def check_health(
    store: Store,
    monitor: MonitorConfig,
    data_now: datetime | None = None,
    step: timedelta | None = None,
    current: RunOutcome | None = None,
) -> list[Check]:
    """Evaluate the monitor's checks and open or resolve its health events (one transaction).

    `current`: the tick calling this, which has not failed (None after a failed run,
    which is in `runs` already, and outside a tick).
    """
    now = utcnow()
    with store.begin() as conn:
        checks = evaluate(conn, monitor, now, data_now or now, step, current)
        if monitor.health.enabled:
            _record(conn, monitor.name, checks, now)
    return checks
