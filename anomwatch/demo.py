"""Simulated metrics for the demo and the tests: hosts × metrics with a daily pattern,
noise, and a few injected incidents (spike, level shift, flat-line at zero)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table

from anomwatch.store.db import make_engine

STEP = timedelta(minutes=5)
NOISE_ORIGIN = datetime(2000, 1, 1)  # the step counted 0 by the noise
HOSTS = ("web-1", "web-2", "db-1")
METRICS = {
    "cpu": (40.0, 15.0, 2.0),
    "latency_ms": (120.0, 30.0, 5.0),
    "requests": (500.0, 200.0, 20.0),
}


@dataclass(frozen=True)
class Incident:
    host: str
    metric: str
    kind: str  # "spike" | "shift" | "flatline"
    start: datetime
    points: int


def metrics_table(metadata: MetaData, name: str = "metrics") -> Table:
    return Table(
        name,
        metadata,
        Column("ts", DateTime, nullable=False, index=True),
        Column("host", String(50), nullable=False),
        Column("metric", String(50), nullable=False),
        Column("value", Float),
    )


def simulate(
    start: datetime,
    end: datetime,
    incidents: tuple[Incident, ...] = (),
    hosts: tuple[str, ...] = HOSTS,
    metrics: dict[str, tuple[float, float, float]] = METRICS,
    seed: int = 7,
    origin: datetime = NOISE_ORIGIN,
) -> pd.DataFrame:
    """Rows with start <= ts < end at a 5-minute step; deterministic for (seed, ts - origin):
    the same `origin` offset gives the same noise on any day (the demo's, every day)."""
    times = pd.date_range(start, end, freq=STEP, inclusive="left")
    if len(times) == 0:
        return pd.DataFrame(columns=["ts", "host", "metric", "value"])
    day_phase = (times.hour * 60 + times.minute).to_numpy() / 1440.0
    epoch = ((times - pd.Timestamp(origin)) // STEP).to_numpy()
    frames = []
    for h, host in enumerate(hosts):
        for m, (metric, (level, amplitude, noise_sd)) in enumerate(metrics.items()):
            # Noise is a function of (seed, series, time step) so re-simulating a range
            # reproduces the same rows whatever the chunking.
            noise = np.array(
                [np.random.default_rng([seed, h, m, int(e)]).normal(0.0, noise_sd) for e in epoch]
            )
            values = level + amplitude * np.sin(2 * np.pi * (day_phase - 0.25)) + noise
            for inc in incidents:
                if inc.host != host or inc.metric != metric:
                    continue
                hit = (times >= inc.start) & (times < inc.start + inc.points * STEP)
                if inc.kind == "spike":
                    values[hit] += 8 * amplitude
                elif inc.kind == "shift":
                    values[hit] += 4 * amplitude
                elif inc.kind == "flatline":
                    values[hit] = 0.0
            frames.append(
                pd.DataFrame({"ts": times, "host": host, "metric": metric, "value": values})
            )
    return pd.concat(frames, ignore_index=True)


def write_rows(url: str, rows: pd.DataFrame, table: str = "metrics") -> int:
    """Append rows to the simulated metrics table (creating it if needed)."""
    engine = make_engine(url)
    try:
        metadata = MetaData()
        target = metrics_table(metadata, table)
        metadata.create_all(engine)
        records = [
            {
                "ts": r.ts.to_pydatetime(),
                "host": r.host,
                "metric": r.metric,
                "value": float(r.value),
            }
            for r in rows.itertuples(index=False)
        ]
        with engine.begin() as conn:
            if records:
                conn.execute(target.insert(), records)
        return len(records)
    finally:
        engine.dispose()
