"""`anomwatch serve`: run every monitor on its schedule through Prefect, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anomwatch.cli._app import app, fail, settings_for
from anomwatch.cli.options import MonitorsOpt

if TYPE_CHECKING:
    from anomwatch.config import MonitorsFile


@app.command()
def serve(
    monitors: MonitorsOpt = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            help="flow runs at once, each in a warm worker process "
            "(default: ANOMWATCH_SERVE_PROCESSES, 2)",
        ),
    ] = None,
) -> None:
    """Run every monitor on its cron schedule from this process.

    Needs a Prefect API that schedules (PREFECT_API_URL, e.g. `prefect server start`);
    without one it refuses to start rather than wait for runs that never come. Runs
    execute in a few long-lived worker processes (not a new Python per run).
    """
    from anomwatch.cli._prefect import quiet_prefect, require_api
    from anomwatch.config import load_monitors

    settings = settings_for(monitors)
    parsed = load_monitors(settings.monitors_file)
    if not parsed.monitors:
        fail(f"{settings.monitors_file} has no monitors to serve")
    quiet_prefect()
    url = require_api("`serve` would never run a scheduled flow")

    from flows.deployments import monitor_deployments, taken_by_workers
    from flows.warm_runner import WarmRunner

    deployments = monitor_deployments(parsed, settings.monitors_file)
    for line in taken_by_workers(parsed):
        typer.echo(f"note: {line}", err=True)
    count = processes or settings.serve_processes
    typer.echo(serving_line(parsed, settings.monitors_file, url, count))
    WarmRunner(
        deployments, processes=count, echo=lambda line: typer.echo(line, err=True)
    ).serve_forever()


def serving_line(parsed: MonitorsFile, monitors_file: Path, url: str, processes: int = 2) -> str:
    """What `serve` runs: monitors (not deployments: a monitor may also have a retrain)."""
    from flows.deployments import retrained

    count = len(parsed.monitors)
    return (
        f"serving {count} monitor{'' if count == 1 else 's'} "
        f"({len(retrained(parsed))} with a feedback retrain) from {monitors_file} "
        f"on {url} with {processes} worker process{'' if processes == 1 else 'es'}; "
        "Ctrl-C to stop"
    )
