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

from sqlalchemy import func, insert, select, update

from anomwatch.durations import utcnow
from anomwatch.store.anomalies import SEVERITY_RANK
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, digests, notifications


@dataclass(frozen=True)
class Target:
    id: str  # hash of the configured string
    label: str  # masked, printable
    raw: str  # as configured; may hold ${VAR} references, never resolved secrets


@dataclass(frozen=True)
class PendingNotification:
    id: int
    digest_id: int
    target: str
    target_label: str
    attempts: int
    plot_path: str | None


def create_digest(
    store: Store,
    monitor: str,
    run_id: int | None,
    targets: Sequence[Target],
    min_severity: str,
    plot_path: str | None = None,
) -> int | None:
    """Claim every not-yet-claimed anomaly of the monitor into a new digest."""
    if not targets:
        return None
    allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
    now = utcnow()
    with store.begin() as conn:
        unclaimed = (
            anomalies.c.monitor == monitor,
            anomalies.c.digest_id.is_(None),
            anomalies.c.status == "open",
            anomalies.c.severity.in_(allowed),
        )
        count = conn.execute(select(func.count()).where(*unclaimed)).scalar_one()
        if not count:
            return None
        digest_id = int(
            conn.execute(
                insert(digests).values(
                    monitor=monitor,
                    run_id=run_id,
                    created_at=now,
                    n_anomalies=count,
                    plot_path=plot_path,
                )
            ).inserted_primary_key[0]
        )
        conn.execute(update(anomalies).where(*unclaimed).values(digest_id=digest_id))
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
            ],
        )
        return digest_id


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
