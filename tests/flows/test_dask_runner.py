"""Batches on Dask: the runner comes from the settings, the batch tasks really run on
the cluster's workers, and the anomalies equal the default thread pool's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_monitor_flow import STEP, T0, Deployment, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.store.anomalies import query_anomalies  # noqa: E402
from flows.monitor import configured_task_runner, monitor_tick  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
BATCH_TASK = "process_batch"  # the Dask key prefix of tasks/batch.py batch_task (its function)


def run_two_ticks(dep: Deployment, flow) -> list[tuple[str, datetime, float]]:  # type: ignore[no-untyped-def]
    dep.use()
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + timedelta(hours=1) + STEP))
    for until in (T0, T0 + timedelta(hours=1)):
        result = flow("hosts", monitors_file=str(dep.monitors_file), until=until)
        assert result["status"] == "succeeded"
    found = query_anomalies(dep.store, monitor="hosts", newest_first=False)
    return [(r["series"], r["ts"], round(r["score"], 9)) for r in found]


def test_configured_task_runner_follows_the_settings(monkeypatch) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    monkeypatch.delenv("ANOMWATCH_TASK_RUNNER", raising=False)
    monkeypatch.delenv("ANOMWATCH_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("ANOMWATCH_MAX_WORKERS", "3")
    threads = configured_task_runner()
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3

    monkeypatch.setenv("ANOMWATCH_TASK_RUNNER", "dask")
    local = configured_task_runner()
    assert isinstance(local, DaskTaskRunner)
    assert local.address is None and local.cluster_kwargs == {"n_workers": 3}

    monkeypatch.setenv("ANOMWATCH_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    remote = configured_task_runner()
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"


def test_the_deployed_flow_takes_its_runner_from_anomwatch_task_runner() -> None:
    """The flow's runner is fixed when flows.monitor is imported (as a worker does)."""
    probe = "from flows.monitor import monitor_tick; print(type(monitor_tick.task_runner).__name__)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "ANOMWATCH_TASK_RUNNER": "dask"}
    env.pop("ANOMWATCH_DASK_ADDRESS", None)
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "DaskTaskRunner", out.stderr[-2000:]


def test_batches_run_on_the_dask_cluster_and_match_the_thread_pool(
    sqlite_databases, tmp_path, monkeypatch
) -> None:
    from distributed import LocalCluster

    for name in ("threads", "dask"):
        (tmp_path / name).mkdir()
    threads = Deployment(sqlite_databases, tmp_path / "threads", monkeypatch, [])
    baseline = run_two_ticks(threads, monitor_tick)
    assert baseline, "the injected spike must be found"

    dask = Deployment(sqlite_databases, tmp_path / "dask", monkeypatch, [])
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        monkeypatch.setenv("ANOMWATCH_TASK_RUNNER", "dask")
        monkeypatch.setenv("ANOMWATCH_DASK_ADDRESS", cluster.scheduler_address)
        dask_flow = monitor_tick.with_options(task_runner=configured_task_runner())
        assert run_two_ticks(dask, dask_flow) == baseline
        # the scheduler saw the batch tasks: they ran in its worker processes
        prefixes = set(cluster.scheduler.task_prefixes)
    assert BATCH_TASK in prefixes, sorted(prefixes)
