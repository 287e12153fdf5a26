"""The `anomwatch` command line: a root app (`_app`) and one module per command group.

Importing this package registers every command on `app`; `main` is the console
entry point (`anomwatch = "anomwatch.cli:main"`).
"""

from __future__ import annotations

import sys

import typer

from anomwatch.cli._app import app, fail
from anomwatch.errors import AnomwatchError

# The import order is the order of `anomwatch --help`.
# isort: off
from anomwatch.cli import init, monitors, ticks, preview, serve, deployments  # noqa: E402, F401  (registers commands)
from anomwatch.cli import anomalies, events, feedback, report, snooze, notify, status  # noqa: E402, F401
from anomwatch.cli import offline, web, metrics  # noqa: E402, F401

# isort: on

__all__ = ["app", "fail", "main"]


def main() -> None:
    try:
        app()
    except AnomwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
