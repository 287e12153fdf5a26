"""Alert events in the store: carried across ticks, idempotent, anomalies linked."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.events import SeriesPoints, query_events
from detector.events import EventParams

T0 = datetime(2026, 11, 20, 12, 0)
STEP = timedelta(minutes=5)
PARAMS = EventParams(resolve_after=timedelta(minutes=30), new_normal_after=timedelta(hours=1))


def tick(store, start: int, flags: list[int], scores: list[float] | None = None) -> None:  # type: ignore[no-untyped-def]
    """One tick of series 's': rows start..start+len(flags)-1 (5-minute steps)."""
    n = len(flags)
    ts = [T0 + STEP * (start + i) for i in range(n)]
    score = np.array(scores or [0.99] * n)
    flagged = np.array(flags, dtype=bool)
    records = [
        AnomalyRecord(
            monitor="m",
            series="s",
            ts=ts[i],
            value=1.0,
            expected=0.0,
            lower=-1.0,
            upper=1.0,
            score=float(score[i]),
            components="{}",
            feature_values="{}",
            severity="critical" if score[i] >= 0.999 else "warning",
            model_id=None,
        )
        for i in range(n)
        if flags[i]
    ]
    points = {
        "s": SeriesPoints(
            np.array(ts, dtype="datetime64[us]"), flagged, score, np.where(score >= 0.999, 2, 1)
        )
    }
    persist_tick(store, "m", None, records, {"s": ts[-1]}, points, PARAMS)


def events(store):  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return query_events(conn, "m")


def test_an_event_continues_across_ticks_and_resolves_after_quiet_rows(store) -> None:
    tick(store, 0, [1, 1, 0])
    tick(store, 3, [1, 0, 0, 0])
    (event,) = events(store)
    assert (event["status"], event["n_points"], event["notice"]) == ("open", 3, "opened")
    tick(store, 7, [0] * 6)  # 30 minutes after the last flag at row 3
    (event,) = events(store)
    assert event["status"] == "resolved"
    assert event["resolved_at"] == T0 + STEP * 3 + timedelta(minutes=30)
    linked = {r["ts"]: r["event_id"] for r in query_anomalies(store, monitor="m")}
    assert set(linked.values()) == {event["id"]} and len(linked) == 3


def test_a_rerun_of_the_same_tick_changes_no_event(store) -> None:
    tick(store, 0, [1, 1, 0])
    before = events(store)
    tick(store, 0, [1, 1, 0])  # e.g. persist retried after its commit went through
    tick(store, 1, [1, 0])  # an overlapping replay of rows already fed
    assert events(store) == before


def test_escalation_waits_behind_an_unannounced_opening_and_new_normal_replaces_it(
    store,
) -> None:
    tick(store, 0, [1, 1], [0.99, 0.9995])  # opened, then critical before any digest
    (event,) = events(store)
    assert (event["notice"], event["severity"]) == ("opened", "critical")
    tick(store, 2, [1] * 12)  # still anomalous an hour after it opened
    (event,) = events(store)
    assert (event["status"], event["notice"]) == ("new_normal", "new_normal")
    assert event["new_normal_at"] == T0 + STEP * 12


def test_a_point_the_feedback_classifier_rejects_is_stored_outside_any_event(store) -> None:
    from dataclasses import replace

    ts = [T0, T0 + STEP, T0 + 2 * STEP]
    record = AnomalyRecord("m", "s", T0, 1.0, 0.0, -1.0, 1.0, 0.99, "{}", "{}", "warning", None)
    records = [replace(record, ts=t) for t in ts]
    records[1] = replace(records[1], suppressed="classifier")  # as the classifier marks it
    points = {
        "s": SeriesPoints(
            np.array(ts, dtype="datetime64[us]"),
            np.ones(3, dtype=bool),
            np.full(3, 0.99),
            np.ones(3, dtype=np.int64),
        )
    }
    persist_tick(store, "m", None, records, {"s": ts[-1]}, points, PARAMS)
    (event,) = events(store)
    assert event["n_points"] == 2
    linked = {r["ts"]: r["event_id"] for r in query_anomalies(store, monitor="m")}
    assert linked == {ts[0]: event["id"], ts[1]: None, ts[2]: event["id"]}
