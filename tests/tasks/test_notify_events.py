"""One message per alert event, to a real HTTP receiver, on every backend.

A two-hour incident scored over 24 ticks is one message; an escalation is a second;
the new normal is said once; the return to normal says nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from anomwatch.config import MonitorConfig
from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.receiver import WebhookReceiver
from anomwatch.settings import Settings
from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.db import Store
from anomwatch.store.events import SeriesPoints
from flows.monitor import run_tick
from tasks.notify import notify_monitor
from tests.monitor_specs import hosts_monitor
from tests.plain_tick import use_plain_tasks

T0 = datetime(2026, 11, 20)
STEP = timedelta(minutes=5)


def config(url: str, port: int, **extra: object) -> MonitorConfig:
    return hosts_monitor(url, **{"notify": {"targets": [f"json://127.0.0.1:{port}/hook"]}, **extra})


@pytest.mark.slow
def test_a_two_hour_incident_over_24_ticks_is_one_message(
    databases, store, tmp_path: Path, monkeypatch
) -> None:
    use_plain_tasks(monkeypatch)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", "5")
    settings = Settings()
    source = databases.new("src")
    shift = Incident("a", "cpu", "shift", T0 + timedelta(hours=2), 24)
    write_rows(
        source,
        simulate(
            T0 - timedelta(days=2),
            T0 + timedelta(hours=5),
            (shift,),
            ("a",),
            {"cpu": (40.0, 15.0, 2.0)},
        ),
    )
    with WebhookReceiver() as hook:
        # every point of the shift stays a warning: no escalation in this incident
        monitor = config(source, hook.port, severity={"critical_score": 0.99999})
        at = T0 + timedelta(hours=1, minutes=50)
        run_tick(settings, store, monitor, at)  # trains
        scored_with_anomalies = 0
        while at < T0 + timedelta(hours=5):
            at += STEP
            result = run_tick(settings, store, monitor, at)
            scored_with_anomalies += bool(result["new_anomalies"])
    assert scored_with_anomalies >= 20  # the incident really spans the ticks
    assert len(hook.received) == 1
    message = hook.received[0].json()
    assert message["title"] == "[anomwatch] hosts: 1 event (1 opened)"
    assert (
        "WARNING  host=a,metric=cpu  opened  since 2026-11-20 02:00:00, 1 point so far"
        in (message["message"])
    )
    stored = list(query_anomalies(store, monitor="hosts"))
    assert len({r["event_id"] for r in stored}) == 1
    assert sum(r["digest_id"] is not None for r in stored) == 1
    assert {r["suppressed"] for r in stored if r["digest_id"] is None} == {"repeat"}


def feed(store: Store, monitor: MonitorConfig, start: int, scores: list[float]) -> None:
    """One tick of series 's' from row `start` (5-minute steps); a score 0 is a normal row."""
    ts = [T0 + STEP * (start + i) for i in range(len(scores))]
    score = np.array(scores)
    records = [
        AnomalyRecord(
            monitor="hosts",
            series="s",
            ts=t,
            value=100.0,
            expected=40.0,
            lower=30.0,
            upper=50.0,
            score=s,
            components='{"iforest": 0.99}',
            feature_values="{}",
            severity="critical" if s >= 0.999 else "warning",
            model_id=None,
        )
        for t, s in zip(ts, scores, strict=True)
        if s > 0
    ]
    points = {
        "s": SeriesPoints(
            np.array(ts, dtype="datetime64[us]"),
            score > 0,
            score,
            np.where(score >= 0.999, 2, 1),
        )
    }
    persist_tick(store, "hosts", None, records, {"s": ts[-1]}, points, monitor.events)


def test_escalation_is_a_second_message_and_the_new_normal_comes_once(store, settings) -> None:
    with WebhookReceiver() as hook:
        monitor = config(
            "sqlite://", hook.port, events={"resolve_after": "30m", "new_normal_after": "1h"}
        )

        def tick(start: int, scores: list[float]) -> int:
            feed(store, monitor, start, scores)
            notify_monitor(settings, store, monitor, None, None)
            return len(hook.received)

        assert tick(0, [0.99] * 3) == 1  # opened
        assert tick(3, [0.99] * 3) == 1  # more of the same: silent
        assert tick(6, [0.9995]) == 2  # critical now: escalated
        assert tick(7, [0.99] * 8) == 3  # an hour after it opened: the new normal
        assert tick(15, [0.99, 0.9999999] * 3) == 3  # silent, even rarer peaks
        assert tick(21, [0.0] * 10) == 3  # resolved: nothing to say
    titles = [r.json()["title"] for r in hook.received]
    texts = [r.json()["message"] for r in hook.received]
    assert titles == [
        "[anomwatch] hosts: 1 event (1 opened)",
        "[anomwatch] hosts: 1 event (1 escalated, 1 critical)",
        "[anomwatch] hosts: 1 event (1 new normal, 1 critical)",
    ]
    assert "WARNING  s  opened  since 2026-11-20 00:00:00, 3 points so far" in texts[0]
    assert "CRITICAL s  escalated  since 2026-11-20 00:00:00, 7 points so far" in texts[1]
    assert "score 0.99950" in texts[1]  # its peak, not rounded to 1
    assert "new normal (treated as normal until it resolves)" in texts[2]
    stored = list(query_anomalies(store, monitor="hosts"))
    assert all(r["digest_id"] is not None or r["suppressed"] == "repeat" for r in stored)


def test_an_event_held_back_by_the_hourly_cap_is_announced_later_not_dropped(
    store, settings
) -> None:
    from sqlalchemy import update

    from anomwatch.durations import utcnow
    from anomwatch.store.schema import digests

    with WebhookReceiver() as hook:
        spec = {"max_messages_per_hour": 1, "targets": [f"json://127.0.0.1:{hook.port}/hook"]}
        monitor = config("sqlite://", hook.port, notify=spec)
        feed(store, monitor, 0, [0.99, 0.99])
        notify_monitor(settings, store, monitor, None, None)
        feed(store, monitor, 2, [0.0] * 18)  # normal rows: quiet past resolve_after
        feed(store, monitor, 20, [0.9995])  # a new event, capped
        notify_monitor(settings, store, monitor, None, None)
        assert len(hook.received) == 1
        with store.begin() as conn:  # an hour passes
            conn.execute(update(digests).values(created_at=utcnow() - timedelta(hours=2)))
        notify_monitor(settings, store, monitor, None, None)
    assert len(hook.received) == 2
    assert (
        "CRITICAL s  opened  since 2026-11-20 01:40:00, 1 point so far"
        in (hook.received[1].json()["message"])
    )
