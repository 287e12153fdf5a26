"""Exporter benchmark: how long one Prometheus scrape (`render_metrics`) takes on a big store.

    nice -n 5 .venv/bin/python bench/exporter_scrape.py --rows 10000000 --backend sqlite
    nice -n 5 .venv/bin/python bench/exporter_scrape.py --rows 1000000 --runs 200000

Builds a throwaway store like bench/history.py (same layout and loaders: anomaly rows of
many monitors and series over a year), adds `--runs` finished runs spread over the
monitors, then renders the metrics `--repeat` times and prints p50/p95. Every scrape
reads the store (grouped counts of anomalies, events, runs, notifications; the run
duration histogram bucketed in SQL), so its cost grows with the tables.
Writes a JSON line to /tmp/anomwatch-bench/exporter_scrape.jsonl (bench/results/ with
--record).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import history  # noqa: E402  (bench/history.py: layout, loaders, throwaway stores)
from sqlalchemy import insert  # noqa: E402

from anomwatch.durations import utcnow  # noqa: E402
from anomwatch.exporter import render_metrics  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.runs import register_monitor  # noqa: E402
from anomwatch.store.schema import runs  # noqa: E402


def add_runs(store: Store, layout: history.Layout, n: int) -> None:
    rng = np.random.default_rng(2)
    step = timedelta(days=365) / max(n, 1)
    start = history.T_END - timedelta(days=365)
    batch = []
    statuses = ["succeeded"] * 18 + ["partial", "failed"]
    for i in range(n):
        began = start + step * i
        batch.append(
            {
                "monitor": layout.monitor_names[i % layout.monitors],
                "started_at": began,
                "finished_at": began + timedelta(seconds=float(rng.gamma(2.0, 3.0))),
                "status": statuses[i % len(statuses)],
                "series": layout.series,
                "rows_read": 120,
                "points_scored": 80,
                "anomalies": 1,
                "models_trained": 0,
                "cold_start": 0,
            }
        )
        if len(batch) == 20_000 or i == n - 1:
            with store.begin() as conn:
                conn.execute(insert(runs), batch)
            batch = []


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, object]:
    layout = history.Layout(args.rows, args.monitors, args.series, 365)
    with tempfile.TemporaryDirectory(prefix="aw-scrape-") as tmp:
        url = history.new_store(backend, Path(tmp))
        store = Store(url)
        try:
            store.migrate()
            for name in layout.monitor_names:
                register_monitor(store, name, "bench")
            print(f"{backend}: loading {args.rows:,} anomalies", file=sys.stderr)
            history._loaded[:] = [0, time.monotonic()]
            load = history.load_sqlite if backend == "sqlite" else history.load_postgresql
            load(url, layout, 100_000)
            add_runs(store, layout, args.runs)
            print(file=sys.stderr)
            size = len(render_metrics(store))  # warm-up
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                render_metrics(store)
                times.append((time.perf_counter() - began) * 1000)
            return {
                "backend": backend,
                "anomalies": args.rows,
                "runs": args.runs,
                "monitors": args.monitors,
                "p50_ms": round(float(np.percentile(times, 50)), 1),
                "p95_ms": round(float(np.percentile(times, 95)), 1),
                "bytes": size,
            }
        finally:
            store.dispose()
            history.drop_store(url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000, help="anomaly rows")
    parser.add_argument("--runs", type=int, default=100_000, help="finished runs")
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--series", type=int, default=40, help="series per monitor")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="append to bench/results/")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args) for b in backends]
    print(
        f"{'backend':11} {'anomalies':>11} {'runs':>9} {'monitors':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:11} {r['anomalies']:>11,} {r['runs']:>9,} {r['monitors']:>8} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['bytes']:>8,}"
        )
    out = (
        ROOT / "bench" / "results" / "exporter_scrape.jsonl"
        if args.record
        else Path("/tmp/anomwatch-bench/exporter_scrape.jsonl")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps({"at": utcnow().isoformat(timespec="seconds"), "results": results}))
        fh.write("\n")


if __name__ == "__main__":
    main()
