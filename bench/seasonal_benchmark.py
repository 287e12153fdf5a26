"""Seasonal benchmark: daily/weekly 5-minute metrics streamed as the product streams them.

    nice -n 10 .venv/bin/python bench/seasonal_benchmark.py [--series 40] [--days 28]
        [--retrain-window 28d] [--retrain-every 1d] [--config JSON]... [--set key=value]...
        [--lstm] [--workers 2] [--out /tmp/anomwatch-bench/seasonal.jsonl | --record]

Data: bench/seasonal_data.py (seeded; contextual drops and surges, spikes, level
shifts that persist, many clean days). Each series and configuration goes through
the shipped path of bench/shipped.py, as a monitor with the default `retrain`
policy sees it (its window and age replaced by --retrain-window/--retrain-every when
given): trained on the first `--train-days` days, then the rows arrive in ticks of
`--chunk` rows; the model is refitted on the last `retrain.window` of rows
when it is older than `retrain.every`, each tick is scored with
`config.context_rows` rows of context and the rows' timestamps, and flags become
alert events with the product's tracker (detector/events.py, EventParams()
defaults), the open event carried from tick to tick.

Scored with bench/event_scoring.py: an incident is found when an event opens within
it or within --tolerance minutes of its start; false events are events opened on
days without any incident. Target (issue 12): every contextual incident found and
<= 0.1 false events per series per day.

Prints a table per configuration and appends one JSON line to --out (outside the
repository by default), or to bench/results/seasonal.jsonl with --record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anomwatch.config import RetrainPolicy  # noqa: E402
from bench import shipped  # noqa: E402
from bench.event_scoring import Labelled, SeriesOutcome, Totals, outcome  # noqa: E402
from bench.seasonal_data import PER_DAY, Series, generate  # noqa: E402
from detector import DetectorConfig  # noqa: E402
from detector.events import EventParams  # noqa: E402

RECORD = ROOT / "bench" / "results" / "seasonal.jsonl"
DEFAULT_OUT = Path("/tmp/anomwatch-bench/seasonal.jsonl")
SETTLE = np.timedelta64(2, "h")  # after an incident, the return to normal belongs to it
LSTM_SMALL: dict[str, Any] = {"units": 16, "epochs": 10, "patience": 2, "batch_size": 128}


class UsageError(Exception):
    """Bad command-line input: one `error:` line, exit code 2."""


# -- configurations -------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_sets(base: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """`key=value` pairs (dotted keys for nested settings, JSON values) on a settings dict."""
    out = json.loads(json.dumps(base))
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected key=value, e.g. --set contamination=0.005")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {item!r}: {part!r} is not a group of settings")
            node = child
        node[leaf] = _parse_value(value)
    return out


def build_config(label: str, settings: dict[str, Any]) -> DetectorConfig:
    try:
        return DetectorConfig.model_validate(settings)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise UsageError(f"{label}: not a valid detector config: {' '.join(first[:3])}") from None


def configurations(args: argparse.Namespace) -> list[tuple[str, DetectorConfig]]:
    """The default first, then --config, --set and the LSTM variants."""
    out = [("default", DetectorConfig())]
    for i, text in enumerate(args.config, 1):
        try:
            settings = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--config #{i} is not JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(settings, dict):
            raise UsageError(f"--config #{i}: expected a JSON object of detector settings")
        out.append((f"config{i}", build_config(f"--config #{i}", settings)))
    if args.set:
        base = DetectorConfig().model_dump(mode="json")
        out.append(
            ("set: " + " ".join(args.set), build_config("--set", apply_sets(base, args.set)))
        )
    if args.lstm:
        base = DetectorConfig().model_dump(mode="json")
        for member in ("lstm_forecaster", "lstm_autoencoder"):
            settings = {**base, "components": [*base["components"], member], "lstm": LSTM_SMALL}
            out.append((f"default+{member}", build_config(member, settings)))
    return out


# -- streaming one series through the shipped path ------------------------------------


@dataclass
class Streamed:
    name: str
    opened: list[int]  # rows that opened an event
    flagged: int
    points: int
    fits: int
    fit_seconds: float
    score_seconds: float


def stream_series(
    series: Series,
    config: DetectorConfig,
    train_rows: int,
    chunk: int,
    policy: RetrainPolicy,
) -> Streamed:
    """One series through the shipped path (bench/shipped.py: ticks, retrains, events)."""
    out = shipped.stream_series(
        series.values,
        series.ts,
        train_rows,
        config=config,
        retrain=policy,
        events=EventParams(),
        tick_rows=chunk,
    )
    return Streamed(
        series.name,
        np.flatnonzero(out.opened).tolist(),
        int(out.flags.sum()),
        len(series.values) - train_rows,
        out.fits,
        out.fit_seconds,
        out.score_seconds,
    )


def _stream_job(job: tuple[Series, DetectorConfig, int, int, RetrainPolicy, float]) -> Streamed:
    return stream_series(*job)


def labelled(series: Series) -> list[Labelled]:
    ts = series.ts
    return [
        Labelled(i.kind, i.contextual, ts[i.start], ts[i.end - 1], i.persists)
        for i in series.incidents
    ]


def score_streamed(
    series: Series, streamed: Streamed, train_rows: int, tolerance: np.timedelta64
) -> SeriesOutcome:
    ts = series.ts.astype("datetime64[m]")
    return outcome(
        ts[np.asarray(streamed.opened, dtype=np.int64)],
        labelled(series),
        ts[train_rows],
        ts[-1] + (ts[-1] - ts[-2]),  # the end of the last row's step
        tolerance,
        SETTLE,
        streamed.flagged,
        streamed.points,
    )


# -- report ---------------------------------------------------------------------------


def hours(value: timedelta | None) -> str:
    if value is None:
        return "never"
    hours = value.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 24 and hours % 24 == 0 else f"{hours:g} h"


def _fraction(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def summary(totals: Totals, days_streamed: float) -> dict[str, Any]:
    ctx_delays = totals.delays(contextual=True)
    return {
        "contextual_found": totals.found(contextual=True),
        "other_found": totals.found(contextual=False),
        "found_by_kind": {
            k: totals.found(kind=k) for k in ("drop", "surge", "spike", "level_shift")
        },
        "contextual_delay_median_min": float(np.median(ctx_delays)) if len(ctx_delays) else None,
        "contextual_delay_max_min": float(ctx_delays.max()) if len(ctx_delays) else None,
        "false_events_per_series_day": totals.false_per_series_day,
        "events_per_series_week": totals.events_per_series_week(days_streamed),
        "unmatched_events": sum(o.unmatched_events for o in totals.outcomes),
        "flagged_fraction": totals.flagged_fraction,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'configuration':34} {'ctx found':>9} {'drop':>6} {'surge':>6} {'spike':>6} "
        f"{'shift':>6} {'delay med/max':>13} {'false/s/day':>11} {'ev/s/week':>9} "
        f"{'unmatched':>9} {'flagged':>8} {'fit s':>6} {'wall s':>7}"
    )
    print(head)
    for r in rows:
        s = r["summary"]
        med, top = s["contextual_delay_median_min"], s["contextual_delay_max_min"]
        delay = "-" if med is None else f"{med:.0f}/{top:.0f} min"
        kinds = s["found_by_kind"]
        print(
            f"{r['name'][:34]:34} {_fraction(s['contextual_found']):>9} "
            f"{_fraction(kinds['drop']):>6} {_fraction(kinds['surge']):>6} "
            f"{_fraction(kinds['spike']):>6} {_fraction(kinds['level_shift']):>6} "
            f"{delay:>13} {s['false_events_per_series_day']:11.3f} "
            f"{s['events_per_series_week']:9.2f} {s['unmatched_events']:9d} "
            f"{s['flagged_fraction']:8.2%} {r['fit_seconds_mean']:6.2f} {r['seconds']:7.0f}"
        )


def print_kinds(name: str, series: list[Series], outcomes: list[SeriesOutcome]) -> None:
    """Where the false events and misses are, per kind of series."""
    print(f"\n{name}: per kind of series")
    print(f"{'kind':10} {'series':>6} {'ctx found':>9} {'false/s/day':>11} {'flagged':>8}")
    kinds = sorted({s.kind for s in series})
    for kind in kinds:
        picked = [o for s, o in zip(series, outcomes, strict=True) if s.kind == kind]
        t = Totals(picked)
        print(
            f"{kind:10} {len(picked):6d} {_fraction(t.found(contextual=True)):>9} "
            f"{t.false_per_series_day:11.3f} {t.flagged_fraction:8.2%}"
        )


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--train-days", type=int, default=14)
    parser.add_argument("--chunk", type=int, default=12, help="rows per tick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=30.0, help="minutes after a start")
    parser.add_argument(
        "--retrain-window", default="", help="history per fit, e.g. 28d (default: the product's)"
    )
    parser.add_argument(
        "--retrain-every", default="", help="refit when this old, e.g. 12h (default: the product's)"
    )
    parser.add_argument("--config", action="append", default=[], help="JSON detector settings")
    parser.add_argument("--set", action="append", default=[], help="key=value on the default")
    parser.add_argument("--lstm", action="store_true", help="add the small LSTM variants")
    parser.add_argument("--only", default="", help="run only configurations whose name has this")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON line appended here")
    parser.add_argument("--record", action="store_true", help=f"append to {RECORD} instead")
    args = parser.parse_args(argv)
    if args.series < 1 or args.chunk < 1 or args.workers < 1:
        raise UsageError("--series, --chunk and --workers must be at least 1")
    if args.days < args.train_days + 4:
        raise UsageError(f"--days must be at least --train-days + 4 ({args.train_days + 4})")
    try:
        args.policy = shipped.retrain_policy(args.retrain_window, args.retrain_every)
    except ValueError as exc:
        raise UsageError(f"--retrain-window/--retrain-every: {exc}") from None
    return args


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    configs = [(n, c) for n, c in configurations(args) if args.only in n]
    series = generate(args.seed, args.series, args.days, args.train_days)
    train_rows = args.train_days * PER_DAY
    policy = args.policy
    tolerance = np.timedelta64(int(args.tolerance * 60), "s")
    days_streamed = float(args.days - args.train_days)
    incidents = sum(len(s.incidents) for s in series)
    params = EventParams()
    print(
        f"seasonal: {len(series)} series x {args.days} days of 5-minute rows (seed {args.seed}), "
        f"trained on {args.train_days} days, {incidents} incidents; ticks of {args.chunk} rows, "
        f"retrain every {hours(policy.every)} on the last {hours(policy.window)}; events: "
        f"resolve after {hours(params.resolve_after)}, new normal after "
        f"{hours(params.new_normal_after)}"
    )
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for name, config in configs:
            started = time.perf_counter()
            jobs = [(s, config, train_rows, args.chunk, policy) for s in series]
            streamed = list(pool.map(_stream_job, jobs))
            seconds = time.perf_counter() - started
            outcomes = [
                score_streamed(s, r, train_rows, tolerance)
                for s, r in zip(series, streamed, strict=True)
            ]
            fits = sum(r.fits for r in streamed)
            rows.append(
                {
                    "name": name,
                    "config": config.model_dump(mode="json"),
                    "summary": summary(Totals(outcomes), days_streamed),
                    "fits": fits,
                    "fit_seconds_mean": sum(r.fit_seconds for r in streamed) / max(fits, 1),
                    "score_seconds_per_tick": float(
                        sum(r.score_seconds for r in streamed)
                        / max(1, sum(-(-r.points // args.chunk) for r in streamed))
                    ),
                    "seconds": seconds,
                    "_outcomes": outcomes,
                }
            )
            print(f"  {name}: {seconds:.0f} s", flush=True)
    print()
    print_table(rows)
    for r in rows:
        print_kinds(r["name"], series, r.pop("_outcomes"))
    return rows


def write_line(args: argparse.Namespace, rows: list[dict[str, Any]]) -> Path:
    path = RECORD if args.record else args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "at": datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "series": args.series,
        "days": args.days,
        "train_days": args.train_days,
        "chunk": args.chunk,
        "seed": args.seed,
        "tolerance_min": args.tolerance,
        "retrain": args.policy.model_dump(mode="json"),
        "events": EventParams().model_dump(mode="json"),
        "results": rows,
    }
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        rows = run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"\nwrote {write_line(args, rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
