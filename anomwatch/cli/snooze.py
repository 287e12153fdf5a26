"""`anomwatch snooze` and `unsnooze`: silence a monitor's notifications for a while.

`snooze MONITOR --for 2h` is short for `snooze add MONITOR --for 2h`; `snooze list`
shows what is silenced. Unknown monitors and series are refused with the known
names: a typo would otherwise silence nothing and say it did.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from anomwatch.cli._app import app, fail, open_store, settings_for
from anomwatch.cli.options import Format, FormatOpt
from anomwatch.durations import utcnow

if TYPE_CHECKING:
    from anomwatch.store.db import Store

SHOWN_NAMES = 20


class _DefaultToAdd(TyperGroup):
    """`snooze web --for 1h` means `snooze add web --for 1h`."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["add", *args]
        return super().parse_args(ctx, args)


snooze_app = typer.Typer(
    cls=_DefaultToAdd,
    help="Stop notifications of a monitor (or one series) for a while: "
    "`snooze MONITOR --for 2h`, `snooze list`.",
    no_args_is_help=True,
)
app.add_typer(snooze_app, name="snooze")

SeriesOpt = Annotated[str | None, typer.Option(help="only this series")]


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES]) or "(none)"
    more = len(names) - SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def check_target(store: Store, monitor: str, series: str | None) -> None:
    """Refuse a monitor that is neither configured nor in the store, and an unseen series."""
    from anomwatch.config import load_monitors
    from anomwatch.errors import ConfigError
    from anomwatch.store.inventory import known_series
    from anomwatch.store.runs import known_monitors

    names = set(known_monitors(store))
    with contextlib.suppress(ConfigError):  # the store's monitors are still a valid list
        names |= {m.name for m in load_monitors(settings_for().monitors_file).monitors}
    if monitor not in names:
        fail(f"unknown monitor {monitor!r}; known monitors: {_listing(sorted(names))}")
    if series is not None:
        seen = known_series(store, monitor)
        if series not in seen:
            fail(
                f"monitor {monitor!r} has no series {series!r}; its series: {_listing(seen)}"
                + ("" if seen else " (it has not run yet)")
            )


@snooze_app.command("add")
def snooze_add(
    monitor: str,
    duration: Annotated[str, typer.Option("--for", help="how long, e.g. 2h")],
    series: SeriesOpt = None,
) -> None:
    """Stop notifications of MONITOR (or one series) for a while; anomalies are still stored."""
    import getpass

    from anomwatch.durations import parse_duration
    from anomwatch.store.outbox import add_snooze

    try:
        length = parse_duration(duration)
    except ValueError as exc:
        fail(f"--for: {exc}")
    if length.total_seconds() <= 0:
        fail("--for: must be a positive duration, e.g. 30m or 2h")
    store = open_store(settings_for())
    check_target(store, monitor, series)
    until = utcnow() + length
    add_snooze(store, monitor, series, until, getpass.getuser())
    what = f"series {series!r} of {monitor}" if series else f"monitor {monitor}"
    typer.echo(f"{what} snoozed until {until:%Y-%m-%d %H:%M} UTC")


@snooze_app.command("list")
def snooze_list(
    monitor: Annotated[str | None, typer.Option(help="only this monitor")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Active snoozes, soonest to end first."""
    from anomwatch.output import write_rows
    from anomwatch.store.inventory import active_snoozes

    rows = [
        {
            "id": s.id,
            "monitor": s.monitor,
            "series": s.series or "(all)",
            "until": s.until,
            "by": s.created_by,
            "created_at": s.created_at,
        }
        for s in active_snoozes(open_store(settings_for()), monitor)
    ]
    count = write_rows(rows, ["id", "monitor", "series", "until", "by", "created_at"], fmt.value)
    if fmt is Format.table:
        typer.echo(f"{count} active snooze(s)", err=True)


@app.command()
def unsnooze(monitor: str, series: SeriesOpt = None) -> None:
    """End the active snoozes of MONITOR (or of one series)."""
    from anomwatch.store.outbox import remove_snoozes

    store = open_store(settings_for())
    check_target(store, monitor, series)
    count = remove_snoozes(store, monitor, series)
    typer.echo(f"{count} snooze(s) ended")
