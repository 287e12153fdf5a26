"""Multivariate benchmark: 8 correlated sensors of one machine, streamed as shipped.

    nice -n 10 .venv/bin/python bench/multivariate_benchmark.py [--seeds 5] [--first-seed 5]
        [--set key=value]... [--lstm] [--only NAME] [--workers 2] [--out FILE | --record]

Data (seeded, generated here): 21 days of 5-minute rows. Three hidden drivers (a
daily load cycle with a slow drift, an ambient temperature, a pressure) feed eight
sensors, each a fixed mix of the drivers plus its own noise, so the sensors move
together. On day 11 the load steps up 30% and stays there (a new operating point,
normal, and outside the training range of most sensors: the case where a range
rule floods). Incidents in days 7-21, labelled by their rows:

- spike: one sensor jumps 6-10 of its noise sigmas for 1-3 rows;
- decouple: one sensor drifts 5-8 noise sigmas away from what the drivers imply,
  over 1-3 hours, while staying inside its own normal range (only the relation
  between sensors shows it);
- stuck: one sensor repeats its last value for 2-4 hours;
- shift: every sensor of the pressure group steps 4-6 sigmas for 2 hours.

Each seed goes through the shipped path (bench/shipped.py: trained on the first 7
days, refitted on the default retrain policy, ticks of 12 rows, the detector's own
threshold). Scored per row over the streamed days: precision, recall, F1, and the
lift of F1 over flagging every row (the F1 of a detector that says "anomalous"
always is 2p/(1+p) for a label rate p); per incident: found when an alert event
opens inside it; false events: events opened more than two hours away from every
incident. Seeds 0-4 are for tuning; the default reports 5-9.

`--lstm` runs the default (with any --set) beside the same plus a small LSTM
forecaster and the same plus a small LSTM autoencoder (bench/seasonal_benchmark.py's
LSTM_SMALL: units 16, <= 10 epochs, patience 2), all through the same shipped path,
and prints one comparison row per configuration with the training seconds per fit.
TensorFlow gets one thread per worker process (TF_NUM_INTRAOP_THREADS /
TF_NUM_INTEROP_THREADS, unless set), so --workers 2 uses two cores, not four.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# one TensorFlow thread per worker process: --workers N then uses N cores, not N x cores
for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import shipped  # noqa: E402
from bench.seasonal_benchmark import LSTM_SMALL  # noqa: E402
from detector import DetectorConfig  # noqa: E402

RECORD = ROOT / "bench" / "results" / "multivariate.jsonl"
DEFAULT_OUT = Path("/tmp/anomwatch-bench/multivariate.jsonl")
PER_DAY = 288
DAYS, TRAIN_DAYS, SHIFT_DAY = 21, 7, 11
START = np.datetime64("2026-01-05T00:00", "m")
SENSORS = 8
PRESSURE_GROUP = (5, 6, 7)
KINDS = ("spike", "decouple", "stuck", "shift")
SETTLE = 24  # rows (2 h) after an incident where an event still belongs to it


@dataclass(frozen=True)
class Incident:
    kind: str
    start: int  # row
    end: int  # row after the last


def generate(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Incident]]:
    """(ts, values (n, 8), labels (n,), incidents) for one seed."""
    rng = np.random.default_rng(seed)
    n = DAYS * PER_DAY
    rows = np.arange(n)
    hour = (rows % PER_DAY) / 12
    load = 1.0 + 0.6 * np.clip(np.sin((hour - 6) / 24 * 2 * np.pi), -0.3, 1.0)
    load *= 1.0 + np.cumsum(rng.normal(0, 0.002, n))  # slow drift
    load[SHIFT_DAY * PER_DAY :] *= 1.3  # the new operating point
    ambient = 0.5 * np.sin(rows / (PER_DAY * 9) * 2 * np.pi) + np.cumsum(rng.normal(0, 0.003, n))
    pressure = 1.0 + 0.2 * np.sin(rows / (PER_DAY * 3.7) * 2 * np.pi) + 0.3 * load
    drivers = np.column_stack([load, ambient, pressure])
    mix = np.abs(rng.normal(1.0, 0.4, (3, SENSORS)))
    mix[1, :] *= rng.choice([-1.0, 1.0], SENSORS)
    mix[2, :5] *= 0.2  # the pressure group leans on the pressure driver
    mix[:, list(PRESSURE_GROUP)] *= np.array([[0.3], [0.3], [1.5]])
    clean = drivers @ mix + rng.uniform(5, 50, SENSORS)
    sigma = 0.02 * clean.std(axis=0) + 0.01
    values = clean + rng.normal(0, 1, (n, SENSORS)) * sigma
    labels = np.zeros(n, bool)
    incidents: list[Incident] = []
    day = TRAIN_DAYS
    while day < DAYS:
        kind = KINDS[len(incidents) % len(KINDS)]
        start = day * PER_DAY + int(rng.integers(24, PER_DAY - 60))
        sensor = int(rng.integers(SENSORS))
        if kind == "spike":
            end = start + int(rng.integers(1, 4))
            values[start:end, sensor] += rng.choice([-1, 1]) * rng.uniform(6, 10) * sigma[sensor]
        elif kind == "decouple":
            end = start + int(rng.integers(12, 37))
            ramp = np.linspace(0.3, 1.0, end - start)
            size = rng.choice([-1, 1]) * rng.uniform(5, 8) * sigma[sensor]
            values[start:end, sensor] += ramp * size
        elif kind == "stuck":
            end = start + int(rng.integers(24, 49))
            values[start:end, sensor] = values[start - 1, sensor]
        else:
            end = start + 24
            group = list(PRESSURE_GROUP)
            values[start:end, group] += rng.uniform(4, 6) * sigma[group]
        labels[start:end] = True
        incidents.append(Incident(kind, start, end))
        day += int(rng.integers(1, 3))
    ts = START + rows * np.timedelta64(5, "m")
    return ts, values, labels, incidents


def evaluate(seed: int, overrides: dict[str, Any]) -> dict[str, Any]:
    ts, values, labels, incidents = generate(seed)
    config = DetectorConfig.model_validate({"seed": seed, **overrides})
    first = TRAIN_DAYS * PER_DAY
    began = time.perf_counter()
    out = shipped.stream_series(values, ts, first, config=config)
    seconds = time.perf_counter() - began
    flags, truth = out.flags[first:], labels[first:]
    tp = int((flags & truth).sum())
    opened = np.flatnonzero(out.opened)
    near = np.zeros(len(labels), bool)
    found: dict[str, list[bool]] = {k: [] for k in KINDS}
    for inc in incidents:
        near[inc.start : inc.end + SETTLE] = True
        found[inc.kind].append(bool(((opened >= inc.start) & (opened < inc.end)).any()))
    return {
        "tp": tp,
        "flagged": int(flags.sum()),
        "positives": int(truth.sum()),
        "rows": int(len(truth)),
        "found": found,
        "false_events": int((~near[opened]).sum()),
        "after_shift_flagged": int((out.flags & ~labels)[SHIFT_DAY * PER_DAY :].sum()),
        "seconds": seconds,
        "fits": out.fits,
        "fit_seconds": out.fit_seconds,
    }


def configurations(overrides: dict[str, Any], lstm: bool) -> list[tuple[str, dict[str, Any]]]:
    """The default (with the --set overrides), then with --lstm the same plus each LSTM."""
    out = [("default", overrides)]
    if lstm:
        base = DetectorConfig.model_validate(overrides).components
        for member in ("lstm_forecaster", "lstm_autoencoder"):
            settings = {**overrides, "components": [*base, member], "lstm": LSTM_SMALL}
            out.append((f"default+{member}", settings))
    return out


def f1(tp: int, flagged: int, positives: int) -> tuple[float, float, float]:
    precision = tp / flagged if flagged else 0.0
    recall = tp / positives if positives else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, score


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        value: Any = json.loads(raw) if raw[:1] in '[{"0123456789-tfn' else raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=5, help="seeds 0-4 are for tuning")
    parser.add_argument("--set", action="append", default=[], help="detector key=value")
    parser.add_argument("--lstm", action="store_true", help="add the small LSTM variants")
    parser.add_argument("--only", default="", help="run only configurations whose name has this")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--record", action="store_true", help="append to bench/results/")
    args = parser.parse_args()
    try:
        overrides = parse_sets(args.set)
        DetectorConfig.model_validate(overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: --set: {problems}", file=sys.stderr)
        raise SystemExit(2) from None
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"error: --set: {str(exc).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(2) from None
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    configs = [c for c in configurations(overrides, args.lstm) if args.only in c[0]]
    # the slow (LSTM) configurations first, so the workers finish together
    jobs = [(name, seed, settings) for name, settings in reversed(configs) for seed in seeds]
    began = time.perf_counter()
    by_job: dict[tuple[str, int], dict[str, Any]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {
            pool.submit(evaluate, seed, settings): (name, seed) for name, seed, settings in jobs
        }
        for future in as_completed(futures):
            name, seed = futures[future]
            r = by_job[(name, seed)] = future.result()
            p, rc, score = f1(r["tp"], r["flagged"], r["positives"])
            found = sum(sum(v) for v in r["found"].values())
            print(
                f"  done {name} seed {seed}: F1 {score:.3f}, precision {p:.3f}, found "
                f"{found}/{sum(len(v) for v in r['found'].values())}, {r['false_events']} "
                f"false events, {r['fits']} fits, {r['fit_seconds'] / max(r['fits'], 1):.1f} s "
                f"per fit ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
    wall = time.perf_counter() - began
    records = []
    for name, settings in configs:
        results = [by_job[(name, seed)] for seed in seeds]
        records.append(report(name, settings, seeds, results))
    if len(records) > 1:
        print_comparison(records, wall)
    out = RECORD if args.record else args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def report(
    name: str, settings: dict[str, Any], seeds: list[int], results: list[dict[str, Any]]
) -> dict[str, Any]:
    """Print the per-seed table of one configuration; its totals as a JSON record."""
    print(
        f"\nmultivariate benchmark: seeds {seeds[0]}-{seeds[-1]}, {SENSORS} sensors, "
        f"{DAYS - TRAIN_DAYS} streamed days each, {name}: settings {settings or 'DetectorConfig()'}"
    )
    print(
        f"{'seed':>4} {'flagged %':>9} {'precision':>9} {'recall':>7} {'F1':>6} "
        f"{'all-F1':>6} {'lift':>6} {'found':>7} {'false ev/day':>12} {'new-level %':>11}"
    )
    total: dict[str, Any] = {"tp": 0, "flagged": 0, "positives": 0, "rows": 0, "false": 0}
    hits: dict[str, list[bool]] = {k: [] for k in KINDS}
    for seed, r in zip(seeds, results, strict=True):
        p, rc, score = f1(r["tp"], r["flagged"], r["positives"])
        rate = r["positives"] / r["rows"]
        flag_all = 2 * rate / (1 + rate)
        found = sum(sum(v) for v in r["found"].values())
        count = sum(len(v) for v in r["found"].values())
        after = r["after_shift_flagged"] / ((DAYS - SHIFT_DAY) * PER_DAY)
        print(
            f"{seed:>4} {100 * r['flagged'] / r['rows']:9.2f} {p:9.3f} {rc:7.3f} {score:6.3f} "
            f"{flag_all:6.3f} {score - flag_all:6.3f} {found:>3}/{count:<3} "
            f"{r['false_events'] / (DAYS - TRAIN_DAYS):12.2f} {100 * after:11.2f}"
        )
        for key in ("tp", "flagged", "positives", "rows"):
            total[key] += r[key]
        total["false"] += r["false_events"]
        for kind, values in r["found"].items():
            hits[kind] += values
    p, rc, score = f1(total["tp"], total["flagged"], total["positives"])
    rate = total["positives"] / total["rows"]
    flag_all = 2 * rate / (1 + rate)
    per_kind = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in hits.items())
    false_per_day = total["false"] / (len(seeds) * (DAYS - TRAIN_DAYS))
    fits = sum(r["fits"] for r in results)
    print(
        f" all {100 * total['flagged'] / total['rows']:9.2f} {p:9.3f} {rc:7.3f} {score:6.3f} "
        f"{flag_all:6.3f} {score - flag_all:6.3f}   found: {per_kind}; "
        f"{false_per_day:.2f} false events/day"
    )
    return {
        "at": datetime.now().isoformat(timespec="seconds"),
        "name": name,
        "seeds": seeds,
        "settings": settings,
        "precision": p,
        "recall": rc,
        "f1": score,
        "flag_all_f1": flag_all,
        "lift": score - flag_all,
        "flagged_fraction": total["flagged"] / total["rows"],
        "found": {k: [sum(v), len(v)] for k, v in hits.items()},
        "false_events_per_day": false_per_day,
        "fits": fits,
        "fit_seconds_per_fit": sum(r["fit_seconds"] for r in results) / max(fits, 1),
        "seconds": sum(r["seconds"] for r in results),
    }


def print_comparison(records: list[dict[str, Any]], wall: float) -> None:
    seeds = records[0]["seeds"]
    print(f"\ncomparison (seeds {seeds[0]}-{seeds[-1]}, wall {wall:.0f} s)")
    print(
        f"{'configuration':28} {'F1':>6} {'all-F1':>6} {'lift':>7} {'precision':>9} "
        f"{'recall':>7} {'found':>7} {'false ev/day':>12} {'fits':>5} {'fit s/fit':>9} "
        f"{'stream s':>8}"
    )
    for r in records:
        found = sum(v[0] for v in r["found"].values())
        count = sum(v[1] for v in r["found"].values())
        print(
            f"{r['name']:28} {r['f1']:6.3f} {r['flag_all_f1']:6.3f} {r['lift']:+7.3f} "
            f"{r['precision']:9.3f} {r['recall']:7.3f} {found:>3}/{count:<3} "
            f"{r['false_events_per_day']:12.2f} {r['fits']:5d} {r['fit_seconds_per_fit']:9.1f} "
            f"{r['seconds']:8.0f}"
        )


if __name__ == "__main__":
    main()
