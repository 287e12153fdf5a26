"""The seasonal oracle bounds what a detector can do only if it sees the benchmark's
own series and their true means."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.seasonal_data import generate  # noqa: E402
from bench.seasonal_oracle import clean_days, false_events, generate_with_means  # noqa: E402


def test_oracle_sees_the_benchmarks_draws_and_the_mean_without_the_drop() -> None:
    ours = generate_with_means(seed=0, n_series=12, days=21, train_days=14)
    theirs = generate(seed=0, n_series=12, days=21, train_days=14)
    counted = 0
    for (series, lam), same in zip(ours, theirs, strict=True):
        assert np.array_equal(series.values, same.values)  # the very rows benchmarked
        if lam is None:
            continue
        counted += 1
        drop = next(i for i in series.incidents if i.kind == "drop")
        # outside the incident the rows scatter around the mean; inside they fall 40% short
        assert abs(series.values[: drop.start].mean() / lam[: drop.start].mean() - 1) < 0.05
        inside = series.values[drop.start : drop.end].sum() / lam[drop.start : drop.end].sum()
        assert inside < 0.85
    assert counted >= 1


def test_false_events_split_after_an_hour_and_skip_incident_days() -> None:
    ours = generate_with_means(seed=0, n_series=12, days=21, train_days=14)
    series = next(s for s, lam in ours if lam is not None)
    days = clean_days(series, 14, 21)
    drop_day = next(i for i in series.incidents if i.kind == "drop").start // 288
    assert drop_day not in days and days
    beyond = np.zeros(21 * 288, dtype=bool)
    day = days[0] * 288
    beyond[[day + 10, day + 11, day + 20, day + 100]] = True  # 9 rows (< an hour) join, 80 not
    assert false_events(beyond, days) == 2


def test_too_few_days_is_one_error_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.seasonal_oracle import main

    with pytest.raises(SystemExit) as stop:
        main(["--days", "17", "--train-days", "14"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("error: --days must be at least --train-days + 4 (18)")
    assert not any("Traceback" in line for line in err)
