"""Seeded 5-minute metrics with daily and weekly cycles and labelled incidents.

The series imitate what ops teams watch: business-hours traffic with weekend dips,
nightly batch peaks, smooth diurnal curves, morning-and-evening peaks, integer
counts, quantised gauges, some with a slow trend. Incidents are injected only after
the training days. The CONTEXTUAL ones are the point of the benchmark: a 40% drop
for an hour at the daily peak (to a level the series reaches every night) and a
night-time surge to a daytime level. Neither leaves the series' overall range, so
a detector without a notion of time of day cannot see them. Spikes and level
shifts that persist are the ordinary kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STEP = np.timedelta64(5, "m")
PER_DAY = 288
PER_HOUR = 12
START = np.datetime64("2026-01-05T00:00", "m")  # a Monday
KINDS = ("business", "batch", "diurnal", "double", "counts", "quantised")
CONTEXTUAL = frozenset({"drop", "surge"})


@dataclass(frozen=True)
class Incident:
    kind: str  # drop | surge | spike | level_shift
    start: int  # first affected row
    end: int  # one past the last row of the incident itself
    persists: bool = False  # a level shift: the series stays at the new level

    @property
    def contextual(self) -> bool:
        return self.kind in CONTEXTUAL


@dataclass
class Series:
    name: str
    kind: str
    ts: np.ndarray  # datetime64[m]
    values: np.ndarray  # float
    incidents: list[Incident] = field(default_factory=list)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def shape(kind: str, hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """The daily/weekly pattern in [0, 1]; 1 is the weekday peak."""
    if kind in ("business", "counts", "quantised"):
        day = _smoothstep(hour, 7.0, 9.5) * (1 - _smoothstep(hour, 17.0, 20.0))
        day = day * (1 - 0.15 * np.exp(-((hour - 12.5) ** 2) / 0.5))  # lunch dip
        return np.where(weekend, 0.35 * day, day)
    if kind == "batch":
        peak = _smoothstep(hour, 0.75, 1.5) * (1 - _smoothstep(hour, 3.0, 4.0))
        office = 0.25 * _smoothstep(hour, 8.0, 10.0) * (1 - _smoothstep(hour, 17.0, 19.0))
        return np.where(weekend, peak, np.maximum(peak, office))
    if kind == "diurnal":
        curve = 0.5 + 0.5 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
        return np.where(weekend, 0.8 * curve, curve)
    if kind == "double":
        morning = np.exp(-((hour - 9.0) ** 2) / 2.0)
        evening = 0.9 * np.exp(-((hour - 20.0) ** 2) / 3.0)
        midday = 0.7 * np.exp(-((hour - 14.0) ** 2) / 8.0)
        return np.where(weekend, midday, np.maximum(morning, evening))
    raise ValueError(f"unknown series kind {kind!r}")


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    eps = rng.normal(size=n) * np.sqrt(1 - phi * phi)
    out = np.empty(n)
    out[0] = eps[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


def _weekday_rows(rng: np.random.Generator, first_day: int, days: int, hour: float) -> int:
    """The row of `hour` on a random weekday in [first_day, days)."""
    weekdays = [d for d in range(first_day, days) if d % 7 < 5]
    day = int(rng.choice(weekdays))
    return day * PER_DAY + int(round(hour * PER_HOUR))


def make_series(index: int, rng: np.random.Generator, days: int, train_days: int) -> Series:
    kind = KINDS[index % len(KINDS)]
    n = days * PER_DAY
    rows = np.arange(n)
    ts = START + rows * STEP
    hour = (rows % PER_DAY) / PER_HOUR
    weekend = (rows // PER_DAY) % 7 >= 5
    level = float(rng.choice([5.0, 40.0, 300.0, 2500.0]))
    floor = float(rng.uniform(0.1, 0.5))  # night level as a fraction of the peak
    noise = float(rng.choice([0.01, 0.03, 0.06]))
    trend = float(rng.uniform(0.1, 0.3)) if index % 5 == 4 else 0.0
    pattern = floor + (1 - floor) * shape(kind, hour, weekend)
    growth = 1.0 + trend * rows / n
    base = level * pattern * growth  # the noise-free expectation
    weekday_shape = shape(kind, np.arange(PER_DAY) / PER_HOUR, np.zeros(PER_DAY, bool))
    hourly = np.convolve(weekday_shape, np.ones(PER_HOUR) / PER_HOUR, mode="valid")
    peak_hour = float(np.argmax(hourly)) / PER_HOUR  # the hour with the highest mean
    night = slice(1 * PER_HOUR, 5 * PER_HOUR)  # the quietest time between 1 and 5 am
    low_hour = 1.0 + float(np.argmin(weekday_shape[night])) / PER_HOUR

    incidents: list[Incident] = []
    if index % 2 == 0:
        at = _weekday_rows(rng, train_days, days - 1, peak_hour)
        incidents.append(Incident("drop", at, at + PER_HOUR))
    else:
        at = _weekday_rows(rng, train_days, days - 1, low_hour)
        incidents.append(Incident("surge", at, at + PER_HOUR))
    if index % 3 == 0:
        at = int(rng.integers(train_days * PER_DAY, n - PER_DAY))
        incidents.append(Incident("spike", at, at + int(rng.integers(1, 3))))
    if index % 5 == 2:
        at = int(rng.integers((train_days + 1) * PER_DAY, n - 2 * PER_DAY))
        incidents.append(Incident("level_shift", at, at + PER_HOUR, persists=True))
    incidents.sort(key=lambda i: i.start)

    expected = base.copy()
    for inc in incidents:
        span = slice(inc.start, inc.end)
        if inc.kind == "drop":
            expected[span] *= 0.6
        elif inc.kind == "surge":
            expected[span] = level * growth[span] * (floor + (1 - floor) * 0.8)
        elif inc.kind == "spike":
            expected[span] += level * float(rng.uniform(1.0, 1.5))
        elif inc.kind == "level_shift":
            sign = float(rng.choice([-1.0, 1.0]))
            expected[inc.start :] *= 1 + sign * float(rng.uniform(0.3, 0.45))
    if kind == "counts":
        lam = float(rng.choice([3.0, 8.0, 20.0]))
        values = rng.poisson(np.maximum(expected / level * lam, 0.0)).astype(float)
    else:
        values = expected * (1 + noise * _ar1(rng, n, 0.5))
        if kind == "quantised":
            quantum = level / 15.0
            values = np.round(values / quantum) * quantum
    return Series(f"s{index:02d}-{kind}", kind, ts, values, incidents)


def generate(seed: int, n_series: int, days: int, train_days: int) -> list[Series]:
    """`n_series` series of `days` days; incidents only after `train_days`."""
    if days < train_days + 4:
        raise ValueError(f"need at least {train_days + 4} days, got {days}")
    rng = np.random.default_rng(seed)
    return [make_series(i, rng, days, train_days) for i in range(n_series)]
