"""`anomwatch events list`: the alert events (the unit of notification), newest first.

An event is consecutive anomalous points of one series (or a failing health check);
`anomalies list` shows each anomaly's event id in its `event` column.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from anomwatch.cli._app import app, fail, open_store, parse_range_opts, require_known_monitor
from anomwatch.cli.anomalies import (
    MonitorFilter,
    SeriesFilter,
    SeverityFilter,
    SinceFilter,
    UntilFilter,
    notify_floors,
)
from anomwatch.cli.options import Format, FormatOpt, LimitOpt

events_app = typer.Typer(help="Query alert events.", no_args_is_help=True)
app.add_typer(events_app, name="events")

EVENT_COLUMNS = [
    "id",
    "monitor",
    "kind",
    "series",
    "status",
    "started_at",
    "last_at",
    "resolved_at",
    "severity",
    "peak_score",
    "points",
    "announced",
]
KINDS = ("anomaly", "health")


@events_app.command("list")
def list_events_command(
    monitor: MonitorFilter = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="only open events (open or new normal)")
    ] = False,
    since: SinceFilter = None,
    until: UntilFilter = None,
    series: SeriesFilter = None,
    kind: Annotated[str | None, typer.Option("--kind", help="anomaly or health")] = None,
    severity: SeverityFilter = None,
    limit: LimitOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List alert events active in the range (newest first).

    `announced`: the digest that last announced it, `waiting` for the next digest, or
    why it never is (backfill, snoozed, no targets); `-`: not announced (e.g. below every target's
    min_severity).
    """
    from anomwatch.cli._app import settings_for
    from anomwatch.output import write_rows
    from anomwatch.store.events import SEVERITY_RANK, list_events

    start, end = parse_range_opts(since, until)
    if kind is not None and kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    if severity is not None and severity not in SEVERITY_RANK:
        fail(f"--severity must be one of {', '.join(SEVERITY_RANK)}")
    store = open_store(settings_for())
    if monitor is not None:
        require_known_monitor(store, monitor)
    rows = list_events(store, monitor, open_only, start, end, series, kind, severity, limit)
    floors = notify_floors()
    count = write_rows((_shown(r, floors) for r in rows), EVENT_COLUMNS, fmt.value)
    if fmt is Format.table:
        typer.echo(f"{count} event(s)", err=True)


def _shown(
    row: dict[str, Any], floors: dict[str, tuple[str | None, bool | None]]
) -> dict[str, Any]:
    if row["suppressed"]:
        announced = row["suppressed"]
    elif row["notice"] and floors.get(row["monitor"], (None, None))[1] is False:
        announced = "no targets"
    elif row["notice"]:
        announced = "waiting"
    elif row["digest_id"] is not None:
        announced = f"digest {row['digest_id']}"
    else:
        announced = "-"
    peak = row["peak_score"]
    return row | {
        "points": row["n_points"],
        "peak_score": None if peak is None else round(float(peak), 6),
        "announced": announced,
    }
