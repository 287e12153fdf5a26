"""`anomwatch monitors ...`: what monitors.yaml defines, and whether it can run.

`validate` reads the file only and stays fast; `check` also connects to each
source and resolves each secret, the way a run would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anomwatch.cli._app import app, fail, settings_for
from anomwatch.cli.options import Format, FormatOpt, MonitorsOpt

if TYPE_CHECKING:
    from anomwatch.config import MonitorsFile
    from anomwatch.settings import Settings

monitors_app = typer.Typer(help="Inspect and check monitors.yaml.", no_args_is_help=True)
app.add_typer(monitors_app, name="monitors")


def _load(monitors: Path | None) -> tuple[Settings, MonitorsFile]:
    """The parsed file; no monitors at all is an error (nothing would ever run)."""
    from anomwatch.config import load_monitors

    settings = settings_for(monitors)
    parsed = load_monitors(settings.monitors_file)
    if not parsed.monitors:
        fail(f"{settings.monitors_file} defines no monitors; add one under 'monitors:'")
    return settings, parsed


@monitors_app.command("validate")
def monitors_validate(monitors: MonitorsOpt = None) -> None:
    """Check monitors.yaml (the file only: no database, no secrets) and print each schedule."""
    settings, parsed = _load(monitors)
    for m in parsed.monitors:
        source = m.source.table or "(query)"
        typer.echo(f"ok  {m.name:24} {m.schedule:16} {source}  values={','.join(m.source.values)}")
    typer.echo(f"{len(parsed.monitors)} monitor(s) valid in {settings.monitors_file}")


@monitors_app.command("list")
def monitors_list(monitors: MonitorsOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The monitors of monitors.yaml: schedule, source, series and notification targets."""
    from anomwatch.output import write_rows
    from anomwatch.store.db import mask_url

    _, parsed = _load(monitors)
    rows = [
        {
            "name": m.name,
            "schedule": m.schedule,
            "timezone": m.timezone,
            "source": f"${m.source.url_env}" if m.source.url_env else mask_url(m.source.url or ""),
            "table": m.source.table or "(query)",
            "series": ",".join(m.source.series) or "-",
            "values": ",".join(m.source.values),
            "components": ",".join(m.detector.components),
            "targets": len(m.notify.targets),
        }
        for m in parsed.monitors
    ]
    write_rows(rows, list(rows[0]), fmt.value)


@monitors_app.command("check")
def monitors_check(
    name: Annotated[str | None, typer.Argument(help="only this monitor")] = None,
    monitors: MonitorsOpt = None,
) -> None:
    """Check what a run needs: variables set, time zones, the source reachable with its
    credentials, table and numeric columns, read-only login, notification targets.

    One line per check; exit code 2 when any check fails (warnings do not fail).
    """
    from anomwatch.checks import check_monitor

    _, parsed = _load(monitors)
    chosen = [parsed.get(name)] if name else parsed.monitors
    failed = 0
    for monitor in chosen:
        for check in check_monitor(monitor):
            failed += check.level == "FAIL"
            typer.echo(f"{check.level:4}  {check.monitor:20} {check.name:12} {check.detail}")
    if failed:
        typer.echo(f"error: {failed} check(s) failed", err=True)
        raise typer.Exit(2)
    typer.echo(f"{len(chosen)} monitor(s) ready")


@monitors_app.command("remove")
def monitors_remove(
    name: Annotated[str, typer.Argument(help="the monitor to remove from the store")],
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="also delete its anomalies, events, runs, messages, models and feedback",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    monitors: MonitorsOpt = None,
) -> None:
    """Unregister MONITOR from the store; with --purge delete everything it stored."""
    from anomwatch.cli._app import open_store, require_known_monitor
    from anomwatch.config import load_monitors
    from anomwatch.errors import ConfigError
    from anomwatch.store.lifecycle import monitor_rows, remove_monitor

    settings = settings_for(monitors)
    store = open_store(settings)
    rows = monitor_rows(store, name)
    if not (purge and rows):  # an unregistered monitor's leftover rows can still be purged
        require_known_monitor(store, name)
    held = ", ".join(f"{n:,} {table}" for table, n in rows.items()) or "no rows"
    if purge:
        question = f"remove monitor {name!r} and delete {held}, and its model files?"
    else:
        question = f"remove monitor {name!r} from the store (its {held} stay)?"
    if not yes and not typer.confirm(question, default=False, err=True):
        fail("not confirmed: nothing removed (pass --yes to skip the question)")
    done = remove_monitor(store, name, purge, settings.models_dir, settings.plots_dir)
    if purge:
        typer.echo(f"removed monitor {name!r}; deleted {done.describe()}")
    else:
        typer.echo(
            f"removed monitor {name!r}; its {held} stay in the store "
            f"(`anomwatch monitors remove {name} --purge` deletes them)"
        )
    try:
        configured = [m.name for m in load_monitors(settings.monitors_file).monitors]
    except ConfigError:
        configured = []
    if name in configured:
        typer.echo(
            f"note: {name!r} is still in {settings.monitors_file}: its next run registers it "
            "again; remove it there (and rerun `anomwatch deployments write` or restart serve)"
        )
