"""The seasonal benchmark's harness: its data, its retrain window, its stream of ticks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from anomwatch.config import RetrainPolicy  # noqa: E402
from bench.seasonal_benchmark import (  # noqa: E402
    UsageError,
    apply_sets,
    main,
    stream_series,
)
from bench.seasonal_data import PER_DAY, Series, generate  # noqa: E402
from detector import DetectorConfig  # noqa: E402

TRAIN_DAYS = 14


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return generate(seed=3, n_series=12, days=21, train_days=TRAIN_DAYS)


def test_contextual_incidents_stay_inside_the_range_seen_in_training(series: list[Series]) -> None:
    """What makes them contextual: by value alone they look normal; by time of day not."""
    checked = 0
    for s in series:
        train = s.values[: TRAIN_DAYS * PER_DAY]
        lo, hi = np.quantile(train, [0.01, 0.99])
        rows = np.arange(len(train))
        weekday = (rows // PER_DAY) % 7 < 5
        for inc in s.incidents:
            shifted = any(i.kind == "level_shift" and i.start < inc.start for i in s.incidents)
            if not inc.contextual or shifted:
                continue
            values = s.values[inc.start : inc.end]
            assert lo <= np.median(values) <= hi, (s.name, inc)
            # ... but far from what the same time of day looks like on training weekdays
            same_time = weekday & np.isin(rows % PER_DAY, np.arange(inc.start, inc.end) % PER_DAY)
            usual = np.median(train[same_time])
            assert abs(np.median(values) - usual) > 0.25 * abs(usual), (s.name, inc)
            checked += 1
    assert checked >= len(series) - 3  # one contextual incident per series


def test_incidents_come_after_the_training_days(series: list[Series]) -> None:
    starts = [i.start for s in series for i in s.incidents]
    assert min(starts) >= TRAIN_DAYS * PER_DAY
    assert {i.kind for s in series for i in s.incidents} == {
        "drop",
        "surge",
        "spike",
        "level_shift",
    }


def test_the_same_seed_gives_the_same_data() -> None:
    a, b = generate(7, 3, 18, 14), generate(7, 3, 18, 14)
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    assert [x.incidents for x in a] == [y.incidents for y in b]


def test_set_overrides_nested_settings_with_json_values() -> None:
    base = DetectorConfig().model_dump(mode="json")
    out = apply_sets(base, ["contamination=0.002", "iforest.n_estimators=50", "seed=x"])
    assert out["contamination"] == 0.002
    assert out["iforest"]["n_estimators"] == 50
    assert out["seed"] == "x"
    assert base["contamination"] == DetectorConfig().contamination  # base left alone
    with pytest.raises(UsageError, match="key=value"):
        apply_sets(base, ["contamination"])


def test_bad_configurations_are_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--config", "{not json", "--series", "1"]) == 2
    assert main(["--set", "contamination=2", "--series", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert "--config #1 is not JSON" in err[0]
    assert "--set: not a valid detector config" in err[1]


def test_a_spike_is_flagged_once_and_opens_one_event(series: list[Series]) -> None:
    """The stream through ticks, retrains and the event tracker, on a series with a spike
    far outside anything seen before."""
    s = series[1]
    values = s.values.copy()
    spike = TRAIN_DAYS * PER_DAY + 3 * PER_DAY + 100
    values[spike] = values.max() * 20
    probe = Series(s.name, s.kind, s.ts, values, [])
    config = DetectorConfig(components=["iforest"], iforest={"n_estimators": 20, "max_samples": 64})
    out = stream_series(probe, config, TRAIN_DAYS * PER_DAY, 12, RetrainPolicy())
    assert spike in out.opened
    assert out.points == len(values) - TRAIN_DAYS * PER_DAY
    # the first fit, then a refit a day later: every 24 ticks of 12 rows, 6 times in 7 days
    assert out.fits == 1 + 6
    # a flag just before the spike would have opened the event there instead
    assert spike - 1 not in out.opened


def test_an_incident_longer_than_a_tick_is_one_event(series: list[Series]) -> None:
    """The open event is carried from tick to tick: 3 hours far out of range over 15
    ticks of 12 rows open one event, not one per tick."""
    s = series[1]
    values = s.values.copy()
    start = TRAIN_DAYS * PER_DAY + 2 * PER_DAY + 6  # mid-tick
    values[start : start + 36] = values.max() * 20
    probe = Series(s.name, s.kind, s.ts, values, [])
    config = DetectorConfig(components=["iforest"], iforest={"n_estimators": 20, "max_samples": 64})
    out = stream_series(probe, config, TRAIN_DAYS * PER_DAY, 12, RetrainPolicy())
    during = [r for r in out.opened if start <= r < start + 36 + 12]
    assert during == [start]
