"""Digest rendering and delivery to real local peers (HTTP receiver, SMTP server)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from notify_servers import SmtpServer  # noqa: E402

from anomwatch.notify.digest import render_digest  # noqa: E402
from anomwatch.notify.send import _scrub, send_digest  # noqa: E402
from anomwatch.notify.targets import check_target, masked, target_id  # noqa: E402
from anomwatch.receiver import WebhookReceiver  # noqa: E402

T0 = datetime(2026, 11, 20, 10, 0)


def rows(n: int):
    """Event lines as outbox.digest_events gives them: n events, the last critical."""
    return [
        {
            "event_id": i + 1,
            "kind": "anomaly",
            "series": f"host=web-{i}",
            "notice": "escalated" if i == n - 1 else "opened",
            "status": "open",
            "severity": "critical" if i == n - 1 else "warning",
            "started_at": T0 + timedelta(minutes=5 * i),
            "last_at": T0 + timedelta(minutes=5 * i + 15),
            "resolved_at": None,
            "n_points": 4,
            "peak_score": 0.99 + i / 10_000,
            "peak_ts": T0 + timedelta(minutes=5 * i + 10),
            "value": 90.0 + i,
            "expected": 40.0,
            "lower": 30.0,
            "upper": 50.0,
            "components": '{"iforest": 0.99}',
            "detail": None,
        }
        for i in range(n)
    ]


def test_digest_is_one_line_per_event_most_urgent_first_then_the_rest() -> None:
    digest = render_digest("web", rows(3), max_items=2, history_command="anomwatch anomalies x")
    assert digest.title == "[anomwatch] web: 3 events (1 escalated, 2 opened, 1 critical)"
    lines = digest.text.splitlines()
    assert lines[0] == (
        "Monitor web: 3 events (1 escalated, 2 opened) on 3 series, "
        "2026-11-20 10:00 to 2026-11-20 10:25 UTC"
    )
    assert lines[2] == (
        "CRITICAL host=web-2  escalated  since 2026-11-20 10:10:00, 4 points so far  "
        "peak 92 at 10:20:00  expected 40 [30, 50]  score 0.9902  (iforest 0.990)"
    )
    assert lines[3].startswith("WARNING  host=web-1  opened  since 2026-11-20 10:05:00")
    assert lines[4] == "... and 1 more event(s)."
    assert digest.text.endswith("See all: anomwatch anomalies x")
    assert "display:table-row" in digest.html and "host=web-2" in digest.html


def test_new_normal_resolved_and_health_lines_say_what_happened() -> None:
    shift, health = rows(2)
    shift.update(notice="new_normal", status="resolved", resolved_at=T0 + timedelta(hours=7))
    health.update(
        kind="health",
        series="failed_runs",
        notice="resolved",
        status="resolved",
        severity="critical",
        resolved_at=T0 + timedelta(hours=1),
        peak_score=None,
        value=None,
    )
    digest = render_digest("web", [shift, health], 10, "x")
    lines = digest.text.splitlines()
    assert lines[2] == (
        "HEALTH   failed_runs  resolved  healthy again at 2026-11-20 11:00:00 "
        "(failing since 2026-11-20 10:05:00)"
    )
    assert lines[3].startswith(
        "WARNING  host=web-0  new normal (treated as normal until it resolves)  since "
        "2026-11-20 10:00:00, 4 points so far, resolved 17:00:00"
    )
    assert "1 health" in digest.title


def test_webhook_receives_the_text_digest() -> None:
    digest = render_digest("web", rows(2), 10, "anomwatch anomalies --monitor web")
    with WebhookReceiver() as hook:
        outcome = send_digest(f"json://127.0.0.1:{hook.port}/hook", digest, None, timeout=5)
        assert outcome.ok, outcome.error
        payload = hook.received[0].json()
    assert hook.received[0].path == "/hook"
    assert payload["title"] == digest.title
    assert payload["message"] == digest.text


def test_email_has_html_and_the_png_plot(tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    digest = render_digest("web", rows(2), 10, "anomwatch anomalies --monitor web")
    with SmtpServer() as smtp:
        outcome = send_digest(smtp.target(), digest, png, timeout=5)
        assert outcome.ok, outcome.error
    mail = smtp.messages[0]
    assert mail["Subject"] == digest.title
    assert mail["To"] == "oncall@example.com"
    types = {p.get_content_type(): p for p in mail.walk()}
    assert "host=web-1" in types["text/html"].get_payload(decode=True).decode()
    # the plain-text part keeps each event on one line, not one line per table cell
    plain = types["text/plain"].get_payload(decode=True).decode().splitlines()
    assert "severity | series | event | time (UTC) | peak | components" in plain[2], plain
    assert plain[3].startswith(
        "CRITICAL | host=web-1 | escalated | since 2026-11-20 10:05:00, 4 points so far | "
        "peak 91 at 10:15:00 expected 40 [30, 50]"
    )
    assert types["image/png"].get_payload(decode=True) == png.read_bytes()


def test_failures_are_reported_not_raised_and_hanging_peer_is_bounded() -> None:
    digest = render_digest("web", rows(1), 10, "x")
    with WebhookReceiver(status=500) as hook:
        outcome = send_digest(f"json://127.0.0.1:{hook.port}/h", digest, None, timeout=5)
    assert not outcome.ok and outcome.error
    # apprise's own socket read timeout is set longer than the hang (rto=30), so
    # only send_digest's `timeout` can end the call early.
    with WebhookReceiver(delay=12) as hook:
        started = time.monotonic()
        outcome = send_digest(f"json://127.0.0.1:{hook.port}/h?rto=30", digest, None, 1)
        elapsed = time.monotonic() - started
    assert elapsed < 5, f"a peer hanging 12 s held the send for {elapsed:.1f} s"
    assert not outcome.ok


def test_send_errors_lose_every_url_piece_long_enough_to_be_a_secret() -> None:
    url = "json://user:s3cret@127.0.0.1:9/hook?token=abcdef123456"
    message = "POST to 127.0.0.1 as user failed: s3cret rejected (token abcdef123456)"
    # pieces of six characters or more between / : @ ? & = # go; short ones and the
    # address (where it went, never a secret) stay
    assert _scrub(message, url) == "POST to 127.0.0.1 as user failed: *** rejected (token ***)"


def test_targets_are_checked_and_masked() -> None:
    check_target("json://127.0.0.1:9/x")
    check_target("mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.com")
    with pytest.raises(ValueError, match="unknown apprise scheme 'slak'"):
        check_target("slak://a/b/c")
    with pytest.raises(ValueError, match="apprise URL"):
        check_target("not a url")
    secret = "json://user:hunter2secret@127.0.0.1:9/x"
    assert "hunter2secret" not in masked(secret)
    assert "hunter2secret" not in target_id(secret)
    assert masked("slack://${SLACK_TOKEN}") == "slack://(from environment)"
