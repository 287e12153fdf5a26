"""`anomwatch metrics`: the Prometheus exporter on its own port, for teams that want
only the metrics (the web view serves the same text at /metrics)."""

from __future__ import annotations

from typing import Annotated

import typer

from anomwatch.cli._app import app, open_store, settings_for

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

    store = open_store(settings_for())
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
