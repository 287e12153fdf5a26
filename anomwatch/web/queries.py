"""The store reads behind the pages: paged, filtered, always bound parameters.

Lists page by key (the last row's time and id), never by OFFSET, and fetch one row
more than shown to know whether there is a next page without counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import and_, or_, select

from anomwatch.store.anomalies import SEVERITY_RANK, query_anomalies, series_matches
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, digests, events, notifications
from anomwatch.web.filters import PAGE_SIZE, Filters


def page_of_anomalies(
    store: Store,
    monitor: str,
    filters: Filters,
    older_than: tuple[datetime, int] | None,
    size: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the monitor's anomalies, newest first, and whether more follow."""
    rows = query_anomalies(
        store,
        monitor=monitor,
        since=filters.since,
        until=filters.until,
        series=filters.series,
        min_severity=filters.severity,
        status=filters.status,
        notified=filters.notified,
        limit=size + 1,
        older_than=older_than,
    )
    page = list(islice(rows, size + 1))
    return page[:size], len(page) > size


def page_of_events(
    store: Store,
    monitor: str,
    filters: Filters,
    older_than: tuple[datetime, int] | None,
    size: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the monitor's events (started in the time range), newest first.

    The anomaly filters that apply to events: time, series, severity, notified
    (announced in a digest); status is an anomaly's, so it filters the anomaly list only.
    """
    stmt = select(events).where(events.c.monitor == monitor)
    if filters.since is not None:
        stmt = stmt.where(events.c.started_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(events.c.started_at <= filters.until)
    if filters.series is not None:
        stmt = stmt.where(series_matches(events.c.series, filters.series))
    if filters.severity is not None:
        allowed = [s for s, r in SEVERITY_RANK.items() if r >= SEVERITY_RANK[filters.severity]]
        stmt = stmt.where(events.c.severity.in_(allowed))
    if filters.notified is not None:
        column = events.c.digest_id
        stmt = stmt.where(column.is_not(None) if filters.notified else column.is_(None))
    if older_than is not None:
        ts, key = older_than
        stmt = stmt.where(
            or_(events.c.started_at < ts, and_(events.c.started_at == ts, events.c.id < key))
        )
    stmt = stmt.order_by(events.c.started_at.desc(), events.c.id.desc()).limit(size + 1)
    with store.begin() as conn:
        page = [dict(r._mapping) for r in conn.execute(stmt)]
    return page[:size], len(page) > size


def one_event(store: Store, event_id: int) -> dict[str, Any] | None:
    with store.begin() as conn:
        row = conn.execute(select(events).where(events.c.id == event_id)).first()
    return dict(row._mapping) if row is not None else None


def event_anomalies(store: Store, event_id: int, size: int = 200) -> list[dict[str, Any]]:
    """The event's points, in time order (a long incident shows its first `size`)."""
    with store.begin() as conn:
        rows = conn.execute(
            select(anomalies)
            .where(anomalies.c.event_id == event_id)
            .order_by(anomalies.c.ts, anomalies.c.id)
            .limit(size)
        )
        return [dict(r._mapping) for r in rows]


def sent_messages(store: Store, digest_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What was sent and to whom: one row per target of each digest (labels are masked)."""
    ids = sorted({int(i) for i in digest_ids if i is not None})
    if not ids:
        return []
    with store.begin() as conn:
        rows = conn.execute(
            select(
                notifications.c.digest_id,
                digests.c.created_at,
                notifications.c.target_label,
                notifications.c.status,
                notifications.c.attempts,
                notifications.c.sent_at,
                notifications.c.last_error,
            )
            .join(digests, digests.c.id == notifications.c.digest_id)
            .where(notifications.c.digest_id.in_(ids))
            .order_by(notifications.c.digest_id, notifications.c.id)
        )
        return [dict(r._mapping) for r in rows]


def event_digest_ids(event: dict[str, Any], points: Sequence[dict[str, Any]]) -> list[int]:
    return [i for i in {event.get("digest_id"), *(p.get("digest_id") for p in points)} if i]
