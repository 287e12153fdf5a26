"""`anomwatch metrics`: /metrics on a small threaded HTTP server of the standard library.

No web framework: teams that want only the exporter need nothing but the store. Each
request renders a fresh scrape (one read of the store); concurrent scrapes run on their
own threads, each with its own pooled connection.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anomwatch.errors import AnomwatchError
from anomwatch.exporter import CONTENT_TYPE, render_metrics
from anomwatch.store.db import Store

INDEX = b'anomwatch exporter: <a href="/metrics">/metrics</a>\n'


class PortInUseError(AnomwatchError):
    """The address cannot be bound (taken, or not a local address)."""


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        self.store = store
        try:
            super().__init__(address, MetricsHandler)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise PortInUseError(f"cannot listen on {address[0]}:{address[1]}: {reason}") from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class MetricsHandler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE, render_metrics(self.server.store))
        elif path == "/":
            self._send(200, "text/html; charset=utf-8", INDEX)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found; try /metrics\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: Prometheus scrapes every few seconds and each would print a line."""
