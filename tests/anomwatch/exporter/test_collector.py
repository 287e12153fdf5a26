"""The exporter's collector on a real store (SQLite, PostgreSQL, MariaDB): each figure
matches what the store holds, labels stay bounded, and a store that cannot be read is
`anomwatch_store_up 0`, not an error page."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from anomwatch.config import parse_monitors
from anomwatch.durations import utcnow
from anomwatch.exporter import CONTENT_TYPE, render_metrics
from anomwatch.health import check_health
from anomwatch.receiver import WebhookReceiver
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.db import Store
from anomwatch.store.runs import (
    RunStats,
    finish_run,
    record_failed_run,
    register_monitor,
    start_run,
)
from anomwatch.store.schema import events, runs
from tasks.notify import notify_monitor
from tests.anomwatch.exporter.scrape import samples, value
from tests.notify_servers import free_port

T0 = datetime(2026, 11, 20, 12, 0)
SERIES_NAME = 'host=<script>alert(1)</script>,metric="cpu"'


def monitor(targets: list[str]):  # type: ignore[no-untyped-def]
    spec = {
        "name": "hosts",
        "source": {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]},
        "notify": {"targets": targets},
        "health": {"expect_data_every": "30m"},
    }
    return parse_monitors({"monitors": [spec]}).get("hosts")


def record(series: str, minutes: int, severity: str) -> AnomalyRecord:
    ts = T0 + timedelta(minutes=minutes)
    return AnomalyRecord("hosts", series, ts, 9.0, 1.0, 0.0, 2.0, 0.99, "{}", "{}", severity, None)


def timed_run(store: Store, status: str, seconds: float, **stats: int) -> int:
    """A finished run that took `seconds` (start and end written as a tick would)."""
    run_id = start_run(store, "hosts", None)
    finish_run(store, run_id, status, RunStats(**stats))
    start = T0 + timedelta(hours=run_id)
    with store.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(started_at=start, finished_at=start + timedelta(seconds=seconds))
        )
    return run_id


def test_a_scrape_reports_what_the_store_holds(store, settings) -> None:
    register_monitor(store, "hosts", "h")
    register_monitor(store, "idle", "i")  # no run yet: zeros, no timestamps
    timed_run(store, "succeeded", 0.25, rows_read=100, points_scored=80)
    timed_run(store, "partial", 3.0, rows_read=20, points_scored=12)
    failed = timed_run(store, "failed", 45.0)
    last = timed_run(store, "succeeded", 700.0, rows_read=30, points_scored=24, anomalies=3)
    started = utcnow()
    start_run(store, "hosts", None)  # still running: the latest run, not yet counted
    records = [
        record("a", 0, "warning"),
        record("a", 5, "critical"),
        record(SERIES_NAME, 0, "warning"),
        record("b", 0, "warning"),
    ]
    persist_tick(store, "hosts", last, records, {"a": T0 + timedelta(minutes=10)})
    with WebhookReceiver(status=500) as broken:
        config = monitor([f"json://127.0.0.1:{broken.port}/h"])
        notify_monitor(
            settings.model_copy(update={"notify_max_attempts": 1}), store, config, None, None
        )
    check_health(store, config)  # opens no_data (rows days old) and notifications (1 dead)
    with store.begin() as conn:  # the other series' event ended: still counted, not open
        conn.execute(
            update(events).where(events.c.series == "b").values(status="resolved", resolved_at=T0)
        )
    assert failed

    before = utcnow()
    text = render_metrics(store)
    found = samples(text)
    assert value(found, "anomwatch_store_up") == 1
    assert value(found, "anomwatch_anomalies_total", monitor="hosts", severity="warning") == 3
    assert value(found, "anomwatch_anomalies_total", monitor="hosts", severity="critical") == 1
    assert value(found, "anomwatch_anomalies_total", monitor="idle", severity="critical") == 0
    # series a: one event (escalated to critical); the two others: one warning event each
    assert value(found, "anomwatch_events_total", monitor="hosts", severity="critical") == 1
    assert value(found, "anomwatch_events_total", monitor="hosts", severity="warning") == 2
    open_events = {
        (sev, st): value(found, "anomwatch_open_events", monitor="hosts", severity=sev, status=st)
        for sev in ("warning", "critical")
        for st in ("open", "new_normal")
    }
    assert open_events == {
        ("warning", "open"): 1,
        ("critical", "open"): 1,
        ("warning", "new_normal"): 0,
        ("critical", "new_normal"): 0,
    }
    runs_by_status = {
        st: value(found, "anomwatch_runs_total", monitor="hosts", status=st)
        for st in ("succeeded", "partial", "failed", "skipped", "abandoned")
    }
    assert runs_by_status == {
        "succeeded": 2,
        "partial": 1,
        "failed": 1,
        "skipped": 0,
        "abandoned": 0,
    }
    assert ("anomwatch_runs_total", (("monitor", "hosts"), ("status", "running"))) not in found
    assert value(found, "anomwatch_last_run_status", monitor="hosts", status="running") == 1
    assert value(found, "anomwatch_last_run_status", monitor="hosts", status="succeeded") == 0
    assert value(found, "anomwatch_last_run_status", monitor="idle", status="running") == 0
    latest_start = value(found, "anomwatch_last_run_timestamp_seconds", monitor="hosts")
    assert epoch(started) - 1 <= latest_start <= epoch(before)
    success = value(found, "anomwatch_last_success_timestamp_seconds", monitor="hosts")
    assert success == epoch(T0 + timedelta(hours=last, seconds=700))
    assert ("anomwatch_last_success_timestamp_seconds", (("monitor", "idle"),)) not in found
    assert value(found, "anomwatch_rows_read_total", monitor="hosts") == 150
    assert value(found, "anomwatch_points_scored_total", monitor="hosts") == 116
    assert value(found, "anomwatch_outbox_messages", monitor="hosts", status="dead") == 1
    assert value(found, "anomwatch_outbox_messages", monitor="hosts", status="pending") == 0
    assert value(found, "anomwatch_notifications_sent_total", monitor="hosts") == 0
    assert value(found, "anomwatch_healthy", monitor="hosts") == 0
    assert value(found, "anomwatch_health_events_open", monitor="hosts") == 2  # no_data, dead
    assert value(found, "anomwatch_healthy", monitor="idle") == 1
    newest = T0 + timedelta(minutes=10)
    assert value(found, "anomwatch_newest_row_timestamp_seconds", monitor="hosts") == epoch(newest)
    lag = value(found, "anomwatch_data_lag_seconds", monitor="hosts")
    assert (before - newest).total_seconds() <= lag <= (utcnow() - newest).total_seconds()
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def epoch(naive_utc: datetime) -> float:
    return (naive_utc - datetime(1970, 1, 1)).total_seconds()


def test_run_durations_are_bucketed_by_the_database(store) -> None:
    register_monitor(store, "hosts", "h")
    for status, seconds in [
        ("succeeded", 0.25),
        ("partial", 3.0),
        ("failed", 45.0),
        ("succeeded", 700.0),
        ("skipped", 9999.0),
    ]:
        timed_run(store, status, seconds)
    found = samples(render_metrics(store))
    buckets = {
        le: value(found, "anomwatch_run_duration_seconds_bucket", monitor="hosts", le=le)
        for le in ("0.5", "1.0", "2.5", "5.0", "30.0", "60.0", "600.0", "+Inf")
    }
    # skipped runs did no work: their time is not a tick's duration
    assert buckets == {
        "0.5": 1,
        "1.0": 1,
        "2.5": 1,
        "5.0": 2,
        "30.0": 2,
        "60.0": 3,
        "600.0": 3,
        "+Inf": 4,
    }
    assert value(found, "anomwatch_run_duration_seconds_count", monitor="hosts") == 4
    total = value(found, "anomwatch_run_duration_seconds_sum", monitor="hosts")
    assert total == pytest.approx(748.25, abs=0.01)


def test_labels_are_only_monitor_severity_and_status(store) -> None:
    """A series name, a value or a monitor that is not registered never becomes a label."""
    register_monitor(store, "hosts", "h")
    run_id = start_run(store, "hosts", None)
    persist_tick(store, "hosts", run_id, [record(SERIES_NAME, 0, "critical")], {SERIES_NAME: T0})
    finish_run(store, run_id, "succeeded", RunStats(anomalies=1))
    record_failed_run(store, "typo <b>name</b>", None, "unknown monitor")  # `run typo...`
    ghost = AnomalyRecord("ghost", "s", T0, 9.0, None, None, None, 0.9, "{}", "{}", "warning", None)
    persist_tick(store, "ghost", None, [ghost], {"s": T0})  # stored, monitor never registered
    text = render_metrics(store).decode()
    labels = {k for (_, pairs) in samples(text) for k, _ in pairs}
    assert labels == {"monitor", "severity", "status", "le"}
    monitors = {v for (_, pairs) in samples(text) for k, v in pairs if k == "monitor"}
    assert monitors == {"hosts"}
    assert "script" not in text and "typo" not in text and "ghost" not in text
    assert "9.0" not in text
    assert all(line.startswith("anomwatch_") for line in text.splitlines() if line[0] != "#")


@pytest.mark.parametrize("broken", ["not a database", "refused"])
def test_a_store_that_cannot_be_read_is_store_up_0(
    tmp_path: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    if broken == "not a database":
        path = tmp_path / "store.db"
        path.write_bytes(b"this is not SQLite" * 100)
        url = f"sqlite:///{path}"
    else:  # nothing listens there: the connection is refused at once
        url = f"postgresql+psycopg://root:hunter2@127.0.0.1:{free_port()}/test"
    store = Store(url)
    try:
        text = render_metrics(store).decode()
    finally:
        store.dispose()
    assert samples(text) == {("anomwatch_store_up", ()): 0.0}
    assert "# HELP anomwatch_store_up" in text
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "anomwatch.exporter"]
    assert logged.startswith("scrape: store ") and "hunter2" not in logged
