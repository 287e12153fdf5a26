"""Sending one digest to one apprise target, reporting the exact outcome."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import apprise
from apprise.attachment.memory import AttachMemory

from anomwatch.notify.digest import SLACK_TEXT_LIMIT, Digest
from anomwatch.notify.targets import make_apprise

EMAIL_SCHEMES = ("mailto", "mailtos")


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    error: str | None = None


def reference_line(notification_id: int, digest_id: int, attempt: int) -> str:
    """The outbox row a message came from, so a receiver can tell a resend from a new digest."""
    return f"anomwatch message {notification_id} (digest {digest_id}, attempt {attempt})"


def with_reference(digest: Digest, reference: str) -> Digest:
    """The digest with its outbox reference as a last line (text) or a small footer (HTML)."""
    footer = f"\n\n{reference}"
    text = digest.text
    if len(text) + len(footer) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - len(footer) - 20] + "\n... (truncated)"
    body = digest.html.replace(
        "</body></html>", f'<p style="color:#888">{reference}</p></body></html>'
    )
    return replace(digest, text=text + footer, html=body)


def _scrub(message: str, secret_url: str) -> str:
    """Remove any piece of the resolved URL that could be a secret from a message."""
    for piece in re.split(r"[/:@?&=#]+", secret_url):
        if len(piece) >= 6 and not _is_address(piece):
            message = message.replace(piece, "***")
    return message


def _is_address(piece: str) -> bool:
    """An IP address is where a message went, never a secret: keep it readable."""
    try:
        ipaddress.ip_address(piece.strip("[]"))
    except ValueError:
        return False
    return True


def send_digest(url: str, digest: Digest, plot_png: Path | None, timeout: float) -> SendOutcome:
    """Send to one target. Email gets HTML and the plot; other targets get plain text."""
    obj = make_apprise()
    if not obj.add(url):
        return SendOutcome(False, "apprise cannot parse this target URL")
    is_email = url.split("://", 1)[0].lower() in EMAIL_SCHEMES
    attach = None
    if is_email and plot_png is not None and plot_png.exists():
        memory = AttachMemory(
            content=plot_png.read_bytes(), name=plot_png.name, mimetype="image/png"
        )
        attach = apprise.AppriseAttachment([memory])
    try:
        result = obj.notify(
            body=digest.html if is_email else digest.text,
            title=digest.title,
            body_format=apprise.NotifyFormat.HTML if is_email else apprise.NotifyFormat.TEXT,
            attach=attach,
            timeout=timeout,
        )
    except Exception as exc:  # noqa: BLE001 - a plugin failure must not sink other targets
        return SendOutcome(False, _scrub(f"{type(exc).__name__}: {exc}", url))
    if result:
        return SendOutcome(True)
    logs = result.logs() if callable(getattr(result, "logs", None)) else []
    errors = [
        str(entry.message)
        for entry in logs
        if str(getattr(entry, "level", "ERROR")) in ("WARNING", "ERROR", "CRITICAL")
    ]
    detail = "; ".join(str(e) for e in errors[-3:])
    if not detail:  # apprise logged nothing we could read: say at least where it went
        host = urlsplit(url).hostname or "the target"
        detail = f"sending to {host} failed (apprise status {getattr(result, 'status', '?')})"
    return SendOutcome(False, _scrub(detail, url))
