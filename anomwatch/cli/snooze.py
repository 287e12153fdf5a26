"""`anomwatch snooze` and `unsnooze`: silence a monitor's notifications for a while."""

from __future__ import annotations

from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, settings_for
from anomwatch.durations import utcnow


@app.command()
def snooze(
    monitor: str,
    duration: Annotated[str, typer.Option("--for", help="how long, e.g. 2h")],
    series: Annotated[str | None, typer.Option(help="only this series")] = None,
) -> None:
    """Stop notifications of MONITOR (or one series) for a while; anomalies are still stored."""
    import getpass

    from anomwatch.durations import parse_duration
    from anomwatch.store.outbox import add_snooze

    try:
        length = parse_duration(duration)
    except ValueError as exc:
        fail(f"--for: {exc}")
    until = utcnow() + length
    add_snooze(open_store(settings_for()), monitor, series, until, getpass.getuser())
    what = f"series {series!r} of {monitor}" if series else f"monitor {monitor}"
    typer.echo(f"{what} snoozed until {until:%Y-%m-%d %H:%M} UTC")


@app.command()
def unsnooze(
    monitor: str,
    series: Annotated[str | None, typer.Option(help="only this series")] = None,
) -> None:
    """End the active snoozes of MONITOR (or of one series)."""
    from anomwatch.store.outbox import remove_snoozes

    count = remove_snoozes(open_store(settings_for()), monitor, series)
    typer.echo(f"{count} snooze(s) ended")
