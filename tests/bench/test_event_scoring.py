"""The seasonal benchmark's scoring: when an incident counts as found, what a false event is."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.event_scoring import Labelled, Totals, found_delay, outcome  # noqa: E402

T0 = np.datetime64("2026-01-05T00:00", "m")
H = np.timedelta64(1, "h")
M = np.timedelta64(1, "m")
TOL = np.timedelta64(30, "m")
SETTLE = np.timedelta64(2, "h")


def at(hours: float) -> np.datetime64:
    return T0 + np.timedelta64(int(round(hours * 60)), "m")


def drop(start: float, hours: float = 1.0) -> Labelled:
    return Labelled("drop", True, at(start), at(start + hours) - 5 * M)


def test_an_event_opening_inside_the_incident_finds_it_with_its_delay() -> None:
    opened = np.array([at(10.25)])
    assert found_delay(opened, drop(10), TOL) == 15.0


def test_the_first_of_several_events_gives_the_delay() -> None:
    opened = np.array([at(10.75), at(10.1)])
    assert found_delay(opened, drop(10), TOL) == 6.0


def test_an_event_opened_before_the_incident_does_not_find_it() -> None:
    # a false alarm still open when the incident starts: nobody is paged for the incident
    assert found_delay(np.array([at(9.9)]), drop(10), TOL) is None


def test_an_event_after_the_incident_and_its_tolerance_does_not_find_it() -> None:
    assert found_delay(np.array([at(11.0)]), drop(10), TOL) is None  # last row is 10:55


def test_a_one_point_spike_is_found_within_the_tolerance_after_its_start() -> None:
    spike = Labelled("spike", False, at(3), at(3))
    assert found_delay(np.array([at(3.5)]), spike, TOL) == 30.0
    assert found_delay(np.array([at(3.5) + M]), spike, TOL) is None


def test_events_on_clean_days_are_false_and_days_with_incidents_are_not_clean() -> None:
    # three days streamed; an incident on day 1 at 10:00; events: one on day 0, the
    # incident's own, one on day 1 far from it (unmatched, but not on a clean day), two
    # on day 2
    opened = np.array([at(5), at(34.2), at(44), at(50), at(70)])
    result = outcome(opened, [drop(34)], T0, at(72), TOL, SETTLE)
    assert result.clean_days == 2
    assert result.false_events == 3
    assert result.unmatched_events == 4
    assert result.events == 5
    assert result.delays == [("drop", True, 12.0)]


def test_the_return_to_normal_is_explained_by_the_incident() -> None:
    # an event opened 1.5 h after the drop ended is within the settling time
    opened = np.array([at(10.1), at(12.4)])
    result = outcome(opened, [drop(10)], T0, at(24), TOL, SETTLE)
    assert result.unmatched_events == 0
    late = outcome(np.array([at(10.1), at(13.1)]), [drop(10)], T0, at(24), TOL, SETTLE)
    assert late.unmatched_events == 1


def test_an_incident_late_in_the_day_spoils_the_next_day_too() -> None:
    result = outcome(np.array([]), [drop(23.5)], T0, at(72), TOL, SETTLE)
    assert result.clean_days == 1  # day 0 holds it, day 1 holds its settling time


def test_a_persisting_level_shift_explains_one_day_then_events_are_false() -> None:
    shift = Labelled("level_shift", False, at(12), at(13) - 5 * M, persists=True)
    opened = np.array([at(12.1), at(30), at(40)])  # the shift, the next day, day 1 after that
    result = outcome(opened, [shift], T0, at(96), TOL, SETTLE)
    assert result.unmatched_events == 1  # 40 h is after 12 h + 1 day + 2 h
    assert result.clean_days == 2  # days 0 and 1 are touched, days 2 and 3 clean
    assert result.false_events == 0  # the event at 40 h is on day 1


def test_a_trailing_part_day_is_not_counted() -> None:
    result = outcome(np.array([at(30)]), [], T0, at(36), TOL, SETTLE)
    assert result.clean_days == 1
    assert result.false_events == 0


def test_totals_sum_over_series() -> None:
    a = outcome(np.array([at(10.1), at(30)]), [drop(10)], T0, at(48), TOL, SETTLE, 5, 576)
    surge = Labelled("surge", True, at(3), at(4) - 5 * M)
    b = outcome(np.array([]), [surge], T0, at(48), TOL, SETTLE, 3, 576)
    totals = Totals([a, b])
    assert totals.found(contextual=True) == (1, 2)
    assert totals.found(kind="surge") == (0, 1)
    assert totals.false_per_series_day == 1 / 2  # one false event, series a's day 1 and b's day 1
    assert totals.events_per_series_week(2.0) == 2 / (2 * 2 / 7)
    assert totals.flagged_fraction == 8 / 1152
    assert list(totals.delays(contextual=True)) == [6.0]
