"""Alert events in the store: each series' open event, carried from tick to tick.

`apply_events` runs the tracker of detector/events.py over the rows just scored,
continuing the series' open event loaded from the `events` table, and writes the
result in the caller's transaction (the one that stores the anomalies and moves the
watermarks), so a tick stays all-or-nothing. `event_cursors` records how far each
series has been fed: rows at or before it are skipped, so a rerun, a resumed backfill
or a replay never feeds a row twice, and ticks and backfill of the same rows give the
same events whatever their split.

A notifying transition (opened, escalated, new_normal) leaves a `notice` on the
event; the next digest announces it (anomwatch/store/outbox.py) and clears it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, or_, select, update

from anomwatch.durations import utcnow
from anomwatch.store.db import inserted_id
from anomwatch.store.schema import anomalies, event_cursors, events
from detector.events import NOTIFYING, EventFeed, EventParams, OpenEvent, track_events

SEVERITY_NAME = {1: "warning", 2: "critical"}
SEVERITY_RANK = {name: rank for rank, name in SEVERITY_NAME.items()}
OPEN_STATUSES = ("open", "new_normal")


@dataclass
class SeriesPoints:
    """The rows of one series just scored, as the tracker reads them (sorted by ts)."""

    ts: np.ndarray  # datetime64[us]
    flagged: np.ndarray  # bool: stored as an anomaly that may alert
    score: np.ndarray  # float (read only where flagged)
    severity: np.ndarray  # int rank: 1 warning, 2 critical

    def take(self, mask: np.ndarray) -> SeriesPoints:
        return SeriesPoints(
            self.ts[mask], self.flagged[mask], self.score[mask], self.severity[mask]
        )

    def __len__(self) -> int:
        return len(self.ts)


def points_from_records(records: Iterable[Any]) -> dict[str, SeriesPoints]:
    """Points of the anomaly records alone (each one flagged), for callers without the
    scored rows: their events still open and grow, and resolve at the next flag past
    `resolve_after` (detector/events.py reads the quiet time off the timestamps)."""
    by_series: dict[str, list[Any]] = {}
    for r in records:
        by_series.setdefault(r.series, []).append(r)
    out = {}
    for series, rows in by_series.items():
        rows.sort(key=lambda r: r.ts)
        out[series] = SeriesPoints(
            np.array([r.ts for r in rows], dtype="datetime64[us]"),
            np.ones(len(rows), dtype=bool),
            np.array([r.score for r in rows], dtype=float),
            np.array([SEVERITY_RANK[r.severity] for r in rows], dtype=np.int64),
        )
    return out


def unflag(points: dict[str, SeriesPoints], keys: set[tuple[str, datetime]]) -> None:
    """Points that are stored but may not alert (e.g. the classifier's false positives)."""
    by_series: dict[str, list[datetime]] = {}
    for series, ts in keys:
        by_series.setdefault(series, []).append(ts)
    for series, stamps in by_series.items():
        pts = points.get(series)
        if pts is not None:
            drop = np.isin(pts.ts, np.array(stamps, dtype="datetime64[us]"))
            pts.flagged = pts.flagged & ~drop


def _dt(value: np.datetime64) -> datetime:
    out = value.astype("datetime64[us]").item()
    assert isinstance(out, datetime)
    return out


def _open_event(row: Any) -> OpenEvent:
    return OpenEvent(
        start=np.datetime64(row.started_at, "us"),
        last=np.datetime64(row.last_at, "us"),
        first_score=float(row.first_score),
        peak_score=float(row.peak_score),
        peak_ts=np.datetime64(row.peak_ts, "us"),
        severity=SEVERITY_RANK[row.severity],
        n_points=int(row.n_points),
        quiet_rows=int(row.quiet_rows),
        new_normal=row.status == "new_normal",
        announced_severity=SEVERITY_RANK.get(row.announced_severity or "", 0),
        announced_peak=float(row.announced_peak or 0.0),
        key=int(row.id),
    )


def merge_notice(pending: str | None, kind: str) -> str | None:
    """The transition a digest should announce after `kind`, given what still waits.

    An event not yet announced stays 'opened' when it escalates (the opening line shows
    the current peak); a new normal replaces whatever waits. Resolving an anomaly event
    does not notify.
    """
    if kind not in NOTIFYING:
        return pending
    if pending == "opened" and kind == "escalated":
        return pending
    return kind


def apply_events(
    conn: Connection,
    monitor: str,
    points: dict[str, SeriesPoints],
    params: EventParams,
    suppressed: str | None = None,
) -> None:
    """Feed each series' new rows to its open event and store the outcome.

    `suppressed` (e.g. 'backfill') marks events opened here as never to be announced.
    """
    points = {s: p for s, p in points.items() if len(p)}
    if not points:
        return
    now = utcnow()
    cursors = dict(
        conn.execute(
            select(event_cursors.c.series, event_cursors.c.last_ts).where(
                event_cursors.c.monitor == monitor
            )
        ).all()
    )
    open_rows = {
        r.series: r
        for r in conn.execute(
            select(events).where(
                events.c.monitor == monitor,
                events.c.kind == "anomaly",
                events.c.status.in_(OPEN_STATUSES),
            )
        )
    }
    for series in sorted(points):
        pts = points[series]
        cut = cursors.get(series)
        if cut is not None:
            pts = pts.take(pts.ts > np.datetime64(cut, "us"))
            if not len(pts):
                continue  # fed before: a rerun changes nothing
        row = open_rows.get(series)
        feed = track_events(
            pts.ts,
            pts.flagged,
            pts.score,
            pts.severity,
            params,
            _open_event(row) if row is not None else None,
        )
        _write_feed(conn, monitor, series, pts, feed, row, params, suppressed, now)
        last = _dt(pts.ts[-1])
        if cut is None:
            conn.execute(
                insert(event_cursors).values(
                    monitor=monitor, series=series, last_ts=last, updated_at=now
                )
            )
        else:
            conn.execute(
                update(event_cursors)
                .where(event_cursors.c.monitor == monitor, event_cursors.c.series == series)
                .values(last_ts=last, updated_at=now)
            )


def _write_feed(
    conn: Connection,
    monitor: str,
    series: str,
    pts: SeriesPoints,
    feed: EventFeed,
    carried_row: Any,
    params: EventParams,
    suppressed: str | None,
    now: datetime,
) -> None:
    for ordinal, ev in enumerate(feed.events):
        mine = [t for t in feed.transitions if t.ordinal == ordinal]
        resolution = next((t for t in mine if t.kind == "resolved"), None)
        resolved = resolution is not None
        previous = carried_row if ev.key is not None else None
        notice = previous.notice if previous is not None else None
        if suppressed is None:
            for t in mine:
                notice = merge_notice(notice, t.kind)
        values: dict[str, Any] = {
            "status": "resolved" if resolved else ("new_normal" if ev.new_normal else "open"),
            "last_at": _dt(ev.last),
            "resolved_at": _dt(pts.ts[resolution.row]) if resolution is not None else None,
            "first_score": ev.first_score,
            "peak_score": ev.peak_score,
            "peak_ts": _dt(ev.peak_ts),
            "severity": SEVERITY_NAME[ev.severity],
            "n_points": ev.n_points,
            "quiet_rows": ev.quiet_rows,
            "announced_severity": SEVERITY_NAME.get(ev.announced_severity),
            "announced_peak": ev.announced_peak,
            "notice": notice,
            "updated_at": now,
        }
        if notice is not None and (previous is None or previous.notice is None):
            values["notice_at"] = now
        turned = next((t for t in mine if t.kind == "new_normal"), None)
        if turned is not None:
            values["new_normal_at"] = _dt(pts.ts[turned.row])
        if ev.key is None:
            event_id = inserted_id(
                conn.execute(
                    insert(events).values(
                        monitor=monitor,
                        series=series,
                        kind="anomaly",
                        started_at=_dt(ev.start),
                        suppressed=suppressed,
                        created_at=now,
                        **values,
                    )
                )
            )
        else:
            event_id = ev.key
            conn.execute(update(events).where(events.c.id == event_id).values(**values))
        rows = np.flatnonzero(feed.row_event == ordinal)
        if len(rows):
            conn.execute(
                update(anomalies)
                .where(
                    anomalies.c.monitor == monitor,
                    anomalies.c.series == series,
                    anomalies.c.ts >= _dt(pts.ts[rows[0]]),
                    anomalies.c.ts <= _dt(pts.ts[rows[-1]]),
                    anomalies.c.event_id.is_(None),
                    or_(anomalies.c.suppressed.is_(None), anomalies.c.suppressed != "classifier"),
                )
                .values(event_id=event_id)
            )


def query_events(
    conn: Connection,
    monitor: str | None = None,
    statuses: Sequence[str] | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Stored events, oldest first."""
    stmt = select(events)
    if monitor is not None:
        stmt = stmt.where(events.c.monitor == monitor)
    if statuses is not None:
        stmt = stmt.where(events.c.status.in_(list(statuses)))
    if kind is not None:
        stmt = stmt.where(events.c.kind == kind)
    rows = conn.execute(stmt.order_by(events.c.started_at, events.c.series, events.c.id))
    return [dict(r._mapping) for r in rows]
