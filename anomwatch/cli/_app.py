"""The root `anomwatch` app and the helpers every command group shares.

Expected errors (bad config, unknown monitor, unreachable database, bad input)
become one `error:` line and exit code 2 here, in one place, so no command needs
its own try/except. Flow-running commands import Prefect lazily so quick commands
stay quick.
"""

from __future__ import annotations

import os
import traceback
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from typer.core import TyperGroup

from anomwatch.durations import parse_time
from anomwatch.errors import AnomwatchError, ConfigError
from anomwatch.settings import Settings

if TYPE_CHECKING:
    from anomwatch.store.db import Store


class _Commands(TyperGroup):
    """Expected errors become one `error:` line and exit code 2, never a traceback."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AnomwatchError as exc:
            if debug_enabled():
                traceback.print_exc()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="Scheduled anomaly detection for metrics in SQL databases.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


_options = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="print the traceback of an error, not only its line")
    ] = False,
) -> None:
    """Scheduled anomaly detection for metrics in SQL databases."""
    _options["debug"] = debug
    if debug:  # scheduled-flow code (flows/*) reads it to keep tracebacks too
        os.environ["ANOMWATCH_DEBUG"] = "1"
    load_dotenv()


def load_dotenv(path: Path = Path(".env")) -> None:
    """Variables of ./.env into the environment (the environment wins), so the secrets
    monitors.yaml names (source.url_env, ${VAR}) can live there, not only ANOMWATCH_*."""
    if path.is_file():
        import dotenv

        dotenv.load_dotenv(path, override=False)


def debug_enabled() -> bool:
    """Whether this invocation is `anomwatch --debug ...`."""
    return _options["debug"]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one `error:` line and exit (2: the user can fix the input)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_for(monitors: Path | None = None) -> Settings:
    """Settings from the environment, with `--monitors` overriding the file. A bad
    ANOMWATCH_* value is a config error naming the variable (never its value: it may
    be a store URL with a password)."""
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ANOMWATCH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{problems} (set in the environment or .env; fix or unset it)") from None
    if monitors is not None:
        settings = settings.model_copy(update={"monitors_file": monitors})
    return settings


def open_store(settings: Settings, require_migrated: bool = True) -> Store:
    from anomwatch.store.db import Store

    store = Store(settings.resolved_store_url)
    if require_migrated:
        store.require_migrated()
    return store


def require_known_monitor(store: Store, monitor: str) -> None:
    """Refuse a monitor the store has never seen (queries would silently be empty)."""
    from anomwatch.store.runs import known_monitors

    names = known_monitors(store)
    if monitor not in names:
        fail(f"unknown monitor {monitor!r}; monitors in the store: {', '.join(names) or '(none)'}")


def parse_time_opt(value: str | None, name: str) -> datetime | None:
    """Parse an ISO time or a duration ago; a bad one is an error naming the option."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        fail(f"--{name}: {exc}")


def parse_range_opts(
    since: str | None, until: str | None
) -> tuple[datetime | None, datetime | None]:
    """--since and --until parsed, refusing an --until before --since."""
    start, end = parse_time_opt(since, "since"), parse_time_opt(until, "until")
    if start and end and end < start:
        fail(f"--until ({end:%Y-%m-%d %H:%M}) is before --since ({start:%Y-%m-%d %H:%M})")
    return start, end
