"""`anomwatch serve`'s runner: scheduled flow runs execute in warm worker processes.

Prefect's own `serve` starts a new Python for every flow run, which imports Prefect,
pandas, scikit-learn and the flows again: about 7 CPU seconds a run, twenty times a
tick's own work, so 100 monitors every 5 minutes would need more than this machine's
two cores for imports alone. Here the deployments are registered and scheduled by
the same API, and a run is claimed as Prefect's runner claims it (Scheduled ->
Pending, where the API enforces the deployment's concurrency limit), but it executes
with Prefect's `run_flow` in one of a few long-lived processes that import everything
once. Each process is its own single-slot pool: one that dies (OOM, SIGKILL) takes
only its own run with it, which is reported as Crashed, and the slot gets a fresh
process. A process is also replaced after `runs_per_process` runs, so a slow leak
cannot grow forever. A run is claimed only when a slot is free, so no claimed run
waits in a queue while its concurrency lease runs out.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

log = logging.getLogger("anomwatch.serve")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# flow name -> (module, attribute): what a worker process imports and runs
FLOWS = {
    "anomwatch-monitor": ("flows.monitor", "monitor_tick"),
    "anomwatch-retrain": ("flows.retrain", "retrain"),
}


def _flow(name: str) -> Any:
    module, attribute = FLOWS[name]
    return getattr(importlib.import_module(module), attribute)


def warm_up(env: dict[str, str]) -> None:
    """A worker process starts: the parent's Prefect API, everything imported once.
    Ctrl-C is the parent's to handle: it lets running ticks finish."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in FLOWS:
        _flow(name)
    importlib.import_module("detector.ensemble")


def execute_flow_run(flow_run_id: str, flow_name: str) -> str:
    """In a worker process: run one claimed flow run to its end; its final state's name."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import Abort, Pause
    from prefect.flow_engine import run_flow

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(flow_run_id))
    try:
        state = run_flow(_flow(flow_name), flow_run=flow_run, return_type="state")
    except (Abort, Pause) as exc:
        return f"Aborted ({exc})"
    return str(getattr(state, "name", state))


def worker_env() -> dict[str, str]:
    """What a worker needs from this process's Prefect settings (which a profile or a
    test harness may set without the environment)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if settings.api.url:
        env["PREFECT_API_URL"] = str(settings.api.url)
    if settings.api.key is not None:
        env["PREFECT_API_KEY"] = settings.api.key.get_secret_value()
    return env


@dataclass
class Running:
    flow_run_id: UUID
    label: str
    future: Future[str]
    began: float


class Slot:
    """One warm worker process: a pool of one, so its death is its own."""

    def __init__(self, env: dict[str, str], runs_per_process: int) -> None:
        self._env = env
        self._runs_per_process = runs_per_process
        self.executor = self._new()
        self.running: Running | None = None

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm_up,
            initargs=(self._env,),
            max_tasks_per_child=self._runs_per_process,
        )

    def replace(self) -> None:
        """After the process died: a fresh one (the broken pool cannot take work)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new()


class WarmRunner:
    """Polls the API for the deployments' due runs and runs them in warm processes."""

    def __init__(
        self,
        deployments: Iterable[Any],
        processes: int = 2,
        poll_seconds: float = 5.0,
        runs_per_process: int = 200,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.deployments = list(deployments)
        self.processes = processes
        self.poll_seconds = poll_seconds
        self.runs_per_process = runs_per_process
        self.echo = echo
        self.ids: dict[UUID, tuple[str, str]] = {}  # deployment id -> (flow name, name)
        self.slots: list[Slot] = []

    def register(self) -> None:
        """Create or update the deployments (their schedules) on the API."""
        for deployment in self.deployments:
            self.ids[deployment.apply()] = (deployment.flow_name, deployment.name)

    def start_processes(self) -> None:
        env = worker_env()
        self.slots = [Slot(env, self.runs_per_process) for _ in range(self.processes)]

    @property
    def running(self) -> list[Running]:
        return [s.running for s in self.slots if s.running is not None]

    def poll_once(self, client: Any) -> int:
        """Reap finished runs, then claim as many due runs as there are free slots."""
        self.reap(client)
        free = [s for s in self.slots if s.running is None]
        if not free or not self.ids:
            return 0
        due = client.get_scheduled_flow_runs_for_deployments(
            deployment_ids=list(self.ids), scheduled_before=datetime.now(UTC)
        )
        due.sort(key=lambda r: r.next_scheduled_start_time or r.expected_start_time or EPOCH)
        started = 0
        for flow_run in due:
            if not free:
                break
            if flow_run.deployment_id not in self.ids:
                continue
            if not claim(client, flow_run.id):
                continue
            flow_name, deployment = self.ids[flow_run.deployment_id]
            slot = free.pop(0)
            future = slot.executor.submit(execute_flow_run, str(flow_run.id), flow_name)
            slot.running = Running(
                flow_run.id, f"{deployment} run {flow_run.name!r}", future, time.monotonic()
            )
            started += 1
        return started

    def reap(self, client: Any) -> None:
        """Finished runs leave their slots; a dead process's run is reported Crashed."""
        for slot in self.slots:
            run = slot.running
            if run is None or not run.future.done():
                continue
            slot.running = None
            seconds = time.monotonic() - run.began
            try:
                outcome = run.future.result()
            except BrokenProcessPool:
                slot.replace()
                message = "its anomwatch serve worker process died (killed or out of memory)"
                self.echo(f"warning: {run.label} crashed after {seconds:.0f} s: {message}")
                report_crashed(client, run.flow_run_id, message)
                continue
            except Exception as exc:  # noqa: BLE001 - the engine failed outside the flow
                message = f"{type(exc).__name__}: {exc}"
                self.echo(f"warning: {run.label} crashed after {seconds:.0f} s: {message}")
                report_crashed(client, run.flow_run_id, message)
                continue
            if outcome != "Completed":
                self.echo(f"warning: {run.label} ended {outcome} after {seconds:.0f} s")

    def wait(self) -> None:
        """Until a running flow run ends or the poll interval passes."""
        futures = [r.future for r in self.running]
        if futures:
            wait(futures, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
        else:
            time.sleep(self.poll_seconds)  # a signal's KeyboardInterrupt still ends it

    def serve_forever(self) -> None:
        """Register, start the processes, poll until Ctrl-C or SIGTERM, then let running
        runs finish (a second Ctrl-C abandons them, reported as Crashed)."""
        from prefect.client.orchestration import get_client

        self.register()
        self.start_processes()
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            with get_client(sync_client=True) as client:
                try:
                    while True:
                        try:
                            while self.poll_once(client):
                                pass  # slots were free and runs were due: look again
                        except Exception as exc:  # noqa: BLE001 - the API may be restarting
                            self.echo(f"warning: polling the Prefect API failed ({exc}); retrying")
                        self.wait()
                except KeyboardInterrupt:
                    self.stop(client)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def stop(self, client: Any) -> None:
        running = self.running
        if running:
            self.echo(
                f"stopping: waiting for {len(running)} running flow run(s) to finish "
                "(Ctrl-C again to abandon them)"
            )
        try:
            for slot in self.slots:
                slot.executor.shutdown(wait=True)
            self.reap(client)
        except KeyboardInterrupt:
            for child in multiprocessing.active_children():
                child.terminate()
            for run in self.running:
                report_crashed(client, run.flow_run_id, "anomwatch serve was stopped")
                self.echo(f"abandoned {run.label}")
        self.echo("stopped")


def claim(client: Any, flow_run_id: UUID) -> bool:
    """Scheduled -> Pending: False when another runner took it or the deployment's
    concurrency limit is full (the API then reschedules it)."""
    from prefect.exceptions import Abort
    from prefect.states import Pending
    from prefect.utilities.engine import propose_state_sync

    try:
        state = propose_state_sync(client, Pending(), flow_run_id=flow_run_id)
    except Abort:
        return False
    return bool(state.is_pending())


def report_crashed(client: Any, flow_run_id: UUID, message: str) -> None:
    from prefect.exceptions import Abort, ObjectNotFound
    from prefect.states import Crashed
    from prefect.utilities.engine import propose_state_sync

    try:
        propose_state_sync(client, Crashed(message=message), flow_run_id=flow_run_id)
    except (Abort, ObjectNotFound):
        pass
    except Exception as exc:  # noqa: BLE001 - the API may be down; the run stays as it was
        log.warning("could not report flow run %s as crashed: %s", flow_run_id, exc)
