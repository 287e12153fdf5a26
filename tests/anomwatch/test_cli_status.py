"""`anomwatch status`: what an operator (or cron) sees, and its exit code."""

from __future__ import annotations

import json
from datetime import timedelta

import yaml
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.durations import utcnow
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.runs import RunStats, finish_run, start_run

runner = CliRunner()


def test_status_prints_each_monitor_and_exits_1_when_one_is_unhealthy(
    store, tmp_path, monkeypatch
) -> None:
    now = utcnow().replace(microsecond=0)
    spec = {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]}
    monitors = tmp_path / "monitors.yaml"
    monitors.write_text(
        yaml.safe_dump(
            {
                "monitors": [
                    {"name": "fresh", "source": spec, "health": {"expect_data_every": "1h"}},
                    {"name": "stale", "source": spec, "health": {"expect_data_every": "1h"}},
                ]
            }
        )
    )
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.setenv("ANOMWATCH_MONITORS_FILE", str(monitors))
    for name, age in (("fresh", timedelta(minutes=5)), ("stale", timedelta(hours=3))):
        run_id = start_run(store, name, None)
        finish_run(store, run_id, "succeeded", RunStats(rows_read=7, points_scored=7))
        record = AnomalyRecord(
            name, "s", now - age, 9.0, 1.0, 0.0, 2.0, 0.99, "{}", "{}", "warning", None
        )
        persist_tick(store, name, run_id, [record], {"s": now - age})

    healthy = runner.invoke(app, ["status", "fresh"])
    assert healthy.exit_code == 0, healthy.output
    assert healthy.output.startswith("fresh: healthy\n")
    assert "open events   1\n    anomaly s: open since" in healthy.output

    both = runner.invoke(app, ["status", "--format", "json"])
    assert both.exit_code == 1
    body = json.loads(both.output)
    assert body["healthy"] is False
    assert [(m["monitor"], m["healthy"]) for m in body["monitors"]] == [
        ("fresh", True),
        ("stale", False),
    ]
    stale = body["monitors"][1]
    assert stale["data_lag_seconds"] >= 3 * 3600
    assert [c["check"] for c in stale["health"] if not c["ok"]] == ["no_data"]

    unknown = runner.invoke(app, ["status", "nope"])
    assert unknown.exit_code == 2
    assert "unknown monitor 'nope'" in unknown.output
