"""Human durations ("90s", "30m", "24h", "7d", "2w") and relative/absolute times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse "15m"/"24h"/"7d"; a bare number means seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit s, m, h, d or w, e.g. '15m', '7d'"
        )
    value, unit = match.groups()
    return timedelta(**{_UNITS[unit]: float(value)})


def utcnow() -> datetime:
    """Naive UTC now: the store keeps naive UTC timestamps on every backend."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO time ("2026-11-20", "2026-11-20T10:00+01:00") or a duration ago ("24h")."""
    now = now or utcnow()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return to_naive_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: use an ISO time like 2026-11-20T10:00 or a duration "
            "ago like 24h or 7d"
        ) from None


def format_duration(value: timedelta) -> str:
    """A length for people: "3h 40m", "2d 4h", "5m", "45s" (not "0 days 03:40:00")."""
    seconds = int(round(abs(value.total_seconds())))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return ("-" if value.total_seconds() < 0 else "") + (" ".join(parts[:2]) or "0s")


def format_span(start: datetime, end: datetime, seconds: bool = False) -> str:
    """ "2026-11-20 10:05 to 10:20", with the end's date when it is another day."""
    clock = "%H:%M:%S" if seconds else "%H:%M"
    end_format = clock if end.date() == start.date() else f"%Y-%m-%d {clock}"
    return f"{start:%Y-%m-%d {clock}} to {end:{end_format}}"
