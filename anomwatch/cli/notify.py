"""`anomwatch notify ...`: notification targets and the outbox."""

from __future__ import annotations

import typer

from anomwatch.cli._app import app, fail, settings_for
from anomwatch.cli.options import MonitorsOpt

notify_app = typer.Typer(help="Notification targets.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Send a sample digest to MONITOR's targets and report each target's outcome."""
    from anomwatch.config import load_monitors
    from anomwatch.notify.sample import send_sample_digest

    settings = settings_for(monitors)
    config = load_monitors(settings.monitors_file).get(monitor)
    if not config.notify.targets:
        fail(f"monitor {monitor!r} has no notify.targets")
    failures = 0
    for label, outcome in send_sample_digest(config, settings.notify_timeout_seconds):
        if outcome.ok:
            typer.echo(f"ok      {label}")
        else:
            failures += 1
            typer.echo(f"FAILED  {label}: {outcome.error}")
    if failures:
        raise typer.Exit(1)
