"""Outbox administration: see, retry and cancel notifications, and explain the
anomalies that were never notified.

The claim-and-send path (outbox.py) never deletes a message; these functions are
how a person (or the tick, for targets removed from monitors.yaml) ends one.
A cancelled message keeps its row and its reason.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from anomwatch.durations import utcnow
from anomwatch.errors import AnomwatchError
from anomwatch.store.anomalies import SEVERITY_RANK
from anomwatch.store.db import Store
from anomwatch.store.schema import digests, notifications

STATUSES = ("pending", "sent", "dead", "cancelled")
REMOVED_TARGET = "cancelled: the target is no longer in monitors.yaml"


def list_outbox(
    store: Store,
    status: str | None = None,
    monitor: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Notifications, newest first, with their digest's size."""
    query = select(
        notifications.c.id,
        notifications.c.monitor,
        notifications.c.digest_id,
        digests.c.n_anomalies.label("anomalies"),
        notifications.c.target_label.label("target"),
        notifications.c.status,
        notifications.c.attempts,
        notifications.c.created_at,
        notifications.c.next_attempt_at,
        notifications.c.sent_at,
        notifications.c.last_error,
    ).join(digests, digests.c.id == notifications.c.digest_id)
    if status is not None:
        query = query.where(notifications.c.status == status)
    if monitor is not None:
        query = query.where(notifications.c.monitor == monitor)
    query = query.order_by(notifications.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.begin() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def outbox_counts(store: Store, monitor: str | None = None) -> dict[str, int]:
    query = select(notifications.c.status, func.count()).group_by(notifications.c.status)
    if monitor is not None:
        query = query.where(notifications.c.monitor == monitor)
    with store.begin() as conn:
        return {str(s): int(n) for s, n in conn.execute(query).all()}


def _current(store: Store, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(notifications.c.id, notifications.c.monitor, notifications.c.status).where(
                notifications.c.id.in_(list(ids))
            )
        ).mappings()
        found = {int(r["id"]): dict(r) for r in rows}
    missing = sorted(set(ids) - set(found))
    if missing:
        raise AnomwatchError(
            f"unknown notification id(s): {', '.join(map(str, missing))} "
            "(see `anomwatch notify list`)"
        )
    return found


def retry_notifications(
    store: Store, ids: Collection[int], now: datetime | None = None
) -> list[str]:
    """Make dead or cancelled (or waiting) messages due now; the monitor's next run sends
    them. Returns the monitors concerned. A sent message is refused (it would be a duplicate)."""
    rows = _current(store, ids)
    sent = sorted(i for i, r in rows.items() if r["status"] == "sent")
    if sent:
        raise AnomwatchError(
            f"notification(s) {', '.join(map(str, sent))} were already sent; retrying would "
            "send them twice"
        )
    with store.begin() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(list(rows)))
            .values(status="pending", next_attempt_at=now or utcnow())
        )
    return sorted({str(r["monitor"]) for r in rows.values()})


def cancel_notifications(store: Store, ids: Collection[int], reason: str) -> int:
    """End pending or dead messages without sending them; the reason is kept."""
    rows = _current(store, ids)
    sent = sorted(i for i, r in rows.items() if r["status"] == "sent")
    if sent:
        raise AnomwatchError(f"notification(s) {', '.join(map(str, sent))} were already sent")
    with store.begin() as conn:
        result = conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(list(rows)), notifications.c.status != "cancelled")
            .values(status="cancelled", last_error=reason[:2000], next_attempt_at=None)
        )
    return int(result.rowcount or 0)


def cancel_removed_targets(store: Store, monitor: str, configured: Collection[str]) -> int:
    """Cancel the monitor's unsent messages to targets that monitors.yaml no longer has:
    retrying them cannot succeed, and they would keep failing for days."""
    condition = [
        notifications.c.monitor == monitor,
        notifications.c.status.in_(("pending", "dead")),
    ]
    if configured:
        condition.append(notifications.c.target.not_in(list(configured)))
    with store.begin() as conn:
        result = conn.execute(
            update(notifications)
            .where(*condition)
            .values(status="cancelled", last_error=REMOVED_TARGET, next_attempt_at=None)
        )
    return int(result.rowcount or 0)


def undelivered_digests(store: Store, monitor: str | None = None) -> dict[int, str]:
    """Digests with no message sent, and the state of their messages: 'pending' while
    any is still tried, else 'dead' or 'cancelled'."""
    query = select(notifications.c.digest_id, notifications.c.status)
    if monitor is not None:
        query = query.where(notifications.c.monitor == monitor)
    states: dict[int, set[str]] = {}
    with store.begin() as conn:
        for digest_id, status in conn.execute(query).all():
            states.setdefault(int(digest_id), set()).add(str(status))
    order = ("pending", "dead", "cancelled")
    return {
        d: next(s for s in order if s in found)
        for d, found in states.items()
        if "sent" not in found
    }


def held_back(
    row: dict[str, Any],
    floor: str | None,
    has_targets: bool | None,
    undelivered: dict[int, str] | None = None,
) -> str:
    """Why a stored anomaly was not (yet) notified; '' when it was.

    Stored reasons (snoozed, repeat, backfill, classifier) come first; the rest is
    read from the row: handled by a person, in a digest not delivered (its messages
    pending, dead or cancelled: `undelivered_digests`), below
    the targets' severity floor, no targets, or waiting for the next digest (the
    hourly cap). `floor`/`has_targets` come from monitors.yaml (None: unknown).
    """
    if row.get("notified_at") is not None:
        return ""
    if row.get("suppressed"):
        return str(row["suppressed"])
    if row.get("status") not in (None, "open"):
        return str(row["status"])
    if row.get("digest_id") is not None:
        state = (undelivered or {}).get(int(row["digest_id"]), "pending")
        return f"undelivered: digest {row['digest_id']} {state}"
    if has_targets is False:
        return "no targets"
    if floor is not None and SEVERITY_RANK[str(row["severity"])] < SEVERITY_RANK[floor]:
        return "severity"
    return "cap (waits for the next digest)"
