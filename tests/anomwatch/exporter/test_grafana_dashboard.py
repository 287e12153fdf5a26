"""The shipped Grafana dashboard (Grafana itself is not installable here): its JSON has
what Grafana needs, every PromQL query names only metrics the exporter writes and
parses (promtool), and every SQL panel runs on a real store of each backend."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from anomwatch.exporter import render_metrics
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.runs import RunStats, finish_run, register_monitor, start_run
from tests.anomwatch.exporter.dashboard import (
    DASHBOARD,
    METRIC,
    SELECTOR,
    expand_promql,
    expand_sql,
    load,
    panels,
    promql,
    targets,
)
from tests.anomwatch.exporter.scrape import metric_names

T0 = datetime(2026, 11, 20, 12, 0)
QUERY_KEY = {"prometheus": "expr", "grafana-postgresql-datasource": "rawSql"}


def fill(store) -> None:  # type: ignore[no-untyped-def]
    """A monitor with a finished run, two anomalies of one series and a watermark."""
    register_monitor(store, "hosts", "h")
    run_id = start_run(store, "hosts", None)
    records = [
        AnomalyRecord(
            "hosts",
            "host=web-1",
            T0 + timedelta(minutes=m),
            9.0,
            1.0,
            0.0,
            2.0,
            0.9 + m / 100,
            "{}",
            "{}",
            sev,
            None,
        )
        for m, sev in ((0, "warning"), (5, "critical"))
    ]
    persist_tick(store, "hosts", run_id, records, {"host=web-1": T0 + timedelta(minutes=10)})
    finish_run(store, run_id, "succeeded", RunStats(rows_read=10, points_scored=10, anomalies=2))


def test_every_panel_has_a_datasource_and_queries() -> None:
    dash = load()
    assert dash["uid"] == "anomwatch" and dash["title"] and dash["schemaVersion"] >= 30
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["store"]["query"] == "grafana-postgresql-datasource"
    assert variables["monitor"]["multi"] and "allValue" not in variables["monitor"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    shown = panels(dash)
    assert len(shown) >= 12
    for panel in shown:
        where = panel["title"]
        assert panel["type"] in {"stat", "timeseries", "table", "gauge"}, where
        source = panel["datasource"]
        assert source["uid"] in ("${datasource}", "${store}"), where
        assert QUERY_KEY[source["type"]], where
        assert panel["targets"], where
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where
        for target in panel["targets"]:
            assert target["datasource"] == source, where
            assert target[QUERY_KEY[source["type"]]].strip(), where
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, where
    assert targets(dash, "grafana-postgresql-datasource"), "the store's SQL views are shown"


def test_every_promql_metric_is_one_the_exporter_writes(sqlite_databases) -> None:
    from anomwatch.store.db import Store

    store = Store(sqlite_databases.new("store"))
    store.migrate()
    fill(store)
    exported = metric_names(render_metrics(store))
    store.dispose()
    used = set()
    for expr in promql(load()):
        named = set(METRIC.findall(expr)) | set(SELECTOR.findall(expr))
        assert named, expr
        assert named <= exported, f"{expr}: {sorted(named - exported)} not exported"
        used |= named
    # the dashboard shows every family but the duration histogram's _count/_sum
    families = {n for n in exported if not n.endswith(("_count", "_sum"))}
    assert families - used == set(), "exported but on no panel"


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian package `prometheus`)",
)
def test_every_promql_query_parses(tmp_path: Path) -> None:
    """promtool parses each expression (as a recording rule) the way Prometheus will."""
    exprs = [expand_promql(e, ["hosts", "web.cpu-1"]) for e in promql(load())]
    rules = [{"record": f"anomwatch:dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in out.stdout


def test_the_sql_panels_run_on_the_store(store) -> None:
    fill(store)
    register_monitor(store, "orders", "o")  # not chosen: none of its rows may show
    dash = load()
    results = {}
    for target in targets(dash, "grafana-postgresql-datasource"):
        sql = expand_sql(
            target["rawSql"],
            ["hosts"],
            T0 - timedelta(days=1),
            T0 + timedelta(days=1),
            store.engine.dialect.name,
        )
        with store.begin() as conn:
            results[target["rawSql"].split("FROM ")[1].split()[0]] = [
                dict(r) for r in conn.execute(text(sql)).mappings()
            ]
    daily = results["anomaly_daily_counts"]
    assert [
        (str(r["day"])[:10], r["monitor"], int(r["anomalies"]), int(r["critical"])) for r in daily
    ] == [("2026-11-20", "hosts", 2, 1)]
    assert float(daily[0]["max_score"]) == pytest.approx(0.95)
    stats = results["monitor_run_stats"]
    assert [(r["monitor"], r["status"], int(r["runs"]), int(r["anomalies"])) for r in stats] == [
        ("hosts", "succeeded", 1, 2)
    ]
    events = results["events"]
    assert [
        (r["monitor"], r["kind"], r["series"], r["severity"], r["n_points"]) for r in events
    ] == [("hosts", "anomaly", "host=web-1", "critical", 2)]


def test_the_provisioning_files_point_at_the_dashboard() -> None:
    folder = DASHBOARD.parent / "provisioning"
    providers = yaml.safe_load((folder / "dashboards.yml").read_text())["providers"]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"]
    sources = yaml.safe_load((folder / "datasources.yml").read_text())["datasources"]
    types = {s["type"] for s in sources}
    variables = {
        v["name"]: v["query"] for v in load()["templating"]["list"] if v["type"] == "datasource"
    }
    assert set(variables.values()) <= types
    assert all("password" not in s.get("jsonData", {}) for s in sources)
