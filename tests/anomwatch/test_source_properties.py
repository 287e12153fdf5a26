"""Property-based test of the source cleaning path against a real SQLite table."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from anomwatch.config import parse_monitors
from anomwatch.source import SourceReader
from anomwatch.store.db import make_engine

T0 = datetime(2026, 11, 20)
value = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))
row = st.tuples(st.integers(0, 30), st.sampled_from(["a", "b"]), value)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(row, max_size=40))
def test_cleaned_rows_are_sorted_unique_and_finite(tmp_path_factory, rows) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('p') / 'src.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE m (ts TIMESTAMP, host TEXT, value FLOAT)"))
        for minute, host, v in rows:
            stamp = (T0 + timedelta(minutes=minute)).isoformat(sep=" ")
            conn.execute(text("INSERT INTO m VALUES (:t, :h, :v)"), {"t": stamp, "h": host, "v": v})
    engine.dispose()
    monitor = parse_monitors(
        {
            "monitors": [
                {
                    "name": "p",
                    "source": {
                        "url": url,
                        "table": "m",
                        "timestamp": "ts",
                        "series": ["host"],
                        "values": ["value"],
                    },
                }
            ]
        }
    )
    with SourceReader(monitor.get("p")) as reader:
        extract = reader.read_range(None, T0 + timedelta(hours=1))
    frame = extract.frame
    assert extract.rows_read == len(rows)
    assert all(math.isfinite(v) for v in frame["value"])
    assert not frame.duplicated(["series", "ts"]).any()
    for _, part in frame.groupby("series"):
        assert part["ts"].is_monotonic_increasing
    kept_or_explained = len(frame) + extract.dropped_nan + extract.duplicates
    assert kept_or_explained == len(rows)
