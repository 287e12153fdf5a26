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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, or_, select, tuple_, update

from anomwatch.durations import utcnow
from anomwatch.store.schema import anomalies, event_cursors, events
from detector.events import NOTIFYING, EventFeed, EventParams, OpenEvent, track_events
from detector.result import Hold

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
    hold: Hold | None = None  # what holds an open event open (Detection.hold)

    def take(self, mask: np.ndarray) -> SeriesPoints:
        return SeriesPoints(
            self.ts[mask],
            self.flagged[mask],
            self.score[mask],
            self.severity[mask],
            None if self.hold is None else self.hold[mask],
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
        held=None if row.held_at is None else np.datetime64(row.held_at, "us"),
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
    plan = _Plan()
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
            pts.hold,
        )
        plan.add(monitor, series, pts, feed, row, suppressed, now)
        moved = {
            "monitor": monitor,
            "series": series,
            "last_ts": _dt(pts.ts[-1]),
            "updated_at": now,
        }
        (plan.new_cursors if cut is None else plan.moved_cursors).append(moved)
    plan.write(conn, monitor)


# Columns an event's feed sets (the same for every row, so they go in one executemany).
_STATE = (
    "status",
    "last_at",
    "held_at",
    "resolved_at",
    "new_normal_at",
    "first_score",
    "peak_score",
    "peak_ts",
    "severity",
    "n_points",
    "quiet_rows",
    "announced_severity",
    "announced_peak",
    "notice",
    "notice_at",
    "updated_at",
)


@dataclass
class _Plan:
    """The statements of one apply_events call, executed as a few executemany batches
    (a tick of thousands of series would otherwise pay per-statement overhead)."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)  # anomalies -> event
    new_cursors: list[dict[str, Any]] = field(default_factory=list)
    moved_cursors: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        monitor: str,
        series: str,
        pts: SeriesPoints,
        feed: EventFeed,
        carried_row: Any,
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
            notice_at = previous.notice_at if previous is not None else None
            if notice is not None and notice_at is None:
                notice_at = now
            turned = next((t for t in mine if t.kind == "new_normal"), None)
            state: dict[str, Any] = {
                "status": "resolved" if resolved else ("new_normal" if ev.new_normal else "open"),
                "last_at": _dt(ev.last),
                "held_at": None if ev.held is None else _dt(ev.held),
                "resolved_at": _dt(pts.ts[resolution.row]) if resolution is not None else None,
                "new_normal_at": _dt(pts.ts[turned.row])
                if turned is not None
                else (previous.new_normal_at if previous is not None else None),
                "first_score": ev.first_score,
                "peak_score": ev.peak_score,
                "peak_ts": _dt(ev.peak_ts),
                "severity": SEVERITY_NAME[ev.severity],
                "n_points": ev.n_points,
                "quiet_rows": ev.quiet_rows,
                "announced_severity": SEVERITY_NAME.get(ev.announced_severity),
                "announced_peak": ev.announced_peak,
                "notice": notice,
                "notice_at": notice_at if notice is not None else None,
                "updated_at": now,
            }
            start = _dt(ev.start)
            if ev.key is None:
                self.inserts.append(
                    {
                        "monitor": monitor,
                        "series": series,
                        "kind": "anomaly",
                        "started_at": start,
                        "suppressed": suppressed,
                        "created_at": now,
                        **state,
                    }
                )
            else:
                self.updates.append({"_id": ev.key, **{f"_{k}": v for k, v in state.items()}})
            rows = np.flatnonzero(feed.row_event == ordinal)
            if len(rows):
                self.links.append(
                    {
                        "_id": ev.key,
                        "_series": series,
                        "_start": start,
                        "_lo": _dt(pts.ts[rows[0]]),
                        "_hi": _dt(pts.ts[rows[-1]]),
                    }
                )

    def write(self, conn: Connection, monitor: str) -> None:
        if self.inserts:
            conn.execute(insert(events), self.inserts)
            keys = [(r["series"], r["started_at"]) for r in self.inserts]
            ids = {
                (r.series, r.started_at): int(r.id)
                for r in conn.execute(
                    select(events.c.id, events.c.series, events.c.started_at).where(
                        events.c.monitor == monitor,
                        events.c.kind == "anomaly",
                        tuple_(events.c.series, events.c.started_at).in_(keys),
                    )
                )
            }
            for link in self.links:
                if link["_id"] is None:
                    link["_id"] = ids[(link["_series"], link["_start"])]
        if self.updates:
            conn.execute(
                update(events)
                .where(events.c.id == bindparam("_id"))
                .values({k: bindparam(f"_{k}") for k in _STATE}),
                self.updates,
            )
        if self.links:
            conn.execute(
                update(anomalies)
                .where(
                    anomalies.c.monitor == monitor,
                    anomalies.c.series == bindparam("_series"),
                    anomalies.c.ts >= bindparam("_lo"),
                    anomalies.c.ts <= bindparam("_hi"),
                    anomalies.c.event_id.is_(None),
                    or_(anomalies.c.suppressed.is_(None), anomalies.c.suppressed != "classifier"),
                )
                .values(event_id=bindparam("_id")),
                [{k: v for k, v in link.items() if k != "_start"} for link in self.links],
            )
        if self.new_cursors:
            conn.execute(insert(event_cursors), self.new_cursors)
        if self.moved_cursors:
            conn.execute(
                update(event_cursors)
                .where(
                    event_cursors.c.monitor == bindparam("_m"),
                    event_cursors.c.series == bindparam("_s"),
                )
                .values(last_ts=bindparam("_t"), updated_at=bindparam("_u")),
                [
                    {
                        "_m": c["monitor"],
                        "_s": c["series"],
                        "_t": c["last_ts"],
                        "_u": c["updated_at"],
                    }
                    for c in self.moved_cursors
                ],
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


def list_events(
    store: Any,
    monitor: str | None = None,
    open_only: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    series: str | None = None,
    kind: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Events active in [since, until] (they overlap it), newest first, for `events list`."""
    from sqlalchemy import and_

    conditions: list[Any] = []
    if monitor is not None:
        conditions.append(events.c.monitor == monitor)
    if open_only:
        conditions.append(events.c.status.in_(OPEN_STATUSES))
    if since is not None:
        conditions.append(func.coalesce(events.c.resolved_at, events.c.last_at) >= since)
    if until is not None:
        conditions.append(events.c.started_at <= until)
    if series is not None:
        if any(ch in series for ch in "*?"):
            pattern = series.replace("%", r"\%").replace("_", r"\_")
            pattern = pattern.replace("*", "%").replace("?", "_")
            conditions.append(events.c.series.like(pattern, escape="\\"))
        else:
            conditions.append(events.c.series == series)
    if kind is not None:
        conditions.append(events.c.kind == kind)
    if min_severity is not None:
        floor = SEVERITY_RANK[min_severity]
        conditions.append(
            events.c.severity.in_([s for s, r in SEVERITY_RANK.items() if r >= floor])
        )
    stmt = (
        select(events)
        .where(and_(True, *conditions))
        .order_by(events.c.started_at.desc(), events.c.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.begin() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
