"""`anomwatch status`: is each monitor healthy, and what is it doing?"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, settings_for
from anomwatch.cli.options import MonitorsOpt


class StatusFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def status(
    monitor: Annotated[str | None, typer.Argument(help="one monitor (default: all)")] = None,
    fmt: Annotated[StatusFormat, typer.Option("--format", help="text or json")] = StatusFormat.text,
    monitors: MonitorsOpt = None,
) -> None:
    """Last run, next run, data lag, open events, outbox, snoozes and health checks.

    Exit code 1 when a monitor is unhealthy (a failing check or an open health event),
    for cron and CI.
    """
    from anomwatch.config import load_monitors
    from anomwatch.errors import UnknownMonitorError
    from anomwatch.status import gather, render_json, render_text

    settings = settings_for(monitors)
    parsed = load_monitors(settings.monitors_file)
    try:
        chosen = [parsed.get(monitor)] if monitor else parsed.monitors
    except UnknownMonitorError as exc:
        fail(str(exc))
    store = open_store(settings)
    try:
        statuses = [gather(store, m) for m in chosen]
    finally:
        store.dispose()
    if fmt == StatusFormat.json:
        typer.echo(render_json(statuses))
    else:
        typer.echo("\n\n".join(render_text(s) for s in statuses))
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)
