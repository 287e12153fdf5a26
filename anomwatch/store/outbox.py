"""The notification outbox: digests are recorded before they are sent.

A digest announces alert events (one line per event transition, see
anomwatch/store/events.py); the anomalies of those events join it (their digest_id is
set in the same transaction that creates the digest), each anomaly exactly one
digest, and each digest has one row per target.
Sending updates those rows; a failed row is retried on a later tick with
backoff, so a message is never lost and never re-created.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, tuple_, update

from anomwatch.durations import utcnow
from anomwatch.store.anomalies import SEVERITY_RANK
from anomwatch.store.db import Store, inserted_id
from anomwatch.store.schema import anomalies, digests, events, notifications, snoozes


@dataclass(frozen=True)
class Target:
    id: str  # hash of the configured string
    label: str  # masked, printable
    raw: str  # as configured; may hold ${VAR} references, never resolved secrets
    min_severity: str = "warning"  # this target hears only of anomalies at least this severe


@dataclass(frozen=True)
class PendingNotification:
    id: int
    digest_id: int
    target: str
    target_label: str
    attempts: int
    plot_path: str | None


@dataclass(frozen=True)
class NoisePolicy:
    """What keeps a channel worth reading: a line per event transition, snoozes, a cap."""

    min_severity: str = "warning"
    max_per_hour: int = 6


def _active_snoozes(conn: Connection, monitor: str, now: datetime) -> tuple[bool, set[str]]:
    active = (
        conn.execute(
            select(snoozes.c.series).where(snoozes.c.monitor == monitor, snoozes.c.until > now)
        )
        .scalars()
        .all()
    )
    return any(s is None for s in active), {s for s in active if s is not None}


def _unclaimed(monitor: str) -> list[Any]:
    """Anomalies not yet in a digest nor held back for a reason."""
    return [
        anomalies.c.monitor == monitor,
        anomalies.c.digest_id.is_(None),
        anomalies.c.suppressed.is_(None),
        anomalies.c.status == "open",
        anomalies.c.event_id.is_not(None),
    ]


def _snooze(conn: Connection, monitor: str, ids: list[int]) -> None:
    """Snoozed events lose their notice; their points are stored as 'snoozed'."""
    if not ids:
        return
    conn.execute(
        update(events)
        .where(events.c.id.in_(ids))
        .values(notice=None, notice_at=None, suppressed="snoozed")
    )
    conn.execute(
        update(anomalies)
        .where(*_unclaimed(monitor), anomalies.c.event_id.in_(ids))
        .values(suppressed="snoozed")
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _lines(conn: Connection, monitor: str, announced: Sequence[Any]) -> list[dict[str, Any]]:
    """The digest's event lines as of now: kept with the digest, so a retry sends the same."""
    keys = [(e.series, e.peak_ts) for e in announced if e.kind == "anomaly"]
    peaks: dict[tuple[str, datetime], Any] = {}
    if keys:
        rows = conn.execute(
            select(anomalies).where(
                anomalies.c.monitor == monitor,
                tuple_(anomalies.c.series, anomalies.c.ts).in_(keys),
            )
        )
        peaks = {(r.series, r.ts): r for r in rows}
    lines = []
    for e in announced:
        peak = peaks.get((e.series, e.peak_ts))
        lines.append(
            {
                "event_id": int(e.id),
                "kind": e.kind,
                "series": e.series,
                "notice": e.notice,
                "status": e.status,
                "severity": e.severity,
                "started_at": _iso(e.started_at),
                "last_at": _iso(e.last_at),
                "resolved_at": _iso(e.resolved_at),
                "n_points": int(e.n_points),
                "peak_score": e.peak_score,
                "peak_ts": _iso(e.peak_ts),
                "value": peak.value if peak is not None else None,
                "expected": peak.expected if peak is not None else None,
                "lower": peak.lower if peak is not None else None,
                "upper": peak.upper if peak is not None else None,
                "components": peak.components if peak is not None else None,
                "detail": e.detail,
            }
        )
    return lines


def create_digest(
    store: Store,
    monitor: str,
    run_id: int | None,
    targets: Sequence[Target],
    policy: NoisePolicy,
    plot_path: str | None = None,
) -> int | None:
    """Claim the monitor's waiting event transitions into one digest, after noise control.

    An event is announced when it opens, escalates or becomes the new normal (a health
    event also when it resolves): one line per event, however many points it has, so
    an incident scored over 24 ticks is one message. Its later points are stored with
    suppressed='repeat'. Events of snoozed series (or monitor) lose that notice and
    are stored as 'snoozed'. Events below every target's severity wait. When the hourly
    cap is reached no digest is made: the notices wait for the next one, never silence.
    """
    if not targets:
        return None
    floor = SEVERITY_RANK[policy.min_severity]
    now = utcnow()
    with store.begin() as conn:
        waiting = conn.execute(
            select(events)
            .where(events.c.monitor == monitor, events.c.notice.is_not(None))
            .order_by(events.c.started_at, events.c.id)
        ).all()
        whole_monitor, snoozed_series = _active_snoozes(conn, monitor, now)
        snoozed = [e.id for e in waiting if whole_monitor or e.series in snoozed_series]
        _snooze(conn, monitor, snoozed)
        waiting = [e for e in waiting if e.id not in set(snoozed)]
        # points of an event that has nothing new to say: it was announced already
        conn.execute(
            update(anomalies)
            .where(*_unclaimed(monitor), anomalies.c.event_id.not_in([e.id for e in waiting]))
            .values(suppressed="repeat")
        )
        announced = [e for e in waiting if SEVERITY_RANK[e.severity] >= floor]
        if not announced:
            return None
        recent = conn.execute(
            select(func.count())
            .select_from(digests)
            .where(digests.c.monitor == monitor, digests.c.created_at > now - timedelta(hours=1))
        ).scalar_one()
        if recent >= policy.max_per_hour:
            return None
        ids = [int(e.id) for e in announced]
        claimed = conn.execute(
            select(func.count())
            .select_from(anomalies)
            .where(*_unclaimed(monitor), anomalies.c.event_id.in_(ids))
        ).scalar_one()
        digest_id = inserted_id(
            conn.execute(
                insert(digests).values(
                    monitor=monitor,
                    run_id=run_id,
                    created_at=now,
                    n_anomalies=int(claimed),
                    plot_path=plot_path,
                    events=json.dumps(_lines(conn, monitor, announced)),
                )
            )
        )
        conn.execute(
            update(anomalies)
            .where(*_unclaimed(monitor), anomalies.c.event_id.in_(ids))
            .values(digest_id=digest_id)
        )
        conn.execute(
            update(events)
            .where(events.c.id.in_(ids))
            .values(notice=None, notice_at=None, digest_id=digest_id, updated_at=now)
        )
        top_rank = max(SEVERITY_RANK[e.severity] for e in announced)
        conn.execute(
            insert(notifications),
            [
                {
                    "digest_id": digest_id,
                    "monitor": monitor,
                    "target": t.id,
                    "target_label": t.label,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for t in targets
                if SEVERITY_RANK[t.min_severity] <= top_rank  # routing by severity
            ],
        )
        return digest_id


def digest_events(store: Store, digest_id: int) -> list[dict[str, Any]]:
    """The event lines a digest announces, as they were when it was made."""
    with store.begin() as conn:
        raw = conn.execute(select(digests.c.events).where(digests.c.id == digest_id)).scalar()
    lines: list[dict[str, Any]] = json.loads(raw) if raw else []
    for line in lines:
        for key in ("started_at", "last_at", "resolved_at", "peak_ts"):
            if line.get(key):
                line[key] = datetime.fromisoformat(line[key])
    return lines


def add_snooze(
    store: Store, monitor: str, series: str | None, until: datetime, created_by: str
) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(snoozes).values(
                monitor=monitor,
                series=series,
                until=until,
                created_by=created_by,
                created_at=utcnow(),
            )
        )


def remove_snoozes(store: Store, monitor: str, series: str | None) -> int:
    """End active snoozes of the monitor (or of one series); returns how many."""
    now = utcnow()
    with store.begin() as conn:
        condition = [snoozes.c.monitor == monitor, snoozes.c.until > now]
        if series is not None:
            condition.append(snoozes.c.series == series)
        result = conn.execute(update(snoozes).where(*condition).values(until=now))
        return int(result.rowcount or 0)


def due_notifications(store: Store, monitor: str, now: datetime) -> list[PendingNotification]:
    with store.begin() as conn:
        rows = conn.execute(
            select(notifications, digests.c.plot_path)
            .join(digests, digests.c.id == notifications.c.digest_id)
            .where(
                notifications.c.monitor == monitor,
                notifications.c.status == "pending",
                notifications.c.next_attempt_at <= now,
            )
            .order_by(notifications.c.id)
        )
        return [
            PendingNotification(
                id=int(r.id),
                digest_id=int(r.digest_id),
                target=r.target,
                target_label=r.target_label,
                attempts=int(r.attempts),
                plot_path=r.plot_path,
            )
            for r in rows
        ]


def digest_anomalies(store: Store, digest_id: int) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(anomalies)
            .where(anomalies.c.digest_id == digest_id)
            .order_by(anomalies.c.score.desc(), anomalies.c.ts)
        ).mappings()
        return [dict(r) for r in rows]


def mark_sent(store: Store, notification_id: int, digest_id: int) -> None:
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.id == notification_id)
            .values(
                status="sent", sent_at=now, attempts=notifications.c.attempts + 1, last_error=None
            )
        )
        conn.execute(
            update(anomalies)
            .where(anomalies.c.digest_id == digest_id, anomalies.c.notified_at.is_(None))
            .values(notified_at=now)
        )


def mark_failed(
    store: Store,
    notification_id: int,
    attempts_before: int,
    error: str,
    retry_base: timedelta,
    max_attempts: int,
) -> str:
    """Record a failed send; schedule the retry with exponential backoff (capped at 1 h)."""
    attempts = attempts_before + 1
    delay = min(retry_base * (2 ** (attempts - 1)), timedelta(hours=1))
    status = "dead" if attempts >= max_attempts else "pending"
    with store.begin() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.id == notification_id)
            .values(
                status=status,
                attempts=attempts,
                last_error=error[:2000],
                next_attempt_at=utcnow() + delay,
            )
        )
    return status


def list_notifications(store: Store, monitor: str) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(notifications)
            .where(notifications.c.monitor == monitor)
            .order_by(notifications.c.id)
        ).mappings()
        return [dict(r) for r in rows]
