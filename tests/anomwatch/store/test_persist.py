"""Anomalies and watermarks: atomic, idempotent, forward-only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from anomwatch.errors import MonitorLockedError
from anomwatch.store.anomalies import (
    AnomalyRecord,
    get_watermarks,
    persist_tick,
    query_anomalies,
)
from anomwatch.store.locks import monitor_lock

T0 = datetime(2026, 11, 20, 12, 0, 0, 123456)


def record(series: str, minutes: int, score: float = 0.99, severity: str = "warning"):
    return AnomalyRecord(
        monitor="m1",
        series=series,
        ts=T0 + timedelta(minutes=minutes),
        value=42.5,
        expected=10.0,
        lower=5.0,
        upper=15.0,
        score=score,
        components='{"iforest": 0.99}',
        feature_values='{"value": 42.5}',
        severity=severity,
        model_id=None,
    )


def test_rerun_of_the_same_tick_stores_nothing_twice(store) -> None:
    records = [record("a", 0), record("a", 5), record("b", 5)]
    marks = {"a": T0 + timedelta(minutes=5), "b": T0 + timedelta(minutes=5)}
    first = persist_tick(store, "m1", None, records, marks)
    second = persist_tick(store, "m1", None, records, marks)
    assert len(first) == 3
    assert second == []
    stored = list(query_anomalies(store, monitor="m1"))
    assert len(stored) == 3
    # microseconds survive on every backend (MariaDB needs DATETIME(6))
    assert {r["ts"] for r in stored} == {r.ts for r in records}
    assert get_watermarks(store, "m1") == marks


def test_watermarks_never_move_back(store) -> None:
    persist_tick(store, "m1", None, [], {"a": T0})
    persist_tick(store, "m1", None, [], {"a": T0 - timedelta(hours=1)})
    assert get_watermarks(store, "m1") == {"a": T0}


def test_query_filters(store) -> None:
    persist_tick(
        store,
        "m1",
        None,
        [
            record("host=web-1", 0, 0.95),
            record("host=web-2", 10, 0.9995, "critical"),
            record("host=db-1", 20, 0.97),
        ],
        {},
    )

    def series_of(**kw):
        return sorted(r["series"] for r in query_anomalies(store, monitor="m1", **kw))

    assert series_of(series="host=web-*") == ["host=web-1", "host=web-2"]
    assert series_of(min_severity="critical") == ["host=web-2"]
    assert series_of(min_score=0.96) == ["host=db-1", "host=web-2"]
    assert series_of(since=T0 + timedelta(minutes=5)) == ["host=db-1", "host=web-2"]
    assert series_of(until=T0 + timedelta(minutes=5)) == ["host=web-1"]
    newest = [r["series"] for r in query_anomalies(store, monitor="m1", limit=2)]
    assert newest == ["host=db-1", "host=web-2"]


def test_every_query_filter_keeps_exactly_the_matching_anomalies(store) -> None:
    """The filters behind `anomwatch anomalies list`: bounds inclusive, series exact
    or a glob (* and ?; % and _ are literal characters)."""
    records = [
        record("host=a_1", 0, score=0.95),
        record("host=ab1", 5, score=0.99, severity="critical"),
        record("host=a%1", 10, score=0.97),
    ]
    persist_tick(store, "m1", None, records, {})
    other = record("host=a_1", 0)
    persist_tick(store, "m2", None, [AnomalyRecord(**{**other.__dict__, "monitor": "m2"})], {})

    def series(**filters) -> list[str]:  # type: ignore[no-untyped-def]
        return [r["series"] for r in query_anomalies(store, **{"monitor": "m1", **filters})]

    assert series() == ["host=a%1", "host=ab1", "host=a_1"]  # newest first
    assert series(newest_first=False) == ["host=a_1", "host=ab1", "host=a%1"]
    assert series(limit=1) == ["host=a%1"]
    assert len(list(query_anomalies(store))) == 4  # no monitor: every monitor
    assert series(since=T0 + timedelta(minutes=5)) == ["host=a%1", "host=ab1"]
    assert series(until=T0 + timedelta(minutes=5)) == ["host=ab1", "host=a_1"]
    assert series(series="host=a_1") == ["host=a_1"]
    assert series(series="host=a_*") == ["host=a_1"]
    assert series(series="host=a%*") == ["host=a%1"]
    assert series(series="host=a?1") == ["host=a%1", "host=ab1", "host=a_1"]
    assert series(min_score=0.97) == ["host=a%1", "host=ab1"]
    assert series(min_severity="critical") == ["host=ab1"]
    assert series(status="open") == ["host=a%1", "host=ab1", "host=a_1"]
    assert series(status="acknowledged") == []
    first = next(query_anomalies(store, monitor="m1", newest_first=False))
    assert [r["id"] for r in query_anomalies(store, ids=[first["id"]])] == [first["id"]]


def test_second_holder_of_a_monitor_lock_is_refused(store) -> None:
    with (
        monitor_lock(store, "m1", timedelta(minutes=5)),
        pytest.raises(MonitorLockedError, match="already running"),
        monitor_lock(store, "m1", timedelta(minutes=5)),
    ):
        pass
    with monitor_lock(store, "m1", timedelta(minutes=5)):  # released: free again
        pass


def test_expired_lock_is_taken_over(store) -> None:
    from anomwatch.store.locks import acquire

    acquire(store, "m1", "crashed-run", timedelta(seconds=-1))
    with monitor_lock(store, "m1", timedelta(minutes=5)) as holder:
        assert holder != "crashed-run"


def test_refusal_names_the_holder_and_a_late_release_frees_only_its_own_lock(store) -> None:
    from anomwatch.store.locks import acquire, release

    acquire(store, "m1", "slow-run", timedelta(seconds=-1))  # expired while still running
    acquire(store, "m1", "new-run", timedelta(minutes=5))  # takes m1 over
    release(store, "m1", "slow-run")  # the slow run ends: must not free new-run's lock
    with pytest.raises(
        MonitorLockedError,
        match=r"^monitor 'm1' is already running since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"by new-run; this run exits without doing work$",
    ):
        acquire(store, "m1", "third-run", timedelta(minutes=5))


def test_daily_counts_view_for_bi_tools(store) -> None:
    from sqlalchemy import text

    persist_tick(
        store,
        "m1",
        None,
        [record("a", 0), record("a", 5, 0.9999, "critical"), record("b", 24 * 60)],
        {},
    )
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT series, day, anomalies, critical, max_score FROM anomaly_daily_counts "
                "WHERE monitor = 'm1' ORDER BY series, day"
            )
        ).all()
    assert [(r.series, str(r.day)[:10], r.anomalies, r.critical) for r in rows] == [
        ("a", "2026-11-20", 2, 1),
        ("b", "2026-11-21", 1, 0),
    ]
    assert rows[0].max_score == 0.9999
