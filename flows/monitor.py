"""The scheduled tick of one monitor: extract → fit/reuse → score → persist → notify → report."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from anomwatch.config import MonitorConfig, load_monitors
from anomwatch.durations import to_naive_utc, utcnow
from anomwatch.errors import AnomwatchError, ConfigError, MonitorLockedError
from anomwatch.health import STEP_KEY, RunOutcome, check_health, data_step, training_failures
from anomwatch.logs import hide_expected_tracebacks
from anomwatch.settings import Settings
from anomwatch.source import TS_COLUMN
from anomwatch.store.db import Store
from anomwatch.store.locks import monitor_lock
from anomwatch.store.runs import (
    RunStats,
    abandon_stale_runs,
    finish_run,
    record_failed_run,
    register_monitor,
    start_run,
)
from flows.runtime import TickSteps, flow_run_id, flow_run_url, run_logger
from tasks.batch import BatchResult, batch_task, merge_results
from tasks.extract import TickData, extract_task
from tasks.fit import prepare_shared_task
from tasks.notify import notify_task
from tasks.persist import persist_task
from tasks.report import anomaly_table_rows, plot_task, run_markdown
from tasks.score import ScoredBatch


def prefect_steps() -> TickSteps:
    """The tick's steps as Prefect tasks (looked up at call time, so tests can swap them)."""
    return TickSteps(
        extract=extract_task,
        prepare_shared=prepare_shared_task,
        submit_batch=batch_task.submit,
        persist=persist_task,
        plot=plot_task,
        notify=notify_task,
    )


def _process(
    monitor: MonitorConfig, settings: Settings, store: Store, tick: TickData, steps: TickSteps
) -> BatchResult:
    """Submit one task per batch to the flow's task runner and merge what comes back.

    A batch that fails unexpectedly costs only its own series: they keep their
    watermarks and are redone on the next tick.
    """
    training = [w for w in tick.work.values() if w.history is not None]
    if monitor.lstm_sharing == "per_monitor" and training:
        steps.prepare_shared(monitor, store, settings.models_dir, training)
    batches = tick.batches(monitor.batch_size)
    futures = [
        steps.submit_batch(monitor, store.url, settings.models_dir, batch, tick.min_score)
        for batch in batches
    ]
    results = []
    for batch, future in zip(batches, futures, strict=True):
        try:
            results.append(future.result())
        except Exception as exc:  # noqa: BLE001 - isolate the failing batch
            message = f"batch failed: {type(exc).__name__}: {exc}"
            results.append(
                BatchResult(scored=ScoredBatch(), errors={w.series: message for w in batch})
            )
    return merge_results(results)


def run_tick(
    settings: Settings,
    store: Store,
    monitor: MonitorConfig,
    until: datetime | None = None,
    steps: TickSteps | None = None,
) -> dict[str, Any]:
    """One tick under the monitor's lock; every outcome is recorded in `runs`."""
    steps = steps or prefect_steps()
    log = run_logger()
    until = to_naive_utc(until) if until else utcnow()
    register_monitor(store, monitor.name, monitor.config_hash())
    run_id = start_run(store, monitor.name, flow_run_id())
    stats = RunStats()
    try:
        with monitor_lock(store, monitor.name, timedelta(seconds=settings.lock_timeout_seconds)):
            abandon_stale_runs(store, monitor.name, run_id)
            tick = steps.extract(monitor, store, until)
            stats.rows_read = tick.rows_read
            result = _process(monitor, settings, store, tick, steps)
            scored = result.scored
            new_ids = steps.persist(store, monitor.name, run_id, scored)
            plot = steps.plot(
                monitor, scored, settings.plots_dir / monitor.name / f"run-{run_id}.png"
            )
            step = data_step(w.rows[TS_COLUMN].to_numpy() for w in tick.work.values())
            outcome = RunOutcome(training_failures(result.errors))
            check_health(store, monitor, until, step, outcome)
            report = steps.notify(settings, store, monitor, run_id, plot, flow_run_url())
    except MonitorLockedError as exc:
        finish_run(store, run_id, "skipped", stats, str(exc))
        log.warning(str(exc))
        return {"run_id": run_id, "status": "skipped", "new_anomalies": 0, "error": str(exc)}
    except AnomwatchError as exc:
        finish_run(store, run_id, "failed", stats, str(exc))
        log.error("monitor %s failed: %s", monitor.name, exc)
        _tell_health(settings, store, monitor, run_id, until, steps)
        raise
    except Exception as exc:
        finish_run(store, run_id, "failed", stats, f"{type(exc).__name__}: {exc}")
        _tell_health(settings, store, monitor, run_id, until, steps)
        raise

    window = tick.read_window(scored.marks)
    stats.series = len(tick.work)
    stats.points_scored = scored.points_scored
    stats.anomalies = len(new_ids)
    stats.models_trained = len(result.trained)
    stats.cold_start = len(result.cold_start)
    stats.details = {
        "cold_start": result.cold_start,
        "seasonality": result.seasonality,
        "errors": result.errors,
        "notes": tick.notes,
        "late_rows": tick.late,
        "read_window": window.to_json() if window else None,
        "notified": report.sent,
        "notify_failed": report.failed,
        "plot": str(plot) if plot else None,
        STEP_KEY: step.total_seconds() if step else None,
    }
    reasons = partial_reasons(result.errors, report.failed)
    status = "partial" if reasons else "succeeded"
    finish_run(store, run_id, status, stats, "; ".join(reasons) or None)
    notes = (
        tick.notes
        + [f"{s}: {e}" for s, e in result.errors.items()]
        + [f"{s}: cold start ({m})" for s, m in result.cold_start.items()]
        + [f"{s}: {m}" for s, m in result.seasonality.items() if "cold start" in m]
        + [f"delivery to {t} failed: {e}" for t, e in sorted(report.failed.items())]
    )
    _publish(
        store, monitor.name, run_markdown(monitor, run_id, stats, scored, new_ids, notes), new_ids
    )
    log.info(
        "monitor %s run %s: %s rows, %s points scored, %s new anomalies",
        monitor.name,
        run_id,
        stats.rows_read,
        stats.points_scored,
        len(new_ids),
    )
    return {
        "run_id": run_id,
        "status": status,
        "rows_read": stats.rows_read,
        "points_scored": stats.points_scored,
        "new_anomalies": len(new_ids),
        "anomaly_ids": new_ids,
        "models_trained": stats.models_trained,
        "cold_start": sorted(result.cold_start),
        "errors": result.errors,
        "late_rows": tick.late,
        "notes": tick.notes,
        "notified": report.sent,
        "notify_failed": report.failed,
        "plot": str(plot) if plot else None,
        "error": "; ".join(reasons) or None,
    }


def partial_reasons(series_errors: dict[str, str], notify_failed: dict[str, str]) -> list[str]:
    """Why a run that finished is `partial`: series it could not score, messages it
    could not deliver (kept in the outbox and retried; `anomwatch notify list --pending`)."""
    reasons = []
    if series_errors:
        first = min(series_errors)
        more = f" and {len(series_errors) - 1} more" if len(series_errors) > 1 else ""
        reasons.append(f"series {first}{more} failed: {series_errors[first]}")
    reasons += [
        f"delivery to {target} failed: {error}" for target, error in sorted(notify_failed.items())
    ]
    return reasons


def _tell_health(
    settings: Settings,
    store: Store,
    monitor: MonitorConfig,
    run_id: int,
    until: datetime,
    steps: TickSteps,
) -> None:
    """After a failed run: open health events (failed runs in a row) and send them.

    Best effort: the run has failed already, and the store may be what broke.
    """
    try:
        check_health(store, monitor, until)
        # the run's own steps: plain functions outside Prefect (no temporary server)
        steps.notify(settings, store, monitor, run_id, None, flow_run_url())
    except Exception as exc:  # noqa: BLE001 - the run's own error is the one to raise
        run_logger().warning(
            "monitor %s: health check after the failure failed: %s", monitor.name, exc
        )


def _publish(store: Store, monitor: str, markdown: str, new_ids: list[int]) -> None:
    """Prefect artifacts of the run; skipped when not inside a flow run."""
    if flow_run_id() is None:
        return
    create_markdown_artifact(markdown=markdown, key=f"{monitor}-run", description="anomwatch run")
    if new_ids:
        create_table_artifact(
            table=anomaly_table_rows(store, new_ids),
            key=f"{monitor}-anomalies",
            description="new anomalies (ids for `anomwatch anomalies show ID`)",
        )


def configured_task_runner(settings: Settings | None = None) -> Any:
    """The task runner named in settings (ANOMWATCH_TASK_RUNNER, ANOMWATCH_DASK_ADDRESS)."""
    settings = settings or Settings()
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.max_workers})
    return ThreadPoolTaskRunner(max_workers=settings.max_workers)


@flow(name="anomwatch-monitor", log_prints=False, task_runner=configured_task_runner())
def monitor_tick(
    monitor: str, monitors_file: str | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Scheduled entry point: one tick of one monitor from monitors.yaml."""
    hide_expected_tracebacks()
    return tick_monitor(monitor, monitors_file, until)


def tick_monitor(
    monitor: str,
    monitors_file: str | None = None,
    until: datetime | None = None,
    steps: TickSteps | None = None,
) -> dict[str, Any]:
    """The flow's body: load the monitor, check the store, run one tick."""
    settings = Settings()
    path = Path(monitors_file) if monitors_file else settings.monitors_file
    store = Store(settings.resolved_store_url)
    try:
        store.require_migrated()
        try:
            config = load_monitors(path).get(monitor)
        except ConfigError as exc:
            record_failed_run(store, monitor, flow_run_id(), str(exc))
            raise
        return run_tick(settings, store, config, until, steps)
    finally:
        store.dispose()
