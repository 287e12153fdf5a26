"""History benchmark: the 7-day query of one monitor over millions of stored anomalies.

    nice -n 5 .venv/bin/python bench/history.py --rows 10000000
    nice -n 5 .venv/bin/python bench/history.py --backend postgresql --rows 1000000

Creates a throwaway store (a SQLite file in a temporary directory, or a dedicated
PostgreSQL database), migrates it with the real migrations (so the indexes and
views are the shipped ones), bulk-loads anomaly rows of many monitors and series
spread over a year in time order (as ticks would have written them: SQLite
executemany in batches, PostgreSQL COPY through psycopg), then times

- list:   the query behind `anomwatch anomalies list --monitor M --since 7d`
          (known_monitors + query_anomalies, every row fetched);
- daily:  the anomaly_daily_counts view as a BI tool would read it (per day, one
          monitor, last 7 days).

Each query runs --repeat times on a different monitor; the table shows p50/p95.
The store is dropped afterwards. Appends one JSON line to bench/results/history.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anomwatch.durations import utcnow  # noqa: E402
from anomwatch.store.anomalies import query_anomalies  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.runs import known_monitors, register_monitor  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "history.jsonl"
PG_ADMIN = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
T_END = datetime(2026, 11, 24)
TARGET_MS = 200.0
COLUMNS = [
    "monitor",
    "series",
    "ts",
    "value",
    "expected",
    "lower",
    "upper",
    "score",
    "components",
    "feature_values",
    "severity",
    "status",
    "created_at",
]


def new_store(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'history.db'}"
    from sqlalchemy import create_engine, text

    name = f"aw_bench_history_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"postgresql+psycopg://root@127.0.0.1:5432/{name}"


def drop_store(url: str) -> None:
    if not url.startswith("postgresql"):
        return  # the SQLite file goes with its temporary directory
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    engine.dispose()


class Layout:
    """Row k (in time order): time slot k // width, monitor and series within the slot."""

    def __init__(self, rows: int, monitors: int, series: int, days: int) -> None:
        self.rows, self.monitors, self.series = rows, monitors, series
        self.width = monitors * series
        self.slots = -(-rows // self.width)
        self.step = timedelta(days=days) / self.slots
        self.start = T_END - self.step * self.slots
        self.monitor_names = [f"mon-{m:03d}" for m in range(monitors)]
        self.series_names = [f"host=h{s:03d},metric=m{s % 7}" for s in range(series)]

    def slot_time(self, slot: int) -> datetime:
        return (self.start + self.step * slot).replace(microsecond=0)

    def batches(self, size: int):  # type: ignore[no-untyped-def]
        """Lists of row tuples (COLUMNS order; ts as datetime) of at most `size` rows."""
        rng = np.random.default_rng(0)
        comps = [json.dumps({"iforest": round(0.99 + i / 1000, 4)}) for i in range(10)]
        for first in range(0, self.rows, size):
            n = min(size, self.rows - first)
            k = np.arange(first, first + n)
            slot, within = np.divmod(k, self.width)
            mon, ser = np.divmod(within, self.series)
            value = rng.normal(100, 30, n).round(3)
            score = (0.99 + rng.random(n) / 100).round(6)
            crit = score >= 0.999
            pick = rng.integers(0, 10, n)
            times: dict[int, datetime] = {}
            out = []
            for i in range(n):
                s = int(slot[i])
                ts = times.get(s)
                if ts is None:
                    ts = times[s] = self.slot_time(s)
                out.append(
                    (
                        self.monitor_names[mon[i]],
                        self.series_names[ser[i]],
                        ts,
                        float(value[i]),
                        100.0,
                        40.0,
                        160.0,
                        float(score[i]),
                        comps[pick[i]],
                        "{}",
                        "critical" if crit[i] else "warning",
                        "open",
                        ts,
                    )
                )
            yield out


def load_sqlite(url: str, layout: Layout, batch: int) -> None:
    import sqlite3

    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    names, marks = ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO anomalies ({names}) VALUES ({marks})"  # noqa: S608 - constant names
    fmt = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite
    for rows in layout.batches(batch):
        conn.executemany(
            sql,
            [(*r[:2], r[2].strftime(fmt), *r[3:12], r[12].strftime(fmt)) for r in rows],
        )
        conn.commit()
        progress(rows)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def load_postgresql(url: str, layout: Layout, batch: int) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for rows in layout.batches(batch):
                with cur.copy(f"COPY anomalies ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
                conn.commit()
                progress(rows)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE anomalies")


_loaded = [0, 0.0]


def progress(rows: list[tuple[object, ...]]) -> None:
    _loaded[0] += len(rows)
    rate = _loaded[0] / max(time.monotonic() - _loaded[1], 1e-9)
    print(f"\r  loaded {_loaded[0]:,} rows ({rate:,.0f} rows/s)", end="", file=sys.stderr)


def list_query(store: Store, monitor: str, since: datetime) -> int:
    """What `anomwatch anomalies list --monitor M --since 7d` runs, all rows fetched."""
    if monitor not in known_monitors(store):
        raise SystemExit(f"monitor {monitor} missing")
    return sum(1 for _ in query_anomalies(store, monitor=monitor, since=since))


def daily_query(store: Store, monitor: str, since: datetime) -> int:
    """The BI view, as documented in the README: anomalies per day of one monitor."""
    from sqlalchemy import Date, bindparam, text

    stmt = text(
        "SELECT day, SUM(anomalies) AS anomalies, SUM(critical) AS critical "
        "FROM anomaly_daily_counts WHERE monitor = :monitor AND day >= :day "
        "GROUP BY day ORDER BY day"
    ).bindparams(bindparam("day", type_=Date()))
    with store.begin() as conn:
        return len(conn.execute(stmt, {"monitor": monitor, "day": since.date()}).all())


def time_query(fn, store: Store, layout: Layout, repeat: int):  # type: ignore[no-untyped-def]
    since = T_END - timedelta(days=7)
    rng = np.random.default_rng(1)
    fn(store, layout.monitor_names[0], since)  # warm-up (connection, caches)
    times, returned = [], []
    for _ in range(repeat):
        monitor = layout.monitor_names[int(rng.integers(0, layout.monitors))]
        began = time.perf_counter()
        returned.append(fn(store, monitor, since))
        times.append((time.perf_counter() - began) * 1000)
    return (
        float(np.percentile(times, 50)),
        float(np.percentile(times, 95)),
        int(np.median(returned)),
    )


def run_backend(backend: str, args: argparse.Namespace) -> list[dict[str, object]]:
    layout = Layout(args.rows, args.monitors, args.series, args.days)
    with tempfile.TemporaryDirectory(prefix="aw-history-") as tmp:
        url = new_store(backend, Path(tmp))
        store = Store(url)
        try:
            store.migrate()
            for name in layout.monitor_names:
                register_monitor(store, name, "bench")
            print(f"{backend}: loading {args.rows:,} rows", file=sys.stderr)
            _loaded[:] = [0, time.monotonic()]
            began = time.monotonic()
            (load_sqlite if backend == "sqlite" else load_postgresql)(url, layout, args.batch)
            load_s = time.monotonic() - began
            print(f"\n  loaded in {load_s:.0f} s", file=sys.stderr)
            rows = []
            for name, fn in (("list --since 7d", list_query), ("daily view, 7d", daily_query)):
                p50, p95, n = time_query(fn, store, layout, args.repeat)
                rows.append(
                    {
                        "backend": backend,
                        "rows": args.rows,
                        "query": name,
                        "p50_ms": round(p50, 1),
                        "p95_ms": round(p95, 1),
                        "returned": n,
                        "load_s": round(load_s, 1),
                    }
                )
            return rows
        finally:
            store.dispose()
            drop_store(url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--series", type=int, default=40, help="series per monitor")
    parser.add_argument("--days", type=int, default=365, help="time span of the rows")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100_000, help="rows per insert batch/COPY")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [row for b in backends for row in run_backend(b, args)]

    header = f"{'backend':11} {'rows':>12} {'query':17} {'p50 ms':>8} {'p95 ms':>8} {'returned':>9}"
    print(header)
    for r in results:
        print(
            f"{r['backend']:11} {r['rows']:>12,} {r['query']:17} {r['p50_ms']:>8.1f} "
            f"{r['p95_ms']:>8.1f} {r['returned']:>9,}"
        )
    worst = max(float(r["p95_ms"]) for r in results)  # type: ignore[arg-type]
    verdict = "met" if worst <= TARGET_MS else "NOT met"
    print(f"target p95 <= {TARGET_MS:.0f} ms: {verdict} (worst p95 {worst:.1f} ms)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        line = {
            "at": utcnow().isoformat(timespec="seconds"),
            "monitors": args.monitors,
            "series_per_monitor": args.series,
            "days": args.days,
            "repeat": args.repeat,
            "results": results,
        }
        fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
