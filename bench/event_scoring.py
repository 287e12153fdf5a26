"""Scoring alert events against labelled incidents, the way an on-call engineer counts.

An incident is found when an alert event opens inside it, or within a short
tolerance after its start (for incidents of one or two points). An event that opens
on a day the series had no incident is a false alarm. A day is clean when no
incident touches it: a transient incident touches its own span plus a settling time
(the return to normal); a level shift that persists touches one day from its start,
after which the new level is normal and any further event is false.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Labelled:
    """One incident in time: rows [start, end) are the incident itself."""

    kind: str
    contextual: bool
    start: np.datetime64
    end: np.datetime64  # the timestamp of the incident's last row
    persists: bool = False


@dataclass
class SeriesOutcome:
    """What the events of one series amount to."""

    delays: list[tuple[str, bool, float | None]] = field(default_factory=list)  # minutes
    clean_days: int = 0
    false_events: int = 0  # opened on clean days
    unmatched_events: int = 0  # opened outside every incident's span, any day
    events: int = 0
    flagged: int = 0
    points: int = 0


def found_delay(opened: np.ndarray, incident: Labelled, tolerance: np.timedelta64) -> float | None:
    """Minutes from the incident's start to the first event opened within it (or within
    `tolerance` of its start); None when no event opened there."""
    last = max(incident.end, incident.start + tolerance)
    hits = opened[(opened >= incident.start) & (opened <= last)]
    if not len(hits):
        return None
    return float((hits.min() - incident.start) / np.timedelta64(1, "m"))


def affected_until(incident: Labelled, settle: np.timedelta64) -> np.datetime64:
    """End of the time the incident explains: its span plus settling, or a day for a shift."""
    if incident.persists:
        return incident.start + DAY + settle
    return incident.end + settle


def outcome(
    opened: np.ndarray,
    incidents: list[Labelled],
    first: np.datetime64,
    stop: np.datetime64,
    tolerance: np.timedelta64,
    settle: np.timedelta64,
    flagged: int = 0,
    points: int = 0,
) -> SeriesOutcome:
    """Score the opening times of one series' events, streamed over [first, stop).

    Days are counted from `first` in whole days; a trailing part-day is not counted.
    """
    opened = np.sort(np.asarray(opened, dtype="datetime64[m]"))
    out = SeriesOutcome(events=len(opened), flagged=flagged, points=points)
    spans = [(i.start, affected_until(i, settle)) for i in incidents]
    for inc in incidents:
        out.delays.append((inc.kind, inc.contextual, found_delay(opened, inc, tolerance)))
    explained = np.zeros(len(opened), dtype=bool)
    for lo, hi in spans:
        explained |= (opened >= lo) & (opened < hi)
    out.unmatched_events = int((~explained).sum())
    day = first
    while day + DAY <= stop:
        end = day + DAY
        if not any(lo < end and hi > day for lo, hi in spans):
            out.clean_days += 1
            out.false_events += int(((opened >= day) & (opened < end)).sum())
        day = end
    return out


@dataclass
class Totals:
    """Outcomes of many series, summed for the table."""

    outcomes: list[SeriesOutcome]

    def found(self, contextual: bool | None = None, kind: str | None = None) -> tuple[int, int]:
        picked = [
            d
            for o in self.outcomes
            for d in o.delays
            if (contextual is None or d[1] == contextual) and (kind is None or d[0] == kind)
        ]
        return sum(d[2] is not None for d in picked), len(picked)

    def delays(self, contextual: bool | None = None) -> np.ndarray:
        return np.array(
            [
                d[2]
                for o in self.outcomes
                for d in o.delays
                if d[2] is not None and (contextual is None or d[1] == contextual)
            ],
            dtype=float,
        )

    @property
    def false_per_series_day(self) -> float:
        days = sum(o.clean_days for o in self.outcomes)
        return sum(o.false_events for o in self.outcomes) / days if days else float("nan")

    def events_per_series_week(self, days_streamed: float) -> float:
        weeks = len(self.outcomes) * days_streamed / 7.0
        return sum(o.events for o in self.outcomes) / weeks if weeks else float("nan")

    @property
    def flagged_fraction(self) -> float:
        points = sum(o.points for o in self.outcomes)
        return sum(o.flagged for o in self.outcomes) / points if points else float("nan")
