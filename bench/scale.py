"""Scale benchmark: tick, retrain and backfill for thousands of series.

    .venv/bin/python bench/scale.py --backend sqlite --series 1000
    .venv/bin/python bench/scale.py --backend postgresql --series 1000 --backfill-rows 10000000

Prints a table (ours vs. the floor: one plain SELECT of the same rows plus model
inference alone, measured in the same run) and appends a JSON line to
bench/results/scale.jsonl. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.jsonl"
STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 1)
PG_ADMIN = "postgresql+psycopg://root@127.0.0.1:5432/postgres"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def new_database(backend: str, workdir: Path, label: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / (label + '.db')}"
    from sqlalchemy import create_engine, text

    name = f"aw_bench_{label}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"postgresql+psycopg://root@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    engine.dispose()


def values_for(n_series: int, start: int, n_points: int, seed: int = 0) -> np.ndarray:
    """(n_points, n_series) daily sine + noise; deterministic per (seed, step)."""
    steps = np.arange(start, start + n_points)
    phase = 2 * np.pi * (steps % 288) / 288
    rng = np.random.default_rng([seed, start])
    level = 50 + 10 * np.sin(phase)[:, None]
    return level + rng.normal(0, 1.0, (n_points, n_series))


def write_metrics(url: str, n_series: int, start: int, n_points: int, chunk: int = 200) -> int:
    """Bulk-load rows (ts, series_id, value) fast: COPY on PostgreSQL, executemany on SQLite."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS metrics (ts TIMESTAMP NOT NULL, "
                "series_id VARCHAR(20) NOT NULL, value DOUBLE PRECISION)"
            )
        )
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_metrics_ts ON metrics (ts)"))
    names = [f"s{i:05d}" for i in range(n_series)]
    total = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for offset in range(0, n_points, chunk):
            size = min(chunk, n_points - offset)
            vals = values_for(n_series, start + offset, size)
            times = [T0 + (start + offset + j) * STEP for j in range(size)]
            if url.startswith("postgresql"):
                buf = io.StringIO()
                for j, ts in enumerate(times):
                    stamp = ts.isoformat(sep=" ")
                    buf.write(
                        "".join(
                            f"{stamp}\t{n}\t{v:.5f}\n" for n, v in zip(names, vals[j], strict=True)
                        )
                    )
                buf.seek(0)
                with cursor.copy("COPY metrics (ts, series_id, value) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
            else:
                rows = [
                    (ts.isoformat(sep=" ") + ".000000", n, float(v))
                    for j, ts in enumerate(times)
                    for n, v in zip(names, vals[j], strict=True)
                ]
                cursor.executemany("INSERT INTO metrics VALUES (?, ?, ?)", rows)
            total += size * n_series
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return total


def monitors_yaml(path: Path, source_url: str, batch_size: int) -> None:
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "monitors": [
                    {
                        "name": "scale",
                        "source": {
                            "url": source_url,
                            "table": "metrics",
                            "timestamp": "ts",
                            "series": ["series_id"],
                            "values": ["value"],
                            "max_rows_per_tick": 10_000_000,
                        },
                        "detector": {"components": ["iforest"], "contamination": 0.01},
                        "retrain": {"every": "30d", "window": "30d"},
                        "batch_size": batch_size,
                    }
                ]
            }
        )
    )


def floor_tick(source_url: str, store_url: str, since: datetime, until: datetime) -> float:
    """One plain SELECT of the tick's rows + scoring each series with its loaded model."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    from anomwatch.store.db import Store
    from anomwatch.store.models_registry import active_models
    from tasks.fit import clear_model_cache, load_model

    clear_model_cache()
    started = time.perf_counter()
    engine = create_engine(source_url)
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(
                text("SELECT ts, series_id, value FROM metrics WHERE ts > :a AND ts <= :b"),
                {"a": since, "b": until},
            ).fetchall(),
            columns=["ts", "series_id", "value"],
        )
    engine.dispose()
    store = Store(store_url)
    models = active_models(store, "scale")
    for key, part in frame.groupby("series_id"):
        model = load_model(models[f"series_id={key}"])
        model.score(part[["value"]].to_numpy(float))
    store.dispose()
    return time.perf_counter() - started


def run_backfill_subprocess(
    env: dict[str, str], monitors: Path, since: datetime, until: datetime
) -> tuple[float, int, float]:
    """Backfill in a child process; returns (seconds, rows, peak RSS MB of the child)."""
    code = (
        "import json,resource,time,sys\n"
        "from datetime import datetime\n"
        "from anomwatch.config import load_monitors\n"
        "from anomwatch.settings import Settings\n"
        "from anomwatch.store.db import Store\n"
        "from tasks.backfill import run_backfill\n"
        "s=Settings(); m=load_monitors(s.monitors_file).get('scale')\n"
        "st=Store(s.resolved_store_url); t=time.perf_counter()\n"
        f"a=datetime.fromisoformat('{since.isoformat()}')\n"
        f"b=datetime.fromisoformat('{until.isoformat()}')\n"
        "p=run_backfill(m, st, s.models_dir, a, b, 200000)\n"
        "print(json.dumps({'seconds': time.perf_counter()-t, 'rows': p.rows_read, "
        "'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ANOMWATCH_MONITORS_FILE": str(monitors)},
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["seconds"], data["rows"], data["rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--history", type=int, default=288, help="training points per series")
    parser.add_argument("--points", type=int, default=60, help="new points per series per tick")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--backfill-rows", type=int, default=2_000_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aw-scale-"))
    source_url = new_database(args.backend, workdir, "src")
    store_url = new_database(args.backend, workdir, "store")
    env = {**os.environ, "ANOMWATCH_HOME": str(workdir / "home"), "ANOMWATCH_STORE_URL": store_url}
    os.environ.update(env)
    monitors = workdir / "monitors.yaml"
    monitors_yaml(monitors, source_url, args.batch_size)
    rows: list[tuple[str, float, float | None, str]] = []
    try:
        from anomwatch.store.db import Store
        from flows.monitor import monitor_tick

        Store(store_url).migrate()
        t = time.perf_counter()
        n_hist = write_metrics(source_url, args.series, 0, args.history + 1)
        print(f"loaded {n_hist:,} history rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        t_hist_end = T0 + args.history * STEP

        from prefect import flow

        flow(name="warm-up")(lambda: None)()  # start Prefect's temporary API outside the timing
        t = time.perf_counter()
        first = monitor_tick("scale", monitors_file=str(monitors), until=t_hist_end)
        retrain_s = time.perf_counter() - t
        assert first["models_trained"] == args.series, first
        rows.append((f"retrain {args.series} series", retrain_s, None, "<= 600 s"))

        write_metrics(source_url, args.series, args.history + 1, args.points)
        t_new_end = t_hist_end + args.points * STEP
        from tasks.fit import clear_model_cache

        clear_model_cache()
        t = time.perf_counter()
        tick = monitor_tick("scale", monitors_file=str(monitors), until=t_new_end)
        tick_s = time.perf_counter() - t
        assert tick["points_scored"] == args.series * args.points, tick
        floor_s = floor_tick(source_url, store_url, t_hist_end, t_new_end)
        rows.append(
            (
                f"tick {args.series} x {args.points} (models reused)",
                tick_s,
                floor_s,
                "<= 30 s, <= 3x floor",
            )
        )

        extra = max(0, args.backfill_rows // args.series - args.history - args.points)
        if extra:
            t = time.perf_counter()
            write_metrics(source_url, args.series, args.history + args.points + 1, extra)
            print(f"loaded backfill rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        total_points = args.history + args.points + extra
        secs, n_rows, rss = run_backfill_subprocess(env, monitors, T0, T0 + total_points * STEP)
        rows.append(
            (
                f"backfill {n_rows:,} rows",
                secs,
                None,
                f"{n_rows / secs:,.0f} rows/s (>= 100,000), peak RSS {rss:,.0f} MB (<= 2,048)",
            )
        )
    finally:
        drop_database(source_url)
        drop_database(store_url)

    print(f"\nanomwatch scale benchmark ({args.backend}, {args.series} series, 2 cores)")
    print(f"{'what':44} {'ours s':>9} {'floor s':>9} {'ratio':>7}  target / note")
    for what, ours, floor, note in rows:
        ratio = f"{ours / floor:.2f}" if floor else ""
        floor_txt = f"{floor:.2f}" if floor else ""
        print(f"{what:44} {ours:9.2f} {floor_txt:>9} {ratio:>7}  {note}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "backend": args.backend,
                    "series": args.series,
                    "rows": [
                        dict(zip(["what", "ours_s", "floor_s", "note"], r, strict=True))
                        for r in rows
                    ],
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
