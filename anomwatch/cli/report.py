"""`anomwatch report`: a self-contained HTML report of one monitor's anomalies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from anomwatch.cli._app import (
    app,
    fail,
    open_store,
    parse_time_opt,
    require_known_monitor,
    settings_for,
)
from anomwatch.cli.options import MonitorsOpt
from anomwatch.durations import utcnow
from anomwatch.errors import AnomwatchError

DEFAULT_SPAN = timedelta(days=7)


@app.command()
def report(
    monitor: Annotated[str, typer.Option(help="monitor name")],
    since: Annotated[
        str | None,
        typer.Option(help="ISO time or duration ago (default: 7 days before --until)"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="ISO time or duration ago (default: the newest anomaly's time, or now "
            "when --since is given)"
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    monitors: MonitorsOpt = None,
) -> None:
    """Write a self-contained HTML report of MONITOR's anomalies.

    Without --since/--until it covers the 7 days up to the monitor's newest anomaly,
    so late or replayed data is reported, not an empty last week. Plots of the top
    series read the monitor's source (from monitors.yaml); when that is not possible
    the report says why and has every other section.
    """
    from anomwatch.config import MonitorConfig, load_monitors
    from anomwatch.report import write_report
    from anomwatch.store.inventory import newest_anomaly_ts

    start = parse_time_opt(since, "since")
    end = parse_time_opt(until, "until")
    settings = settings_for(monitors)
    store = open_store(settings)
    require_known_monitor(store, monitor)
    anchor = ""
    if end is None and start is None:
        newest = newest_anomaly_ts(store, monitor)
        end = newest or utcnow()
        anchor = " (the 7 days up to its newest anomaly)" if newest else " (no anomalies yet)"
    end = end or utcnow()
    start = start or end - DEFAULT_SPAN
    if end < start:
        fail(f"--until ({end:%Y-%m-%d %H:%M}) is before --since ({start:%Y-%m-%d %H:%M})")
    config: MonitorConfig | str
    try:
        config = load_monitors(settings.monitors_file).get(monitor)
    except AnomwatchError as exc:
        config = f"the monitor's source is unknown ({exc})"
    try:
        path = write_report(store, monitor, start, end, out, config)
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")
    typer.echo(
        f"report written to {path} ({path.stat().st_size:,} bytes): "
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC{anchor}"
    )
