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


def test_a_digest_event_past_midnight_shows_both_dates() -> None:
    from anomwatch.notify.digest import render_digest

    rows = [
        {
            "series": "a",
            "ts": datetime(2026, 11, 20, 23, 55) + timedelta(minutes=5 * i),
            "value": 9.0,
            "expected": 1.0,
            "lower": 0.0,
            "upper": 2.0,
            "score": 0.99,
            "severity": "warning",
            "components": "{}",
        }
        for i in range(3)
    ]
    text = render_digest("m", rows, 10, "x").text
    assert "2026-11-20 23:55:00 to 2026-11-21 00:05:00 (3 points)" in text


def test_send_errors_hide_secrets_but_not_the_address() -> None:
    from anomwatch.notify.digest import render_digest
    from anomwatch.notify.send import send_digest

    rows = [
        {
            "series": "a",
            "ts": datetime(2026, 11, 20),
            "value": 1.0,
            "expected": None,
            "severity": "warning",
            "score": 0.99,
            "components": "{}",
        }
    ]
    digest = render_digest("m", rows, 10, "x")
    # port 1: nothing listens; the error names the address, never the password
    outcome = send_digest("json://user:s3cretpassword@127.0.0.1:1/hook", digest, None, 3)
    assert not outcome.ok and outcome.error
    assert "s3cretpassword" not in outcome.error
    assert "127.0.0.1" in outcome.error
