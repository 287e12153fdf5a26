"""Alert events: consecutive anomalous points of one series are one alert, across ticks.

People are paged per incident, not per point. An event opens at the first flagged
point, takes every later flagged point until the series has been quiet (no flagged
point) for `resolve_after` and at least `resolve_after_rows` rows (hourly data would
otherwise resolve after every normal row), and is then resolved. A flagged point
inside that quiet time joins the open event, so the return to normal after an
incident (which residual members flag too) is not a new event. Members adapt to a
level that stays (the residual's median within half its window), so an incident that
lasts hours stops flagging long before it ends: while the series' level is still
outside its training range (`away`) the event stays open, and the return to normal,
which the residual flags again, joins it; so do the flags of the residual's window
while it still holds the incident's rows (`held`: a step back tilts its line). A
flag that leaves normal further than the held level (`departing`: a new incident
during the excursion, not the return) ends the hold and opens a new event. An
event still flagging or away `new_normal_after` its start (the settling after a return
does not count) is declared the new normal once (one message) and then absorbs its
points silently until it resolves. It is re-announced only when it escalates: its
severity rises, or its peak becomes `escalate_rarity` times rarer than what was
announced.

The tracker is pure and incremental: feeding rows in one batch or in any split into
ticks (carrying `OpenEvent` between them, as the store does) gives the same events.
Only flagged and held rows are visited; the quiet time between them is read off the
timestamps, so a flagged point after a gap in the data longer than `resolve_after`
opens a new event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detector.result import Hold

TransitionKind = Literal["opened", "escalated", "new_normal", "resolved"]
NOTIFYING: frozenset[str] = frozenset({"opened", "escalated", "new_normal"})


class EventParams(BaseModel):
    """When anomalous points form one alert, and when that alert speaks again."""

    model_config = ConfigDict(extra="forbid")
    resolve_after: timedelta = Field(
        timedelta(hours=1), description="quiet time (no anomalous point) that ends an event"
    )
    resolve_after_rows: int = Field(
        6, ge=1, description="and at least this many normal rows (hourly data: 6 hours)"
    )
    new_normal_after: timedelta | None = Field(
        timedelta(hours=6),
        description="an event still anomalous (or its level still outside the training "
        "range) this long after it opened is the new normal (one message, then silent "
        "until it resolves); null = never",
    )
    escalate_rarity: float = Field(
        100.0,
        gt=1,
        description="re-announce when the peak is this many times rarer than the announced "
        "one (rarity = 1 / (1 - score))",
    )


@dataclass
class OpenEvent:
    """The state of one series' open event, carried from tick to tick."""

    start: np.datetime64
    last: np.datetime64  # last anomalous point
    first_score: float
    peak_score: float
    peak_ts: np.datetime64
    severity: int  # rank: 1 warning, 2 critical
    n_points: int
    new_normal: bool = False
    announced_severity: int = 0
    announced_peak: float = 0.0
    quiet_rows: int = 0  # normal rows seen since the last anomalous point (or held row)
    held: np.datetime64 | None = None  # last row that held it open (away from normal)
    key: int | None = None  # the caller's id (the store's events.id)


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    row: int  # index into the rows fed: the point that caused it
    event: OpenEvent  # snapshot after the transition
    ordinal: int  # which event of this feed (0 = the one carried in, if any)


@dataclass
class EventFeed:
    """What one call of `track_events` found."""

    transitions: list[Transition] = field(default_factory=list)
    row_event: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    events: list[OpenEvent] = field(default_factory=list)  # final state of each ordinal
    open: OpenEvent | None = None  # still open after the last row

    def opened_rows(self) -> np.ndarray:
        """Rows that opened an event: the rows an on-call engineer is paged for."""
        return np.array([t.row for t in self.transitions if t.kind == "opened"], dtype=np.int64)

    def notifying_rows(self) -> np.ndarray:
        return np.array([t.row for t in self.transitions if t.kind in NOTIFYING], dtype=np.int64)


def rarity(score: float) -> float:
    return 1.0 / max(1.0 - float(score), 1e-12)


def track_events(
    ts: np.ndarray,
    flagged: np.ndarray,
    scores: np.ndarray,
    severity: np.ndarray,
    params: EventParams,
    carried: OpenEvent | None = None,
    hold: Hold | None = None,
) -> EventFeed:
    """Group flagged rows (sorted by ts) into events, continuing `carried` if given.

    `hold.held` (Detection.hold) marks rows that keep an open event open (its quiet time
    starts after them); they are not points of it and open nothing. `hold.away` (within
    `held`) marks the rows where the series is still outside its normal range: only
    those, and flagged rows outside the rest of `held` (the settling after a return),
    count towards the new normal. A flagged row marked `hold.departing` (moving further
    from normal, not back) is a new incident: an event (not yet the new normal) kept
    open only by held rows since its last point past its quiet time resolves there, and
    the row opens a new one.
    `row_event` is -1 for unflagged rows, else the ordinal of the event the row joined.
    """
    ts = np.asarray(ts).astype("datetime64[us]")
    flagged = np.asarray(flagged, dtype=bool)
    if hold is None:
        hold = Hold.of(np.zeros(len(ts), bool))
    holding, outside = hold.held, hold.away
    settling = holding & ~outside
    leaving = flagged & hold.departing
    quiet = np.timedelta64(params.resolve_after, "us")
    gap = quiet * params.resolve_after_rows
    normal_after = (
        None if params.new_normal_after is None else np.timedelta64(params.new_normal_after, "us")
    )
    feed = EventFeed(row_event=np.full(len(ts), -1, dtype=np.int64))
    current = replace(carried) if carried is not None else None
    if current is not None:
        feed.events.append(current)

    # the rows that count towards the new normal: held rows still away, flagged rows not
    # in the settling after a return
    lasting = np.where(flagged, ~settling, outside)
    last_row = -1  # row of the open event's last anomalous point or held row here (-1: earlier)

    def mark(kind: TransitionKind, row: int) -> None:
        """A transition of the open event, as it stands now."""
        assert current is not None
        feed.transitions.append(Transition(kind, row, replace(current), len(feed.events) - 1))

    def resolve_before(row: int) -> None:
        """Resolve the open event if an unflagged row before `row` ended its quiet time."""
        nonlocal current
        if current is None:
            return
        latest = current.last if current.held is None else max(current.last, current.held)
        due = int(np.searchsorted(ts, latest + quiet, side="left"))
        if last_row >= 0:
            due = max(due, last_row + params.resolve_after_rows)
        else:  # the last anomalous point came in an earlier feed
            due = max(due, params.resolve_after_rows - current.quiet_rows - 1)
        if due < row:  # rows between the last flag and `row` are all unflagged
            mark("resolved", due)
        elif row < len(ts) and ts[row] - latest >= gap:
            # a gap in the data (no rows read, or too few to count) as long as the
            # quiet time of resolve_after_rows x resolve_after: the flag is a new event
            mark("resolved", row)
        else:
            return
        current = None

    for row in np.flatnonzero(flagged | holding).tolist():
        resolve_before(row)
        score, rank, when = float(scores[row]), int(severity[row]), ts[row]
        if (
            leaving[row]
            and current is not None
            and not current.new_normal  # which absorbs its points silently until it resolves
            and current.held is not None
            and when - current.last >= quiet
        ):  # held open past its quiet time, and now a new incident: the hold ends here
            mark("resolved", row)
            current = None
        if current is None:
            if not flagged[row]:
                continue  # held, but no event to hold open
            current = OpenEvent(
                start=when,
                last=when,
                first_score=score,
                peak_score=score,
                peak_ts=when,
                severity=rank,
                n_points=1,
                announced_severity=rank,
                announced_peak=score,
            )
            feed.events.append(current)
            mark("opened", row)
        elif not flagged[row] and current.new_normal:
            continue  # the new normal is held open no longer
        else:
            if flagged[row]:
                current.last = when
                current.n_points += 1
                if score > current.peak_score:
                    current.peak_score, current.peak_ts = score, when
                current.severity = max(current.severity, rank)
            else:  # held: the open event goes on, without a point
                current.held = when
            if not current.new_normal:
                if (
                    normal_after is not None
                    and lasting[row]
                    and when - current.start >= normal_after
                ):
                    current.new_normal = True
                    mark("new_normal", row)
                elif flagged[row] and (
                    current.severity > current.announced_severity
                    or rarity(current.peak_score)
                    >= params.escalate_rarity * rarity(current.announced_peak)
                ):
                    current.announced_severity = current.severity
                    current.announced_peak = current.peak_score
                    mark("escalated", row)
        current.quiet_rows = 0
        last_row = row
        feed.events[-1] = current
        if flagged[row]:
            feed.row_event[row] = len(feed.events) - 1
    resolve_before(len(ts))
    if current is not None:
        current.quiet_rows += len(ts) - 1 - last_row if last_row >= 0 else len(ts)
    feed.open = current
    return feed
