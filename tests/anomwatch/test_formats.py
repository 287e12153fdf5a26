"""Times and lengths as people read them in notes, plot captions and digests."""

from __future__ import annotations

from datetime import datetime, timedelta

from anomwatch.durations import format_duration, format_span


def test_durations_read_like_people_write_them() -> None:
    assert format_duration(timedelta(hours=3, minutes=40)) == "3h 40m"
    assert format_duration(timedelta(minutes=5)) == "5m"
    assert format_duration(timedelta(days=2, hours=4, minutes=1)) == "2d 4h"
    assert format_duration(timedelta(seconds=45)) == "45s"
    assert format_duration(timedelta(0)) == "0s"


def test_a_span_past_midnight_keeps_the_end_date() -> None:
    start = datetime(2026, 11, 20, 22, 30)
    assert format_span(start, start + timedelta(hours=1)) == "2026-11-20 22:30 to 23:30"
    assert format_span(start, start + timedelta(hours=3)) == "2026-11-20 22:30 to 2026-11-21 01:30"
    assert format_span(start, start + timedelta(hours=3), seconds=True) == (
        "2026-11-20 22:30:00 to 2026-11-21 01:30:00"
    )


def event_line(start: datetime, **extra: object) -> dict[str, object]:
    """One event line as outbox.digest_events gives it."""
    return {
        "event_id": 1,
        "kind": "anomaly",
        "series": "a",
        "notice": "opened",
        "status": "open",
        "severity": "warning",
        "started_at": start,
        "last_at": start + timedelta(minutes=10),
        "resolved_at": None,
        "n_points": 3,
        "peak_score": 0.99,
        "peak_ts": start,
        "value": 9.0,
        "expected": 1.0,
        "lower": 0.0,
        "upper": 2.0,
        "components": "{}",
        "detail": None,
        **extra,
    }


def test_a_digest_event_past_midnight_shows_both_dates() -> None:
    from anomwatch.notify.digest import render_digest

    start = datetime(2026, 11, 20, 23, 55)
    line = event_line(start, status="resolved", resolved_at=datetime(2026, 11, 21, 1, 5))
    text = render_digest("m", [line], 10, "x").text
    assert "since 2026-11-20 23:55:00, 3 points so far, resolved 2026-11-21 01:05:00" in text
    same_day = event_line(start, status="resolved", resolved_at=datetime(2026, 11, 20, 23, 59))
    assert ", resolved 23:59:00" in render_digest("m", [same_day], 10, "x").text


def test_send_errors_hide_secrets_but_not_the_address() -> None:
    from anomwatch.notify.digest import render_digest
    from anomwatch.notify.send import send_digest

    digest = render_digest("m", [event_line(datetime(2026, 11, 20), expected=None)], 10, "x")
    # port 1: nothing listens; the error names the address, never the password
    outcome = send_digest("json://user:s3cretpassword@127.0.0.1:1/hook", digest, None, 3)
    assert not outcome.ok and outcome.error
    assert "s3cretpassword" not in outcome.error
    assert "127.0.0.1" in outcome.error
