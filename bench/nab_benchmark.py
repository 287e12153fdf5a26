"""NAB benchmark: all 58 series of ../shared/data/nab, streamed as a scheduled
deployment would see them, scored with NAB's rules (detector/nab.py).

As shipped (the headline; nothing tuned on NAB's labels):

    .venv/bin/python bench/nab_benchmark.py --as-shipped [--export DIR] [--set key=value]
        [--retrain-window 28d] [--retrain-every 1d]

streams every file through bench/shipped.py (the default DetectorConfig, the default
retrain policy with its window/age replaced by --retrain-window/--retrain-every when
given, ticks of 12 rows, the detector's own threshold, the product's alert events)
and scores the event openings as given (1.0 on the row that would be
notified). `--export DIR` writes DIR/<category>/<file>.csv (timestamp,anomaly_score)
for NAB's own scorer. Figures are printed for the tuning split (odd-numbered files in
sorted order), the held-out split (even-numbered) and the whole corpus, beside an
"oracle" column: the same run's scores with NAB's label-swept threshold.

The older label-swept mode (its figures are oracle figures):

    .venv/bin/python bench/nab_benchmark.py [--components iforest,level_shift]
        [--weights auto] [--threshold sigma] [--trend] [--smoothing 0]
        [--retrain-every 0.05] [--alarm-k 1 --alarm-m 1] [--suppress 0.02] [--rearm]
        [--files REGEX] [--workers 2] [--cache scores.npz]

Per file: the first 15% (at most 750 rows) is the probationary period and the
first training set; the rest arrives in chunks of `retrain-every` x n rows; before
each chunk the detector is retrained on the rows seen so far (the last 5,000 at
most) and the chunk is scored with `config.context_rows` rows of context: no
look-ahead. The detector's score per row goes through the detector's own alarm
aggregation (detector/alarms.py: >= k of the last m rows cross, then quiet for
`suppress` x n rows; with --rearm a row that beats every score of that period
fires anyway), for every candidate threshold: one threshold for all files
per profile, chosen by NAB's sweep (here over 400 quantiles of the top 5% of all
scores plus every score of the top 2,000). Prints our scores beside the
published scoreboard and appends a JSON line to bench/results/nab.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anomwatch.config import RetrainPolicy, SeverityPolicy  # noqa: E402
from bench.shipped import retrain_policy  # noqa: E402
from detector import DetectorConfig, EnsembleDetector  # noqa: E402
from detector.alarms import aggregate  # noqa: E402
from detector.nab import (  # noqa: E402
    PROFILES,
    LabelledFile,
    Profile,
    _row_values,
    normalised,
    probation_rows,
    raw_score,
)

NAB = ROOT.parent / "shared" / "data" / "nab"
RECORDED = ROOT / "bench" / "results" / "nab.jsonl"
SCRATCH = Path("/tmp/anomwatch-bench/nab.jsonl")  # default: outside tracked files
TARGET_TICKS = 100  # the NAB replay ticks each file about this many times
DAY = timedelta(days=1)


def default_rows_per_tick(n_rows: int) -> int:
    """The NAB replay's tick size: about TARGET_TICKS ticks after the probationary period."""
    return max(1, math.ceil((n_rows - probation_rows(n_rows)) / TARGET_TICKS))


def load_windows(
    name: str, ts: pd.Series, labels: dict[str, list[list[str]]]
) -> list[tuple[int, int]]:
    out = []
    for start, end in labels.get(name, []):
        left = int(ts.searchsorted(pd.Timestamp(start), side="left"))
        right = int(ts.searchsorted(pd.Timestamp(end), side="right")) - 1
        out.append((left, min(right, len(ts) - 1)))
    return out


def stream_file(args: tuple[str, dict[str, Any], float]) -> tuple[str, np.ndarray, float]:
    path, settings, retrain_every = args
    started = time.perf_counter()
    x = pd.read_csv(path)["value"].to_numpy(float)[:, None]
    n = len(x)
    probation = min(int(np.floor(0.15 * n)), 750)
    chunk = max(int(retrain_every * n), 50)
    scores = np.zeros(n)
    config = DetectorConfig.model_validate({**settings, "min_train_points": min(100, probation)})
    context_rows = config.context_rows
    start = probation
    while start < n:
        end = min(start + chunk, n)
        model = EnsembleDetector(config).fit(x[max(0, start - 5000) : start])
        context = max(0, start - context_rows)
        scores[start:end] = model.score(x[context:end]).score[start - context :]
        start = end
    return path, scores, time.perf_counter() - started


@dataclass
class Scorable:
    """One file's NAB row values for one profile, to score many alarm sets fast."""

    window_of: np.ndarray
    value: np.ndarray
    n_windows: int
    probation: int
    fn: float

    def raw(self, alarms: np.ndarray) -> float:
        rows = np.flatnonzero(alarms)
        rows = rows[rows >= self.probation]
        w = self.window_of[rows]
        inside = w >= 0
        _, first = np.unique(w[inside], return_index=True)  # rows are sorted: earliest first
        found = self.value[rows[inside][first]].sum()
        missed = self.n_windows - len(first)
        return float(found - self.fn * missed + self.value[rows[~inside]].sum())


def sweep(
    scores: list[np.ndarray],
    files: list[LabelledFile],
    profile: Profile,
    k: int,
    m: int,
    suppress: list[int],
    rearm: bool,
) -> tuple[float, float]:
    """(best normalised score, its threshold) over candidate thresholds."""
    scorable = []
    for f in files:
        window_of, row_value = _row_values(f, profile)
        scorable.append(Scorable(window_of, row_value, len(f.windows), f.probation, profile.fn))
    pooled = np.concatenate([s[f.probation :] for s, f in zip(scores, files, strict=True)])
    top = np.sort(pooled)[::-1]
    candidates = np.unique(
        np.concatenate([top[:2000], np.quantile(pooled, np.linspace(0.95, 1.0, 400))])
    )
    n_windows = sum(len(f.windows) for f in files)
    best, best_t = normalised(-profile.fn * n_windows, n_windows, profile), float("inf")
    for t in candidates:
        raw = sum(
            sc.raw(aggregate(s >= t, k, m, sup, s if rearm else None))
            for s, sc, sup in zip(scores, scorable, suppress, strict=True)
        )
        value = normalised(raw, n_windows, profile)
        if value > best:
            best, best_t = value, float(t)
    return best, best_t


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """--set a.b=value pairs (values parsed as JSON when they parse) into a nested dict."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def shipped_file(
    args: tuple[str, dict[str, Any], int, RetrainPolicy | None, SeverityPolicy | None],
) -> tuple[str, dict[str, Any]]:
    from bench.shipped import stream_series

    path, overrides, tick_rows, retrain, severity = args
    frame = pd.read_csv(path)
    # machine_temperature has one row earlier than the one before it (a clock step); a
    # source query sorts by time, NAB scores by row: keep the rows, never let time go back
    ts = np.maximum.accumulate(pd.to_datetime(frame["timestamp"]).to_numpy("datetime64[us]"))
    values = frame["value"].to_numpy(float)
    probation = probation_rows(len(values))
    config = DetectorConfig.model_validate({"min_train_points": min(100, probation), **overrides})
    started = time.perf_counter()
    if tick_rows == 0:  # the replay's ticks (bench/nab_replay.py): about 100 per file
        tick_rows = default_rows_per_tick(len(values))
    result = stream_series(
        values, ts, probation, config, retrain=retrain, tick_rows=tick_rows, severity=severity
    )
    return path, {
        "score": result.score,
        "flags": result.flags,
        "opened": result.opened,
        "fits": result.fits,
        "fit_seconds": result.fit_seconds,
        "seconds": time.perf_counter() - started,
        "notes": result.notes,
        # each event's first row and final severity (1 warning, 2 critical)
        "event_rows": np.searchsorted(ts, [e.start for e in result.events]),
        "event_severity": np.array([e.severity for e in result.events], dtype=int),
    }


def nab_totals(files: list[LabelledFile], detections: list[np.ndarray]) -> dict[str, float]:
    out = {}
    for name, prof in PROFILES.items():
        raw = sum(raw_score(f, d, prof) for f, d in zip(files, detections, strict=True))
        out[name] = normalised(raw, sum(len(f.windows) for f in files), prof)
    return out


def oracle_totals(
    files: list[LabelledFile], stamps: list[np.ndarray], n_candidates: int = 120
) -> dict[str, float]:
    """Best NAB score per profile over one threshold for all files, events as shipped."""
    from bench.shipped import event_starts

    pooled = np.concatenate([f.scores[f.probation :] for f in files])
    pooled = pooled[pooled > 0]
    candidates = np.unique(np.quantile(pooled, 1 - np.geomspace(0.2, 1e-5, n_candidates)))
    best = dict.fromkeys(PROFILES, -np.inf)
    for t in candidates:
        found = [
            event_starts(f.scores, ts, t, f.probation) for f, ts in zip(files, stamps, strict=True)
        ]
        for name, value in nab_totals(files, found).items():
            best[name] = max(best[name], value)
    return best


def in_windows(rows: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """Per row: does it fall in one of NAB's windows ([first, last] row indices)?"""
    inside = np.zeros(len(rows), bool)
    for left, right in windows:
        inside |= (rows >= left) & (rows <= right)
    return inside


def print_severity(
    files: list[LabelledFile], results: list[dict[str, Any]], policy: SeverityPolicy
) -> None:
    """Does severity tell real incidents from noise? Events by final severity, in or
    outside NAB's windows (after probation)."""
    counts = {(rank, inside): 0 for rank in (1, 2) for inside in (True, False)}
    for f, result in zip(files, results, strict=True):
        rows, ranks = np.asarray(result["event_rows"]), result["event_severity"]
        scored = rows >= f.probation
        for rank, inside in zip(ranks[scored], in_windows(rows[scored], f.windows), strict=True):
            counts[(int(rank), bool(inside))] += 1
    print(f"\nalert events by final severity (severity: {policy.model_dump(exclude_none=True)}):")
    for rank, name in ((2, "critical"), (1, "warning")):
        inside, outside = counts[(rank, True)], counts[(rank, False)]
        share = inside / max(inside + outside, 1)
        print(f"  {name:8} {inside:4d} in windows, {outside:4d} outside ({share:.0%} in windows)")


def as_shipped(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="NAB through the shipped path")
    parser.add_argument("--as-shipped", action="store_true")
    parser.add_argument("--export", default="", help="DIR for NAB-format result CSVs")
    parser.add_argument("--set", action="append", default=[], help="detector key=value")
    parser.add_argument(
        "--tick-rows", type=int, default=12, help="0: the NAB replay's ~100 ticks per file"
    )
    parser.add_argument("--files", default="", help="only files whose path matches")
    parser.add_argument(
        "--retrain-window", default="", help="history per fit, e.g. 28d (default: the product's)"
    )
    parser.add_argument(
        "--retrain-every", default="", help="refit when this old, e.g. 12h (default: the product's)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--critical-score",
        type=float,
        default=None,
        help="severity by score, as severity.critical_score (default: the product's rule)",
    )
    parser.add_argument(
        "--critical-multiple",
        type=float,
        default=None,
        help="as severity.critical_multiple (default: the product's)",
    )
    parser.add_argument("--out", default="/tmp/anomwatch-bench/nab_shipped.jsonl")
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument(
        "--dump", default="", help="npz of per-file scores, flags and events (nab_diagnose.py)"
    )
    parser.add_argument(
        "--split", choices=["tuning", "heldout", "all"], default="all", help="files streamed"
    )
    args = parser.parse_args(argv)
    overrides = parse_sets(args.set)
    try:  # a bad --set is one line here, not a traceback from every worker
        DetectorConfig.model_validate(overrides)
    except ValueError as exc:
        first = str(exc).splitlines()
        print(f"error: --set: {' '.join(first[1:3]) if len(first) > 2 else exc}", file=sys.stderr)
        sys.exit(2)
    try:
        retrain = retrain_policy(args.retrain_window, args.retrain_every)
    except ValueError as exc:
        print(f"error: --retrain-window/--retrain-every: {exc}", file=sys.stderr)
        sys.exit(2)
    chosen = {"critical_score": args.critical_score, "critical_multiple": args.critical_multiple}
    try:
        severity = SeverityPolicy.model_validate({k: v for k, v in chosen.items() if v is not None})
    except ValueError:
        print(
            "error: --critical-score must be in (0, 1] and --critical-multiple above 1",
            file=sys.stderr,
        )
        sys.exit(2)
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    every = sorted((NAB / "data").glob("*/*.csv"))
    parity = {"tuning": 1, "heldout": 0}.get(args.split)
    paths = [
        p
        for i, p in enumerate(every)
        if re.search(args.files, str(p)) and (parity is None or i % 2 == parity)
    ]
    if not paths:
        print(
            f"error: --files {args.files!r} matches no NAB file (--split {args.split}) under "
            f"{NAB / 'data'}",
            file=sys.stderr,
        )
        sys.exit(2)
    started = time.perf_counter()
    jobs = [(str(p), overrides, args.tick_rows, retrain, severity) for p in paths]
    streamed: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for future in as_completed([pool.submit(shipped_file, job) for job in jobs]):
            path, result = future.result()
            streamed[path] = result
            print(  # progress on stderr: an LSTM run takes an hour
                f"[{len(streamed)}/{len(jobs)}] {Path(path).name}: {result['fits']} fits, "
                f"{result['seconds']:.0f} s ({time.perf_counter() - started:.0f} s so far)",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started
    files, detections, stamps, names = [], [], [], []
    for p in paths:
        name = str(p.relative_to(NAB / "data"))
        frame = pd.read_csv(p)
        ts = pd.to_datetime(frame["timestamp"])
        result = streamed[str(p)]
        files.append(LabelledFile(scores=result["score"], windows=load_windows(name, ts, labels)))
        detections.append(result["opened"])
        stamps.append(ts.to_numpy("datetime64[us]"))
        names.append(name)
        if args.export:
            target = Path(args.export) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(
                {"timestamp": frame["timestamp"], "anomaly_score": result["opened"].astype(float)}
            ).to_csv(target, index=False)
    position = {str(p.relative_to(NAB / "data")): i for i, p in enumerate(every)}
    splits = {
        "tuning (odd files)": [i for i, n in enumerate(names) if position[n] % 2 == 1],
        "held out (even files)": [i for i, n in enumerate(names) if position[n] % 2 == 0],
        "all files": list(range(len(files))),
    }
    n_rows = sum(len(f.scores) for f in files)
    flagged = sum(int(streamed[str(p)]["flags"].sum()) for p in paths)
    events = sum(int(d.sum()) for d in detections)
    fits = sum(int(streamed[str(p)]["fits"]) for p in paths)
    fit_s = sum(float(streamed[str(p)]["fit_seconds"]) for p in paths)
    print(
        f"\nNAB as shipped: {len(files)} files, {n_rows} rows, settings "
        f"{json.dumps(overrides) if overrides else 'defaults'}, ticks of {args.tick_rows} rows, "
        f"retrain every {retrain.every / DAY:g} d on the last {retrain.window / DAY:g} d; "
        f"{flagged} rows flagged ({flagged / n_rows:.2%}), {events} alert events, "
        f"{fits} fits ({fit_s / max(fits, 1):.2f} s each), {elapsed:.0f} s on {args.workers} procs"
    )
    print(
        f"{'split':24} {'standard':>9} {'low FP':>8} {'low FN':>8}   "
        f"oracle: {'std':>6} {'lowFP':>6} {'lowFN':>6}"
    )
    record: dict[str, Any] = {
        "at": datetime.now().isoformat(timespec="seconds"),
        "settings": overrides,
        "tick_rows": args.tick_rows,
        "retrain": retrain.model_dump(mode="json"),
        "files": len(files),
        "flag_rate": flagged / n_rows,
        "events": events,
        "seconds": round(elapsed, 1),
    }
    for split, idx in splits.items():
        if not idx:
            continue
        sub_files = [files[i] for i in idx]
        shipped = nab_totals(sub_files, [detections[i] for i in idx])
        oracle = (
            dict.fromkeys(PROFILES, float("nan"))
            if args.no_oracle
            else oracle_totals(sub_files, [stamps[i] for i in idx])
        )
        print(
            f"{split:24} {shipped['standard']:9.1f} {shipped['reward_low_FP_rate']:8.1f} "
            f"{shipped['reward_low_FN_rate']:8.1f}   oracle: {oracle['standard']:6.1f} "
            f"{oracle['reward_low_FP_rate']:6.1f} {oracle['reward_low_FN_rate']:6.1f}"
        )
        record[split] = {"shipped": shipped, "oracle": oracle}
    print("\nfiles with the most alert events outside NAB's windows:")
    outside = []
    for f, d, name in zip(files, detections, names, strict=True):
        rows = np.flatnonzero(d)
        rows = rows[rows >= f.probation]
        inside = in_windows(rows, f.windows)
        hit = len({w for w, (a, b) in enumerate(f.windows) if ((rows >= a) & (rows <= b)).any()})
        outside.append((int((~inside).sum()), name, hit, len(f.windows)))
    for n_out, name, hit, total in sorted(outside, reverse=True)[:12]:
        print(f"  {n_out:4d} outside, {hit}/{total} windows found  {name}")
    print_severity(files, [streamed[str(p)] for p in paths], severity)
    if args.dump:
        np.savez(
            args.dump,
            **{f"{n}|score": streamed[str(p)]["score"] for n, p in zip(names, paths, strict=True)},
            **{f"{n}|opened": d for n, d in zip(names, detections, strict=True)},
            **{f"{n}|flags": streamed[str(p)]["flags"] for n, p in zip(names, paths, strict=True)},
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def main() -> None:
    if "--as-shipped" in sys.argv[1:]:
        as_shipped(sys.argv[1:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", default="iforest")
    parser.add_argument("--weights", default="equal")
    parser.add_argument("--threshold", default="quantile", help="quantile: calibrated mean")
    parser.add_argument("--trend", action="store_true", help="robust_residual.trend")
    parser.add_argument("--smoothing", type=int, default=0)
    parser.add_argument("--retrain-every", type=float, default=0.05)
    parser.add_argument("--alarm-k", type=int, default=1)
    parser.add_argument("--alarm-m", type=int, default=1)
    parser.add_argument("--suppress", type=float, default=0.02, help="quiet rows / file rows")
    parser.add_argument("--rearm", action="store_true", help="alarm.rearm on")
    parser.add_argument("--sequence-length", type=int, default=16)
    parser.add_argument("--files", default="", help="only files whose path matches (iterating)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default="", help="npz file: reuse/save streamed scores")
    parser.add_argument("--record", action="store_true", help="append to bench/results/")
    args = parser.parse_args()
    components = args.components.split(",")
    settings: dict[str, Any] = {
        "components": components,
        "weights": args.weights,
        "threshold": args.threshold,
        "contamination": 0.01,
        "sequence_length": args.sequence_length,
        "smoothing": args.smoothing,
        "robust_residual": {"trend": args.trend},
    }
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    paths = [p for p in sorted((NAB / "data").glob("*/*.csv")) if re.search(args.files, str(p))]
    jobs = [(str(p), settings, args.retrain_every) for p in paths]
    started = time.perf_counter()
    if args.cache and Path(args.cache).exists():
        cached = np.load(args.cache)
        streamed = [(p, cached[p], 0.0) for p, _, _ in jobs]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            streamed = list(pool.map(stream_file, jobs))
        if args.cache:
            np.savez(args.cache, **{p: s for p, s, _ in streamed})
    elapsed = time.perf_counter() - started
    files, scores, suppress = [], [], []
    for path, score, _secs in streamed:
        name = str(Path(path).relative_to(NAB / "data"))
        ts = pd.to_datetime(pd.read_csv(path)["timestamp"])
        files.append(LabelledFile(scores=score, windows=load_windows(name, ts, labels)))
        scores.append(score)
        suppress.append(max(int(args.suppress * len(score)), 0))
    ours = {
        p: sweep(scores, files, prof, args.alarm_k, args.alarm_m, suppress, args.rearm)
        for p, prof in PROFILES.items()
    }
    board = json.loads((NAB / "results_final.json").read_text())
    print(
        f"\nNAB: {len(files)} files, {sum(len(f.windows) for f in files)} windows, "
        f"components {'+'.join(components)} (weights {args.weights}, {args.threshold}"
        f"{', trend' if args.trend else ''}{f', EWMA {args.smoothing}' if args.smoothing else ''}"
        f"), retrain every {args.retrain_every:.1%} of a file, alarms {args.alarm_k} of "
        f"{args.alarm_m} then quiet {args.suppress:.0%}{' (rearm)' if args.rearm else ''}, "
        f"{elapsed:.0f} s on {args.workers} processes"
    )
    print(f"{'detector':34} {'standard':>9} {'low FP':>8} {'low FN':>8}")
    rows = [
        (
            "anomwatch (this run)",
            ours["standard"][0],
            ours["reward_low_FP_rate"][0],
            ours["reward_low_FN_rate"][0],
        )
    ]
    if not args.files:
        for name, prof in board.items():
            if isinstance(prof, dict) and "standard" in prof:
                rows.append(
                    (
                        name,
                        prof["standard"],
                        prof.get("reward_low_FP_rate", float("nan")),
                        prof.get("reward_low_FN_rate", float("nan")),
                    )
                )
    for name, std, low_fp, low_fn in sorted(rows, key=lambda r: -r[1]):
        print(f"{name:34} {std:9.1f} {low_fp:8.1f} {low_fn:8.1f}")
    results = RECORDED if args.record else SCRATCH
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "files": len(files),
                    "settings": settings,
                    "retrain_every": args.retrain_every,
                    "alarm": {
                        "k": args.alarm_k,
                        "m": args.alarm_m,
                        "suppress": args.suppress,
                        "rearm": args.rearm,
                    },
                    "seconds": round(elapsed, 1),
                    "scores": {p: round(v[0], 2) for p, v in ours.items()},
                    "thresholds": {p: v[1] for p, v in ours.items()},
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
