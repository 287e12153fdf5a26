"""Alert events: grouping, resolution, new normal, escalation, and split invariance."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import EventParams, track_events
from detector.result import Hold

STEP = np.timedelta64(5, "m")


def stamps(n: int) -> np.ndarray:
    return np.datetime64("2026-01-01T00:00") + STEP * np.arange(n)


def feed_all(flags: np.ndarray, scores: np.ndarray, sev: np.ndarray, params: EventParams):
    return track_events(stamps(len(flags)), flags, scores, sev, params)


def test_points_closer_than_resolve_after_are_one_event() -> None:
    flags = np.zeros(100, bool)
    flags[[10, 11, 12, 20, 25]] = True  # gaps of 8 and 5 rows (40, 25 min) < 1 h
    flags[[60, 61]] = True  # 35 rows (175 min) after the last: a new event
    feed = feed_all(flags, np.full(100, 0.99), np.ones(100, int), EventParams())
    assert feed.opened_rows().tolist() == [10, 60]
    assert feed.row_event[[10, 25, 60]].tolist() == [0, 0, 1]
    resolved = [t.row for t in feed.transitions if t.kind == "resolved"]
    assert resolved == [25 + 12, 61 + 12]  # first row a full hour after the last flag
    assert feed.open is None


def test_new_normal_is_announced_once_then_silent() -> None:
    flags = np.zeros(200, bool)
    flags[10:150] = True  # a shift flagged for 140 rows (~11.7 h)
    params = EventParams(new_normal_after=timedelta(hours=6))
    feed = feed_all(flags, np.full(200, 0.99), np.ones(200, int), params)
    kinds = [(t.kind, t.row) for t in feed.transitions]
    assert kinds == [("opened", 10), ("new_normal", 10 + 72), ("resolved", 149 + 12)]
    assert feed.events[0].n_points == 140


def test_escalation_on_severity_and_on_a_much_rarer_peak() -> None:
    flags = np.zeros(30, bool)
    flags[5:12] = True
    scores = np.full(30, 0.99)
    sev = np.ones(30, int)
    scores[7] = 0.995  # 2x rarer: not an escalation
    sev[8] = 2  # critical: escalates
    scores[10] = 0.99999  # 1000x rarer than announced 0.99: escalates
    feed = feed_all(flags, scores, sev, EventParams())
    assert [(t.kind, t.row) for t in feed.transitions] == [
        ("opened", 5),
        ("escalated", 8),
        ("escalated", 10),
        ("resolved", 11 + 12),
    ]
    assert feed.events[0].peak_score == 0.99999 and feed.events[0].severity == 2


def test_an_incident_held_away_from_normal_is_one_event_with_its_return() -> None:
    # a 5-hour shift: the members flag its first 2 hours, adapt, and flag the return
    flags = np.zeros(160, bool)
    flags[10:34] = True
    flags[70:82] = True
    held = np.zeros(160, bool)
    held[10:70] = True  # the level stays outside the training range until row 70
    scores, sev = np.full(160, 0.99), np.ones(160, int)
    params = EventParams()  # new normal after 6 h: not reached
    unheld = feed_all(flags, scores, sev, params)
    assert unheld.opened_rows().tolist() == [10, 70]  # before: the return paged again
    feed = track_events(stamps(160), flags, scores, sev, params, hold=Hold.of(held))
    assert [(t.kind, t.row) for t in feed.transitions] == [("opened", 10), ("resolved", 81 + 12)]
    assert feed.events[0].n_points == 36  # held rows keep it open but are not its points
    assert feed.row_event[40] == -1 and feed.row_event[75] == 0
    assert feed.events[0].last == stamps(160)[81] and feed.events[0].held == stamps(160)[69]


def test_a_flag_leaving_normal_further_during_a_hold_is_a_new_incident() -> None:
    flags = np.zeros(160, bool)
    flags[10:20] = True  # a shift: flagged until the members adapt
    flags[60:66] = True  # then, the series still away, something else
    held = np.zeros(160, bool)
    held[10:150] = True
    scores, sev = np.full(160, 0.99), np.ones(160, int)
    departing = np.zeros(160, bool)
    back = track_events(stamps(160), flags, scores, sev, EventParams(), hold=Hold.of(held))
    assert back.opened_rows().tolist() == [10]  # towards normal: the return, joined
    departing[60:66] = True  # further from normal than the adapted level: a new incident
    feed = track_events(
        stamps(160), flags, scores, sev, EventParams(), hold=Hold.of(held, departing=departing)
    )
    assert [(t.kind, t.row) for t in feed.transitions][:3] == [
        ("opened", 10),
        ("resolved", 60),
        ("opened", 60),
    ]
    # within the quiet time of its last point it is the same incident still
    departing[:] = False
    departing[25] = flags[25] = True
    near = track_events(
        stamps(160), flags, scores, sev, EventParams(), hold=Hold.of(held, departing=departing)
    )
    assert near.opened_rows().tolist()[:1] == [10] and 25 not in near.opened_rows().tolist()


def test_the_settling_after_a_return_holds_the_event_but_is_no_new_normal() -> None:
    flags = np.zeros(200, bool)
    flags[10:20] = True
    flags[90] = True  # the residual's line, tilted by the step back, flags a normal row
    away = np.zeros(200, bool)
    away[10:60] = True  # back at row 60
    held = away.copy()
    held[10:100] = True  # the residual's window holds the incident until row 100
    params = EventParams(new_normal_after=timedelta(hours=6))  # 72 rows
    feed = track_events(
        stamps(200), flags, np.full(200, 0.99), np.ones(200, int), params, hold=Hold.of(held, away)
    )
    assert [(t.kind, t.row) for t in feed.transitions] == [("opened", 10), ("resolved", 99 + 12)]
    assert feed.events[0].n_points == 11 and not feed.events[0].new_normal


def test_a_held_shift_becomes_the_new_normal_and_holds_no_longer() -> None:
    flags = np.zeros(200, bool)
    flags[10:30] = True
    held = np.zeros(200, bool)
    held[10:200] = True  # the series never comes back
    flags[120] = True  # a flag after the new normal
    params = EventParams(new_normal_after=timedelta(hours=6))
    feed = track_events(
        stamps(200), flags, np.full(200, 0.99), np.ones(200, int), params, hold=Hold.of(held)
    )
    assert [(t.kind, t.row) for t in feed.transitions] == [
        ("opened", 10),
        ("new_normal", 10 + 72),  # one message, from held rows alone
        ("resolved", 10 + 72 + 12),  # the new normal no longer holds it open
        ("opened", 120),  # a new incident pages again
        ("new_normal", 120 + 72),  # and the level, still away, holds that one open
    ]
    # held rows with no open event open nothing
    alone = track_events(
        stamps(50),
        np.zeros(50, bool),
        np.full(50, 0.99),
        np.ones(50, int),
        params,
        hold=Hold.of(np.ones(50, bool)),
    )
    assert alone.transitions == [] and alone.open is None


@settings(max_examples=60, deadline=None)
@given(
    flags=st.lists(st.integers(0, 4), min_size=1, max_size=120),
    cuts=st.lists(st.integers(0, 120), max_size=6),
    seed=st.integers(0, 1000),
)
def test_any_split_into_ticks_gives_the_same_events(
    flags: list[int], cuts: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    code = np.array(flags)
    # 0 normal, 1 flagged, 2 held, 3 away, 4 flagged and departing
    f, held, away, departing = (
        (code == 1) | (code == 4),
        (code == 2) | (code == 3),
        code == 3,
        code == 4,
    )
    n = len(f)
    scores = rng.uniform(0.95, 0.999999, n)
    sev = rng.integers(1, 3, n)
    ts = stamps(n)
    params = EventParams(resolve_after=timedelta(minutes=20), new_normal_after=timedelta(hours=1))
    whole = track_events(ts, f, scores, sev, params, hold=Hold.of(held, away, departing))
    bounds = sorted({0, n, *(c for c in cuts if c < n)})
    carried = None
    opened: list[int] = []
    kinds: list[tuple[str, int]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        part = track_events(
            ts[a:b],
            f[a:b],
            scores[a:b],
            sev[a:b],
            params,
            carried,
            Hold.of(held, away, departing)[a:b],
        )
        opened += [a + r for r in part.opened_rows().tolist()]
        kinds += [(t.kind, a + t.row) for t in part.transitions]
        carried = part.open
    assert opened == whole.opened_rows().tolist()
    assert kinds == [(t.kind, t.row) for t in whole.transitions]


def test_hourly_data_needs_resolve_after_rows_normal_rows_too() -> None:
    ts = np.datetime64("2026-01-01T00:00") + np.timedelta64(1, "h") * np.arange(40)
    flags = np.zeros(40, bool)
    flags[[5, 8, 20]] = True  # 2 normal hours between the first two: still one event
    feed = track_events(ts, flags, np.full(40, 0.99), np.ones(40, int), EventParams())
    assert feed.opened_rows().tolist() == [5, 20]
    assert [t.row for t in feed.transitions if t.kind == "resolved"] == [8 + 6, 20 + 6]


def test_a_flag_after_a_long_data_gap_is_a_new_event() -> None:
    """Only flagged rows reach the tracker when no unflagged row was read in between."""
    # quiet for resolve_after (1 h) x resolve_after_rows (6): a gap of 6 h or more
    ts = np.array(["2026-01-01T00:00", "2026-01-01T00:30", "2026-01-01T06:30"], "datetime64[us]")
    feed = track_events(ts, np.ones(3, bool), np.full(3, 0.99), np.ones(3, int), EventParams())
    assert [(t.kind, t.row) for t in feed.transitions] == [
        ("opened", 0),
        ("resolved", 2),
        ("opened", 2),
    ]
    assert feed.row_event.tolist() == [0, 0, 1]
    carried = track_events(
        ts[:2], np.ones(2, bool), np.full(2, 0.99), np.ones(2, int), EventParams()
    )
    rest = track_events(
        ts[2:], np.ones(1, bool), np.full(1, 0.99), np.ones(1, int), EventParams(), carried.open
    )
    assert [t.kind for t in rest.transitions] == ["resolved", "opened"]
