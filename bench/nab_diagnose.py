"""Where an as-shipped NAB run wins and loses points, file by file.

Reads the `--dump FILE.npz` of `bench/nab_benchmark.py --as-shipped` (per file: the
scores, the detector's flags and the rows that opened an alert event) and prints, per
file, its raw NAB score, the windows found, the alert events outside every window
and what they cost; then every missed window with the highest score inside it and
how many scored rows of the file rank above that (few: the threshold missed it;
many: the ranking did):

    .venv/bin/python bench/nab_diagnose.py /tmp/run.npz [--profile standard]
        [--resolve-after 1,2,3,4]

`--resolve-after` regroups the dumped flags into events with other quiet times
(hours; `resolve_after_rows` as shipped) and scores each. The flags are held fixed,
so this shows what the grouping alone does; the event budget, which counts training
events with the same rules, moves the thresholds too, so a setting found here must
still be measured with the benchmark itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.nab_benchmark import NAB, load_windows, nab_totals  # noqa: E402
from detector.events import EventParams, track_events  # noqa: E402
from detector.nab import PROFILES, LabelledFile, _row_values, raw_score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path, help="npz written by nab_benchmark.py --dump")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="standard")
    parser.add_argument("--resolve-after", default="", help="hours, comma-separated")
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    dump = np.load(args.dump)
    names = sorted({key.split("|")[0] for key in dump.files})
    files, opened, stamps = [], [], []
    for name in names:
        frame = pd.read_csv(NAB / "data" / name)
        ts = pd.to_datetime(frame["timestamp"])
        files.append(
            LabelledFile(scores=dump[f"{name}|score"], windows=load_windows(name, ts, labels))
        )
        opened.append(dump[f"{name}|opened"])
        stamps.append(np.maximum.accumulate(ts.to_numpy("datetime64[us]")))

    print(f"{'raw':>7} {'found':>7} {'outside':>7} {'cost':>6}  file ({args.profile})")
    rows = []
    for name, f, op in zip(names, files, opened, strict=True):
        window_of, value = _row_values(f, profile)
        events = np.flatnonzero(op)
        events = events[events >= f.probation]
        inside = window_of[events] >= 0
        found = len(set(window_of[events][inside].tolist()))
        cost = float(value[events[~inside]].sum())
        rows.append((raw_score(f, op, profile), name, found, len(f.windows), (~inside).sum(), cost))
    for raw, name, found, total, outside, cost in sorted(rows):
        print(f"{raw:7.2f} {found:3d}/{total:<3d} {outside:7d} {cost:6.2f}  {name}")
    print(f"{sum(r[0] for r in rows):7.2f} total raw; missed windows:")
    for name, f, op in zip(names, files, opened, strict=True):
        scored = f.scores[f.probation :]
        for w, (left, right) in enumerate(f.windows):
            if op[left : right + 1].any():
                continue
            segment = f.scores[max(left, f.probation) : right + 1]
            if not len(segment):
                print(f"  {name} window {w}: inside the probationary period")
                continue
            peak = float(segment.max())
            above = int((scored > peak).sum())
            print(
                f"  {name} window {w} ({left}-{right}): peak score {peak:.5f}, {above} rows above"
            )

    if args.resolve_after:
        if not all(f"{n}|flags" in dump.files for n in names):
            sys.exit("this dump has no flags: rerun nab_benchmark.py --as-shipped --dump")
        print("\nthe dumped flags regrouped (thresholds held fixed):")
        print(f"{'resolve_after':>13} {'events':>7} {'standard':>9} {'low FP':>7} {'low FN':>7}")
        for hours in [float(h) for h in args.resolve_after.split(",")]:
            params = EventParams(resolve_after=timedelta(hours=hours))
            detections = []
            for name, f, ts in zip(names, files, stamps, strict=True):
                flags = dump[f"{name}|flags"]
                feed = track_events(ts, flags, f.scores, np.ones(len(flags), np.int64), params)
                rows_opened = np.zeros(len(flags), bool)
                rows_opened[feed.opened_rows()] = True
                detections.append(rows_opened)
            totals = nab_totals(files, detections)
            print(
                f"{hours:12g}h {sum(int(d.sum()) for d in detections):7d} "
                f"{totals['standard']:9.1f} {totals['reward_low_FP_rate']:7.1f} "
                f"{totals['reward_low_FN_rate']:7.1f}"
            )


if __name__ == "__main__":
    main()
