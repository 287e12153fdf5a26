"""Real local peers for notification tests: an SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 collecting every message it accepts."""

    port: int = field(default_factory=free_port)
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"

    def __enter__(self) -> SmtpServer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def target(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=anomwatch@example.com"
            "&to=oncall@example.com&mode=insecure"
        )
