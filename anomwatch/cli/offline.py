"""`anomwatch demo` and `detect`: try the detector without a monitor of your own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anomwatch.cli._app import app, open_store, settings_for


@app.command()
def demo(
    ticks: Annotated[int, typer.Option(help="how many 20-minute ticks to simulate")] = 6,
) -> None:
    """Simulated metrics → several monitor ticks → anomalies, plot and a webhook digest."""
    from anomwatch.demo_run import run_demo

    run_demo(settings_for(), ticks)


@app.command()
def detect(
    csv_files: Annotated[list[Path], typer.Argument(help="CSV files with a timestamp column")],
    contamination: Annotated[str, typer.Option(help="fractions, e.g. 0.01,0.02")] = "0.01",
    components: Annotated[str | None, typer.Option(help="e.g. iforest,robust_residual")] = None,
    ts_column: Annotated[str | None, typer.Option(help="default: auto-detected")] = None,
    value_column: Annotated[list[str] | None, typer.Option(help="default: all numeric")] = None,
    label_column: Annotated[str | None, typer.Option(help="0/1: prints P/R/F1/AP")] = None,
    out: Annotated[Path | None, typer.Option(help="plots (default: HOME/plots/detect)")] = None,
    only_anomalies: Annotated[bool, typer.Option(help="store only flagged points")] = False,
) -> None:
    """Offline analysis: score CSV files per contamination; a store table and plots per run."""
    from anomwatch.offline import run_detect

    settings = settings_for()
    code = run_detect(
        csv_files,
        contamination,
        components,
        out or settings.plots_dir / "detect",
        lambda: open_store(settings),
        typer.echo,
        ts_column=ts_column,
        value_columns=value_column or [],
        label_column=label_column,
        only_anomalies=only_anomalies,
    )
    raise typer.Exit(code)
