"""`anomwatch anomalies ...`: query stored anomalies and show one with its plot."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from anomwatch.cli._app import (
    app,
    fail,
    open_store,
    parse_range_opts,
    require_known_monitor,
    settings_for,
)
from anomwatch.cli.options import Format, FormatOpt, LimitOpt, MonitorsOpt
from anomwatch.errors import AnomwatchError
from anomwatch.settings import Settings

if TYPE_CHECKING:
    from anomwatch.store.db import Store

anomalies_app = typer.Typer(help="Query stored anomalies.", invoke_without_command=True)
app.add_typer(anomalies_app, name="anomalies")

ANOMALY_COLUMNS = [
    "id",
    "monitor",
    "series",
    "ts",
    "value",
    "expected",
    "lower",
    "upper",
    "score",
    "severity",
    "status",
]
LIST_COLUMNS = [*ANOMALY_COLUMNS, "event", "notified_at", "held_back"]

# The filters of `anomalies` and `anomalies list` (the same command under two names);
# `events list` shares some of them.
MonitorFilter = Annotated[str | None, typer.Option("--monitor", help="monitor name")]
SinceFilter = Annotated[
    str | None, typer.Option("--since", help="ISO time or duration ago, e.g. 24h")
]
UntilFilter = Annotated[str | None, typer.Option("--until", help="ISO time or duration ago")]
SeriesFilter = Annotated[str | None, typer.Option("--series", help="exact series or glob (web-*)")]
MinScoreFilter = Annotated[float | None, typer.Option("--min-score", help="minimum score")]
SeverityFilter = Annotated[str | None, typer.Option("--severity", help="minimum severity")]
STATUSES = ("open", "acknowledged", "false_positive")
StatusFilter = Annotated[
    str | None, typer.Option("--status", help="open/acknowledged/false_positive")
]
NotifiedFilter = Annotated[
    bool | None,
    typer.Option("--notified/--not-notified", help="only notified ones, or only held-back ones"),
]


@anomalies_app.command("list")
def list_anomalies(
    monitor: MonitorFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    series: SeriesFilter = None,
    min_score: MinScoreFilter = None,
    severity: SeverityFilter = None,
    status: StatusFilter = None,
    notified: NotifiedFilter = None,
    limit: LimitOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored anomalies, newest first.

    `held_back` says why an anomaly was not notified: snoozed, repeat, backfill,
    classifier (stored reasons), acknowledged/false_positive, undelivered (its digest's
    messages pending, dead or cancelled: `notify list`), severity (below every target's floor),
    no targets, or cap (the hourly limit: it waits for the next digest).
    """
    from anomwatch.output import write_rows
    from anomwatch.store.anomalies import SEVERITY_RANK, query_anomalies
    from anomwatch.store.outbox_admin import held_back, undelivered_digests

    start, end = parse_range_opts(since, until)
    if severity is not None and severity not in SEVERITY_RANK:
        fail(f"--severity must be one of {', '.join(SEVERITY_RANK)}")
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}")
    store = open_store(settings_for())
    if monitor is not None:
        require_known_monitor(store, monitor)
    rows = query_anomalies(
        store,
        monitor=monitor,
        since=start,
        until=end,
        series=series,
        min_score=min_score,
        min_severity=severity,
        status=status,
        limit=limit,
        notified=notified,
    )
    floors = notify_floors()
    undelivered = undelivered_digests(store, monitor)

    def explain(row: dict[str, Any]) -> dict[str, Any]:
        floor, has_targets = floors.get(row["monitor"], (None, None))
        return row | {
            "event": row["event_id"],
            "held_back": held_back(row, floor, has_targets, undelivered),
        }

    explained = (explain(row) for row in rows)
    count = write_rows(explained, LIST_COLUMNS, fmt.value)
    if fmt is Format.table:
        typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'}", err=True)


def _run_without_subcommand(command: Callable[..., None]) -> Callable[..., None]:
    """`anomalies` alone is `anomalies list`: a group callback with the command's own
    options (one definition of the filters, not a second copy of the signature)."""

    def callback(ctx: typer.Context, **options: Any) -> None:
        if ctx.invoked_subcommand is None:
            command(**options)

    own = inspect.signature(command, eval_str=True)
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    callback.__signature__ = own.replace(  # type: ignore[attr-defined]
        parameters=[context, *own.parameters.values()]
    )
    return callback


anomalies_app.callback()(_run_without_subcommand(list_anomalies))


def notify_floors() -> dict[str, tuple[str | None, bool | None]]:
    """Per configured monitor: the lowest severity any target hears of, and whether it
    has targets at all (for `held_back`); empty when monitors.yaml cannot be read."""
    from anomwatch.config import load_monitors
    from anomwatch.store.anomalies import SEVERITY_RANK

    try:
        parsed = load_monitors(settings_for().monitors_file)
    except AnomwatchError:
        return {}
    floors: dict[str, tuple[str | None, bool | None]] = {}
    for m in parsed.monitors:
        targets = m.notify.target_list()
        levels = [t.min_severity for t in targets] or [m.notify.min_severity]
        floors[m.name] = (min(levels, key=SEVERITY_RANK.__getitem__), bool(targets))
    return floors


@anomalies_app.command("show")
def show_anomaly(
    anomaly_id: int,
    monitors: MonitorsOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="PNG to write (default: plots/<monitor>/anomaly-ID.png)")
    ] = None,
    before: Annotated[int, typer.Option(min=1, help="source rows up to the anomaly")] = 48,
    after: Annotated[int, typer.Option(min=0, help="source rows after the anomaly")] = 24,
) -> None:
    """Print one anomaly (component scores, model version) and plot its series around it.

    The plot reads the monitor's source database; when that is not possible the
    record is still printed, with the reason there is no plot (exit code 0).
    """
    from anomwatch.store.feedback import anomaly_detail

    settings = settings_for(monitors)
    store = open_store(settings)
    detail = anomaly_detail(store, anomaly_id)
    if detail is None:
        fail(f"unknown anomaly id {anomaly_id}")
    extra = [
        "label",
        "labelled_by",
        "suppressed",
        "notified_at",
        "model_id",
        "model_version",
        "model_trained_at",
    ]
    for key in [*ANOMALY_COLUMNS, *extra]:
        typer.echo(f"{key:18} {'' if detail[key] is None else detail[key]}")
    components = sorted(json.loads(detail["components"]).items())
    width = max([18, *(len(f"component {name}") for name, _ in components)])
    for name, score in components:  # scores in one column, whatever the members' names
        typer.echo(f"{'component ' + name:{width}} {score:.6f}")
    path = out or settings.plots_dir / detail["monitor"] / f"anomaly-{anomaly_id}.png"
    typer.echo(f"{'plot':18} {_plot_anomaly(settings, store, detail, path, before, after)}")


def _plot_anomaly(
    settings: Settings, store: Store, detail: dict[str, Any], path: Path, before: int, after: int
) -> str:
    """Write the PNG; returns what to print: its path, or why there is no plot."""
    from anomwatch.anomaly_plot import NoPlot, anomaly_plot
    from anomwatch.config import load_monitors

    try:
        config = load_monitors(settings.monitors_file).get(detail["monitor"])
        plot = anomaly_plot(store, config, detail, before, after)
    except AnomwatchError as exc:
        return f"none: the source cannot be read ({exc})"
    except NoPlot as exc:
        return f"none: {exc}"
    try:
        plot.save(path)
    except OSError as exc:
        return f"none: cannot write {path}: {exc.strerror or exc}"
    return f"{path} ({plot.describe()})"
