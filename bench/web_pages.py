"""Web view benchmark: server time of every page of `anomwatch web` on the history store.

    nice -n 5 .venv/bin/python bench/web_pages.py --rows 10000000
    nice -n 5 .venv/bin/python bench/web_pages.py --rows 1000000 --keep /tmp/aw-web-bench

Builds the store of bench/history.py (same layout and loaders: anomaly rows of 50
monitors x 40 series over a year, SQLite), adds alert events (one per series per day
of the last week, each linked to its anomalies), runs every monitor through a
monitors.yaml whose source (a SQLite file with the rows around the last week) the
plot endpoint reads, then times each page in process through FastAPI's TestClient
(routing, auth, SQL, templates: all the server does; no network). Each page is
requested --repeat times on different monitors/events/anomalies; the table shows
p50/p95 and the target (every page <= 300 ms). Images (plot and report charts) are
timed too but are separate requests, drawn by matplotlib. --keep reuses a built
store. Appends one JSON line to bench/results/web_pages.jsonl with --record.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import history  # noqa: E402  (bench/history.py: the store this benchmark reads)
import yaml  # noqa: E402

from anomwatch.durations import utcnow  # noqa: E402
from anomwatch.settings import Settings  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.runs import register_monitor  # noqa: E402

TARGET_MS = 300.0
RESULTS = ROOT / "bench" / "results" / "web_pages.jsonl"
FMT = "%Y-%m-%d %H:%M:%S.%f"
WEEK = timedelta(days=7)


def build(workdir: Path, layout: history.Layout) -> None:
    """The history store, plus events and a source for the last week."""
    url = f"sqlite:///{workdir / 'history.db'}"
    store = Store(url)
    store.migrate()
    for name in layout.monitor_names:
        register_monitor(store, name, "bench")
    store.dispose()
    print(f"loading {layout.rows:,} anomaly rows", file=sys.stderr)
    history._loaded[:] = [0, time.monotonic()]
    history.load_sqlite(url, layout, 100_000)
    print(file=sys.stderr)
    conn = sqlite3.connect(workdir / "history.db")
    since = (history.T_END - WEEK).strftime(FMT)
    # one event per series and day of the last week, over that day's anomalies
    conn.execute(
        """INSERT INTO events (monitor, series, kind, status, started_at, last_at, resolved_at,
               first_score, peak_score, peak_ts, severity, n_points, quiet_rows, digest_id,
               created_at, updated_at)
           SELECT monitor, series, 'anomaly', 'resolved', MIN(ts), MAX(ts), MAX(ts),
               MIN(score), MAX(score), MAX(ts), 'critical', COUNT(*), 0, NULL, MIN(ts), MAX(ts)
           FROM anomalies WHERE ts >= ?
           GROUP BY monitor, series, substr(ts, 1, 10)""",
        (since,),
    )
    conn.execute(
        """UPDATE anomalies SET event_id = (
               SELECT e.id FROM events e WHERE e.monitor = anomalies.monitor
               AND e.series = anomalies.series AND anomalies.ts BETWEEN e.started_at AND e.last_at)
           WHERE ts >= ?""",
        (since,),
    )
    conn.commit()
    conn.close()
    source = sqlite3.connect(workdir / "source.db")
    source.execute("CREATE TABLE metrics (ts TIMESTAMP, host TEXT, metric TEXT, value REAL)")
    source.execute("CREATE INDEX ix_metrics ON metrics (host, metric, ts)")
    start = history.T_END - WEEK - timedelta(days=1)
    stamps = [start + timedelta(minutes=5 * i) for i in range(int(8 * 24 * 12) + 1)]
    rng = np.random.default_rng(0)
    for s in range(layout.series):
        host, metric = f"h{s:03d}", f"m{s % 7}"
        values = rng.normal(100, 30, len(stamps)).round(3)
        source.executemany(
            "INSERT INTO metrics VALUES (?, ?, ?, ?)",
            [
                (t.strftime(FMT), host, metric, float(v))
                for t, v in zip(stamps, values, strict=True)
            ],
        )
    source.commit()
    source.close()
    monitors = [
        {
            "name": name,
            "source": {
                "url": f"sqlite:///{workdir / 'source.db'}",
                "table": "metrics",
                "timestamp": "ts",
                "series": ["host", "metric"],
                "values": ["value"],
            },
            "detector": {"components": ["iforest"]},
        }
        for name in layout.monitor_names
    ]
    (workdir / "monitors.yaml").write_text(yaml.safe_dump({"monitors": monitors}))
    (workdir / "built").write_text(str(layout.rows))


def pick(conn: sqlite3.Connection, sql: str, n: int) -> list[Any]:
    return [r[0] for r in conn.execute(sql, (n,))]


def timed(client: Any, paths: list[str], repeat: int) -> tuple[float, float, int, str]:
    client.get(paths[0])  # warm-up
    times, status, size = [], 200, 0
    for i in range(repeat):
        began = time.perf_counter()
        response = client.get(paths[i % len(paths)])
        times.append((time.perf_counter() - began) * 1000)
        status = max(status, response.status_code)
        size = len(response.content)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), size, str(status)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the store here once and reuse it")
    parser.add_argument("--record", action="store_true", help="append to bench/results")
    args = parser.parse_args()

    import tempfile

    from fastapi.testclient import TestClient

    from anomwatch.web.app import create_app
    from anomwatch.web.auth import Credentials

    layout = history.Layout(args.rows, args.monitors, args.series, args.days)
    holder = tempfile.TemporaryDirectory(prefix="aw-web-bench-")
    workdir = args.keep or Path(holder.name)
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "built"
    if not (marker.is_file() and marker.read_text() == str(args.rows)):
        began = time.monotonic()
        build(workdir, layout)
        print(f"built in {time.monotonic() - began:.0f} s", file=sys.stderr)
    url = f"sqlite:///{workdir / 'history.db'}"
    conn = sqlite3.connect(workdir / "history.db")
    since = (history.T_END - WEEK).strftime(FMT)
    events = pick(conn, "SELECT id FROM events ORDER BY random() LIMIT ?", args.repeat)
    points = pick(
        conn,
        f"SELECT id FROM anomalies WHERE ts >= '{since}' ORDER BY random() LIMIT ?",  # noqa: S608
        args.repeat,
    )
    conn.close()
    rng = np.random.default_rng(2)
    monitors = [layout.monitor_names[int(i)] for i in rng.integers(0, args.monitors, 20)]
    day = (history.T_END - WEEK).date().isoformat()
    week = f"since={day}"
    store = Store(url)
    settings = Settings(
        home=workdir / "home", store_url=url, monitors_file=workdir / "monitors.yaml"
    )
    app = create_app(settings, store, Credentials(open_access=True))
    # page 2 of a monitor: the key of the 50th newest row
    cases: list[tuple[str, list[str]]] = []
    with TestClient(app) as client:
        second = []
        for m in monitors[:5]:
            html = client.get(f"/monitors/{m}").text
            key = html.split('id="next-anomalies" href="?')[1].split('"')[0].replace("&amp;", "&")
            second.append(f"/monitors/{m}?{key}")
        cases = [
            ("monitors (all 50)", ["/"]),
            ("monitor: events + anomalies", [f"/monitors/{m}" for m in monitors]),
            (
                "monitor, filtered 7d",
                [f"/monitors/{m}?{week}&series=host%3Dh01*&severity=critical" for m in monitors],
            ),
            ("monitor, next page", second),
            ("event", [f"/events/{i}" for i in events]),
            ("anomaly", [f"/anomalies/{i}" for i in points]),
            ("report 7d", [f"/monitors/{m}/report?{week}" for m in monitors]),
            ("image: anomaly plot", [f"/anomalies/{i}/plot.png" for i in points]),
            (
                "image: per-day chart",
                [f"/monitors/{m}/report/per-day.png?{week}" for m in monitors],
            ),
            (
                "image: per-series chart",
                [f"/monitors/{m}/report/per-series.png?{week}" for m in monitors],
            ),
        ]
        results = []
        for name, paths in cases:
            p50, p95, size, status = timed(client, paths, args.repeat)
            results.append(
                {
                    "page": name,
                    "p50_ms": round(p50, 1),
                    "p95_ms": round(p95, 1),
                    "bytes": size,
                    "status": status,
                }
            )
    store.dispose()
    holder.cleanup()
    print(
        f"anomwatch web on the history store: {args.rows:,} anomaly rows, SQLite, "
        f"{args.repeat} requests per page"
    )
    print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9} {'status':>6}")
    for r in results:
        print(
            f"{r['page']:32} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['bytes']:>9,} "
            f"{r['status']:>6}"
        )
    pages = [r for r in results if not str(r["page"]).startswith("image")]
    worst = max(float(r["p95_ms"]) for r in pages)
    verdict = "met" if worst <= TARGET_MS else "NOT met"
    print(
        f"target: every page p95 <= {TARGET_MS:.0f} ms: {verdict} (worst page p95 {worst:.1f} ms)"
    )
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as fh:
            line = {
                "at": utcnow().isoformat(timespec="seconds"),
                "rows": args.rows,
                "repeat": args.repeat,
                "results": results,
            }
            fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
