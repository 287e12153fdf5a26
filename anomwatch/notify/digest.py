"""One readable message per monitor and run: plain text for chat, HTML for email."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SLACK_TEXT_LIMIT = 35_000


@dataclass(frozen=True)
class Digest:
    title: str
    text: str
    html: str
    count: int


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


def render_digest(
    monitor: str,
    rows: Sequence[dict[str, Any]],
    max_items: int,
    history_command: str,
    run_url: str | None = None,
) -> Digest:
    """Top anomalies by score, then a line for the rest and where to see them."""
    count = len(rows)
    critical = sum(1 for r in rows if r["severity"] == "critical")
    n_series = len({r["series"] for r in rows})
    first = min(r["ts"] for r in rows)
    last = max(r["ts"] for r in rows)
    noun = "anomaly" if count == 1 else "anomalies"
    title = f"[anomwatch] {monitor}: {count} {noun}" + (
        f" ({critical} critical)" if critical else ""
    )
    top = sorted(rows, key=lambda r: (-r["score"], r["ts"]))[:max_items]
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    lines = [f"Monitor {monitor}: {count} {noun} in {n_series} series, {span}", ""]
    for r in top:
        lines.append(
            f"{r['severity'].upper():8} {r['series']}  {r['ts']:%Y-%m-%d %H:%M:%S}  "
            f"value {r['value']:.4g}  expected {_band(r)}  score {r['score']:.3f}  "
            f"({_components(r)})"
        )
    rest = count - len(top)
    if rest > 0:
        lines.append(f"... and {rest} more.")
    lines += ["", f"See all: {history_command}"]
    if run_url:
        lines.append(f"Flow run: {run_url}")
    text = "\n".join(lines)
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - 20] + "\n... (truncated)"

    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                r["severity"],
                r["series"],
                f"{r['ts']:%Y-%m-%d %H:%M:%S}",
                f"{r['value']:.4g}",
                _band(r),
                f"{r['score']:.3f}",
                _components(r),
            )
        )
        + "</tr>"
        for r in top
    )
    more = f"<p>... and {rest} more.</p>" if rest > 0 else ""
    link = (
        f'<p>Flow run: <a href="{html.escape(run_url)}">{html.escape(run_url)}</a></p>'
        if (run_url)
        else ""
    )
    body_html = (
        f"<html><body><h2>{html.escape(title)}</h2>"
        f"<p>{count} {noun} in {n_series} series, {html.escape(span)}</p>"
        "<table border='1' cellpadding='4' cellspacing='0'>"
        "<tr><th>severity</th><th>series</th><th>time (UTC)</th><th>value</th>"
        "<th>expected [band]</th><th>score</th><th>components</th></tr>"
        f"{cells}</table>{more}"
        f"<p>See all: <code>{html.escape(history_command)}</code></p>{link}"
        "</body></html>"
    )
    return Digest(title=title, text=text, html=body_html, count=count)
