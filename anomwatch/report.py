"""`anomwatch report`: one self-contained HTML file about a monitor's recent anomalies.

Sections: summary (counts, critical, held back), anomalies per day (chart + table),
per series (chart of the 25 busiest + table of all), top anomalies (table, and the
3 highest-scoring series plotted around their top anomaly from the monitor's source,
as `anomalies show` draws them), feedback (labels,
the precision they imply, the active minimum score and classifier), and the active
model versions.
Plots are embedded as base64 PNGs so the file can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sqlalchemy import select  # noqa: E402

from anomwatch.config import MonitorConfig  # noqa: E402
from anomwatch.plots import date_ticks_quiet  # noqa: E402
from anomwatch.store.anomalies import query_anomalies  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.schema import classifiers, models  # noqa: E402

TOP = 20
PLOTS = 3  # series shown around their top anomaly, read from the source
TOP_SERIES = 25  # bars in the per-series chart (the table lists every series)


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG (closed afterwards); the web view serves these as they are."""
    buffer = io.BytesIO()
    with date_ticks_quiet():
        fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _png(fig: Any) -> str:
    return base64.b64encode(png_bytes(fig)).decode()


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _bar_chart(labels: list[str], counts: list[int], horizontal: bool, alt: str) -> str:
    src = base64.b64encode(bar_chart_png(labels, counts, horizontal)).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{src}">'


def bar_chart_png(labels: list[str], counts: list[int], horizontal: bool) -> bytes:
    """The per-day (vertical) or per-series (horizontal) bar chart of anomaly counts."""
    height = max(2.2, 0.28 * len(labels) + 0.8) if horizontal else 2.5
    fig, ax = plt.subplots(figsize=(8, height))
    if horizontal:
        ax.barh(labels[::-1], counts[::-1], color="tab:red")
        ax.set_xlabel("anomalies")
        ax.tick_params(axis="y", labelsize=7)
    else:
        ax.bar(labels, counts, color="tab:red")
        ax.set_ylabel("anomalies")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    fig.tight_layout()
    return png_bytes(fig)


def _feedback_filters(store: Store, monitor: str) -> str:
    """The active minimum score and classifier chosen from labels, if any."""
    from anomwatch.store.tuning import active_threshold

    threshold = active_threshold(store, monitor)
    with store.begin() as conn:
        clf = conn.execute(
            select(classifiers.c.kind, classifiers.c.version, classifiers.c.metrics)
            .where(classifiers.c.monitor == monitor, classifiers.c.active.is_(True))
            .limit(1)
        ).first()
    parts = [
        "minimum score from labels: "
        + ("none (the detector's own threshold)" if threshold is None else f"{threshold:.6f}")
    ]
    if clf is None:
        parts.append("classifier: none")
    else:
        m = json.loads(clf.metrics)
        parts.append(
            f"classifier: {clf.kind} v{clf.version} (cross-validated precision "
            f"{m.get('cv_precision', 0):.2f}, recall {m.get('cv_recall', 0):.2f}); its predicted "
            "false positives are stored with suppressed = classifier and not notified"
        )
    return "<p>" + "; ".join(html.escape(p) for p in parts) + ".</p>"


def _context_plots(
    store: Store, rows: list[dict[str, Any]], config: MonitorConfig | str, count: int
) -> str:
    """The top anomaly of each of the `count` highest-scoring series, in context."""
    from anomwatch.anomaly_plot import NoPlot, anomaly_plot
    from anomwatch.store.feedback import anomaly_detail

    if isinstance(config, str):
        return f"<p>No plots: {html.escape(config)}.</p>"
    chosen: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (-r["score"], r["id"])):
        chosen.setdefault(r["series"], r)
        if len(chosen) == count:
            break
    parts = []
    for r in chosen.values():
        detail = anomaly_detail(store, r["id"])
        assert detail is not None
        try:
            plot = anomaly_plot(store, config, detail)
        except NoPlot as exc:
            parts.append(f"<p>No plot of anomaly {r['id']}: {html.escape(str(exc))}.</p>")
            continue
        parts.append(
            f"<p>Anomaly {r['id']}, {html.escape(r['series'])} ({html.escape(plot.describe())}):"
            f'<br><img alt="anomaly {r["id"]}" src="data:image/png;base64,{_png(plot.figure)}"></p>'
        )
    return "".join(parts)


def build_report(
    store: Store,
    monitor: str,
    since: datetime,
    until: datetime,
    config: MonitorConfig | str = "no monitors.yaml given",
) -> str:
    """The HTML page; `config` is the monitor's settings (plots read its source), or why not."""
    rows = list(query_anomalies(store, monitor=monitor, since=since, until=until))
    per_day = Counter(r["ts"].date() for r in rows)
    per_series = Counter(r["series"] for r in rows)
    labelled = [r for r in rows if r["label"]]
    true_pos = sum(1 for r in labelled if r["label"] == "true_positive")
    precision = f"{true_pos / len(labelled):.2f}" if labelled else "n/a (no labels yet)"
    with store.begin() as conn:
        model_rows = conn.execute(
            select(models.c.series, models.c.version, models.c.trained_at, models.c.n_rows)
            .where(models.c.monitor == monitor, models.c.active.is_(True))
            .order_by(models.c.series)
        ).all()

    chart = series_chart = ""
    if per_day:
        days = sorted(per_day)
        chart = _bar_chart(
            [d.isoformat() for d in days], [per_day[d] for d in days], False, "anomalies per day"
        )
        common = per_series.most_common(TOP_SERIES)
        series_chart = _bar_chart(
            [s for s, _ in common], [n for _, n in common], True, "anomalies per series"
        )
    held = Counter(r["suppressed"] for r in rows if r["suppressed"])
    held_text = (
        "; stored but not notified: " + ", ".join(f"{n} {k}" for k, n in sorted(held.items()))
        if held
        else ""
    )

    top = sorted(rows, key=lambda r: -r["score"])[:TOP]
    sections = [
        f"<h1>anomwatch report: {html.escape(monitor)}</h1>",
        f"<p>{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC: {len(rows)} anomalies in "
        f"{len(per_series)} series; {sum(1 for r in rows if r['severity'] == 'critical')} "
        f"critical{html.escape(held_text)}.</p>",
        "<h2>Per day</h2>",
        chart,
        _table(["day", "anomalies"], [[d, per_day[d]] for d in sorted(per_day)]),
        "<h2>Per series</h2>",
        series_chart,
        _table(["series", "anomalies"], [[s, n] for s, n in per_series.most_common()]),
        f"<h2>Top {min(TOP, len(top))} anomalies</h2>",
        _table(
            ["id", "series", "time (UTC)", "value", "expected", "score", "severity", "status"],
            [
                [
                    r["id"],
                    r["series"],
                    f"{r['ts']:%Y-%m-%d %H:%M:%S}",
                    f"{r['value']:.4g}",
                    "" if r["expected"] is None else f"{r['expected']:.4g}",
                    f"{r['score']:.4f}",
                    r["severity"],
                    r["status"],
                ]
                for r in top
            ],
        ),
        f"<h2>Top {PLOTS} series in context</h2>" if rows else "",
        _context_plots(store, rows, config, PLOTS) if rows else "",
        "<h2>Feedback</h2>",
        f"<p>{len(labelled)} labelled: {true_pos} true positives, {len(labelled) - true_pos} "
        f"false positives; precision from feedback: {precision}.</p>",
        _feedback_filters(store, monitor),
        "<h2>Models</h2>",
        _table(
            ["series", "version", "trained at (UTC)", "training rows"],
            [[m.series, m.version, f"{m.trained_at:%Y-%m-%d %H:%M}", m.n_rows] for m in model_rows],
        ),
    ]
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#eee}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>anomwatch {html.escape(monitor)}"
        f"</title><style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )


def write_report(
    store: Store,
    monitor: str,
    since: datetime,
    until: datetime,
    out: Path,
    config: MonitorConfig | str = "no monitors.yaml given",
) -> Path:
    out.write_text(build_report(store, monitor, since, until, config))
    return out
