"""Against a real Prometheus (Debian's /usr/bin/prometheus): it scrapes `anomwatch
metrics` every second with the shipped alerting rules loaded; after a tick that stores
anomalies, PromQL through the HTTP API returns the new count, every query of the shipped
Grafana dashboard returns data and the rules evaluate."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from anomwatch.config import MonitorConfig
from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.settings import Settings
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, events
from flows.monitor import run_tick
from tests.anomwatch.exporter.dashboard import expand_promql, load, promql
from tests.anomwatch.exporter.processes import (
    RULES,
    api,
    exporter,
    instant,
    prometheus,
    prometheus_binary,
    wait_for,
)
from tests.monitor_specs import hosts_monitor
from tests.notify_servers import free_port
from tests.plain_tick import use_plain_tasks

T0 = datetime(2026, 11, 20)
CPU = {"cpu": (40.0, 15.0, 2.0)}
INCIDENTS = (  # more anomalous points than events: the two counts differ
    Incident("a", "cpu", "spike", T0 + timedelta(minutes=20), 4),
    Incident("b", "cpu", "spike", T0 + timedelta(minutes=45), 1),
)


def monitor(url: str) -> MonitorConfig:
    return hosts_monitor(url)


def stored(store: Store, table: Table) -> int:
    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.slow
@pytest.mark.skipif(
    prometheus_binary() is None,
    reason="prometheus is not installed (Debian "
    "package `prometheus`; tools/system-packages.sh installs it)",
)
def test_prometheus_scrapes_the_new_anomaly_count_after_a_tick(
    sqlite_databases, monkeypatch, tmp_path: Path
) -> None:
    use_plain_tasks(monkeypatch)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    settings = Settings()
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    source = sqlite_databases.new("src")
    write_rows(
        source,
        simulate(T0 - timedelta(days=2), T0 + timedelta(hours=1), INCIDENTS, ("a", "b"), CPU),
    )
    config = monitor(source)
    run_tick(settings, store, config, T0)  # trains on the history: nothing scored yet
    assert stored(store, anomalies) == 0

    with (
        exporter(store.url, free_port(), tmp_path / "exporter.log") as metrics_url,
        prometheus(metrics_url.split("/")[2], free_port(), tmp_path) as base,
    ):
        query = 'sum(anomwatch_anomalies_total{monitor="hosts"})'
        wait_for(lambda: instant(base, query) == [({}, 0.0)], "the first scrape")

        run_tick(settings, store, config, T0 + timedelta(hours=1))
        new, opened = stored(store, anomalies), stored(store, events)
        assert new > opened >= 2  # both incidents, one event each
        wait_for(lambda: instant(base, query) == [({}, float(new))], f"{new} anomalies", 20)
        assert instant(base, "sum(anomwatch_events_total)") == [({}, float(opened))]
        by_severity = instant(base, 'anomwatch_anomalies_total{monitor="hosts"}')
        assert {m["severity"] for m, _ in by_severity} == {"warning", "critical"}
        assert all(m["job"] == "anomwatch" for m, _ in by_severity)

        # every query of the shipped Grafana dashboard answers with data
        for expr in promql(load()):
            expanded = expand_promql(expr, ["hosts"])
            assert instant(base, expanded), f"no data for {expanded}"

        # the shipped rules are loaded and evaluate without error on the real series
        def evaluated() -> list[dict[str, object]]:
            groups = api(base, "/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r["health"] == "ok" for r in rules) else []

        rules = wait_for(evaluated, "the rules to be evaluated")
        assert {r["name"] for r in rules} >= {
            "AnomwatchStaleData",
            "AnomwatchRunsFailing",
            "AnomwatchDeadNotifications",
        }
        # the source's rows are days old: the stale-data alert is pending (for: 10m)
        alerts = wait_for(lambda: api(base, "/api/v1/alerts")["alerts"], "an alert")
        assert [(a["labels"]["alertname"], a["labels"]["monitor"], a["state"]) for a in alerts] == [
            ("AnomwatchStaleData", "hosts", "pending")
        ]
    store.dispose()


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian package `prometheus`)",
)
def test_promtool_accepts_the_shipped_rules() -> None:
    out = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 6 rules found" in out.stdout
