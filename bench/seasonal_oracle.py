"""The best any detector could do on the seasonal benchmark's count drops.

    .venv/bin/python bench/seasonal_oracle.py [--seed 0] [--series 40] [--days 28]

The "counts" series of bench/seasonal_data.py are Poisson draws; their drop is 40%
for an hour at the daily peak. This oracle knows the true Poisson mean of every row
(captured from the generator, the drop taken out) and tests each hour-long window
with z = (sum of the counts - sum of the means) / sqrt(sum of the means): for Poisson
data, the most powerful test of a level change over a known hour. Per count series
it prints the peak mean, the strongest z the drop reaches (the threshold that just
finds it: any lower and it is missed whatever the detector) and the false events that
threshold opens on the clean streamed days (windows beyond it on days without an
incident, grouped like the product's events: an hour apart is a new one), testing
drops only (one-sided) and both directions (two-sided, as a detector that must also
see surges does). Nothing here is a detector: it bounds what one can reach with a
threshold chosen afterwards, per series, knowing the truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seasonal_data import PER_DAY, PER_HOUR, Series, make_series  # noqa: E402


class _Recording:
    """A numpy Generator that remembers the mean of its Poisson draw."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.lam: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rng, name)

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        self.lam = np.asarray(lam, dtype=float).copy()
        return self.rng.poisson(lam)


def generate_with_means(
    seed: int, n_series: int, days: int, train_days: int
) -> list[tuple[Series, np.ndarray | None]]:
    """The benchmark's series (the same draws as bench.seasonal_data.generate) and, for
    count series, the Poisson mean of each row without the drop."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_series):
        recording = _Recording(rng)
        series = make_series(i, cast(np.random.Generator, recording), days, train_days)
        lam = recording.lam
        if lam is not None:
            for inc in series.incidents:
                if inc.kind == "drop":
                    lam[inc.start : inc.end] /= 0.6  # the expectation, not the incident
        out.append((series, lam))
    return out


def clean_days(series: Series, first_day: int, days: int) -> list[int]:
    """Days without an incident (its hour plus two, or a day for a level shift)."""
    touched: set[int] = set()
    for inc in series.incidents:
        last = inc.start + PER_DAY if inc.persists else inc.end + 2 * PER_HOUR
        touched.update(range(inc.start // PER_DAY, last // PER_DAY + 1))
    return [d for d in range(first_day, days) if d not in touched]


def false_events(beyond: np.ndarray, days: list[int]) -> int:
    """Runs of rows beyond the threshold on `days`, a new one after an hour without."""
    count = 0
    for d in days:
        rows = np.flatnonzero(beyond[d * PER_DAY : (d + 1) * PER_DAY])
        if len(rows):
            count += 1 + int((np.diff(rows) > PER_HOUR).sum())
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--train-days", type=int, default=14)
    args = parser.parse_args(argv)
    if args.series < 1 or args.train_days < 1:
        parser.error("--series and --train-days must be at least 1")
    if args.days < args.train_days + 4:  # the generator's rule (bench/seasonal_benchmark.py)
        parser.error(f"--days must be at least --train-days + 4 ({args.train_days + 4})")
    print(
        f"{'series':12} {'peak mean':>9} {'drop z':>7} {'clean days':>10} "
        f"{'false one-sided':>15} {'/day':>6} {'false two-sided':>15} {'/day':>6}"
    )
    for series, lam in generate_with_means(args.seed, args.series, args.days, args.train_days):
        if lam is None:
            continue
        window = np.ones(PER_HOUR)
        counts = np.convolve(series.values, window, "valid")
        means = np.convolve(lam, window, "valid")
        z = np.zeros(len(lam))
        z[PER_HOUR - 1 :] = (counts - means) / np.sqrt(np.maximum(means, 1e-9))
        drop = next(i for i in series.incidents if i.kind == "drop")
        needed = float(-z[drop.start : drop.end].min())  # windows ending inside the hour
        days = clean_days(series, args.train_days, args.days)
        if not days:
            print(f"{series.name:12} no streamed day without an incident")
            continue
        one = false_events(-z >= needed, days)
        two = false_events(np.abs(z) >= needed, days)
        print(
            f"{series.name:12} {lam.max():9.1f} {needed:7.2f} {len(days):10d} "
            f"{one:15d} {one / len(days):6.3f} {two:15d} {two / len(days):6.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
