"""`anomwatch serve`: run every monitor on its schedule through Prefect, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anomwatch.cli._app import app, fail, settings_for
from anomwatch.cli.options import MonitorsOpt

if TYPE_CHECKING:
    from anomwatch.config import MonitorsFile


@app.command()
def serve(monitors: MonitorsOpt = None) -> None:
    """Run every monitor on its cron schedule in this process (Prefect serve).

    Needs a Prefect API that schedules (PREFECT_API_URL, e.g. `prefect server start`);
    without one it refuses to start rather than wait for runs that never come.
    """
    from anomwatch.cli._prefect import quiet_prefect, require_api
    from anomwatch.config import load_monitors

    settings = settings_for(monitors)
    parsed = load_monitors(settings.monitors_file)
    if not parsed.monitors:
        fail(f"{settings.monitors_file} has no monitors to serve")
    quiet_prefect()
    url = require_api("`serve` would never run a scheduled flow")

    from prefect import serve as prefect_serve

    from flows.deployments import monitor_deployments, taken_by_workers

    deployments = monitor_deployments(parsed, settings.monitors_file)
    for line in taken_by_workers(parsed):
        typer.echo(f"note: {line}", err=True)
    typer.echo(serving_line(parsed, settings.monitors_file, url))
    prefect_serve(*deployments, pause_on_shutdown=False)


def serving_line(parsed: MonitorsFile, monitors_file: Path, url: str) -> str:
    """What `serve` runs: monitors (not deployments: a monitor may also have a retrain)."""
    from flows.deployments import retrained

    count = len(parsed.monitors)
    return (
        f"serving {count} monitor{'' if count == 1 else 's'} "
        f"({len(retrained(parsed))} with a feedback retrain) from {monitors_file} "
        f"on {url}; Ctrl-C to stop"
    )
