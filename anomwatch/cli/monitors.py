"""`anomwatch monitors ...`: inspect monitors.yaml."""

from __future__ import annotations

import typer

from anomwatch.cli._app import app, settings_for
from anomwatch.cli.options import MonitorsOpt

monitors_app = typer.Typer(help="Inspect monitors.yaml.", no_args_is_help=True)
app.add_typer(monitors_app, name="monitors")


@monitors_app.command("validate")
def monitors_validate(monitors: MonitorsOpt = None) -> None:
    """Check monitors.yaml and print each monitor's schedule."""
    from anomwatch.config import load_monitors

    settings = settings_for(monitors)
    parsed = load_monitors(settings.monitors_file)
    for m in parsed.monitors:
        source = m.source.table or "(query)"
        typer.echo(f"ok  {m.name:24} {m.schedule:16} {source}  values={','.join(m.source.values)}")
    typer.echo(f"{len(parsed.monitors)} monitor(s) valid in {settings.monitors_file}")
