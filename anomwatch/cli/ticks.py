"""`anomwatch run`, `retrain` and `backfill`: run a monitor's work once, now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from anomwatch.cli._app import app, debug_enabled, fail, open_store, parse_time_opt, settings_for
from anomwatch.cli.options import MonitorsOpt
from anomwatch.output import new_anomalies

UntilOpt = Annotated[
    str | None, typer.Option(help="score rows up to this time (ISO time or duration ago)")
]


@app.command()
def run(monitor: str, monitors: MonitorsOpt = None, until: UntilOpt = None) -> None:
    """Run one tick of MONITOR now.

    With PREFECT_API_URL set this is a flow run the Prefect UI shows; without it the
    tick's functions run in this process, without a temporary Prefect server.
    """
    end = parse_time_opt(until, "until")
    settings = settings_for(monitors)
    file = str(settings.monitors_file)
    if tracked("this run cannot be recorded in Prefect"):
        from flows.monitor import monitor_tick

        _quiet_flow_logs()
        result = monitor_tick(monitor, monitors_file=file, until=end)
    else:
        from flows.monitor import tick_monitor
        from flows.runtime import plain_steps

        _quiet_flow_logs()
        with plain_steps(settings.max_workers) as steps:
            result = tick_monitor(monitor, file, end, steps)
    for line in run_summary(result):
        typer.echo(line)
    if result["status"] == "failed":
        raise typer.Exit(1)


def run_summary(result: dict[str, Any]) -> list[str]:
    """What a person wants to know after a tick: counts, training, and what went wrong."""
    if result["status"] == "skipped":
        return [f"run {result['run_id']} skipped: {result.get('error')}"]
    lines = [
        f"run {result['run_id']} {result['status']}: {result.get('rows_read', 0):,} rows read, "
        f"{result.get('points_scored', 0):,} points scored, "
        + new_anomalies(result["new_anomalies"])
    ]
    trained = result.get("models_trained", 0)
    if trained and not result.get("points_scored"):
        lines.append(
            f"  trained {trained} model(s): this run's rows were their baseline; "
            "scoring starts with the rows after it"
        )
    elif trained:
        lines.append(f"  trained {trained} model(s)")
    for series in result.get("cold_start", []):
        lines.append(f"  {series}: not enough history for a model yet (cold start)")
    for series, error in sorted(result.get("errors", {}).items()):
        lines.append(f"  {series}: {error}")
    for note in result.get("notes", []):
        lines.append(f"  note: {note}")
    for target, error in sorted((result.get("notify_failed") or {}).items()):
        lines.append(
            f"  sending to {target} failed: {error} (retried at the next runs; "
            "`anomwatch notify list --pending`)"
        )
    return lines


def tracked(why: str) -> bool:
    """True when a Prefect API is configured (and answers); False: run without Prefect."""
    from anomwatch.cli._prefect import api_url, check_api

    url = api_url()
    if url is None:
        return False
    check_api(
        url,
        why,
        "start it (`prefect server start`) or unset PREFECT_API_URL to run without Prefect",
    )
    return True


def _quiet_flow_logs() -> None:
    """The CLI prints the run's outcome and its errors itself; without --debug, Prefect's
    copies of our errors come without tracebacks and the plain logger stays silent."""
    from anomwatch.logs import hide_expected_tracebacks, keep_off_terminal

    if not debug_enabled():
        hide_expected_tracebacks()
        # their errors are in the run's summary; retries (anomwatch.retry) still show
        keep_off_terminal("anomwatch.flow", "anomwatch.notify", "apprise")


@app.command()
def retrain(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Re-tune MONITOR from feedback labels now (the retrain flow) and show what changed."""
    settings = settings_for(monitors)
    file = str(settings.monitors_file)
    if tracked("this retrain cannot be recorded in Prefect"):
        from flows.retrain import retrain as retrain_flow

        _quiet_flow_logs()
        result = retrain_flow(monitor, monitors_file=file)
    else:
        from anomwatch.store.lifecycle import apply_retention
        from flows.retrain import retrain_monitor
        from tasks.retune import retune_from_feedback

        _quiet_flow_logs()
        result = retrain_monitor(monitor, file, retune_from_feedback, apply_retention)
    typer.echo(result["markdown"].rstrip())


@app.command()
def backfill(
    monitor: str,
    since: Annotated[str, typer.Option(help="ISO time or duration ago")],
    until: Annotated[str, typer.Option(help="ISO time or duration ago")] = "0s",
    chunk_rows: Annotated[int, typer.Option(help="rows per chunk (bounds memory)")] = 100_000,
    monitors: MonitorsOpt = None,
) -> None:
    """Score MONITOR's rows in a past range; resumes an interrupted run of the same range."""
    import time

    from anomwatch.config import load_monitors
    from tasks.backfill import BackfillProgress, run_backfill

    start = parse_time_opt(since, "since")
    end = parse_time_opt(until, "until")
    assert start is not None and end is not None
    if end <= start:
        fail("--until must be after --since")
    settings = settings_for(monitors)
    config = load_monitors(settings.monitors_file).get(monitor)
    store = open_store(settings)
    began = time.monotonic()

    def show(p: BackfillProgress) -> None:
        rate = p.rows_read / max(time.monotonic() - began, 1e-9)
        pct = 100.0 * p.rows_read / p.total_rows if p.total_rows else 100.0
        where = f" up to {p.position:%Y-%m-%d %H:%M}" if p.position else ""
        typer.echo(
            f"\r{pct:5.1f}%  {p.rows_read:,}/{p.total_rows:,} rows  {rate:,.0f} rows/s  "
            f"{p.anomalies} anomalies{where}   ",
            err=True,
            nl=False,
        )

    result = run_backfill(config, store, settings.models_dir, start, end, chunk_rows, show)
    typer.echo("", err=True)
    resumed = " (resumed)" if result.resumed else ""
    typer.echo(
        f"backfill {result.backfill_id}{resumed}: {result.rows_read:,} rows, "
        f"{result.points_scored:,} points scored, {new_anomalies(result.anomalies)} "
        f"(stored, not notified)"
    )
