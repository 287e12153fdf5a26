"""What alert events add to a tick's persist step: 1,000 series x 60 new points.

    nice -n 5 .venv/bin/python bench/events_overhead.py --backend sqlite
    nice -n 5 .venv/bin/python bench/events_overhead.py --backend postgresql

Each tick stores the flagged points (1% of rows, in runs of a few points so events
open, continue across ticks and resolve) and moves the watermarks, once without
feeding the events (`points={}`) and once with them, in two fresh stores. Prints a
table of seconds per tick (median of the ticks after the first). Writes nothing
tracked.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 1)
PG_ADMIN = "postgresql+psycopg://root@127.0.0.1:5432/postgres"


def new_store(backend: str, workdir: Path):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from anomwatch.store.db import Store

    name = f"aw_ev_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / (name + '.db')}"
    else:
        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    store.migrate()
    return store


def tick_data(tick: int, n_series: int, n_points: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    from anomwatch.store.anomalies import AnomalyRecord
    from anomwatch.store.events import SeriesPoints

    start = T0 + STEP * n_points * tick
    ts = np.array([start + STEP * i for i in range(n_points)], dtype="datetime64[us]")
    records, points, marks = [], {}, {}
    for s in range(n_series):
        flags = np.zeros(n_points, dtype=bool)
        for begin in np.flatnonzero(rng.random(n_points) < 0.003):
            flags[begin : begin + 3] = True  # short runs: events of a few points
        scores = np.where(flags, rng.uniform(0.99, 0.99999, n_points), 0.5)
        name = f"host={s}"
        points[name] = SeriesPoints(ts, flags, scores, np.where(scores >= 0.999, 2, 1))
        marks[name] = ts[-1].item()
        records += [
            AnomalyRecord(
                "bench",
                name,
                ts[i].item(),
                1.0,
                0.0,
                -1.0,
                1.0,
                float(scores[i]),
                "{}",
                "{}",
                "critical" if scores[i] >= 0.999 else "warning",
                None,
            )
            for i in np.flatnonzero(flags)
        ]
    return records, points, marks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=60)
    parser.add_argument("--ticks", type=int, default=6)
    args = parser.parse_args()

    from anomwatch.store.anomalies import persist_tick
    from anomwatch.store.events import query_events
    from detector.events import EventParams

    workdir = Path(tempfile.mkdtemp(prefix="aw-events-"))
    stores = {
        "without events": new_store(args.backend, workdir),
        "with events": new_store(args.backend, workdir),
    }
    times: dict[str, list[float]] = {k: [] for k in stores}
    flagged = 0
    for tick in range(args.ticks):
        records, points, marks = tick_data(
            tick, args.series, args.points, np.random.default_rng(tick)
        )
        flagged += len(records)
        for label, store in stores.items():
            t = time.perf_counter()
            persist_tick(
                store,
                "bench",
                None,
                records,
                marks,
                points if label == "with events" else {},
                EventParams(),
            )
            times[label].append(time.perf_counter() - t)
    with stores["with events"].begin() as conn:
        n_events = len(query_events(conn, "bench"))
    base = statistics.median(times["without events"][1:])
    full = statistics.median(times["with events"][1:])
    print(
        f"{args.backend}: {args.series} series x {args.points} points per tick, "
        f"{args.ticks} ticks, {flagged} anomalies, {n_events} events"
    )
    print("| persist step | seconds per tick (median) |")
    print("|---|---|")
    print(f"| anomalies + watermarks | {base:.3f} |")
    print(f"| anomalies + watermarks + events | {full:.3f} |")
    print(f"| events add | {full - base:+.3f} |")
    for store in stores.values():
        store.dispose()


if __name__ == "__main__":
    main()
