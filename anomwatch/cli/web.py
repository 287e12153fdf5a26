"""`anomwatch web`: the pages over the store, and `web hash-password` for its logins."""

from __future__ import annotations

import ipaddress
import sys
from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, settings_for
from anomwatch.cli.options import MonitorsOpt

web_app = typer.Typer(
    help="Web pages of monitors, events and anomalies, with feedback buttons.",
    invoke_without_command=True,
)
app.add_typer(web_app, name="web")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@web_app.callback()
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to bind (default: this machine only)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="no login at all: only allowed on a loopback address"),
    ] = False,
    monitors: MonitorsOpt = None,
) -> None:
    """Serve the web view (monitors, events, anomalies, report charts, feedback buttons).

    Logins come from ANOMWATCH_WEB_USERS (user:HASH,...) and/or ANOMWATCH_WEB_TOKEN_HASH
    (a bearer token), hashes made by `anomwatch web hash-password`. Without any, it
    refuses to start unless --no-auth on a loopback address.
    """
    if ctx.invoked_subcommand is not None:
        return
    from anomwatch.web.auth import credentials_from

    settings = settings_for(monitors)
    credentials = credentials_from(settings)
    if no_auth:
        if not is_loopback(host):
            fail(f"--no-auth is only allowed on a loopback address, not {host}")
        credentials.open_access = True
    elif not credentials.configured:
        fail(
            "no logins configured: set ANOMWATCH_WEB_USERS or ANOMWATCH_WEB_TOKEN_HASH "
            "(hashes from `anomwatch web hash-password`), or pass --no-auth on 127.0.0.1"
        )
    store = open_store(settings)
    import uvicorn

    from anomwatch.web.app import create_app

    web_app_ = create_app(settings, store, credentials)
    typer.echo(f"anomwatch web on http://{host}:{port}/ ; Ctrl-C to stop", err=True)
    try:
        uvicorn.run(web_app_, host=host, port=port, log_level="warning", access_log=False)
    finally:
        store.dispose()


@web_app.command("hash-password")
def hash_password_cmd(
    stdin: Annotated[
        bool, typer.Option("--stdin", help="read the password (or token) from standard input")
    ] = False,
) -> None:
    """Print the scrypt hash of a password or token, for ANOMWATCH_WEB_USERS / _TOKEN_HASH."""
    from anomwatch.web.passwords import hash_password

    if stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(secret) < 8:
        fail("the password must have at least 8 characters")
    typer.echo(hash_password(secret))
