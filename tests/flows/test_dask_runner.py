"""Batches on a Dask LocalCluster give the same anomalies as the default thread pool."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_monitor_flow import STEP, T0, Deployment, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.store.anomalies import query_anomalies  # noqa: E402
from flows.monitor import monitor_tick  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]


def run_two_ticks(dep: Deployment, flow) -> list[tuple[str, datetime, float]]:  # type: ignore[no-untyped-def]
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + timedelta(hours=1) + STEP))
    for until in (T0, T0 + timedelta(hours=1)):
        result = flow("hosts", monitors_file=str(dep.monitors_file), until=until)
        assert result["status"] == "succeeded"
    found = query_anomalies(dep.store, monitor="hosts", newest_first=False)
    return [(r["series"], r["ts"], round(r["score"], 9)) for r in found]


def test_dask_local_cluster_matches_thread_pool(sqlite_databases, tmp_path, monkeypatch) -> None:
    from prefect_dask import DaskTaskRunner

    for name in ("threads", "dask"):
        (tmp_path / name).mkdir()
    threads = Deployment(sqlite_databases, tmp_path / "threads", monkeypatch, [])
    baseline = run_two_ticks(threads, monitor_tick)
    assert baseline, "the injected spike must be found"

    dask = Deployment(sqlite_databases, tmp_path / "dask", monkeypatch, [])
    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )
    dask_flow = monitor_tick.with_options(task_runner=runner)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "dask" / "home"))
    assert run_two_ticks(dask, dask_flow) == baseline
