"""One readable message per monitor and run: plain text for chat, HTML for email.

Consecutive anomalous points of a series (closer than `event_gap`) are one event,
shown on one line with its peak, so a 30-minute incident is one line, not 30.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anomwatch.durations import format_span

SLACK_TEXT_LIMIT = 35_000


@dataclass(frozen=True)
class Digest:
    title: str
    text: str
    html: str
    count: int


@dataclass(frozen=True)
class Event:
    series: str
    start: datetime
    end: datetime
    points: int
    peak: dict[str, Any]  # the row with the highest score
    severity: str


def group_events(rows: Sequence[dict[str, Any]], gap: timedelta) -> list[Event]:
    events: list[Event] = []
    current: list[dict[str, Any]] = []

    def close() -> None:
        if current:
            peak = max(current, key=lambda r: r["score"])
            severity = (
                "critical" if any(r["severity"] == "critical" for r in current) else ("warning")
            )
            events.append(
                Event(
                    current[0]["series"],
                    current[0]["ts"],
                    current[-1]["ts"],
                    len(current),
                    peak,
                    severity,
                )
            )

    for row in sorted(rows, key=lambda r: (r["series"], r["ts"])):
        if current and (
            row["series"] != current[-1]["series"] or row["ts"] - current[-1]["ts"] > gap
        ):
            close()
            current = []
        current.append(row)
    close()
    return events


def _components(row: dict[str, Any]) -> str:
    try:
        parts = json.loads(row.get("components") or "{}")
    except ValueError:
        return ""
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(parts.items()))


def _band(row: dict[str, Any]) -> str:
    if row.get("expected") is None:
        return "n/a"
    low, high = row.get("lower"), row.get("upper")
    band = f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None else ""
    return f"{row['expected']:.4g}{band}"


def _when(event: Event) -> str:
    if event.points == 1:
        return f"{event.start:%Y-%m-%d %H:%M:%S}"
    return f"{format_span(event.start, event.end, seconds=True)} ({event.points} points)"


_CELL = "display:table-cell;border:1px solid #999;padding:4px"
# Mail clients show the HTML; the plain-text part apprise derives from it keeps each
# row on one line (a <td> would become a line of its own) with " | " between cells.
_SEPARATOR = "<span style='display:none'> | </span>"


def _html_row(values: Sequence[str], header: bool = False) -> str:
    weight = ";font-weight:bold" if header else ""
    cells = _SEPARATOR.join(
        f"<span style='{_CELL}{weight}'>{html.escape(str(v))}</span>" for v in values
    )
    return f"<div style='display:table-row'>{cells}</div>"


def render_digest(
    monitor: str,
    rows: Sequence[dict[str, Any]],
    max_items: int,
    history_command: str,
    run_url: str | None = None,
    event_gap: timedelta = timedelta(minutes=15),
) -> Digest:
    """Top events by peak score, then a line for the rest and where to see them."""
    count = len(rows)
    events = group_events(rows, event_gap)
    critical = sum(1 for r in rows if r["severity"] == "critical")
    n_series = len({r["series"] for r in rows})
    first = min(r["ts"] for r in rows)
    last = max(r["ts"] for r in rows)
    noun = "anomaly" if count == 1 else "anomalies"
    title = f"[anomwatch] {monitor}: {count} {noun}" + (
        f" ({critical} critical)" if critical else ""
    )
    top = sorted(events, key=lambda e: (-e.peak["score"], e.start))[:max_items]
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    summary = f"{count} {noun} in {len(events)} event(s) on {n_series} series, {span}"
    lines = [f"Monitor {monitor}: {summary}", ""]
    for e in top:
        p = e.peak
        lines.append(
            f"{e.severity.upper():8} {e.series}  {_when(e)}  value {p['value']:.4g}  "
            f"expected {_band(p)}  score {p['score']:.3f}  ({_components(p)})"
        )
    rest = len(events) - len(top)
    if rest > 0:
        lines.append(f"... and {rest} more event(s).")
    lines += ["", f"See all: {history_command}"]
    if run_url:
        lines.append(f"Flow run: {run_url}")
    text = "\n".join(lines)
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - 20] + "\n... (truncated)"

    rows_html = [
        _html_row(
            (
                "severity",
                "series",
                "time (UTC)",
                "peak value",
                "expected [band]",
                "score",
                "components",
            ),
            header=True,
        ),
        *(
            _html_row(
                (
                    e.severity,
                    e.series,
                    _when(e),
                    f"{e.peak['value']:.4g}",
                    _band(e.peak),
                    f"{e.peak['score']:.3f}",
                    _components(e.peak),
                )
            )
            for e in top
        ),
    ]
    cells = "".join(rows_html)
    more = f"<p>... and {rest} more event(s).</p>" if rest > 0 else ""
    link = (
        f'<p>Flow run: <a href="{html.escape(run_url)}">{html.escape(run_url)}</a></p>'
        if run_url
        else ""
    )
    body_html = (
        f"<html><body><h2>{html.escape(title)}</h2><p>{html.escape(summary)}</p>"
        f"<div style='display:table;border-collapse:collapse'>{cells}</div>{more}"
        f"<p>See all: <code>{html.escape(history_command)}</code></p>{link}"
        "</body></html>"
    )
    return Digest(title=title, text=text, html=body_html, count=count)
