"""`anomwatch preview MONITOR --since 30d`: the events a monitor would have sent.

Reads the source, writes a PNG; never opens the store, never sends (anomwatch/preview.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anomwatch.cli._app import app, parse_time_opt, settings_for
from anomwatch.cli.options import MonitorsOpt


@app.command()
def preview(
    monitor: str,
    since: Annotated[str, typer.Option(help="replay rows after this time (ISO or duration ago)")],
    until: Annotated[
        str | None, typer.Option(help="replay rows up to this time (default: now)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value for this replay only; a bare key is a detector setting "
            "(threshold_sigma=4), else retrain.*, events.*, severity.*, notify.*",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="PNG to write (default: $ANOMWATCH_HOME/plots/)")
    ] = None,
    monitors: MonitorsOpt = None,
) -> None:
    """Replay MONITOR's history through its configuration, storing and sending nothing:
    the events it would have sent, events per series per week, and a plot."""
    from anomwatch.config import load_monitors
    from anomwatch.durations import utcnow
    from anomwatch.output import write_rows
    from anomwatch.preview import (
        apply_sets,
        changed_settings,
        draw_preview,
        run_preview,
        severity_floor,
        weekly_rows,
    )

    start = parse_time_opt(since, "since")
    end = parse_time_opt(until, "until") or utcnow().replace(microsecond=0)
    assert start is not None
    settings = settings_for(monitors)
    sets = set_ or []
    config = apply_sets(load_monitors(settings.monitors_file).get(monitor), sets)
    result = run_preview(config, start, end, progress=lambda line: typer.echo(line, err=True))

    sent = result.sent()
    typer.echo(
        f"preview {config.name}: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"{len(result.series)} series, {result.rows_scored:,} rows scored, {result.fits:,} "
        f"model fit(s) (retrain every {_span(config.retrain.every)} on the last "
        f"{_span(config.retrain.window)})"
    )
    if sets:
        typer.echo(f"settings changed for this preview: {', '.join(changed_settings(sets))}")
    floor = severity_floor(config)
    typer.echo(f"\nevents it would have sent: {len(sent)} (severity {floor} and above)")
    if sent:
        write_rows(
            [
                {
                    "series": e.series,
                    "start": e.start,
                    "end": e.end,
                    "peak score": f"{e.peak_score:.4f}",
                    "severity": e.severity,
                    "status": e.status,
                }
                for e in sent
            ],
            ["series", "start", "end", "peak score", "severity", "status"],
            "table",
        )
    quiet = len(result.events) - len(sent)
    if quiet:
        typer.echo(f"({quiet} more event(s) below {floor}: stored, not sent)")
    typer.echo("\nevents sent per series per week (weeks from Monday):")
    rows, columns = weekly_rows(result)
    write_rows(rows, columns, "table")
    if not config.notify.targets:
        typer.echo("note: the monitor has no notify.targets: these events would reach nobody")
    for note in result.notes:
        typer.echo(f"note: {note}")
    name = f"preview-{config.name}-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.png"
    written = draw_preview(result, plot or settings.plots_dir / name)
    typer.echo(f"\nplot: {written}")
    typer.echo("nothing was stored or sent")


def _span(value: object) -> str:
    from datetime import timedelta

    from anomwatch.durations import format_duration

    return format_duration(value) if isinstance(value, timedelta) else str(value)
