"""`anomwatch report`: one self-contained HTML file about a monitor's recent anomalies.

Sections: summary, anomalies per day (chart + table), per series, top anomalies,
feedback (labels and the precision they imply), and the active model versions.
Plots are embedded as base64 PNGs so the file can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sqlalchemy import select  # noqa: E402

from anomwatch.store.anomalies import query_anomalies  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.schema import models  # noqa: E402

TOP = 20


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def build_report(store: Store, monitor: str, since: datetime, until: datetime) -> str:
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

    chart = ""
    if per_day:
        days = sorted(per_day)
        fig, ax = plt.subplots(figsize=(8, 2.5))
        ax.bar([d.isoformat() for d in days], [per_day[d] for d in days], color="tab:red")
        ax.set_ylabel("anomalies")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        fig.tight_layout()
        chart = f'<img alt="anomalies per day" src="data:image/png;base64,{_png(fig)}">'

    top = sorted(rows, key=lambda r: -r["score"])[:TOP]
    sections = [
        f"<h1>anomwatch report: {html.escape(monitor)}</h1>",
        f"<p>{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC: {len(rows)} anomalies in "
        f"{len(per_series)} series; {sum(1 for r in rows if r['severity'] == 'critical')} "
        "critical.</p>",
        "<h2>Per day</h2>",
        chart,
        _table(["day", "anomalies"], [[d, per_day[d]] for d in sorted(per_day)]),
        "<h2>Per series</h2>",
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
        "<h2>Feedback</h2>",
        f"<p>{len(labelled)} labelled: {true_pos} true positives, {len(labelled) - true_pos} "
        f"false positives; precision from feedback: {precision}.</p>",
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


def write_report(store: Store, monitor: str, since: datetime, until: datetime, out: Path) -> Path:
    out.write_text(build_report(store, monitor, since, until))
    return out
