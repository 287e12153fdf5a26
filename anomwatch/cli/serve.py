"""`anomwatch serve`: run every monitor on its schedule through Prefect."""

from __future__ import annotations

import typer

from anomwatch.cli._app import app, settings_for
from anomwatch.cli.options import MonitorsOpt


@app.command()
def serve(monitors: MonitorsOpt = None) -> None:
    """Run every monitor on its cron schedule in this process (Prefect serve).

    Needs a Prefect API that schedules (PREFECT_API_URL, e.g. `prefect server start`).
    """
    from prefect import serve as prefect_serve

    from anomwatch.config import load_monitors
    from flows.deployments import monitor_deployments

    settings = settings_for(monitors)
    deployments = monitor_deployments(load_monitors(settings.monitors_file), settings.monitors_file)
    typer.echo(f"serving {len(deployments)} monitor(s); Ctrl-C to stop")
    prefect_serve(*deployments, pause_on_shutdown=False)
