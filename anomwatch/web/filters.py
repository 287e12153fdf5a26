"""The filters of `anomwatch anomalies list`, read from a page's query string.

Values only ever reach SQL as bound parameters (through query_anomalies and
queries.py); a bad value becomes a message on the page (400), not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from anomwatch.durations import parse_time
from anomwatch.store.anomalies import SEVERITY_RANK

STATUSES = ("open", "acknowledged", "false_positive")
PAGE_SIZE = 50


class BadFilter(ValueError):
    """A filter value the page cannot use; the message names the field."""


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    series: str | None = None
    severity: str | None = None
    status: str | None = None
    notified: bool | None = None
    raw: tuple[tuple[str, str], ...] = ()  # as typed, for the form and the paging links

    def query(self, **extra: str) -> str:
        """The query string of these filters plus `extra` (e.g. the next page's key)."""
        return urlencode([*self.raw, *((k, v) for k, v in extra.items() if v)])

    def value(self, name: str) -> str:
        return dict(self.raw).get(name, "")


def _time(text: str, name: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise BadFilter(f"{name}: {exc}") from None


def parse_filters(params: dict[str, str]) -> Filters:
    """Filters from query parameters (empty ones ignored); raises BadFilter."""
    given = {
        k: v.strip()
        for k, v in params.items()
        if k in ("since", "until", "series", "severity", "status", "notified") and v.strip()
    }
    since = _time(given["since"], "since") if "since" in given else None
    until = _time(given["until"], "until") if "until" in given else None
    if since and until and until < since:
        raise BadFilter("until is before since")
    severity = given.get("severity")
    if severity is not None and severity not in SEVERITY_RANK:
        raise BadFilter(f"severity must be one of {', '.join(SEVERITY_RANK)}")
    status = given.get("status")
    if status is not None and status not in STATUSES:
        raise BadFilter(f"status must be one of {', '.join(STATUSES)}")
    notified_text = given.get("notified")
    if notified_text not in (None, "yes", "no"):
        raise BadFilter("notified must be yes or no")
    return Filters(
        since=since,
        until=until,
        series=given.get("series"),
        severity=severity,
        status=status,
        notified=None if notified_text is None else notified_text == "yes",
        raw=tuple(sorted(given.items())),
    )


def page_key(text: str | None) -> tuple[datetime, int] | None:
    """A paging key `ISO-time~id` (the last row of the previous page)."""
    if not text:
        return None
    ts, sep, key = text.rpartition("~")
    try:
        return datetime.fromisoformat(ts), int(key)
    except ValueError:
        raise BadFilter("bad page key") from None


def make_key(ts: datetime, key: int) -> str:
    return f"{ts.isoformat()}~{key}"
