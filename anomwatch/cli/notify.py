"""`anomwatch notify ...`: notification targets and the outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, settings_for
from anomwatch.cli.options import Format, FormatOpt, LimitOpt, MonitorsOpt

notify_app = typer.Typer(
    help="Notification targets and the outbox of messages.", no_args_is_help=True
)
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(monitor: str, monitors: MonitorsOpt = None) -> None:
    """Send a sample digest to MONITOR's targets and report each target's outcome."""
    from anomwatch.config import load_monitors
    from anomwatch.notify.sample import send_sample_digest

    settings = settings_for(monitors)
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


OUTBOX_COLUMNS = [
    "id",
    "monitor",
    "digest_id",
    "anomalies",
    "target",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "last_error",
]


@notify_app.command("list")
def notify_list(
    pending: Annotated[bool, typer.Option("--pending", help="only messages still to send")] = False,
    dead: Annotated[bool, typer.Option("--dead", help="only messages given up on")] = False,
    monitor: Annotated[str | None, typer.Option(help="only this monitor")] = None,
    limit: LimitOpt = 50,
    fmt: FormatOpt = Format.table,
) -> None:
    """The outbox, newest first: each digest's message to each target and its state.

    pending: waiting for its (next) attempt; dead: given up after
    ANOMWATCH_NOTIFY_MAX_ATTEMPTS; cancelled: ended by `notify cancel` or because
    its target left monitors.yaml; sent.
    """
    from anomwatch.output import write_rows
    from anomwatch.store.outbox_admin import list_outbox, outbox_counts

    if pending and dead:
        fail("give at most one of --pending or --dead")
    status = "pending" if pending else "dead" if dead else None
    store = open_store(settings_for())
    rows = list_outbox(store, status, monitor, limit)
    write_rows(rows, OUTBOX_COLUMNS, fmt.value)
    if fmt is Format.table:
        counts = outbox_counts(store, monitor)
        summary = ", ".join(
            f"{counts.get(s, 0)} {s}" for s in ("pending", "dead", "cancelled", "sent")
        )
        typer.echo(f"{len(rows)} shown; in the outbox: {summary}", err=True)


@notify_app.command("retry")
def notify_retry(ids: list[int]) -> None:
    """Send dead or cancelled messages again (at their monitor's next run)."""
    from anomwatch.store.outbox_admin import retry_notifications

    monitors = retry_notifications(open_store(settings_for()), ids)
    runs = " or ".join(f"`anomwatch run {m}`" for m in monitors)
    typer.echo(
        f"{len(ids)} notification(s) due now; they are sent at the next run of "
        f"{', '.join(monitors)} ({runs} to send them at once)"
    )


@notify_app.command("cancel")
def notify_cancel(
    ids: list[int],
    reason: Annotated[str | None, typer.Option(help="kept with the message")] = None,
) -> None:
    """End pending or dead messages without sending them."""
    import getpass

    from anomwatch.store.outbox_admin import cancel_notifications

    why = f"cancelled by {getpass.getuser()}" + (f": {reason}" if reason else "")
    count = cancel_notifications(open_store(settings_for()), ids, why)
    typer.echo(f"{count} notification(s) cancelled")
