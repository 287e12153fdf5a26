"""The notification outbox: digests are recorded before they are sent.

An anomaly joins exactly one digest (its digest_id is set in the same
transaction that creates the digest), and each digest has one row per target.
Sending updates those rows; a failed row is retried on a later tick with
backoff, so a message is never lost and never re-created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from anomwatch.durations import utcnow
from anomwatch.store.anomalies import SEVERITY_RANK
from anomwatch.store.db import Store, inserted_id
from anomwatch.store.schema import anomalies, digests, notifications, snoozes


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
    """What keeps a channel worth reading: repeats, snoozes and an hourly cap."""

    min_severity: str = "warning"
    repeat_window: timedelta = timedelta(hours=1)
    max_per_hour: int = 6


def _suppress(conn: Connection, ids: list[int], reason: str) -> None:
    if ids:
        conn.execute(update(anomalies).where(anomalies.c.id.in_(ids)).values(suppressed=reason))


def _classify(
    conn: Connection,
    monitor: str,
    candidates: Sequence[Any],
    policy: NoisePolicy,
    now: datetime,
) -> tuple[list[int], list[int], list[int]]:
    """Split candidates into (to notify, snoozed, repeats)."""
    active = (
        conn.execute(
            select(snoozes.c.series).where(snoozes.c.monitor == monitor, snoozes.c.until > now)
        )
        .scalars()
        .all()
    )
    whole_monitor = any(s is None for s in active)
    snoozed_series = {s for s in active if s is not None}
    last_claimed = dict(
        conn.execute(
            select(anomalies.c.series, func.max(anomalies.c.ts))
            .where(anomalies.c.monitor == monitor, anomalies.c.digest_id.is_not(None))
            .group_by(anomalies.c.series)
        ).all()
    )
    keep: list[int] = []
    snoozed: list[int] = []
    repeats: list[int] = []
    for row in candidates:
        if whole_monitor or row.series in snoozed_series:
            snoozed.append(row.id)
            continue
        previous = last_claimed.get(row.series)
        if previous is not None and previous < row.ts <= previous + policy.repeat_window:
            repeats.append(row.id)
            last_claimed[row.series] = row.ts  # a long incident stays one event
            continue
        keep.append(row.id)
    return keep, snoozed, repeats


def create_digest(
    store: Store,
    monitor: str,
    run_id: int | None,
    targets: Sequence[Target],
    policy: NoisePolicy,
    plot_path: str | None = None,
) -> int | None:
    """Claim the monitor's new anomalies into one digest, after noise control.

    Snoozed series and repeats of an already notified event are stored but marked
    `suppressed`. When the hourly cap is reached no digest is made: the anomalies
    wait, unclaimed, and the next digest lists them (as "N more"), never silence.
    """
    if not targets:
        return None
    allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[policy.min_severity]]
    now = utcnow()
    with store.begin() as conn:
        candidates = conn.execute(
            select(anomalies.c.id, anomalies.c.series, anomalies.c.ts, anomalies.c.severity)
            .where(
                anomalies.c.monitor == monitor,
                anomalies.c.digest_id.is_(None),
                anomalies.c.suppressed.is_(None),
                anomalies.c.status == "open",
                anomalies.c.severity.in_(allowed),
            )
            .order_by(anomalies.c.series, anomalies.c.ts)
        ).all()
        if not candidates:
            return None
        keep, snoozed, repeats = _classify(conn, monitor, candidates, policy, now)
        _suppress(conn, snoozed, "snoozed")
        _suppress(conn, repeats, "repeat")
        if not keep:
            return None
        recent = conn.execute(
            select(func.count())
            .select_from(digests)
            .where(digests.c.monitor == monitor, digests.c.created_at > now - timedelta(hours=1))
        ).scalar_one()
        if recent >= policy.max_per_hour:
            return None
        digest_id = inserted_id(
            conn.execute(
                insert(digests).values(
                    monitor=monitor,
                    run_id=run_id,
                    created_at=now,
                    n_anomalies=len(keep),
                    plot_path=plot_path,
                )
            )
        )
        kept = set(keep)
        top_rank = max(SEVERITY_RANK[r.severity] for r in candidates if r.id in kept)
        for chunk in range(0, len(keep), 500):
            conn.execute(
                update(anomalies)
                .where(anomalies.c.id.in_(keep[chunk : chunk + 500]))
                .values(digest_id=digest_id)
            )
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
