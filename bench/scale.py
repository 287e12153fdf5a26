"""Scale benchmark: tick, retrain and backfill for thousands of series.

    nice -n 5 .venv/bin/python bench/scale.py --backend sqlite --series 1000
    nice -n 5 .venv/bin/python bench/scale.py --backend postgresql --series 1000 \
        --backfill-rows 10000000 --lstm-series 1000

Prints a table (ours vs. the floor, measured in the same run: one plain read of the
same rows plus the model work alone, without store, files or pandas) and appends a
JSON line to /tmp/anomwatch-bench/scale.jsonl (--record: bench/results/scale.jsonl).
`--detector default` (the shipped DetectorConfig()) or `forest` (the Isolation Forest
alone, which the backfill tabulates). Floors: retrain = SELECT of the training
rows + fitting each detector in memory; tick = SELECT of the new rows + loading and
scoring each model; backfill = streaming the rows with the DBAPI cursor (COPY on
PostgreSQL) + the inference the backfill uses (step tables, built included).
`--lstm-series N` adds a retrain of N series with an LSTM forecaster shared per
monitor (`lstm_sharing: per_monitor`) next to a per-series LSTM retrain of a few
series, extrapolated. Not part of the test suite.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "bench" / "results" / "scale.jsonl"
SCRATCH = Path("/tmp/anomwatch-bench/scale.jsonl")  # default: outside tracked files
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


# --detector: the shipped defaults (DetectorConfig()) or the Isolation Forest alone
# (the configuration the backfill's step tables can tabulate).
DETECTORS: dict[str, dict[str, object]] = {
    "default": {},
    "forest": {
        "components": ["iforest"],
        "contamination": 0.01,
        "weights": "equal",
        "threshold": "quantile",
        "max_events_per_week": None,
        "seasonality": {"mode": "off"},
    },
}
DETECTOR: dict[str, object] = DETECTORS["default"]

LSTM_DETECTOR = {
    "components": ["iforest", "lstm_forecaster"],
    "contamination": 0.01,
    "lstm": {"units": 16, "epochs": 10},
}


def monitors_yaml(path: Path, source_url: str, batch_size: int) -> None:
    import yaml

    def monitor(name: str, detector: dict[str, object], **extra: object) -> dict[str, object]:
        return {
            "name": name,
            "source": {
                "url": source_url,
                "table": "metrics",
                "timestamp": "ts",
                "series": ["series_id"],
                "values": ["value"],
                "max_rows_per_tick": 10_000_000,
            },
            "detector": detector,
            "retrain": {"every": "30d", "window": "30d"},
            "batch_size": batch_size,
            **extra,
        }

    path.write_text(
        yaml.safe_dump(
            {
                "monitors": [
                    monitor("scale", DETECTOR),
                    monitor("scale-lstm-shared", LSTM_DETECTOR, lstm_sharing="per_monitor"),
                    monitor("scale-lstm-each", LSTM_DETECTOR),
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
        model.score(part[["value"]].to_numpy(float), ts=part["ts"].to_numpy("datetime64[us]"))
    store.dispose()
    return time.perf_counter() - started


def floor_retrain(source_url: str, until: datetime) -> float:
    """One plain SELECT of the training rows + fitting each series' detector in memory
    (no files, no registry), on as many threads as the tick uses."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    from anomwatch.settings import Settings
    from detector import DetectorConfig, EnsembleDetector

    started = time.perf_counter()
    engine = create_engine(source_url)
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(
                text("SELECT ts, series_id, value FROM metrics WHERE ts <= :b"), {"b": until}
            ).fetchall(),
            columns=["ts", "series_id", "value"],
        )
    engine.dispose()
    config = DetectorConfig.model_validate(DETECTOR)
    parts = [
        (part[["value"]].to_numpy(float), part["ts"].to_numpy("datetime64[us]"))
        for _key, part in frame.groupby("series_id")
    ]
    # the same number of threads as the flow's task runner (ANOMWATCH_MAX_WORKERS)
    with ThreadPoolExecutor(Settings().max_workers) as pool:
        list(pool.map(lambda p: EnsembleDetector(config).fit(p[0], ts=p[1]), parts))
    return time.perf_counter() - started


def floor_backfill(
    source_url: str, store_url: str, n_series: int, n_points: int
) -> tuple[float, float]:
    """(seconds to stream the rows with the DBAPI cursor, seconds of inference alone)."""
    from sqlalchemy import create_engine

    from anomwatch.store.db import Store
    from anomwatch.store.models_registry import active_models
    from detector import EnsembleDetector
    from detector.step_table import StepTableScorer

    query = "SELECT ts, series_id, value FROM metrics ORDER BY ts"  # every backfilled row
    engine = create_engine(source_url)
    raw = engine.raw_connection()
    started = time.perf_counter()
    try:
        cursor = raw.cursor()
        if source_url.startswith("postgresql"):
            with cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
                for _block in copy:
                    pass
        else:
            cursor.execute(query)
            while cursor.fetchmany(200_000):
                pass
    finally:
        raw.close()
        engine.dispose()
    read_s = time.perf_counter() - started
    store = Store(store_url)
    records = active_models(store, "scale")
    store.dispose()
    values = values_for(n_series, 0, n_points)  # the same values, already in memory
    started = time.perf_counter()
    for i in range(n_series):
        record = records[f"series_id=s{i:05d}"]
        detector = EnsembleDetector.load(Path(record.artifact_path), record.sha256)
        table = StepTableScorer.build(detector)
        if table is not None:
            table.scores(values[:, i])
        else:
            detector.score(values[:, i : i + 1])
    return read_s, time.perf_counter() - started


def retrain_lstm(monitors: Path, until: datetime, n_series: int, sample: int) -> list[Row]:
    """Retrain with an LSTM forecaster: shared per monitor (all series) and per series
    (a sample, extrapolated)."""
    from flows.monitor import monitor_tick

    rows: list[Row] = []
    t = time.perf_counter()
    up_to_date()
    shared = monitor_tick("scale-lstm-shared", monitors_file=str(monitors), until=until)
    shared_s = time.perf_counter() - t
    assert shared["models_trained"] == n_series, shared
    rows.append(
        (
            f"retrain {n_series} series, iforest + shared LSTM",
            shared_s,
            None,
            "<= 600 s; one LSTM forecaster per monitor (units 16, <= 10 epochs)",
        )
    )
    if sample:
        t = time.perf_counter()
        each = _retrain_sample(monitors, until, sample)
        each_s = time.perf_counter() - t
        rows.append(
            (
                f"retrain {n_series} series, iforest + LSTM each (est.)",
                each_s * n_series / sample,
                None,
                f"extrapolated from {each} series trained in {each_s:.0f} s",
            )
        )
    return rows


def _retrain_sample(monitors: Path, until: datetime, sample: int) -> int:
    """Per-series LSTM training of `sample` series, as fit_or_reuse does it."""
    import pandas as pd

    from anomwatch.config import load_monitors
    from anomwatch.settings import Settings
    from anomwatch.source import SourceReader
    from anomwatch.store.db import Store
    from tasks.extract import SeriesWork
    from tasks.fit import fit_or_reuse

    settings = Settings()
    monitor = load_monitors(monitors).get("scale-lstm-each")
    with SourceReader(monitor) as reader:
        frame = reader.read_range(None, until).frame
    store = Store(settings.resolved_store_url)
    items = []
    for key, part in list(frame.groupby("series"))[:sample]:
        item = SeriesWork(str(key), None, pd.DataFrame(), None, "no model yet")
        item.history = part.reset_index(drop=True)
        items.append(item)
    result = fit_or_reuse(monitor, store, settings.models_dir, items)
    store.dispose()
    return len(result.trained)


def up_to_date() -> None:
    """Migrate the store before each step: the working tree may gain a migration meanwhile."""
    from anomwatch.settings import Settings
    from anomwatch.store.db import Store

    store = Store(Settings().resolved_store_url)
    store.migrate()
    store.dispose()


def run_backfill_subprocess(
    env: dict[str, str], monitors: Path, since: datetime, until: datetime
) -> tuple[float, int, float]:
    """Backfill in a child process; returns (seconds, rows, peak RSS MB of the child)."""
    code = (
        "import json,time,sys\n"
        # VmHWM: the peak RSS of this program's own memory. ru_maxrss would also count
        # the parent's pages the child had between fork and exec.
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024\n"
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
        "'tables': p.step_tables, 'scored': p.points_scored, "
        "'rss_mb': hwm()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ANOMWATCH_MONITORS_FILE": str(monitors)},
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"backfill child: {data}", file=sys.stderr)
    if data["scored"] != data["rows"]:
        raise SystemExit(
            f"backfill scored {data['scored']:,} of {data['rows']:,} rows: models not reused "
            "(did the detector settings change under the run?); not a valid measurement"
        )
    return data["seconds"], data["rows"], data["rss_mb"]


Row = tuple[str, float, "float | None", str]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--history", type=int, default=288, help="training points per series")
    parser.add_argument("--points", type=int, default=60, help="new points per series per tick")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--backfill-rows", type=int, default=10_000_000)
    parser.add_argument("--lstm-series", type=int, default=0, help="0: no LSTM retrain")
    parser.add_argument("--lstm-sample", type=int, default=5, help="per-series LSTM sample")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--record", action="store_true", help="append to bench/results/")
    parser.add_argument(
        "--detector", choices=sorted(DETECTORS), default="default", help="monitor 'scale' uses"
    )
    args = parser.parse_args()
    global DETECTOR
    DETECTOR = DETECTORS[args.detector]

    workdir = Path(tempfile.mkdtemp(prefix="aw-scale-"))
    source_url = new_database(args.backend, workdir, "src")
    store_url = new_database(args.backend, workdir, "store")
    env = {**os.environ, "ANOMWATCH_HOME": str(workdir / "home"), "ANOMWATCH_STORE_URL": store_url}
    os.environ.update(env)
    monitors = workdir / "monitors.yaml"
    monitors_yaml(monitors, source_url, args.batch_size)
    rows: list[Row] = []
    load = [f"start {os.getloadavg()[0]:.1f}"]
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
        up_to_date()
        first = monitor_tick("scale", monitors_file=str(monitors), until=t_hist_end)
        retrain_s = time.perf_counter() - t
        assert first["models_trained"] == args.series, first
        floor_s = floor_retrain(source_url, t_hist_end)
        what = f"retrain {args.series} series, {args.detector} detector"
        rows.append((what, retrain_s, floor_s, "<= 600 s"))
        load.append(f"retrain {os.getloadavg()[0]:.1f}")
        if args.lstm_series:
            rows += retrain_lstm(monitors, t_hist_end, args.series, args.lstm_sample)
            load.append(f"lstm {os.getloadavg()[0]:.1f}")

        write_metrics(source_url, args.series, args.history + 1, args.points)
        t_new_end = t_hist_end + args.points * STEP
        from tasks.fit import clear_model_cache

        up_to_date()
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
        load.append(f"tick {os.getloadavg()[0]:.1f}")

        if not args.skip_backfill:
            extra = max(0, args.backfill_rows // args.series - args.history - args.points - 1)
            if extra:
                t = time.perf_counter()
                write_metrics(source_url, args.series, args.history + args.points + 1, extra)
                print(f"loaded backfill rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            total_points = args.history + args.points + 1 + extra
            end = T0 + (total_points - 1) * STEP
            up_to_date()
            secs, n_rows, rss = run_backfill_subprocess(env, monitors, T0 - STEP, end)
            read_s, infer_s = floor_backfill(source_url, store_url, args.series, total_points)
            rows.append(
                (
                    f"backfill {n_rows:,} rows",
                    secs,
                    read_s + infer_s,
                    f"{n_rows / secs:,.0f} rows/s (>= 100,000), peak RSS {rss:,.0f} MB "
                    f"(<= 2,048); floor = read {read_s:.1f} s + inference {infer_s:.1f} s",
                )
            )
            load.append(f"backfill {os.getloadavg()[0]:.1f}")
    finally:
        drop_database(source_url)
        drop_database(store_url)

    print(f"\nanomwatch scale benchmark ({args.backend}, {args.series} series, 2 cores)")
    print(f"load average (1 min) at each step: {', '.join(load)}")
    print(f"{'what':48} {'ours s':>9} {'floor s':>9} {'ratio':>7}  target / note")
    for what, ours, floor, note in rows:
        ratio = f"{ours / floor:.2f}" if floor else ""
        floor_txt = f"{floor:.2f}" if floor else ""
        print(f"{what:48} {ours:9.2f} {floor_txt:>9} {ratio:>7}  {note}")
    results = RECORDED if args.record else SCRATCH
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "backend": args.backend,
                    "series": args.series,
                    "load": load,
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
