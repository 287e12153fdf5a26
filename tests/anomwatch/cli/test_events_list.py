"""`anomwatch events list` and the `event` column of `anomalies list`, on each store
backend, after real ticks over a source with a spike."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.receiver import WebhookReceiver
from tests.anomwatch.cli.conftest import T0, invoke, monitor_spec, write_monitors

SPIKE = Incident("web-2", "cpu", "spike", datetime(2026, 11, 2, 0, 30), 2)


def csv_rows(result) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_events_list_and_the_event_of_each_anomaly(cli_env, databases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = databases.new("src")
    rows = simulate(
        T0, datetime(2026, 11, 3), (SPIKE,), ("web-1", "web-2"), {"cpu": (40.0, 10.0, 2.0)}
    )
    write_rows(source, rows)
    with WebhookReceiver() as hook:
        spec = monitor_spec("hosts", source) | {
            "notify": {"targets": [f"json://127.0.0.1:{hook.port}/h"]}
        }
        path = write_monitors(tmp_path / "m.yaml", spec)
        for until in ("2026-11-02T00:00", "2026-11-02T01:00"):
            assert invoke("run", "hosts", "-m", str(path), "--until", until).exit_code == 0

        opened = csv_rows(
            invoke("events", "list", "--monitor", "hosts", "--open", "--format", "csv")
        )
        spike = [e for e in opened if e["series"] == "host=web-2,metric=cpu"]
        assert len(spike) == 1, opened
        event = spike[0]
        assert event["started_at"] == "2026-11-02 00:30:00"
        assert event["kind"] == "anomaly" and event["status"] == "open"
        assert event["announced"].startswith("digest ")
        assert int(event["points"]) >= 1

        anomalies = csv_rows(invoke("anomalies", "list", "--monitor", "hosts", "--format", "csv"))
        linked = [a for a in anomalies if a["event"] == event["id"]]
        assert linked and all(a["series"] == "host=web-2,metric=cpu" for a in linked)
        assert {a["ts"] for a in linked} >= {"2026-11-02 00:30:00"}

        assert invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T04:00").exit_code == 0
    still_open = csv_rows(invoke("events", "list", "--open", "--format", "csv"))
    assert [e for e in still_open if e["id"] == event["id"]] == []  # resolved now
    every = csv_rows(invoke("events", "list", "--format", "csv"))
    assert [e["status"] for e in every if e["id"] == event["id"]] == ["resolved"]
    before = csv_rows(invoke("events", "list", "--until", "2026-11-02T00:00", "--format", "csv"))
    assert event["id"] not in {e["id"] for e in before}
    table = invoke("events", "list", "--series", "host=web-2*")
    assert table.stdout.splitlines()[0].split() == [
        "id",
        "monitor",
        "kind",
        "series",
        "status",
        "started_at",
        "last_at",
        "resolved_at",
        "severity",
        "peak_score",
        "points",
        "announced",
    ]
    assert table.stderr.endswith(" event(s)\n")


def test_events_list_errors_are_one_line(cli_env) -> None:  # type: ignore[no-untyped-def]
    unknown = invoke("events", "list", "--monitor", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: unknown monitor 'nope'; monitors in the store: (none)\n"
    kind = invoke("events", "list", "--kind", "bogus")
    assert kind.exit_code == 2 and kind.stderr == "error: --kind must be one of anomaly, health\n"
