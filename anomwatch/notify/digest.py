"""One readable message per monitor and run: one line per alert event, not per point.

A line says what happened to an event since the last message (it opened, escalated,
became the new normal, or, for a health check, resolved) with its peak, its start
and its points so far, so a two-hour incident is one line in one message. Plain text
for chat, HTML for email.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SLACK_TEXT_LIMIT = 35_000
NOTICE_LABEL = {
    "opened": "opened",
    "escalated": "escalated",
    "new_normal": "new normal",
    "resolved": "resolved",
}


@dataclass(frozen=True)
class Digest:
    title: str
    text: str
    html: str
    count: int  # event lines


def _components(line: dict[str, Any]) -> str:
    try:
        parts = json.loads(line.get("components") or "{}")
    except ValueError:
        return ""
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(parts.items()))


def _band(line: dict[str, Any]) -> str:
    if line.get("expected") is None:
        return "n/a"
    low, high = line.get("lower"), line.get("upper")
    band = f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None else ""
    return f"{line['expected']:.4g}{band}"


def _points(n: int) -> str:
    return "1 point" if n == 1 else f"{n} points"


def _when(line: dict[str, Any]) -> str:
    start: datetime = line["started_at"]
    text = f"since {start:%Y-%m-%d %H:%M:%S}, {_points(line['n_points'])} so far"
    if line["kind"] == "anomaly" and line["status"] == "resolved" and line.get("resolved_at"):
        resolved: datetime = line["resolved_at"]
        same_day = resolved.date() == start.date()
        text += f", resolved {resolved:{'%H:%M:%S' if same_day else '%Y-%m-%d %H:%M:%S'}}"
    return text


def score_text(score: float) -> str:
    """Enough digits to tell scores near 1 apart (0.9995 is not '1.000')."""
    if score >= 1:
        return "1"
    digits = min(9, max(3, math.ceil(-math.log10(1 - score) - 1e-9) + 1))
    return f"{score:.{digits}f}"


def _peak(line: dict[str, Any]) -> str:
    if line.get("value") is None or line.get("peak_score") is None:
        return ""
    return (
        f"peak {line['value']:.4g} at {line['peak_ts']:%H:%M:%S}  expected {_band(line)}  "
        f"score {score_text(line['peak_score'])}"
    )


def _cells(line: dict[str, Any]) -> tuple[str, ...]:
    """severity, series, what happened, when, peak, components."""
    label = NOTICE_LABEL.get(line["notice"], line["notice"])
    if line["kind"] == "health":
        if line["notice"] == "resolved":
            when = (
                f"healthy again at {line['resolved_at']:%Y-%m-%d %H:%M:%S} "
                f"(failing since {line['started_at']:%Y-%m-%d %H:%M:%S})"
            )
        else:
            when = f"since {line['started_at']:%Y-%m-%d %H:%M:%S}: {line.get('detail') or ''}"
        return ("HEALTH", line["series"], label, when, "", "")
    what = label
    if line["notice"] == "new_normal":
        what += " (treated as normal until it resolves)"
    return (
        line["severity"].upper(),
        line["series"],
        what,
        _when(line),
        _peak(line),
        _components(line),
    )


def event_link(line: dict[str, Any], web_base_url: str | None) -> str | None:
    """The event's page in `anomwatch web` (settings web_base_url), or None when unset."""
    if not web_base_url or line.get("event_id") is None:
        return None
    return f"{web_base_url.rstrip('/')}/events/{int(line['event_id'])}"


def _text_line(line: dict[str, Any], link: str | None = None) -> str:
    severity, series, what, when, peak, parts = _cells(line)
    text = f"{severity:8} {series}  {what}  {when}"
    if peak:
        text += f"  {peak}"
    if parts:
        text += f"  ({parts})"
    if link:
        text += f"  {link}"
    return text


_CELL = "display:table-cell;border:1px solid #999;padding:4px"
# Mail clients show the HTML; the plain-text part apprise derives from it keeps each
# row on one line (a <td> would become a line of its own) with " | " between cells.
_SEPARATOR = "<span style='display:none'> | </span>"


def _html_row(values: Sequence[str], header: bool = False, link: str | None = None) -> str:
    weight = ";font-weight:bold" if header else ""
    texts = [html.escape(str(v)) for v in values]
    if link:
        href = html.escape(link)
        texts.append(f'<a href="{href}">{href}</a>')
    cells = _SEPARATOR.join(f"<span style='{_CELL}{weight}'>{t}</span>" for t in texts)
    return f"<div style='display:table-row'>{cells}</div>"


def _order(line: dict[str, Any]) -> tuple[Any, ...]:
    """Health first, then critical, then by peak score."""
    return (
        line["kind"] != "health",
        line["severity"] != "critical",
        -(line.get("peak_score") or 0.0),
        line["started_at"],
    )


def render_digest(
    monitor: str,
    lines: Sequence[dict[str, Any]],
    max_items: int,
    history_command: str,
    run_url: str | None = None,
    web_base_url: str | None = None,
) -> Digest:
    """The event lines (outbox.digest_events), most urgent first, then where to see all.

    With `web_base_url` each line links to its event's page (feedback is one click).
    """
    count = len(lines)
    kinds = Counter(NOTICE_LABEL.get(x["notice"], x["notice"]) for x in lines)
    critical = sum(1 for x in lines if x["kind"] == "anomaly" and x["severity"] == "critical")
    health = sum(1 for x in lines if x["kind"] == "health")
    noun = "event" if count == 1 else "events"
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    extra = "".join(
        [f", {critical} critical" if critical else "", f", {health} health" if health else ""]
    )
    title = f"[anomwatch] {monitor}: {count} {noun} ({detail}{extra})"
    if count == 1 and health:
        title = (
            f"[anomwatch] {monitor}: health check {lines[0]['series']} {detail.split(' ', 1)[1]}"
        )
    n_series = len({x["series"] for x in lines if x["kind"] == "anomaly"})
    first = min(x["started_at"] for x in lines)
    last = max(x.get("resolved_at") or x["last_at"] for x in lines)
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    summary = f"{count} {noun} ({detail}) on {n_series} series, {span}"
    if health:
        summary = f"{count} {noun} ({detail}; {health} health check(s)), {span}"
    top = sorted(lines, key=_order)[:max_items]
    out = [f"Monitor {monitor}: {summary}", ""]
    out += [_text_line(x, event_link(x, web_base_url)) for x in top]
    rest = count - len(top)
    if rest > 0:
        out.append(f"... and {rest} more event(s).")
    out += ["", f"See all: {history_command}"]
    if run_url:
        out.append(f"Flow run: {run_url}")
    text = "\n".join(out)
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - 20] + "\n... (truncated)"

    header: tuple[str, ...] = ("severity", "series", "event", "time (UTC)", "peak", "components")
    if web_base_url:
        header += ("page",)
    rows = _html_row(header, header=True) + "".join(
        _html_row(_cells(x), link=event_link(x, web_base_url)) for x in top
    )
    more = f"<p>... and {rest} more event(s).</p>" if rest > 0 else ""
    link = (
        f'<p>Flow run: <a href="{html.escape(run_url)}">{html.escape(run_url)}</a></p>'
        if run_url
        else ""
    )
    body_html = (
        f"<html><body><h2>{html.escape(title)}</h2><p>{html.escape(summary)}</p>"
        f"<div style='display:table;border-collapse:collapse'>{rows}</div>{more}"
        f"<p>See all: <code>{html.escape(history_command)}</code></p>{link}"
        "</body></html>"
    )
    return Digest(title=title, text=text, html=body_html, count=count)
