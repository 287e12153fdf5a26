"""`anomwatch run`, `retrain` and `backfill`: run a monitor's work once, now."""

from __future__ import annotations

from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, parse_time_opt, settings_for
from anomwatch.cli.options import MonitorsOpt
from anomwatch.durations import parse_time


@app.command()
def run(
    monitor: str,
    monitors: MonitorsOpt = None,
    until: Annotated[str | None, typer.Option(help="score rows up to this time (ISO)")] = None,
) -> None:
    """Run one tick of MONITOR now (a Prefect flow run)."""
    from flows.monitor import monitor_tick

    settings = settings_for(monitors)
    result = monitor_tick(
        monitor,
        monitors_file=str(settings.monitors_file),
        until=parse_time(until) if until else None,
    )
    typer.echo(
        f"run {result['run_id']} {result['status']}: {result.get('points_scored', 0)} points "
        f"scored, {result['new_anomalies']} new anomalies"
    )


@app.command()
def retrain(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Re-tune MONITOR from feedback labels now (the retrain flow) and show what changed."""
    from flows.retrain import retrain as retrain_flow

    settings = settings_for(monitors)
    result = retrain_flow(monitor, monitors_file=str(settings.monitors_file))
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
        f"{result.points_scored:,} points scored, {result.anomalies} new anomalies "
        f"(stored, not notified)"
    )
