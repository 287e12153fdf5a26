from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from anomwatch.durations import parse_duration, parse_time

NOW = datetime(2026, 11, 24, 12, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "h", "5 years", "-3d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_parse_time_relative_iso_and_aware() -> None:
    assert parse_time("24h", NOW) == datetime(2026, 11, 23, 12, 0)
    assert parse_time("2026-11-20T10:00", NOW) == datetime(2026, 11, 20, 10, 0)
    assert parse_time("2026-11-20T10:00+02:00", NOW) == datetime(2026, 11, 20, 8, 0)
    with pytest.raises(ValueError, match="invalid time 'yesterday'"):
        parse_time("yesterday", NOW)
