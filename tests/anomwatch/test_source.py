"""Reading source rows for real on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from anomwatch.config import parse_monitors
from anomwatch.demo import simulate, write_rows
from anomwatch.errors import SourceError, SourceUnavailableError
from anomwatch.source import SourceReader
from anomwatch.store.db import make_engine

T0 = datetime(2026, 11, 20, 0, 0)


def make_monitor(url: str, **source):
    base = {
        "url": url,
        "table": "metrics",
        "timestamp": "ts",
        "series": ["host", "metric"],
        "values": ["value"],
    }
    base.update(source)
    if "query" in source:
        base.pop("table")
    return parse_monitors({"monitors": [{"name": "m1", "source": base}]}).get("m1")


@pytest.fixture
def source_url(databases) -> str:
    url = databases.new("src")
    rows = simulate(T0, T0 + timedelta(hours=2), hosts=("a", "b"), metrics={"cpu": (1, 1, 0.1)})
    write_rows(url, rows)
    return url


def test_read_range_is_exclusive_inclusive_and_sorted(source_url: str) -> None:
    with SourceReader(make_monitor(source_url)) as reader:
        ex = reader.read_range(T0 + timedelta(minutes=30), T0 + timedelta(minutes=60))
    frame = ex.frame
    assert ex.series() == ["host=a,metric=cpu", "host=b,metric=cpu"]
    per_series = frame.groupby("series")["ts"].agg(["min", "max", "count"])
    assert (per_series["min"] == T0 + timedelta(minutes=35)).all()
    assert (per_series["max"] == T0 + timedelta(minutes=60)).all()
    assert (per_series["count"] == 6).all()
    assert frame["value"].dtype == "float64"


def test_read_last_gives_k_context_rows_per_series(source_url: str) -> None:
    with SourceReader(make_monitor(source_url)) as reader:
        ex = reader.read_last(T0 + timedelta(minutes=60), 3, timedelta(days=1))
    counts = ex.frame.groupby("series")["ts"].agg(["count", "max", "min"])
    assert (counts["count"] == 3).all()
    assert (counts["max"] == T0 + timedelta(minutes=60)).all()
    assert (counts["min"] == T0 + timedelta(minutes=50)).all()


def test_query_source_with_binds(source_url: str) -> None:
    monitor = make_monitor(
        source_url,
        query="SELECT ts, host, metric, value FROM metrics WHERE ts > :since AND ts <= :until",
    )
    with SourceReader(monitor) as reader:
        ex = reader.read_range(T0, T0 + timedelta(minutes=10))
        ctx = reader.read_last(T0 + timedelta(minutes=60), 2, timedelta(hours=1))
    assert len(ex.frame) == 4
    assert len(ctx.frame) == 4


def test_missing_table_and_column_are_named(source_url: str) -> None:
    with pytest.raises(SourceError, match="table 'nope' not found.*available tables: metrics"):
        SourceReader(make_monitor(source_url, table="nope")).source_clause()
    with pytest.raises(SourceError, match="column\\(s\\) 'val' not found in table 'metrics'"):
        SourceReader(make_monitor(source_url, values=["val"])).source_clause()


def test_non_numeric_value_column_is_refused(source_url: str) -> None:
    with pytest.raises(SourceError, match="value column 'host' has type.*must be numeric"):
        SourceReader(make_monitor(source_url, series=["metric"], values=["host"])).source_clause()


def test_injection_strings_in_names_never_reach_sql(source_url: str) -> None:
    evil = "metrics; DROP TABLE metrics; --"
    with pytest.raises(SourceError, match="not found"):
        SourceReader(make_monitor(source_url, table=evil)).source_clause()
    with pytest.raises(SourceError, match="not found"):
        SourceReader(make_monitor(source_url, values=['value" FROM metrics; --'])).source_clause()
    engine = make_engine(source_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM metrics")).scalar() == 48
    engine.dispose()


def test_source_is_read_only_where_the_database_allows(source_url: str) -> None:
    if source_url.startswith("sqlite"):
        pytest.skip("SQLite sources are opened normally; read-only is documented, not enforced")
    reader = SourceReader(make_monitor(source_url))
    with pytest.raises(Exception, match="(?i)read.only"), reader.engine.begin() as conn:
        conn.execute(text("DELETE FROM metrics"))
    reader.close()


def test_unreachable_source_is_a_retryable_error_without_password() -> None:
    monitor = make_monitor("postgresql+psycopg://u:s3cretpw@127.0.0.1:1/db")
    with pytest.raises(SourceUnavailableError) as info:
        SourceReader(monitor).source_clause()
    assert "s3cretpw" not in str(info.value)
    assert "monitor 'm1'" in str(info.value)


def _reader_with_rows(tmp_path, rows: list[tuple], **source):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE metrics (ts TIMESTAMP, host TEXT, metric TEXT, value)"))
        for row in rows:
            conn.execute(
                text("INSERT INTO metrics VALUES (:ts, :h, :m, :v)"),
                dict(zip(["ts", "h", "m", "v"], row, strict=True)),
            )
    engine.dispose()
    return SourceReader(make_monitor(url, **source))


def test_nan_duplicates_and_strings_follow_the_stated_policy(tmp_path) -> None:
    rows = [
        ("2026-11-20 00:00:00", "a", "cpu", 1.0),
        ("2026-11-20 00:05:00", "a", "cpu", None),
        ("2026-11-20 00:10:00", "a", "cpu", 3.0),
        ("2026-11-20 00:10:00", "a", "cpu", 4.0),
    ]
    reader = _reader_with_rows(tmp_path, rows)
    ex = reader.read_range(None, T0 + timedelta(hours=1))
    assert ex.dropped_nan == 1 and ex.duplicates == 1
    assert ex.frame["value"].tolist() == [1.0, 4.0]
    reader.close()
    reader = _reader_with_rows(tmp_path / "i", rows, on_nan="interpolate", on_duplicate="first")
    assert reader.read_range(None, T0 + timedelta(hours=1)).frame["value"].tolist() == [1, 2, 3]
    reader.close()
    reader = _reader_with_rows(tmp_path / "r", rows, on_duplicate="reject")
    with pytest.raises(SourceError, match="1 duplicate timestamp"):
        reader.read_range(None, T0 + timedelta(hours=1))
    reader.close()
    reader = _reader_with_rows(tmp_path / "s", [("2026-11-20 00:00:00", "a", "cpu", "n/a")])
    with pytest.raises(SourceError, match="non-numeric value \\('n/a'\\)"):
        reader.read_range(None, T0 + timedelta(hours=1))
    reader.close()


def test_timezone_naive_source_is_converted_to_utc(tmp_path) -> None:
    rows = [("2026-11-20 10:00:00", "a", "cpu", 1.0)]
    reader = _reader_with_rows(tmp_path, rows, timezone="Europe/Berlin")
    frame = reader.read_range(None, datetime(2026, 11, 21))
    reader.close()
    assert frame.frame["ts"].tolist() == [pd.Timestamp("2026-11-20 09:00:00")]


def test_an_interpolation_that_overflows_is_dropped_by_ticks_and_backfills(tmp_path) -> None:
    """Between 1e308 and -8e307 the line overflows to -inf: the row stays missing (and
    is dropped and counted) in a tick's read and in a backfill's bulk read alike."""
    import numpy as np

    from anomwatch.bulk_read import BulkReader, RawChunk

    rows = [
        ("2026-11-20 00:00:00", "a", "cpu", 1e308),
        ("2026-11-20 00:05:00", "a", "cpu", None),
        ("2026-11-20 00:10:00", "a", "cpu", -7.976931348623158e307),
    ]
    reader = _reader_with_rows(tmp_path, rows, on_nan="interpolate")
    try:
        ex = reader.read_range(None, T0 + timedelta(hours=1))
        assert ex.frame["value"].tolist() == [1e308, -7.976931348623158e307]
        assert ex.dropped_nan == 1 and ex.interpolated_nan == 0
        raw = RawChunk(
            np.array([T0 + timedelta(minutes=5 * i) for i in range(3)], dtype="datetime64[us]"),
            [np.array(["a"] * 3, dtype=object), np.array(["cpu"] * 3, dtype=object)],
            np.array([[1e308], [np.nan], [-7.976931348623158e307]]),
        )
        chunk = BulkReader(reader).tidy(raw)
        assert np.isfinite(chunk.values).all() and len(chunk.values) == 2
        assert chunk.dropped_nan == 1
    finally:
        reader.close()
