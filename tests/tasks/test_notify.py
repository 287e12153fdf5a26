"""The notify step against real HTTP receivers: each outbox row's outcome is recorded
as soon as its own send returns, and every message names its outbox row."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from anomwatch.config import parse_monitors
from anomwatch.notify.targets import masked
from anomwatch.receiver import WebhookReceiver
from anomwatch.settings import Settings
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.outbox import list_notifications
from tasks.notify import NotifyReport, configured_targets, notify_monitor

T0 = datetime(2026, 11, 20, 12, 0)
TIMEOUT = 4.0  # the hanging target is given up on after this
REFERENCE = re.compile(r"anomwatch message (\d+) \(digest (\d+), attempt (\d+)\)$")


def monitor_with(*targets: str):  # type: ignore[no-untyped-def]
    spec = {
        "name": "m",
        "source": {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]},
        "notify": {"targets": list(targets)},
    }
    return parse_monitors({"monitors": [spec]}).get("m")


def add_anomaly(store, minutes: int = 0) -> None:  # type: ignore[no-untyped-def]
    record = AnomalyRecord(
        monitor="m",
        series="host=a",
        ts=T0 + timedelta(minutes=minutes),
        value=9.0,
        expected=1.0,
        lower=0.0,
        upper=2.0,
        score=0.99,
        components="{}",
        feature_values="{}",
        severity="warning",
        model_id=None,
    )
    persist_tick(store, "m", None, [record], {})


def row_status(store, target: str) -> str:  # type: ignore[no-untyped-def]
    (target_id,) = [t.id for t in configured_targets(monitor_with(target))]
    (row,) = [n for n in list_notifications(store, "m") if n["target"] == target_id]
    return str(row["status"])


@pytest.fixture
def quick_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_NOTIFY_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", str(TIMEOUT))
    return Settings()


def test_a_delivered_row_is_marked_sent_while_another_target_still_hangs(
    store, quick_settings: Settings
) -> None:
    """A crash while the slow target is waited for must not resend the fast one's message."""
    add_anomaly(store)
    with WebhookReceiver() as fast, WebhookReceiver(delay=TIMEOUT + 3) as slow:
        fast_url = f"json://127.0.0.1:{fast.port}/fast"
        slow_url = f"json://127.0.0.1:{slow.port}/slow"
        monitor = monitor_with(fast_url, slow_url)
        reports: list[NotifyReport] = []
        worker = threading.Thread(
            target=lambda: reports.append(
                notify_monitor(quick_settings, store, monitor, None, None)
            )
        )
        started = time.monotonic()
        worker.start()
        while not fast.received and time.monotonic() - started < TIMEOUT:
            time.sleep(0.02)
        assert fast.received, "the fast target got nothing"
        # the slow send is still in flight (until TIMEOUT): the fast row must be sent by now
        deadline = started + TIMEOUT - 1.0
        while row_status(store, fast_url) != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        fast_status, still_sending = row_status(store, fast_url), worker.is_alive()
        worker.join(TIMEOUT * 3)
    assert (fast_status, still_sending) == ("sent", True)
    assert row_status(store, slow_url) == "pending"  # timed out: retried on a later tick
    (report,) = reports
    slow_row = next(n for n in list_notifications(store, "m") if n["status"] == "pending")
    assert report.sent == [masked(fast_url)]
    assert list(report.failed) == [f"{masked(slow_url)} (message {slow_row['id']})"]


def test_each_message_names_its_outbox_row_and_attempt(store, quick_settings: Settings) -> None:
    add_anomaly(store)
    with WebhookReceiver(status=500) as hook:
        monitor = monitor_with(f"json://127.0.0.1:{hook.port}/h")
        first = notify_monitor(quick_settings, store, monitor, None, None)
        hook.status = 200
        second = notify_monitor(quick_settings, store, monitor, None, None)
    assert (len(first.failed), len(second.sent)) == (1, 1)
    (row,) = list_notifications(store, "m")
    references = [REFERENCE.search(r.json()["message"]) for r in hook.received]
    assert [m.groups() if m else None for m in references] == [
        (str(row["id"]), str(row["digest_id"]), "1"),
        (str(row["id"]), str(row["digest_id"]), "2"),
    ]
