"""`anomwatch metrics`: the Prometheus exporter on its own port, for teams that want
only the metrics (the web view serves the same text at /metrics)."""

from __future__ import annotations

from typing import Annotated

import typer

from anomwatch.cli._app import app, fail, open_store, settings_for

DEFAULT_PORT = 9466


@app.command()
def metrics(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=0, max=65535)] = DEFAULT_PORT,
) -> None:
    """Serve the store's figures at http://HOST:PORT/metrics for Prometheus to scrape.

    Anomalies and events by monitor and severity, open events, runs and their
    durations, rows read, data lag, outbox and health, read from the store at each
    scrape. Stops with Ctrl-C.
    """
    from anomwatch.exporter.server import MetricsServer

    settings = settings_for()
    missing = missing_sqlite_file(settings.resolved_store_url)
    if missing:
        fail(f"store {missing} does not exist; run `anomwatch init` or set ANOMWATCH_STORE_URL")
    store = open_store(settings)
    try:
        server = MetricsServer((host, port), store)
        typer.echo(f"serving http://{host}:{server.port}/metrics (Ctrl-C stops)", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        store.dispose()


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite store that is not there (the exporter only reads: it must
    not leave an empty database file behind), else None."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return None if Path(path).exists() else path
