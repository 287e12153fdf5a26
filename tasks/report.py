"""Report: the run summary (markdown, Prefect artifact) and the digest plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from anomwatch.config import MonitorConfig
from anomwatch.plots import SeriesPlot, plot_series
from anomwatch.source import TS_COLUMN
from anomwatch.store.anomalies import query_anomalies
from anomwatch.store.db import Store
from anomwatch.store.runs import RunStats
from tasks.base import pipeline_task
from tasks.score import ScoredBatch

MAX_PLOT_PANELS = 4


def plot_tick(monitor: MonitorConfig, scored: ScoredBatch, path: Path) -> Path | None:
    """Plot the series with the most anomalies in this tick (context + new rows)."""
    counts: dict[str, int] = {}
    for record in scored.records:
        counts[record.series] = counts.get(record.series, 0) + 1
    if not counts:
        return None
    top = sorted(counts, key=lambda s: (-counts[s], s))[:MAX_PLOT_PANELS]
    value = monitor.source.values[0]
    panels = []
    for series in top:
        s = scored.per_series[series]
        panels.append(
            SeriesPlot(
                title=f"{series} ({value}) - {counts[series]} anomalous point(s)",
                ts=s.frame[TS_COLUMN].reset_index(drop=True),
                values=s.frame[value].to_numpy(float),
                expected=s.expected[:, 0],
                lower=s.lower[:, 0],
                upper=s.upper[:, 0],
                anomalous=s.is_anomaly & (np.arange(len(s.frame)) >= s.n_context),
            )
        )
    return plot_series(panels, path, f"anomwatch: {monitor.name}")


def run_markdown(
    monitor: MonitorConfig,
    run_id: int,
    stats: RunStats,
    scored: ScoredBatch,
    new_ids: list[int],
    notes: list[str],
) -> str:
    lines = [
        f"# anomwatch run {run_id}: {monitor.name}",
        "",
        f"series: {stats.series}, rows read: {stats.rows_read}, points scored: "
        f"{stats.points_scored}, new anomalies: {len(new_ids)}, models trained: "
        f"{stats.models_trained}, cold start: {stats.cold_start}",
        "",
    ]
    if scored.records:
        lines += [
            "| series | time (UTC) | value | expected | score | severity |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(scored.records, key=lambda r: (-r.score, r.ts))[:50]:
            expected = "n/a" if r.expected is None else f"{r.expected:.4g}"
            lines.append(
                f"| {r.series} | {r.ts:%Y-%m-%d %H:%M:%S} | {r.value:.4g} | {expected} | "
                f"{r.score:.3f} | {r.severity} |"
            )
        if len(scored.records) > 50:
            lines.append(f"\n... and {len(scored.records) - 50} more")
    else:
        lines.append("No anomalies in this run.")
    if notes:
        lines += ["", "## Notes", *[f"- {n}" for n in notes]]
    if new_ids:
        shown = ", ".join(map(str, new_ids[:20])) + (" ..." if len(new_ids) > 20 else "")
        lines += ["", f"New anomaly ids: {shown} (details and plot: `anomwatch anomalies show ID`)"]
    lines += [
        "",
        f"History: `anomwatch anomalies --monitor {monitor.name} --since 24h`",
        "",
        f"Report: `anomwatch report --monitor {monitor.name} --since 7d --out report.html`",
    ]
    return "\n".join(lines)


plot_task = pipeline_task("plot")(plot_tick)


def anomaly_table_rows(store: Store, ids: list[int], limit: int = 200) -> list[dict[str, Any]]:
    """The run's stored anomalies, highest score first, as the store has them (with ids)."""
    stored = sorted(query_anomalies(store, ids=ids), key=lambda r: (-r["score"], r["ts"]))
    return [
        {
            "id": r["id"],
            "series": r["series"],
            "ts": r["ts"].isoformat(),
            "value": r["value"],
            "expected": r["expected"],
            "score": round(r["score"], 4),
            "severity": r["severity"],
            "held_back": r["suppressed"] or "",
        }
        for r in stored[:limit]
    ]
