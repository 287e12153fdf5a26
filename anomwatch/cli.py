"""The `anomwatch` command line.

Expected errors (bad config, unknown monitor, unreachable database, bad input)
print one clear line and exit with code 2, without a traceback. Flow-running
commands import Prefect lazily so quick commands stay quick.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from anomwatch.durations import parse_time, utcnow
from anomwatch.errors import AnomwatchError
from anomwatch.settings import Settings
from anomwatch.store.db import Store


class _Commands(TyperGroup):
    """Expected errors become one `error:` line and exit code 2, never a traceback."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AnomwatchError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="Scheduled anomaly detection for metrics in SQL databases.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
monitors_app = typer.Typer(help="Inspect monitors.yaml.", no_args_is_help=True)
app.add_typer(monitors_app, name="monitors")
anomalies_app = typer.Typer(help="Query stored anomalies.", invoke_without_command=True)
app.add_typer(anomalies_app, name="anomalies")
notify_app = typer.Typer(help="Notification targets.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


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

# The filters of `anomalies` and `anomalies list` (the same command under two names).
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
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="at most this many rows")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table, csv or json")]

MonitorsOpt = Annotated[
    Path | None, typer.Option("--monitors", "-m", help="monitors.yaml (default: settings)")
]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(monitors: Path | None = None) -> Settings:
    settings = Settings()
    if monitors is not None:
        settings = settings.model_copy(update={"monitors_file": monitors})
    return settings


def _store(settings: Settings, require_migrated: bool = True) -> Store:
    store = Store(settings.resolved_store_url)
    if require_migrated:
        store.require_migrated()
    return store


@app.command()
def init() -> None:
    """Create or upgrade the store (alembic upgrade head)."""
    settings = _settings()
    store = _store(settings, require_migrated=False)
    before = store.current_revision()
    store.migrate()
    typer.echo(
        f"store {store.masked_url}: schema at revision {store.current_revision()} "
        f"(was {before or 'empty'})"
    )


@monitors_app.command("validate")
def monitors_validate(monitors: MonitorsOpt = None) -> None:
    """Check monitors.yaml and print each monitor's schedule."""
    from anomwatch.config import load_monitors

    settings = _settings(monitors)
    parsed = load_monitors(settings.monitors_file)
    for m in parsed.monitors:
        source = m.source.table or "(query)"
        typer.echo(f"ok  {m.name:24} {m.schedule:16} {source}  values={','.join(m.source.values)}")
    typer.echo(f"{len(parsed.monitors)} monitor(s) valid in {settings.monitors_file}")


@app.command()
def run(
    monitor: str,
    monitors: MonitorsOpt = None,
    until: Annotated[str | None, typer.Option(help="score rows up to this time (ISO)")] = None,
) -> None:
    """Run one tick of MONITOR now (a Prefect flow run)."""
    from flows.monitor import monitor_tick

    settings = _settings(monitors)
    result = monitor_tick(
        monitor,
        monitors_file=str(settings.monitors_file),
        until=parse_time(until) if until else None,
    )
    typer.echo(
        f"run {result['run_id']} {result['status']}: {result.get('points_scored', 0)} points "
        f"scored, {result['new_anomalies']} new anomalies"
    )


@app.command()
def retrain(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Re-tune MONITOR from feedback labels now (the retrain flow) and show what changed."""
    from flows.retrain import retrain as retrain_flow

    settings = _settings(monitors)
    result = retrain_flow(monitor, monitors_file=str(settings.monitors_file))
    typer.echo(result["markdown"].rstrip())


@app.command()
def serve(monitors: MonitorsOpt = None) -> None:
    """Run every monitor on its cron schedule in this process (Prefect serve).

    Needs a Prefect API that schedules (PREFECT_API_URL, e.g. `prefect server start`).
    """
    from prefect import serve as prefect_serve

    from anomwatch.config import load_monitors
    from flows.deployments import monitor_deployments

    settings = _settings(monitors)
    deployments = monitor_deployments(load_monitors(settings.monitors_file), settings.monitors_file)
    typer.echo(f"serving {len(deployments)} monitor(s); Ctrl-C to stop")
    prefect_serve(*deployments, pause_on_shutdown=False)


def _require_known_monitor(store: Store, monitor: str) -> None:
    from anomwatch.store.runs import known_monitors

    names = known_monitors(store)
    if monitor not in names:
        fail(f"unknown monitor {monitor!r}; monitors in the store: {', '.join(names) or '(none)'}")


def _parse_time_opt(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        fail(f"--{name}: {exc}")
    return None


@anomalies_app.callback()
def anomalies_default(
    ctx: typer.Context,
    monitor: MonitorFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    series: SeriesFilter = None,
    min_score: MinScoreFilter = None,
    severity: SeverityFilter = None,
    status: StatusFilter = None,
    limit: LimitOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored anomalies, newest first (same as `anomalies list`)."""
    if ctx.invoked_subcommand is not None:
        return
    list_anomalies(monitor, since, until, series, min_score, severity, status, limit, fmt)


@anomalies_app.command("list")
def list_anomalies(
    monitor: MonitorFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    series: SeriesFilter = None,
    min_score: MinScoreFilter = None,
    severity: SeverityFilter = None,
    status: StatusFilter = None,
    limit: LimitOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored anomalies, newest first."""
    from anomwatch.output import write_rows
    from anomwatch.store.anomalies import SEVERITY_RANK, query_anomalies

    start = _parse_time_opt(since, "since")
    end = _parse_time_opt(until, "until")
    if start and end and end < start:
        fail(f"--until ({end:%Y-%m-%d %H:%M}) is before --since ({start:%Y-%m-%d %H:%M})")
    if severity is not None and severity not in SEVERITY_RANK:
        fail(f"--severity must be one of {', '.join(SEVERITY_RANK)}")
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}")
    store = _store(_settings())
    if monitor is not None:
        _require_known_monitor(store, monitor)
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
    )
    count = write_rows(rows, ANOMALY_COLUMNS, fmt.value)
    if fmt is Format.table:
        typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'}", err=True)


@notify_app.command("test")
def notify_test(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Send a sample digest to MONITOR's targets and report each target's outcome."""
    from anomwatch.config import load_monitors
    from anomwatch.notify.sample import send_sample_digest

    settings = _settings(monitors)
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


def _ids_exist(store: Store, ids: list[int]) -> None:
    from anomwatch.store.feedback import missing_ids

    missing = missing_ids(store, ids)
    if missing:
        fail(f"unknown anomaly id(s): {', '.join(map(str, missing))}")


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
    import json

    from anomwatch.store.feedback import anomaly_detail

    settings = _settings(monitors)
    store = _store(settings)
    detail = anomaly_detail(store, anomaly_id)
    if detail is None:
        fail(f"unknown anomaly id {anomaly_id}")
        return
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
    for name, score in sorted(json.loads(detail["components"]).items()):
        typer.echo(f"component {name:8} {score:.6f}")
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


@anomalies_app.command("ack")
def ack_anomalies(
    ids: list[int], by: Annotated[str | None, typer.Option(help="who (default: $USER)")] = None
) -> None:
    """Acknowledge anomalies (status open → acknowledged)."""
    import getpass

    from anomwatch.store.feedback import acknowledge

    store = _store(_settings())
    _ids_exist(store, ids)
    count = acknowledge(store, ids, by or getpass.getuser())
    typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'} acknowledged")


@anomalies_app.command("label")
def label_anomalies(
    ids: list[int],
    false_positive: Annotated[bool, typer.Option("--false-positive/--true-positive")] = ...,  # type: ignore[assignment]
    by: Annotated[str | None, typer.Option(help="who (default: $USER)")] = None,
) -> None:
    """Label anomalies as true or false positives (feeds threshold tuning)."""
    import getpass

    from anomwatch.store.feedback import label

    store = _store(_settings())
    _ids_exist(store, ids)
    verdict = "false_positive" if false_positive else "true_positive"
    count = label(store, ids, verdict, by or getpass.getuser())
    typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'} labelled {verdict}")


class ClassifierKind(StrEnum):
    tree = "tree"
    gradient_boosting = "gradient-boosting"


@anomalies_app.command("tune")
def tune_anomalies(
    monitor: str,
    min_labels: Annotated[int, typer.Option(help="labels needed before tuning")] = 20,
    classifier: Annotated[
        ClassifierKind | None,
        typer.Option(help="also train a classifier on the component scores"),
    ] = None,
    by: Annotated[str | None, typer.Option(help="who (default: $USER)")] = None,
) -> None:
    """Re-choose MONITOR's score threshold from feedback labels (F1-optimal); later ticks use it.

    With --classifier, also fit a decision tree or gradient boosting model on the
    labelled anomalies' component scores; later ticks store the points it predicts
    to be false positives with suppressed=classifier (kept, never notified).
    """
    import getpass

    from anomwatch.store.tuning import Setting, tune_threshold

    settings = _settings()
    store = _store(settings)
    _require_known_monitor(store, monitor)
    result = tune_threshold(
        store,
        monitor,
        by or getpass.getuser(),
        min_labels,
        classifier.value if classifier else None,
        settings.models_dir,
    )

    def threshold(s: Setting) -> str:
        return "detector's own" if s.threshold is None else f"{s.threshold:.6f}"

    typer.echo(
        f"monitor {monitor}: retrained from {result.n_labels} labels ({result.n_true} true "
        f"positives, {result.n_labels - result.n_true} false positives)"
    )
    b, a = result.before, result.after
    rows = [
        ("", "before", "after"),
        ("minimum score", threshold(b), threshold(a)),
        ("classifier", b.classifier or "none", a.classifier or "none"),
        ("labelled flagged", str(b.kept), str(a.kept)),
        ("precision", f"{b.precision:.2f}", f"{a.precision:.2f}"),
        ("recall", f"{b.recall:.2f}", f"{a.recall:.2f}"),
    ]
    for name, before, after in rows:
        typer.echo(f"  {name:17} {before:22} {after}")
    if classifier:
        typer.echo(
            "  (the classifier's after figures are cross-validated: each label predicted "
            "by a model not fitted to it)"
        )


@app.command()
def report(
    monitor: Annotated[str, typer.Option(help="monitor name")],
    since: Annotated[str, typer.Option(help="ISO time or duration ago")] = "7d",
    until: Annotated[str | None, typer.Option(help="ISO time or duration ago")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    monitors: MonitorsOpt = None,
) -> None:
    """Write a self-contained HTML report of MONITOR's anomalies.

    Plots of the top series read the monitor's source (from monitors.yaml); when
    that is not possible the report says why and has every other section.
    """
    from anomwatch.config import MonitorConfig, load_monitors
    from anomwatch.report import write_report

    start = _parse_time_opt(since, "since")
    end = _parse_time_opt(until, "until") or utcnow()
    assert start is not None
    if end < start:
        fail(f"--until ({end:%Y-%m-%d %H:%M}) is before --since ({start:%Y-%m-%d %H:%M})")
    settings = _settings(monitors)
    store = _store(settings)
    _require_known_monitor(store, monitor)
    config: MonitorConfig | str
    try:
        config = load_monitors(settings.monitors_file).get(monitor)
    except AnomwatchError as exc:
        config = f"the monitor's source is unknown ({exc})"
    try:
        path = write_report(store, monitor, start, end, out, config)
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")
        return
    typer.echo(f"report written to {path} ({path.stat().st_size:,} bytes)")


@app.command()
def backfill(
    monitor: str,
    since: Annotated[str, typer.Option(help="ISO time or duration ago")],
    until: Annotated[str, typer.Option(help="ISO time or duration ago")] = "0s",
    chunk_rows: Annotated[int, typer.Option(help="rows per chunk (bounds memory)")] = 100_000,
    monitors: MonitorsOpt = None,
) -> None:
    """Score MONITOR's rows in a past range; resumes an interrupted run of the same range."""
    import time

    from anomwatch.config import load_monitors
    from tasks.backfill import BackfillProgress, run_backfill

    start = _parse_time_opt(since, "since")
    end = _parse_time_opt(until, "until")
    assert start is not None and end is not None
    if end <= start:
        fail("--until must be after --since")
    settings = _settings(monitors)
    config = load_monitors(settings.monitors_file).get(monitor)
    store = _store(settings)
    began = time.monotonic()

    def show(p: BackfillProgress) -> None:
        rate = p.rows_read / max(time.monotonic() - began, 1e-9)
        pct = 100.0 * p.rows_read / p.total_rows if p.total_rows else 100.0
        where = f" up to {p.position:%Y-%m-%d %H:%M}" if p.position else ""
        typer.echo(
            f"\r{pct:5.1f}%  {p.rows_read:,}/{p.total_rows:,} rows  {rate:,.0f} rows/s  "
            f"{p.anomalies} anomalies{where}   ",
            err=True,
            nl=False,
        )

    result = run_backfill(config, store, settings.models_dir, start, end, chunk_rows, show)
    typer.echo("", err=True)
    resumed = " (resumed)" if result.resumed else ""
    typer.echo(
        f"backfill {result.backfill_id}{resumed}: {result.rows_read:,} rows, "
        f"{result.points_scored:,} points scored, {result.anomalies} new anomalies "
        f"(stored, not notified)"
    )


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
    add_snooze(_store(_settings()), monitor, series, until, getpass.getuser())
    what = f"series {series!r} of {monitor}" if series else f"monitor {monitor}"
    typer.echo(f"{what} snoozed until {until:%Y-%m-%d %H:%M} UTC")


@app.command()
def unsnooze(
    monitor: str,
    series: Annotated[str | None, typer.Option(help="only this series")] = None,
) -> None:
    """End the active snoozes of MONITOR (or of one series)."""
    from anomwatch.store.outbox import remove_snoozes

    count = remove_snoozes(_store(_settings()), monitor, series)
    typer.echo(f"{count} snooze(s) ended")


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

    settings = _settings(monitors)
    parsed = load_monitors(settings.monitors_file)
    try:
        chosen = [parsed.get(monitor)] if monitor else parsed.monitors
    except UnknownMonitorError as exc:
        fail(str(exc))
    store = _store(settings)
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


@app.command()
def demo(
    ticks: Annotated[int, typer.Option(help="how many 20-minute ticks to simulate")] = 6,
) -> None:
    """Simulated metrics → several monitor ticks → anomalies, plot and a webhook digest."""
    from anomwatch.demo_run import run_demo

    run_demo(_settings(), ticks)


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

    settings = _settings()
    code = run_detect(
        csv_files,
        contamination,
        components,
        out or settings.plots_dir / "detect",
        lambda: _store(settings),
        typer.echo,
        ts_column=ts_column,
        value_columns=value_column or [],
        label_column=label_column,
        only_anomalies=only_anomalies,
    )
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except AnomwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
