"""NAB benchmark: all 58 series of ../shared/data/nab, streamed as a scheduled
deployment would see them, scored with NAB's rules (detector/nab.py).

    .venv/bin/python bench/nab_benchmark.py [--components iforest,robust_residual]
                                             [--retrain-every 0.1] [--suppress 0.05]

Per file: the first 15% (at most 750 rows) is the probationary period and the
first training set; the rest arrives in chunks of `retrain-every` x n rows; before
each chunk the detector is retrained on the rows seen so far (the last 5,000 at
most) and the chunk is scored with sequence context: no look-ahead. Scores are then
made "alarm-like" without look-ahead: a row keeps its score only if it is higher
than every score of the `suppress` x n rows before it (fire once, stay quiet while
the excursion lasts). One threshold for all files per profile, chosen by NAB's
sweep. Prints our scores beside the published scoreboard and appends a JSON line
to bench/results/nab.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector import DetectorConfig, EnsembleDetector  # noqa: E402
from detector.nab import PROFILES, LabelledFile, best_threshold, probation_rows  # noqa: E402

NAB = ROOT.parent / "shared" / "data" / "nab"
RESULTS = ROOT / "bench" / "results" / "nab.jsonl"


def load_windows(
    name: str, ts: pd.Series, labels: dict[str, list[list[str]]]
) -> list[tuple[int, int]]:
    out = []
    for start, end in labels.get(name, []):
        left = int(ts.searchsorted(pd.Timestamp(start), side="left"))
        right = int(ts.searchsorted(pd.Timestamp(end), side="right")) - 1
        out.append((left, min(right, len(ts) - 1)))
    return out


def keep_new_highs(scores: np.ndarray, k: int) -> np.ndarray:
    """A score survives only if it beats every score of the k rows before it."""
    padded = np.concatenate([np.zeros(k), scores])
    previous = np.lib.stride_tricks.sliding_window_view(padded[:-1], k).max(axis=1)
    return np.where(scores > previous, scores, 0.0)


def stream_file(args: tuple[str, list[str], float, float, int]) -> tuple[str, np.ndarray, float]:
    path, components, retrain_every, suppress, seq = args
    started = time.perf_counter()
    x = pd.read_csv(path)["value"].to_numpy(float)[:, None]
    n = len(x)
    probation = probation_rows(n)
    chunk = max(int(retrain_every * n), 50)
    scores = np.zeros(n)
    config = DetectorConfig(
        components=components,
        contamination=0.01,
        sequence_length=seq,
        min_train_points=min(100, probation),
    )
    start = probation
    while start < n:
        end = min(start + chunk, n)
        model = EnsembleDetector(config).fit(x[max(0, start - 5000) : start])
        context = max(0, start - (seq - 1))
        result = model.score(x[context:end])
        scores[start:end] = result.score[start - context :]
        start = end
    return path, keep_new_highs(scores, max(int(suppress * n), 1)), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", default="iforest,robust_residual")
    parser.add_argument("--retrain-every", type=float, default=0.1)
    parser.add_argument("--suppress", type=float, default=0.05)
    parser.add_argument("--sequence-length", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    components = args.components.split(",")
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    paths = sorted((NAB / "data").glob("*/*.csv"))
    jobs = [
        (str(p), components, args.retrain_every, args.suppress, args.sequence_length) for p in paths
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        streamed = list(pool.map(stream_file, jobs))
    elapsed = time.perf_counter() - started
    files = []
    for path, scores, _secs in streamed:
        name = str(Path(path).relative_to(NAB / "data"))
        ts = pd.to_datetime(pd.read_csv(path)["timestamp"])
        files.append(LabelledFile(scores=scores, windows=load_windows(name, ts, labels)))
    ours = {p: best_threshold(files, prof) for p, prof in PROFILES.items()}
    board = json.loads((NAB / "results_final.json").read_text())

    print(
        f"\nNAB: {len(files)} files, {sum(len(f.windows) for f in files)} windows, "
        f"components {'+'.join(components)}, retrain every {args.retrain_every:.0%} of a file, "
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "components": components,
                    "retrain_every": args.retrain_every,
                    "suppress": args.suppress,
                    "seconds": round(elapsed, 1),
                    "scores": {p: round(v[0], 2) for p, v in ours.items()},
                    "thresholds": {p: v[1] for p, v in ours.items()},
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
