"""The outbox as an operator sees it: `notify list/retry/cancel`, messages to removed
targets cancelled with a reason, and `anomalies list` saying why an anomaly was not
notified. Real stores on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from anomwatch.config import parse_monitors
from anomwatch.durations import utcnow
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.outbox import (
    NoisePolicy,
    Target,
    add_snooze,
    create_digest,
    mark_failed,
    mark_sent,
)
from anomwatch.store.outbox_admin import REMOVED_TARGET
from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import anomalies, notifications
from tests.anomwatch.cli.conftest import invoke, write_monitors

T0 = datetime(2026, 11, 20, 12, 0)
URL_A, URL_B = "json://127.0.0.1:9/a", "json://127.0.0.1:9/b"


def record(series: str, minutes: int, severity: str = "critical") -> AnomalyRecord:
    return AnomalyRecord(
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


def targets() -> list[Target]:
    from tasks.notify import configured_targets

    monitor = parse_monitors(
        {
            "monitors": [
                {
                    "name": "m",
                    "source": {
                        "url": "sqlite://",
                        "table": "t",
                        "timestamp": "ts",
                        "values": ["v"],
                    },
                    "notify": {"targets": [URL_A, URL_B]},
                }
            ]
        }
    ).get("m")
    return configured_targets(monitor)


@pytest.fixture
def outbox(cli_env):  # type: ignore[no-untyped-def]
    """Digest 1 (series a) sent to A and dead at B; anomalies waiting behind it."""
    store = cli_env
    register_monitor(store, "m", "h")
    persist_tick(store, "m", None, [record("a", 0)], {})
    digest = create_digest(store, "m", None, targets(), NoisePolicy())
    assert digest is not None
    rows = store_rows(store)
    mark_sent(store, rows[0]["id"], digest)
    mark_failed(store, rows[1]["id"], 0, "HTTP 500 from receiver", timedelta(seconds=60), 1)
    return store


def store_rows(store) -> list[dict]:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return [
            dict(r)
            for r in conn.execute(select(notifications).order_by(notifications.c.id)).mappings()
        ]


def csv_rows(result) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    import csv
    import io

    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_notify_list_shows_each_message_and_filters_by_state(outbox) -> None:
    ids = [r["id"] for r in store_rows(outbox)]
    everything = csv_rows(invoke("notify", "list", "--format", "csv"))
    assert [(int(r["id"]), r["status"], r["attempts"]) for r in everything] == [
        (ids[1], "dead", "1"),  # newest first
        (ids[0], "sent", "1"),
    ]
    assert everything[0]["target"].startswith("json://127.0.0.1:9")
    assert everything[0]["last_error"] == "HTTP 500 from receiver"
    assert [
        int(r["id"]) for r in csv_rows(invoke("notify", "list", "--dead", "--format", "csv"))
    ] == [ids[1]]
    assert csv_rows(invoke("notify", "list", "--pending", "--format", "csv")) == []
    table = invoke("notify", "list")
    assert table.stderr == "2 shown; in the outbox: 0 pending, 1 dead, 0 cancelled, 1 sent\n"
    both = invoke("notify", "list", "--pending", "--dead")
    assert both.exit_code == 2 and both.stderr == "error: give at most one of --pending or --dead\n"


def test_retry_makes_a_dead_message_due_and_refuses_a_sent_one(outbox) -> None:
    sent, dead = (r["id"] for r in store_rows(outbox))
    result = invoke("notify", "retry", str(dead))
    assert result.exit_code == 0, result.output
    assert "1 notification(s) due now; they are sent at the next run of m" in result.stdout
    row = store_rows(outbox)[1]
    assert row["status"] == "pending" and row["next_attempt_at"] <= utcnow()
    again = invoke("notify", "retry", str(sent))
    assert again.exit_code == 2
    assert again.stderr == (
        f"error: notification(s) {sent} were already sent; retrying would send them twice\n"
    )
    unknown = invoke("notify", "retry", "999999")
    assert unknown.exit_code == 2 and "unknown notification id(s): 999999" in unknown.stderr


def test_cancel_keeps_the_reason(outbox) -> None:
    _, dead = (r["id"] for r in store_rows(outbox))
    result = invoke("notify", "cancel", str(dead), "--reason", "channel archived")
    assert result.stdout == "1 notification(s) cancelled\n"
    row = store_rows(outbox)[1]
    assert (row["status"], row["last_error"]) == (
        "cancelled",
        f"cancelled by {getpass.getuser()}: channel archived",
    )


def test_messages_to_targets_removed_from_monitors_yaml_are_cancelled(outbox, settings) -> None:
    from tasks.notify import notify_monitor

    invoke("notify", "retry", str(store_rows(outbox)[1]["id"]))  # B's message is pending again
    only_a = parse_monitors(
        {
            "monitors": [
                {
                    "name": "m",
                    "source": {
                        "url": "sqlite://",
                        "table": "t",
                        "timestamp": "ts",
                        "values": ["v"],
                    },
                    "notify": {"targets": [URL_A]},
                }
            ]
        }
    ).get("m")
    report = notify_monitor(settings, outbox, only_a, None, None)
    assert report.failed == {}  # nothing was attempted for B
    sent, cancelled = store_rows(outbox)
    assert sent["status"] == "sent"
    assert (cancelled["status"], cancelled["last_error"]) == ("cancelled", REMOVED_TARGET)


def test_anomalies_list_says_why_each_was_not_notified(outbox, tmp_path) -> None:
    store = outbox
    persist_tick(store, "m", None, [record("f", 0)], {})
    second = create_digest(store, "m", None, targets(), NoisePolicy())
    assert second is not None
    ids = [r["id"] for r in store_rows(store) if r["digest_id"] == second]
    assert invoke("notify", "cancel", *map(str, ids)).exit_code == 0
    persist_tick(
        store,
        "m",
        None,
        [record("b", 0), record("c", 0, severity="warning"), record("d", 0), record("e", 0)],
        {},
    )
    with store.begin() as conn:
        conn.execute(
            anomalies.update().where(anomalies.c.series == "e").values(suppressed="classifier")
        )
    add_snooze(store, "m", "d", utcnow() + timedelta(hours=1), "me")
    # monitors.yaml: one target that only hears of critical anomalies
    write_monitors(
        tmp_path / "monitors.yaml",
        {
            "name": "m",
            "source": {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]},
            "notify": {"targets": [{"url": URL_A, "min_severity": "critical"}]},
        },
    )
    digest = create_digest(store, "m", None, targets(), NoisePolicy(max_per_hour=1))
    assert digest is None  # the hourly cap: digest 1 was made within the hour
    rows = csv_rows(invoke("anomalies", "list", "--monitor", "m", "--format", "csv"))
    held = {r["series"]: r["held_back"] for r in rows}
    assert held == {
        "a": "",  # notified (sent to A)
        "b": "cap (waits for the next digest)",
        "c": "severity",
        "d": "snoozed",
        "e": "classifier",
        "f": f"undelivered: digest {second} cancelled",
    }
    assert {r["series"] for r in rows if r["notified_at"]} == {"a"}
    notified = csv_rows(invoke("anomalies", "--monitor", "m", "--notified", "--format", "csv"))
    assert [r["series"] for r in notified] == ["a"]
    held_back = csv_rows(invoke("anomalies", "list", "--not-notified", "--format", "csv"))
    assert sorted(r["series"] for r in held_back) == ["b", "c", "d", "e", "f"]
