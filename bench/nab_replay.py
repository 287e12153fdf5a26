"""NAB replay: monitors over NAB's rows in a real database, through the product's own tick.

    nice -n 10 .venv/bin/python bench/nab_replay.py [--files REGEX] [--backend sqlite]
        [--rows-per-tick 0] [--workers 2] [--export DIR] [--out FILE | --record]

One source table and one monitor per NAB file, with DEFAULT detector, retrain and
event settings (nothing but the source in its monitors.yaml entry). The first tick
runs at the end of NAB's probationary period (15% of the rows, at most 750): it
trains on that history and scores nothing. Then one tick per `--rows-per-tick` rows
(default: enough for about 100 ticks per file) with `until` at that row's timestamp,
through flows.monitor.run_tick with the plain task functions (the pipeline of
tests/flows/kill_tick.py, no Prefect API): extract, fit or reuse on the default
`retrain` policy, score, persist, plot, notify.

The alert events the product stored are scored with NAB's rules (detector/nab.py):
1.0 on the first row of each event (the row an engineer is paged for), else 0.0.
Until the store has its own `events` table, events are formed from the stored
anomalies with the product's tracker (detector.events.track_events, EventParams()
defaults). `--export DIR` writes DIR/<category>/<file>.csv (timestamp,anomaly_score)
in the format of bench/nab_benchmark.py --as-shipped --export, to compare the two.

The databases (source and store; SQLite files, or PostgreSQL databases on
postgresql://root@127.0.0.1:5432 with --backend postgresql) are created for the run
and dropped after it. Prints a table per file and the corpus scores; appends one
JSON line to --out (outside the repository by default) or, with --record, to
bench/results/nab_replay.jsonl.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "flows")]

from bench.nab_benchmark import default_rows_per_tick, load_windows  # noqa: E402
from detector.events import EventParams, track_events  # noqa: E402
from detector.nab import PROFILES, LabelledFile, normalised, probation_rows, raw_score  # noqa: E402

NAB = ROOT.parent / "shared" / "data" / "nab"
RECORD = ROOT / "bench" / "results" / "nab_replay.jsonl"
DEFAULT_OUT = Path("/tmp/anomwatch-bench/nab_replay.jsonl")
SEVERITY_RANK = {"warning": 1, "critical": 2}


class UsageError(Exception):
    """Bad command-line input: one `error:` line, exit code 2."""


# -- the NAB files as sources and monitors -------------------------------------------


@dataclass(frozen=True)
class NabFile:
    name: str  # <category>/<file>.csv, as in NAB's labels
    path: Path
    index: int

    @property
    def table(self) -> str:
        return f"nab_{self.index:02d}"

    @property
    def monitor(self) -> str:
        stem = re.sub(r"[^a-z0-9]+", "-", Path(self.name).stem.lower()).strip("-")
        return f"nab{self.index:02d}-{stem}"[:63]


def nab_files(root: Path, pattern: str) -> list[NabFile]:
    paths = sorted((root / "data").glob("*/*.csv"))
    return [
        NabFile(str(p.relative_to(root / "data")), p, i)
        for i, p in enumerate(paths)
        if re.search(pattern, str(p.relative_to(root / "data")))
    ]


def read_rows(file: NabFile) -> pd.DataFrame:
    frame = pd.read_csv(file.path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def write_source(url: str, files: list[NabFile]) -> None:
    """One table per file: (ts, value), as a metrics database would hold it."""
    from sqlalchemy import Column, DateTime, Float, MetaData, Table

    from anomwatch.store.db import make_engine

    engine = make_engine(url)
    try:
        metadata = MetaData()
        tables = {
            f.table: Table(
                f.table, metadata, Column("ts", DateTime, index=True), Column("value", Float)
            )
            for f in files
        }
        metadata.create_all(engine)
        for f in files:
            rows = read_rows(f)
            records = [
                {"ts": t.to_pydatetime(), "value": float(v)}
                for t, v in zip(rows["timestamp"], rows["value"], strict=True)
            ]
            with engine.begin() as conn:
                conn.execute(tables[f.table].insert(), records)
    finally:
        engine.dispose()


def monitors_spec(source_url: str, files: list[NabFile]) -> dict[str, Any]:
    """monitors.yaml: only the source per file; detector, retrain, notify are defaults."""
    return {
        "monitors": [
            {
                "name": f.monitor,
                "source": {
                    "url": source_url,
                    "table": f.table,
                    "timestamp": "ts",
                    "values": ["value"],
                },
            }
            for f in files
        ]
    }


def tick_untils(ts: pd.Series, rows_per_tick: int) -> list[datetime]:
    """The first tick at the end of probation, then one per `rows_per_tick` rows."""
    n = len(ts)
    first = probation_rows(n) - 1
    ends = list(range(first, n - 1, rows_per_tick)) + [n - 1]
    return [ts.iloc[i].to_pydatetime() for i in ends]


# -- replaying one file ------------------------------------------------------------------


@dataclass
class Replayed:
    name: str
    ticks: int = 0
    tick_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    models_trained: int = 0


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    logging.disable(logging.WARNING)
    from kill_tick import plain_pipeline  # the flow's tasks as plain functions

    plain_pipeline(None)


def replay_file(job: tuple[NabFile, str, int]) -> Replayed:
    """All ticks of one file's monitor, in this (worker) process."""
    import flows.monitor as fm
    from anomwatch.config import load_monitors
    from anomwatch.settings import Settings
    from anomwatch.store.db import Store

    file, monitors_path, rows_per_tick = job
    settings = Settings()
    monitor = load_monitors(Path(monitors_path)).get(file.monitor)
    store = Store(settings.resolved_store_url)
    out = Replayed(file.name)
    try:
        for until in tick_untils(read_rows(file)["timestamp"], rows_per_tick):
            started = time.perf_counter()
            try:
                result = fm.run_tick(settings, store, monitor, until)
                status = str(result["status"])
                out.models_trained += int(result.get("models_trained") or 0)
                if result.get("errors"):
                    out.errors += [str(e) for e in result["errors"].values()]
            except Exception as exc:  # noqa: BLE001 - counted; the next tick redoes the work
                status = "failed"
                out.errors.append(f"{type(exc).__name__}: {exc}")
            out.tick_seconds.append(time.perf_counter() - started)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            out.ticks += 1
    finally:
        store.dispose()
    return out


# -- the stored alert events, as NAB detections ---------------------------------------


def rows_of(ts: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """Indices of `stamps` in the file's sorted `ts`; every stamp must be a row."""
    ts = np.asarray(ts, dtype="datetime64[us]")
    stamps = np.asarray(stamps, dtype="datetime64[us]")
    rows = np.searchsorted(ts, stamps)
    if len(rows) and (rows.max() >= len(ts) or not np.array_equal(ts[rows], stamps)):
        raise ValueError("a stored timestamp is not a row of the file")
    return rows


def event_rows(
    ts: np.ndarray, flagged_ts: np.ndarray, scores: np.ndarray, severities: list[str]
) -> np.ndarray:
    """Rows (indices into the file's `ts`) that opened an alert event, from the stored
    anomalies of its series (their timestamps, scores, severities).

    The tracker gets every row of the file, so an event resolves after a quiet time
    exactly as it does when the product feeds it tick by tick."""
    ts = np.asarray(ts, dtype="datetime64[us]")
    rows = rows_of(ts, flagged_ts)
    flagged = np.zeros(len(ts), dtype=bool)
    score = np.zeros(len(ts))
    severity = np.ones(len(ts), dtype=np.int64)
    flagged[rows] = True
    score[rows] = scores
    severity[rows] = [SEVERITY_RANK.get(s, 1) for s in severities]
    return track_events(ts, flagged, score, severity, EventParams()).opened_rows()


def stored_anomalies(store: Any, monitor: str) -> pd.DataFrame:
    from anomwatch.store.anomalies import query_anomalies

    rows = list(query_anomalies(store, monitor=monitor, newest_first=False))
    return pd.DataFrame(
        {
            "ts": pd.to_datetime([r["ts"] for r in rows]),
            "score": [float(r["score"]) for r in rows],
            "severity": [str(r["severity"]) for r in rows],
        }
    )


def stored_event_starts(store: Any, monitor: str) -> list[datetime] | None:
    """Start times of the monitor's alert events in the store's `events` table, or None
    when the store has no such table (before issue 12's events landed)."""
    from sqlalchemy import select

    from anomwatch.store import schema

    table = getattr(schema, "events", None)
    if table is None:
        return None
    query = select(table.c.started_at).where(table.c.monitor == monitor)
    if "kind" in table.c:
        query = query.where(table.c.kind == "anomaly")  # not health events
    with store.engine.connect() as conn:
        return list(conn.execute(query.order_by(table.c.started_at)).scalars())


@dataclass
class StoredEvents:
    """One monitor's alert events as NAB rows."""

    rows: np.ndarray  # from the events table when the store has one, else `derived`
    derived: np.ndarray  # formed from the stored anomalies with the product's tracker
    anomalies: int
    from_table: bool

    @property
    def mismatches(self) -> int:
        """Event starts in one of the two and not the other (0: store and tracker agree)."""
        return len(set(self.rows.tolist()) ^ set(self.derived.tolist()))


def stored_events(store: Any, monitor: str, ts: np.ndarray) -> StoredEvents:
    found = stored_anomalies(store, monitor)
    derived = event_rows(
        ts,
        found["ts"].to_numpy("datetime64[us]"),
        found["score"].to_numpy(float),
        found["severity"].tolist(),
    )
    starts = stored_event_starts(store, monitor)
    if starts is None:
        return StoredEvents(derived, derived, len(found), False)
    rows = np.sort(rows_of(ts, np.array(starts, dtype="datetime64[us]")))
    return StoredEvents(rows, derived, len(found), True)


def detections(n_rows: int, opened: np.ndarray) -> np.ndarray:
    """NAB's per-row anomaly score: 1.0 on the first row of each event, else 0.0."""
    out = np.zeros(n_rows)
    out[np.asarray(opened, dtype=np.int64)] = 1.0
    return out


def write_export(directory: Path, name: str, ts: pd.Series, score: np.ndarray) -> Path:
    """DIR/<category>/<file>.csv with columns timestamp,anomaly_score (one row per row)."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"timestamp": ts.dt.strftime("%Y-%m-%d %H:%M:%S"), "anomaly_score": score})
    frame.to_csv(path, index=False)
    return path


# -- scoring and report ------------------------------------------------------------------


@dataclass
class FileScore:
    name: str
    rows: int
    windows: list[tuple[int, int]]
    score: np.ndarray
    anomalies: int
    mismatches: int = 0  # event starts where the events table and the tracker disagree
    from_table: bool = False

    @property
    def labelled(self) -> LabelledFile:
        return LabelledFile(scores=self.score, windows=self.windows)

    def events(self) -> int:
        return int((self.score[self.labelled.probation :] > 0).sum())

    def found(self) -> int:
        rows = np.flatnonzero(self.score > 0)
        return sum(bool(((rows >= lo) & (rows <= hi)).any()) for lo, hi in self.windows)

    def false_events(self) -> int:
        rows = np.flatnonzero(self.score > 0)
        rows = rows[rows >= self.labelled.probation]
        inside = np.zeros(len(rows), dtype=bool)
        for lo, hi in self.windows:
            inside |= (rows >= lo) & (rows <= hi)
        return int((~inside).sum())

    def normalised(self, profile: str) -> float:
        p = PROFILES[profile]
        if not self.windows:
            return float("nan")
        return normalised(raw_score(self.labelled, self.score > 0, p), len(self.windows), p)


def corpus_scores(files: list[FileScore]) -> dict[str, float]:
    out = {}
    n_windows = sum(len(f.windows) for f in files)
    for name, profile in PROFILES.items():
        raw = sum(raw_score(f.labelled, f.score > 0, profile) for f in files)
        out[name] = normalised(raw, n_windows, profile) if n_windows else float("nan")
    return out


def print_tables(files: list[FileScore], replays: dict[str, Replayed]) -> dict[str, float]:
    print(
        f"{'file':52} {'rows':>6} {'ticks':>5} {'fits':>4} {'s/tick':>6} {'anom':>5} {'events':>6} "
        f"{'found':>6} {'FP ev':>5} {'std':>7} {'lowFP':>7} {'lowFN':>7}"
    )
    for f in files:
        r = replays.get(f.name, Replayed(f.name))
        per_tick = float(np.mean(r.tick_seconds)) if r.tick_seconds else float("nan")
        print(
            f"{f.name[:52]:52} {f.rows:6d} {r.ticks:5d} {r.models_trained:4d} {per_tick:6.2f} "
            f"{f.anomalies:5d} "
            f"{f.events():6d} {f.found():>3d}/{len(f.windows):<2d} {f.false_events():5d} "
            f"{f.normalised('standard'):7.1f} {f.normalised('reward_low_FP_rate'):7.1f} "
            f"{f.normalised('reward_low_FN_rate'):7.1f}"
        )
    totals = corpus_scores(files)
    windows = sum(len(f.windows) for f in files)
    if not replays:
        source = "the export (--from-export)"
    elif any(f.from_table for f in files):
        source = "the store's events table"
    else:
        source = "the stored anomalies, grouped by detector.events.track_events"
    print(
        f"\nevents from {source}; event starts where the events table and the tracker "
        f"over the stored anomalies disagree: {sum(f.mismatches for f in files)}"
    )
    print(
        f"{len(files)} files, {windows} windows: found "
        f"{sum(f.found() for f in files)}, events {sum(f.events() for f in files)}, "
        f"false events {sum(f.false_events() for f in files)}, anomalies stored "
        f"{sum(f.anomalies for f in files)}"
    )
    print(f"{'NAB (corpus, as stored)':34} {'standard':>9} {'low FP':>8} {'low FN':>8}")
    print(
        f"{'anomwatch replay':34} {totals['standard']:9.1f} "
        f"{totals['reward_low_FP_rate']:8.1f} {totals['reward_low_FN_rate']:8.1f}"
    )
    return totals


def compare(files: list[FileScore], directory: Path) -> dict[str, float]:
    """The same files scored from another run's export (bench/nab_benchmark.py
    --as-shipped --export DIR): its corpus scores beside ours, and how many event
    starts the two share."""
    theirs = []
    same = only_ours = only_theirs = 0
    for f in files:
        path = directory / f.name
        score = pd.read_csv(path)["anomaly_score"].to_numpy(float)
        if len(score) != f.rows:
            raise UsageError(f"--compare: {path} has {len(score)} rows, the file {f.rows}")
        theirs.append(FileScore(f.name, f.rows, f.windows, score, 0))
        ours_rows, their_rows = set(np.flatnonzero(f.score > 0)), set(np.flatnonzero(score > 0))
        same += len(ours_rows & their_rows)
        only_ours += len(ours_rows - their_rows)
        only_theirs += len(their_rows - ours_rows)
    totals = corpus_scores(theirs)
    print(
        f"{'export ' + directory.name:34} {totals['standard']:9.1f} "
        f"{totals['reward_low_FP_rate']:8.1f} {totals['reward_low_FN_rate']:8.1f}"
    )
    print(
        f"event starts: {same} in both, {only_ours} only in the replay, "
        f"{only_theirs} only in the export"
    )
    return totals


# -- the run ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--files", default="", help="only files whose <category>/<file> matches")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows-per-tick", type=int, default=0, help="0: ~100 ticks per file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nab", type=Path, default=NAB, help="NAB directory (data/, labels/)")
    parser.add_argument("--export", type=Path, default=None, help="write per-file detections")
    parser.add_argument(
        "--compare", type=Path, default=None, help="another run's export DIR to score beside"
    )
    parser.add_argument(
        "--from-export", type=Path, default=None, help="score this export instead of replaying"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON line appended here")
    parser.add_argument("--record", action="store_true", help=f"append to {RECORD} instead")
    args = parser.parse_args(argv)
    if args.compare is not None and not args.compare.is_dir():
        raise UsageError(f"--compare {args.compare}: not a directory")
    if args.rows_per_tick < 0 or args.workers < 1:
        raise UsageError("--rows-per-tick must be >= 0 and --workers >= 1")
    labels = args.nab / "labels" / "combined_windows.json"
    if not labels.is_file():
        raise UsageError(f"{labels} not found: --nab must name a NAB checkout (data/, labels/)")
    try:
        re.compile(args.files)
    except re.error as exc:
        raise UsageError(f"--files {args.files!r} is not a regular expression: {exc}") from None
    return args


def replay(args: argparse.Namespace) -> tuple[list[FileScore], dict[str, Replayed], float]:
    import yaml
    from conftest import DatabaseFactory  # throwaway databases, dropped afterwards

    from anomwatch.store.db import Store

    files = nab_files(args.nab, args.files)
    if not files:
        raise UsageError(f"no NAB file matches --files {args.files!r}")
    missing = [f.name for f in files if args.compare and not (args.compare / f.name).is_file()]
    if missing:
        raise UsageError(
            f"--compare {args.compare}: no export of {missing[0]} (and {len(missing) - 1} more)"
        )
    labels = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="aw_nab_replay_"))
    factory = DatabaseFactory(args.backend, work)
    started = time.perf_counter()
    try:
        source_url, store_url = factory.new("nabsrc"), factory.new("nabstore")
        write_source(source_url, files)
        store = Store(store_url)
        store.migrate()
        monitors_path = work / "monitors.yaml"
        monitors_path.write_text(yaml.safe_dump(monitors_spec(source_url, files)))
        env = {"ANOMWATCH_HOME": str(work / "home"), "ANOMWATCH_STORE_URL": store_url}
        sizes = {f.name: len(read_rows(f)) for f in files}
        jobs = [
            (f, str(monitors_path), args.rows_per_tick or default_rows_per_tick(sizes[f.name]))
            for f in sorted(files, key=lambda f: -sizes[f.name])  # longest first
        ]
        print(
            f"NAB replay: {len(files)} file(s) on {args.backend}, {args.workers} worker(s), "
            f"{f'{args.rows_per_tick} rows' if args.rows_per_tick else '~100 ticks'} per file",
            flush=True,
        )
        replays: dict[str, Replayed] = {}
        with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(env,)) as pool:
            for done in pool.map(replay_file, jobs):
                replays[done.name] = done
                print(
                    f"  {done.name}: {done.ticks} ticks, {sum(done.tick_seconds):.0f} s",
                    flush=True,
                )
        elapsed = time.perf_counter() - started
        scored = []
        for f in files:
            rows = read_rows(f)
            ts = rows["timestamp"].to_numpy("datetime64[us]")
            events = stored_events(store, f.monitor, ts)
            score = detections(len(rows), events.rows)
            if args.export:
                write_export(args.export, f.name, rows["timestamp"], score)
            windows = load_windows(f.name, rows["timestamp"], labels)
            scored.append(
                FileScore(
                    f.name,
                    len(rows),
                    windows,
                    score,
                    events.anomalies,
                    events.mismatches,
                    events.from_table,
                )
            )
        store.dispose()
    finally:
        if not args.keep:
            factory.drop_all()
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} and the {args.backend} databases {factory.created}")
    return scored, replays, elapsed


def write_line(
    args: argparse.Namespace,
    files: list[FileScore],
    replays: dict[str, Replayed],
    totals: dict[str, float],
    elapsed: float,
    compared: dict[str, float] | None = None,
) -> Path:
    path = RECORD if args.record else args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = [s for r in replays.values() for s in r.tick_seconds]
    line = {
        "at": datetime.now().isoformat(timespec="seconds"),
        "backend": args.backend,
        "files": len(files),
        "pattern": args.files,
        "rows_per_tick": args.rows_per_tick or "auto",
        "workers": args.workers,
        "seconds": round(elapsed, 1),
        "ticks": len(seconds),
        "tick_seconds_mean": float(np.mean(seconds)) if seconds else None,
        "tick_seconds_median": float(np.median(seconds)) if seconds else None,
        "failed_ticks": sum(r.statuses.get("failed", 0) for r in replays.values()),
        "events_from_table": any(f.from_table for f in files),
        "event_mismatches": sum(f.mismatches for f in files),
        "scores": {k: round(v, 2) for k, v in totals.items()},
        "compared": None
        if compared is None
        else {"dir": str(args.compare), **{k: round(v, 2) for k, v in compared.items()}},
        "per_file": {
            f.name: {
                "events": f.events(),
                "found": f.found(),
                "windows": len(f.windows),
                "anomalies": f.anomalies,
                "standard": None if math.isnan(v := f.normalised("standard")) else round(v, 2),
            }
            for f in files
        },
    }
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    return path


def from_export(args: argparse.Namespace) -> list[FileScore]:
    """The files of an earlier run's export, scored without replaying (--from-export)."""
    files = nab_files(args.nab, args.files)
    if not files:
        raise UsageError(f"no NAB file matches --files {args.files!r}")
    labels = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    out = []
    for f in files:
        path = args.from_export / f.name
        if not path.is_file():
            raise UsageError(f"--from-export {args.from_export}: no export of {f.name}")
        rows = read_rows(f)
        score = pd.read_csv(path)["anomaly_score"].to_numpy(float)
        if len(score) != len(rows):
            raise UsageError(f"{path} has {len(score)} rows, the file {len(rows)}")
        windows = load_windows(f.name, rows["timestamp"], labels)
        out.append(FileScore(f.name, len(rows), windows, score, 0))
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        if args.from_export is not None:
            files, replays, elapsed = from_export(args), {}, 0.0
        else:
            files, replays, elapsed = replay(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    totals = print_tables(files, replays)
    compared = None
    if args.compare is not None:
        try:
            compared = compare(files, args.compare)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    seconds = [s for r in replays.values() for s in r.tick_seconds]
    if not seconds:  # --from-export: nothing was replayed
        return 0
    statuses: dict[str, int] = {}
    for r in replays.values():
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    print(
        f"\n{len(seconds)} ticks in {elapsed:.0f} s on {args.workers} worker(s): "
        f"{np.mean(seconds):.2f} s/tick mean, {np.median(seconds):.2f} median, "
        f"{np.max(seconds):.2f} max; statuses {statuses}"
    )
    errors = [e for r in replays.values() for e in r.errors]
    if errors:
        print(f"{len(errors)} error(s), first: {errors[0]}")
    print(f"wrote {write_line(args, files, replays, totals, elapsed, compared)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
