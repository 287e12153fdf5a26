"""`anomwatch serve`'s warm runner against a real Prefect API: due runs are claimed,
run in a long-lived worker process (the same one for the next run), recorded in the
store with their flow run id; a worker killed mid-run leaves a Crashed run and a
fresh process for the next one; two runners never run one flow run twice.

SQLite only: the runner is the same for every store (the tick's own store work is
tested on all three backends in test_monitor_flow.py)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import pytest

from anomwatch.config import load_monitors
from anomwatch.demo import simulate, write_rows
from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.runs import list_runs
from flows.deployments import monitor_deployments
from flows.warm_runner import WarmRunner
from tests.anomwatch.cli.conftest import monitor_spec, write_monitors

pytestmark = [pytest.mark.flows, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Store]]:
    """One monitor over two hosts with two days of rows up to now, a migrated store."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    now = utcnow()
    write_rows(
        source,
        simulate(now - timedelta(days=2), now, (), ("a", "b"), {"cpu": (40.0, 10.0, 2.0)}),
    )
    monitor = monitor_spec("warm", source) | {
        "schedule": "0 0 1 1 *",  # the API schedules nothing during the test: runs are made here
        "feedback": {"auto_tune": False},
        "health": {"enabled": False},
    }
    path = write_monitors(tmp_path / "monitors.yaml", monitor)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store_url)
    store = Store(store_url)
    store.migrate()
    yield path, store
    store.dispose()


def make_runner(path: Path, processes: int = 1) -> WarmRunner:
    runner = WarmRunner(
        monitor_deployments(load_monitors(path), path), processes=processes, poll_seconds=0.5
    )
    runner.register()
    runner.start_processes()
    return runner


def due_run(client: Any, runner: WarmRunner) -> UUID:
    """A run of the tick's deployment, scheduled a moment ago."""
    from prefect.states import Scheduled

    (deployment_id,) = [i for i, (_, name) in runner.ids.items() if name == "warm-serve"]
    scheduled = Scheduled(scheduled_time=datetime.now(UTC) - timedelta(seconds=1))
    return client.create_flow_run_from_deployment(deployment_id, state=scheduled).id


def until_idle(client: Any, runner: WarmRunner, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    runner.poll_once(client)
    while runner.running:
        assert time.monotonic() < deadline, "the served run did not finish"
        runner.wait()
        runner.poll_once(client)


def state_of(client: Any, flow_run_id: UUID) -> str:
    return str(client.read_flow_run(flow_run_id).state.type.value)


def workers() -> set[int]:
    """The runner's worker processes (not the test API's server or multiprocessing's
    resource tracker, also children of this process)."""
    found = set()
    for child in psutil.Process().children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            pass
    return found


def stop(runner: WarmRunner) -> None:
    for slot in runner.slots:
        slot.executor.shutdown(wait=True)


def test_due_runs_run_in_one_warm_process_and_land_in_the_store(served) -> None:
    from prefect.client.orchestration import get_client

    path, store = served
    runner = make_runner(path)
    try:
        with get_client(sync_client=True) as client:
            first = due_run(client, runner)
            until_idle(client, runner)
            warm = workers()
            second = due_run(client, runner)
            until_idle(client, runner)
            assert state_of(client, first) == "COMPLETED"
            assert state_of(client, second) == "COMPLETED"
            # warm: the second run went to the process the first one started
            assert workers() == warm and len(warm) == 1
    finally:
        stop(runner)
    recorded = {r["flow_run_id"]: r for r in list_runs(store, "warm")}
    assert set(recorded) >= {str(first), str(second)}
    assert recorded[str(first)]["models_trained"] == 2  # the baseline ran in the worker
    assert recorded[str(second)]["status"] == "succeeded"


def test_a_worker_killed_mid_run_is_reported_crashed_and_replaced(served) -> None:
    from prefect.client.orchestration import get_client

    path, _ = served
    lines: list[str] = []
    runner = make_runner(path)
    runner.echo = lines.append
    try:
        with get_client(sync_client=True) as client:
            victim = due_run(client, runner)
            assert runner.poll_once(client) == 1
            deadline = time.monotonic() + 120
            while state_of(client, victim) != "RUNNING":
                assert time.monotonic() < deadline, "the run never started"
                time.sleep(0.2)
            (worker,) = workers()
            os.kill(worker, signal.SIGKILL)
            until_idle(client, runner)
            assert state_of(client, victim) == "CRASHED"
            assert any("crashed" in line and "worker process died" in line for line in lines)

            after = due_run(client, runner)
            until_idle(client, runner)
            assert state_of(client, after) == "COMPLETED"
            assert worker not in workers() and len(workers()) == 1
    finally:
        stop(runner)


def test_two_runners_never_run_one_flow_run_twice(served) -> None:
    from prefect.client.orchestration import get_client

    path, store = served
    one, two = make_runner(path), make_runner(path)
    try:
        with get_client(sync_client=True) as client:
            flow_run = due_run(client, one)
            claimed = one.poll_once(client) + two.poll_once(client)
            assert claimed == 1
            until_idle(client, one)
            until_idle(client, two)
            assert state_of(client, flow_run) == "COMPLETED"
    finally:
        stop(one)
        stop(two)
    assert [r["flow_run_id"] for r in list_runs(store, "warm")] == [str(flow_run)]


def test_anomwatch_serve_runs_due_runs_and_a_sigterm_lets_the_running_one_finish(
    served, tmp_path: Path
) -> None:
    """The command itself: registers the deployment, runs a due run in a worker, and on
    SIGTERM waits for the run in flight (Completed, not Crashed) and exits 0."""
    import subprocess
    import sys

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import get_current_settings
    from prefect.states import Scheduled

    path, store = served
    api = str(get_current_settings().api.url)
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", "from anomwatch.cli import main; main()"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "serve", "-m", str(path), "--processes", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PREFECT_API_URL": api},
        )
        try:
            with get_client(sync_client=True) as client:
                deadline = time.monotonic() + 120
                while True:
                    assert proc.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "serve never registered its deployment"
                    try:
                        deployment = client.read_deployment_by_name("anomwatch-monitor/warm-serve")
                        break
                    except ObjectNotFound:
                        time.sleep(0.5)
                when = datetime.now(UTC) - timedelta(seconds=1)
                flow_run = client.create_flow_run_from_deployment(
                    deployment.id, state=Scheduled(scheduled_time=when)
                ).id
                while state_of(client, flow_run) != "RUNNING":
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=120) == 0, log.read_text()
                assert state_of(client, flow_run) == "COMPLETED"
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text()
    assert "serving 1 monitor" in output and "with 1 worker process" in output
    assert "stopping: waiting for 1 running flow run(s)" in output and "stopped" in output
    assert [r["flow_run_id"] for r in list_runs(store, "warm")] == [str(flow_run)]
