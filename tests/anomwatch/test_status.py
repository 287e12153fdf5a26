"""`anomwatch status`: last run, lag, open events, outbox, snoozes, health, from the store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from anomwatch.config import parse_monitors
from anomwatch.durations import utcnow
from anomwatch.receiver import WebhookReceiver
from anomwatch.status import gather, render_json, render_text
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.outbox import add_snooze
from anomwatch.store.runs import RunStats, finish_run, start_run
from tasks.notify import notify_monitor

T0 = datetime(2026, 11, 20, 12, 0)


def monitor(targets: list[str]):  # type: ignore[no-untyped-def]
    spec = {
        "name": "hosts",
        "source": {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]},
        "schedule": "*/5 * * * *",
        "notify": {"targets": targets},
        "health": {"expect_data_every": "30m"},
    }
    return parse_monitors({"monitors": [spec]}).get("hosts")


def record(minutes: int) -> AnomalyRecord:
    return AnomalyRecord(
        "hosts",
        "s",
        T0 + timedelta(minutes=minutes),
        9.0,
        1.0,
        0.0,
        2.0,
        0.99,
        "{}",
        "{}",
        "warning",
        None,
    )


def test_a_working_monitor_is_healthy(store) -> None:
    config = monitor([])
    run_id = start_run(store, "hosts", None)
    finish_run(store, run_id, "succeeded", RunStats(rows_read=12, points_scored=12, anomalies=1))
    persist_tick(store, "hosts", run_id, [record(0)], {"s": T0 + timedelta(minutes=10)})
    status = gather(store, config, now=T0 + timedelta(minutes=22, seconds=30))
    assert status.healthy
    assert status.data_lag == timedelta(minutes=12, seconds=30)
    assert status.next_run == T0 + timedelta(minutes=25)
    assert [(e["series"], e["status"], e["points"]) for e in status.open_events] == [
        ("s", "open", 1)
    ]
    text = render_text(status).splitlines()
    assert text[0] == "hosts: healthy"
    assert text[1].startswith("  last run      #1 succeeded at ")
    assert text[1].endswith("12 rows read, 12 points scored, 1 new anomaly")
    assert text[3] == "  data lag      12m (newest row 2026-11-20 12:10:00 UTC)"


def test_dead_messages_late_data_and_snoozes_make_it_unhealthy(store, settings) -> None:
    persist_tick(store, "hosts", None, [record(0)], {"s": T0})
    with WebhookReceiver(status=500) as broken:
        config = monitor([f"json://127.0.0.1:{broken.port}/h"])
        once = settings.model_copy(update={"notify_max_attempts": 1})
        notify_monitor(once, store, config, None, None)
    add_snooze(store, "hosts", None, utcnow() + timedelta(hours=2), "tester")
    status = gather(store, config)  # now: the wall clock, far past T0
    assert not status.healthy
    assert status.outbox == {"pending": 0, "dead": 1}
    assert [s["series"] for s in status.snoozes] == [None]
    failing = {c.name for c in status.health if not c.ok}
    assert failing == {"no_data", "notifications"}
    body = json.loads(render_json([status]))
    assert body["healthy"] is False
    assert body["monitors"][0]["outbox"]["dead"] == 1
    text = render_text(status)
    assert "hosts: UNHEALTHY" in text and "FAILING notifications: messages: 1 dead" in text
    assert "(whole monitor) until" in text
