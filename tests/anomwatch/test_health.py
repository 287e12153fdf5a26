"""Health alerts: failed runs, no data, stuck notifications, failing training.

Each failing check opens one health event announced through the monitor's targets (a
real HTTP receiver here), and a resolved message when it passes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from anomwatch.config import MonitorConfig
from anomwatch.demo import simulate, write_rows
from anomwatch.errors import AnomwatchError
from anomwatch.health import check_health
from anomwatch.receiver import WebhookReceiver
from anomwatch.settings import Settings
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.db import Store
from anomwatch.store.events import query_events
from anomwatch.store.runs import RunStats, finish_run, start_run
from anomwatch.store.schema import notifications
from flows.monitor import run_tick
from tasks.notify import notify_monitor
from tests.monitor_specs import hosts_monitor
from tests.plain_tick import use_plain_tasks

T0 = datetime(2026, 11, 20)
CPU = {"cpu": (40.0, 15.0, 2.0)}


def config(url: str, targets: list[str], **extra: object) -> MonitorConfig:
    return hosts_monitor(url, **{"notify": {"targets": targets}, **extra})


def health_events(store: Store) -> list[tuple[str, str]]:
    with store.begin() as conn:
        return [(e["series"], e["status"]) for e in query_events(conn, "hosts", kind="health")]


def messages(hook: WebhookReceiver) -> list[str]:
    return [r.json()["message"].splitlines()[2] for r in hook.received]


@pytest.fixture
def ticking(monkeypatch, tmp_path: Path) -> Settings:  # type: ignore[no-untyped-def]
    use_plain_tasks(monkeypatch)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("ANOMWATCH_NOTIFY_RETRY_BASE_SECONDS", "0")
    return Settings()


def test_failed_runs_in_a_row_alert_once_and_resolve_when_a_run_succeeds(
    databases, store, ticking
) -> None:
    source = databases.new("src")
    with WebhookReceiver() as hook:
        monitor = config(source, [f"json://127.0.0.1:{hook.port}/h"], health={"failed_runs": 2})
        for minutes in (0, 5, 10):  # the table does not exist yet
            with pytest.raises(AnomwatchError):
                run_tick(ticking, store, monitor, T0 + timedelta(minutes=minutes))
        assert health_events(store) == [("failed_runs", "open")]
        assert len(hook.received) == 1  # opened after the 2nd failure, silent on the 3rd
        write_rows(source, simulate(T0 - timedelta(days=2), T0, (), ("a",), CPU))
        run_tick(ticking, store, monitor, T0)
        assert health_events(store) == [("failed_runs", "resolved")]
    first, second = messages(hook)
    assert first.startswith("HEALTH   failed_runs  opened  since ")
    assert "2 runs failed in a row; last error: " in first and "metrics" in first
    assert second.startswith("HEALTH   failed_runs  resolved  healthy again at ")
    titles = [r.json()["title"] for r in hook.received]
    assert titles == [
        "[anomwatch] hosts: health check failed_runs opened",
        "[anomwatch] hosts: health check failed_runs resolved",
    ]


def test_a_source_that_stops_sending_rows_is_no_data_until_rows_come_back(
    databases, store, ticking
) -> None:
    source = databases.new("src")
    write_rows(
        source, simulate(T0 - timedelta(days=2), T0 + timedelta(minutes=10), (), ("a",), CPU)
    )
    with WebhookReceiver() as hook:
        monitor = config(source, [f"json://127.0.0.1:{hook.port}/h"])  # 5-min rows: 15m
        run_tick(ticking, store, monitor, T0)
        run_tick(ticking, store, monitor, T0 + timedelta(minutes=10))
        run_tick(ticking, store, monitor, T0 + timedelta(minutes=20))  # lag 15m: still fine
        assert health_events(store) == []
        run_tick(ticking, store, monitor, T0 + timedelta(minutes=25))  # lag 20m
        run_tick(ticking, store, monitor, T0 + timedelta(minutes=30))
        assert health_events(store) == [("no_data", "open")]
        write_rows(
            source,
            simulate(T0 + timedelta(minutes=10), T0 + timedelta(minutes=40), (), ("a",), CPU),
        )
        run_tick(ticking, store, monitor, T0 + timedelta(minutes=40))
        assert health_events(store) == [("no_data", "resolved")]
    opened, resolved = messages(hook)
    assert "no_data  opened" in opened and "no new source rows for 20m" in opened
    assert "expected a row at least every 15m" in opened
    assert "no_data  resolved" in resolved


def test_dead_notifications_alert_through_the_targets_that_work(store, settings) -> None:
    record = AnomalyRecord(
        "hosts", "s", T0, 100.0, 40.0, 30.0, 50.0, 0.99, "{}", "{}", "warning", None
    )
    persist_tick(store, "hosts", None, [record], {})
    with WebhookReceiver() as good, WebhookReceiver(status=500) as broken:
        monitor = config(
            "sqlite://",
            [f"json://127.0.0.1:{good.port}/h", f"json://127.0.0.1:{broken.port}/h"],
        )
        once = settings.model_copy(update={"notify_max_attempts": 1})
        notify_monitor(once, store, monitor, None, None)  # the broken target is dead at once
        assert len(good.received) == 1
        checks = {c.name: c for c in check_health(store, monitor)}
        assert not checks["notifications"].ok
        assert checks["notifications"].detail == "messages: 1 dead"
        notify_monitor(settings, store, monitor, None, None)
        assert "notifications  opened" in messages(good)[1]
        with store.begin() as conn:  # what `notify cancel` does
            conn.execute(update(notifications).values(status="cancelled"))
        check_health(store, monitor)
        notify_monitor(settings, store, monitor, None, None)
        assert "notifications  resolved" in messages(good)[2]
    assert health_events(store) == [("notifications", "resolved")]


def test_training_failing_in_runs_in_a_row(store) -> None:
    monitor = config("sqlite://", [], health={"training_failures": 2})

    def run(errors: dict[str, str]) -> None:
        run_id = start_run(store, "hosts", None)
        finish_run(store, run_id, "partial", RunStats(details={"errors": errors}))

    run({"a": "training failed: boom"})
    assert {c.name: c.ok for c in check_health(store, monitor)}["training"]
    run({"a": "scoring failed: other"})
    run({"b": "training failed: boom"})
    assert {c.name: c.ok for c in check_health(store, monitor)}["training"]
    run({"b": "training failed: again", "c": "training failed: x"})
    (training,) = [c for c in check_health(store, monitor) if c.name == "training"]
    assert not training.ok
    assert training.detail == "training failed in 2 runs in a row (latest: b, c)"
    assert health_events(store) == [("training", "open")]
