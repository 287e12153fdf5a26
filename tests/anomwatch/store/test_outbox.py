"""Outbox noise control: snoozes, repeats of one event, the hourly cap; exactly-once claims."""

from __future__ import annotations

from datetime import datetime, timedelta

from anomwatch.durations import utcnow
from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.outbox import (
    NoisePolicy,
    Target,
    add_snooze,
    create_digest,
    digest_anomalies,
    due_notifications,
    list_notifications,
    mark_failed,
    mark_sent,
    remove_snoozes,
)

T0 = datetime(2026, 11, 20, 12, 0)
TARGETS = [
    Target(id="t1", label="json://a", raw="json://a"),
    Target(id="t2", label="json://b", raw="json://b"),
]


def add(store, series: str, minutes: int, severity: str = "warning") -> None:  # type: ignore[no-untyped-def]
    persist_tick(
        store,
        "m",
        None,
        [
            AnomalyRecord(
                monitor="m",
                series=series,
                ts=T0 + timedelta(minutes=minutes),
                value=1.0,
                expected=0.0,
                lower=-1.0,
                upper=1.0,
                score=0.99,
                components="{}",
                feature_values="{}",
                severity=severity,
                model_id=None,
            )
        ],
        {},
    )


def suppressed(store) -> dict[tuple[str, datetime], str | None]:  # type: ignore[no-untyped-def]
    return {(r["series"], r["ts"]): r["suppressed"] for r in query_anomalies(store, monitor="m")}


def test_each_anomaly_is_claimed_once_with_one_row_per_target(store) -> None:
    add(store, "a", 0)
    add(store, "b", 0)
    digest = create_digest(store, "m", None, TARGETS, NoisePolicy())
    assert digest is not None
    assert create_digest(store, "m", None, TARGETS, NoisePolicy()) is None  # nothing new
    assert {r["series"] for r in digest_anomalies(store, digest)} == {"a", "b"}
    due = due_notifications(store, "m", utcnow())
    assert sorted(n.target for n in due) == ["t1", "t2"]
    mark_sent(store, due[0].id, digest)
    status = mark_failed(store, due[1].id, 0, "boom", timedelta(minutes=1), max_attempts=3)
    assert status == "pending"
    assert due_notifications(store, "m", utcnow()) == []  # backoff not over yet
    later = due_notifications(store, "m", utcnow() + timedelta(minutes=2))
    assert [(n.target, n.attempts) for n in later] == [("t2", 1)]
    assert all(r["notified_at"] for r in query_anomalies(store, monitor="m"))


def test_repeats_of_a_notified_event_are_suppressed(store) -> None:
    add(store, "a", 0)
    assert create_digest(store, "m", None, TARGETS, NoisePolicy()) is not None
    add(store, "a", 5)
    add(store, "a", 50)
    add(store, "a", 200)  # far after: a new event
    digest = create_digest(store, "m", None, TARGETS, NoisePolicy())
    assert [r["ts"] for r in digest_anomalies(store, digest)] == [T0 + timedelta(minutes=200)]
    marks = suppressed(store)
    assert marks[("a", T0 + timedelta(minutes=5))] == "repeat"
    assert marks[("a", T0 + timedelta(minutes=50))] == "repeat"


def test_snoozed_series_and_monitor_are_stored_not_notified(store) -> None:
    add_snooze(store, "m", "a", utcnow() + timedelta(hours=1), "tester")
    add(store, "a", 0)
    add(store, "b", 0)
    digest = create_digest(store, "m", None, TARGETS, NoisePolicy())
    assert [r["series"] for r in digest_anomalies(store, digest)] == ["b"]
    assert suppressed(store)[("a", T0)] == "snoozed"
    add_snooze(store, "m", None, utcnow() + timedelta(hours=1), "tester")
    add(store, "c", 0)
    assert create_digest(store, "m", None, TARGETS, NoisePolicy()) is None
    assert remove_snoozes(store, "m", None) == 2
    add(store, "d", 0)
    assert create_digest(store, "m", None, TARGETS, NoisePolicy()) is not None


def test_hourly_cap_defers_instead_of_dropping(store) -> None:
    policy = NoisePolicy(max_per_hour=1)
    add(store, "a", 0)
    assert create_digest(store, "m", None, TARGETS, policy) is not None
    add(store, "b", 0)
    add(store, "c", 0)
    assert create_digest(store, "m", None, TARGETS, policy) is None  # capped: they wait
    waiting = [r for r in query_anomalies(store, monitor="m") if r["digest_id"] is None]
    assert {r["series"] for r in waiting} == {"b", "c"}
    assert all(r["suppressed"] is None for r in waiting)


def test_min_severity_filters(store) -> None:
    add(store, "a", 0, "warning")
    add(store, "b", 0, "critical")
    digest = create_digest(store, "m", None, TARGETS, NoisePolicy(min_severity="critical"))
    assert [r["series"] for r in digest_anomalies(store, digest)] == ["b"]


def test_critical_only_target_is_skipped_for_warning_only_digests(store) -> None:
    targets = [
        Target(id="chat", label="chat", raw="json://chat"),
        Target(id="pager", label="pager", raw="json://pager", min_severity="critical"),
    ]
    add(store, "a", 0, "warning")
    first = create_digest(store, "m", None, targets, NoisePolicy())
    assert [n.target for n in due_notifications(store, "m", utcnow()) if n.digest_id == first] == [
        "chat"
    ]
    add(store, "b", 0, "critical")
    second = create_digest(store, "m", None, targets, NoisePolicy())
    due = [n.target for n in due_notifications(store, "m", utcnow()) if n.digest_id == second]
    assert sorted(due) == ["chat", "pager"]


def _failed_once(store, row: int, attempts: int, base: timedelta, max_attempts: int):  # type: ignore[no-untyped-def]
    """One failed send of `row`; returns (status, the delay the row now waits)."""
    before = utcnow()
    status = mark_failed(store, row, attempts, "boom", base, max_attempts)
    after = utcnow()
    stored = next(n for n in list_notifications(store, "m") if n["id"] == row)
    assert stored["status"] == status and stored["attempts"] == attempts + 1
    # the delay is measured from a moment between `before` and `after`
    low, high = stored["next_attempt_at"] - after, stored["next_attempt_at"] - before
    return status, low, high


def test_retry_delay_doubles_per_failure_and_is_capped_at_one_hour(store) -> None:
    add(store, "a", 0)
    create_digest(store, "m", None, TARGETS[:1], NoisePolicy())
    (row,) = due_notifications(store, "m", utcnow())
    base = timedelta(minutes=1)
    waits = []
    for attempts in range(9):
        status, low, high = _failed_once(store, row.id, attempts, base, max_attempts=50)
        assert status == "pending"
        waits.append(round((low + high).total_seconds() / 120))  # minutes
        # not due a second before the wait ends, due right after it
        assert due_notifications(store, "m", utcnow() + low - timedelta(seconds=1)) == []
        due = due_notifications(store, "m", utcnow() + high + timedelta(seconds=1))
        assert [(n.id, n.attempts) for n in due] == [(row.id, attempts + 1)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_send_goes_dead_after_its_last_attempt_and_is_never_sent_again(store) -> None:
    add(store, "a", 0)
    create_digest(store, "m", None, TARGETS[:1], NoisePolicy())
    (row,) = due_notifications(store, "m", utcnow())
    statuses = [
        _failed_once(store, row.id, attempts, timedelta(seconds=0), max_attempts=3)[0]
        for attempts in range(3)
    ]
    assert statuses == ["pending", "pending", "dead"]
    assert due_notifications(store, "m", utcnow() + timedelta(days=365)) == []
    (stored,) = list_notifications(store, "m")
    assert (stored["status"], stored["attempts"], stored["last_error"]) == ("dead", 3, "boom")
