"""Bad rows in a live tick, on each backend: what is dropped is counted, what is late is
counted and left unscored, a gap is noted, a huge spike is stored with a finite score,
and a constant series is scored without NaN."""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Column, DateTime, Double, MetaData, String, Table, insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_monitor_flow import STEP, T0, Deployment, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.store.anomalies import get_watermarks, query_anomalies  # noqa: E402
from anomwatch.store.db import make_engine  # noqa: E402
from anomwatch.store.runs import list_runs  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]
A, B, C = "host=a,metric=cpu", "host=b,metric=cpu", "host=c,metric=cpu"
HOUR = T0 + timedelta(hours=1)


def source_table(url: str) -> Table:
    """The metrics table with double-precision values (1e308 fits on every backend)."""
    table = Table(
        "metrics",
        MetaData(),
        Column("ts", DateTime),
        Column("host", String(50)),
        Column("metric", String(50)),
        Column("value", Double),
    )
    engine = make_engine(url)
    table.metadata.create_all(engine)
    engine.dispose()
    return table


def insert_rows(url: str, table: Table, values: list[tuple]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [{"ts": ts, "host": h, "metric": "cpu", "value": v} for ts, h, v in values],
        )
    engine.dispose()


def constant(start, end) -> pd.DataFrame:
    times = pd.date_range(start, end, freq=STEP, inclusive="left")
    return pd.DataFrame({"ts": times, "host": "c", "metric": "cpu", "value": 5.0})


def test_bad_rows_in_a_tick_are_counted_noted_or_scored_safely(
    databases, tmp_path, monkeypatch
) -> None:
    huge = 1e308
    dep = Deployment(databases, tmp_path, monkeypatch, [])
    table = source_table(dep.source_url)
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + STEP))
    write_rows(dep.source_url, constant(T0 - timedelta(days=2), T0 + STEP))
    assert dep.tick(T0)["models_trained"] == 3

    new = rows(T0 + STEP, HOUR + STEP)
    gap = new.ts.between(T0 + timedelta(minutes=25), T0 + timedelta(minutes=45))
    new = new[~((new.host == "a") & gap)]
    new.loc[(new.host == "a") & (new.ts == T0 + timedelta(minutes=20)), "value"] = huge
    new = new[~((new.host == "b") & (new.ts == T0 + timedelta(minutes=10)))]
    write_rows(dep.source_url, new)
    write_rows(dep.source_url, constant(T0 + STEP, HOUR + STEP))
    insert_rows(
        dep.source_url,
        table,
        [
            (T0 + timedelta(minutes=10), "b", None),  # null value
            (T0 + timedelta(minutes=15), "b", 40.0),  # a second row at the same time
        ],
    )
    result = dep.tick(HOUR)
    assert result["status"] == "succeeded"
    notes = " | ".join(result["notes"])
    assert "1 row(s) with NaN/inf values dropped" in notes
    assert "1 duplicate timestamp(s) resolved by keeping the last" in notes
    assert f"{A}: 1 gap(s) in the data" in notes
    stored = {(r["series"], r["ts"]): r for r in query_anomalies(dep.store, monitor="hosts")}
    spike = stored[(A, T0 + timedelta(minutes=20))]
    assert spike["value"] == pytest.approx(huge, rel=1e-6)
    assert math.isfinite(spike["score"]) and 0 <= spike["score"] <= 1
    assert all(math.isfinite(r["score"]) for r in stored.values())
    assert get_watermarks(dep.store, "hosts") == dict.fromkeys((A, B, C), HOUR)

    # rows of the gap arrive now, behind the watermark: counted, never scored
    late = [(T0 + timedelta(minutes=m), "a", 1e6) for m in (25, 30, 35, 40, 45)]
    insert_rows(dep.source_url, table, late)
    write_rows(dep.source_url, rows(HOUR + STEP, HOUR + 2 * STEP))
    write_rows(dep.source_url, constant(HOUR + STEP, HOUR + 2 * STEP))
    after = dep.tick(HOUR + STEP)
    assert after["late_rows"] == {A: 5}
    assert any("5 row(s) arrived late" in n and "backfill" in n for n in after["notes"])
    keys = {(r["series"], r["ts"]) for r in query_anomalies(dep.store, monitor="hosts")}
    assert not any((A, ts) in keys for ts, _h, _v in late)
    assert after["points_scored"] == 3
    details = list_runs(dep.store, "hosts")[0]["details"]
    assert '"late_rows": {"host=a,metric=cpu": 5}' in details

    # counted once: the next tick does not report them again
    write_rows(dep.source_url, rows(HOUR + 2 * STEP, HOUR + 3 * STEP))
    assert dep.tick(HOUR + 2 * STEP)["late_rows"] == {}
    dep.store.dispose()
