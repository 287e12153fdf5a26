"""Bad input at the source boundary: each case ends in a clear error or a recorded
count, never a silent score. (Flow-level cases: tests/flows/test_bad_input_flow.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from anomwatch.config import parse_monitors
from anomwatch.demo import simulate, write_rows
from anomwatch.errors import SourceError
from anomwatch.source import SourceReader
from anomwatch.store.db import make_engine
from tasks.extract import (
    MAX_WINDOW_EXCEPTIONS,
    ReadWindow,
    SeriesWork,
    TickData,
    gap_note,
    late_rows,
)

T0 = datetime(2026, 11, 20)


def monitor(url: str, **source):
    spec = {
        "url": url,
        "table": "metrics",
        "timestamp": "ts",
        "series": ["host"],
        "values": ["value"],
    }
    spec.update(source)
    return parse_monitors({"monitors": [{"name": "m1", "source": spec}]}).get("m1")


def text_table(url: str, rows: list[tuple]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE metrics (ts TEXT, host TEXT, value)"))
        for ts, host, value in rows:
            conn.execute(
                text("INSERT INTO metrics VALUES (:t, :h, :v)"), {"t": ts, "h": host, "v": value}
            )
    engine.dispose()


# -- times ---------------------------------------------------------------------------


def test_aware_times_with_different_offsets_and_naive_ones_become_utc(tmp_path) -> None:
    """A DST change in a text column gives two offsets; naive times are in source.timezone."""
    url = f"sqlite:///{tmp_path / 'tz.db'}"
    text_table(
        url,
        [
            ("2026-10-25T02:30:00+02:00", "a", 1.0),  # CEST
            ("2026-10-25T02:30:00+01:00", "a", 2.0),  # CET, one hour later
            ("2026-10-25 04:00:00", "a", 3.0),  # naive: Europe/Berlin (CET)
        ],
    )
    with SourceReader(monitor(url, timezone="Europe/Berlin")) as reader:
        frame = reader.read_range(None, datetime(2026, 10, 26)).frame
    assert frame["ts"].tolist() == [
        pd.Timestamp("2026-10-25 00:30"),
        pd.Timestamp("2026-10-25 01:30"),
        pd.Timestamp("2026-10-25 03:00"),
    ]
    assert frame["value"].tolist() == [1.0, 2.0, 3.0]


def test_timestamp_with_time_zone_column_is_read_as_utc(databases) -> None:
    if databases.backend != "postgresql":
        pytest.skip("TIMESTAMP WITH TIME ZONE: PostgreSQL")
    url = databases.new("tz")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET TIME ZONE 'Europe/Berlin'"))
        conn.execute(text("CREATE TABLE metrics (ts TIMESTAMPTZ, host TEXT, value FLOAT)"))
        conn.execute(
            text(
                "INSERT INTO metrics VALUES ('2026-11-20 10:00:00+02', 'a', 1),"
                " ('2026-11-20 10:00:00+00', 'a', 2)"
            )
        )
    engine.dispose()
    with SourceReader(monitor(url, timezone="America/New_York")) as reader:
        early = reader.read_range(None, datetime(2026, 11, 20, 9)).frame
        frame = reader.read_range(None, datetime(2026, 11, 21)).frame
    assert frame["ts"].tolist() == [
        pd.Timestamp("2026-11-20 08:00"),
        pd.Timestamp("2026-11-20 10:00"),
    ]
    assert early["value"].tolist() == [1.0]  # the bound was compared in UTC too


def test_text_that_is_not_a_time_is_a_clear_error(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    text_table(url, [("2026-11-20 noonish", "a", 1.0)])
    with (
        SourceReader(monitor(url)) as reader,
        pytest.raises(SourceError, match="monitor 'm1': timestamp column 'ts' holds values that"),
    ):
        reader.read_range(None, datetime(2100, 1, 1))


# -- values --------------------------------------------------------------------------


def test_null_nan_inf_and_a_huge_spike(tmp_path) -> None:
    """null/NaN/inf are dropped and counted (on_nan: drop); 1e308 is a finite value and
    is kept, to be scored as the anomaly it is."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    text_table(
        url,
        [
            ("2026-11-20 00:00:00", "a", 1.0),
            ("2026-11-20 00:05:00", "a", None),
            ("2026-11-20 00:10:00", "a", float("inf")),
            ("2026-11-20 00:15:00", "a", float("-inf")),
            ("2026-11-20 00:20:00", "a", 1e308),
        ],
    )
    with SourceReader(monitor(url)) as reader:
        ex = reader.read_range(None, T0 + timedelta(hours=1))
    assert ex.rows_read == 5 and ex.dropped_nan == 3
    assert ex.frame["value"].tolist() == [1.0, 1e308]
    assert "3 row(s) with NaN/inf values dropped" in ex.notes
    with (
        SourceReader(monitor(url, on_nan="reject")) as reader,
        pytest.raises(SourceError, match="3 row\\(s\\) with missing/NaN/inf values.*on_nan"),
    ):
        reader.read_range(None, T0 + timedelta(hours=1))


def test_huge_values_score_finite_and_flagged() -> None:
    """1e308 must not overflow into inf/NaN scores (iforest and robust residual)."""
    from detector import DetectorConfig, EnsembleDetector

    rng = np.random.default_rng(0)
    train = (40 + rng.normal(0, 2, 400)).reshape(-1, 1)
    for components in (["iforest"], ["iforest", "robust_residual"]):
        detector = EnsembleDetector(DetectorConfig(components=components, seed=1)).fit(train)
        with np.errstate(over="ignore"):
            result = detector.score(np.array([[40.0], [1e308], [-1e308], [40.0]]))
        assert np.isfinite(result.score).all() and (result.score <= 1).all()
        assert result.is_anomaly[1] and result.is_anomaly[2]
        assert result.score[1] > result.score[0]


def test_store_keeps_huge_and_precise_values(store) -> None:
    """What the source holds is what the store keeps: 1e308 and 9 significant digits."""
    from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies

    values = {
        T0: 1e308,
        T0 + timedelta(minutes=5): 123456789.125,
        T0 + timedelta(minutes=10): -1e-300,
    }
    records = [
        AnomalyRecord("m1", "a", ts, v, 1.0, 0.0, 2.0, 0.999, "{}", "{}", "critical", None)
        for ts, v in values.items()
    ]
    persist_tick(store, "m1", None, records, {"a": T0 + timedelta(minutes=10)})
    stored = {r["ts"]: r["value"] for r in query_anomalies(store, monitor="m1")}
    assert stored == values


# -- counts the tick records -----------------------------------------------------------


def test_rows_are_counted_per_series_by_the_database(databases) -> None:
    url = databases.new("src")
    rows = simulate(T0, T0 + timedelta(hours=1), hosts=("a", "b"), metrics={"cpu": (1, 1, 0)})
    write_rows(url, rows)
    with SourceReader(monitor(url, series=["host", "metric"])) as reader:
        counts = reader.count_per_series(T0, T0 + timedelta(minutes=30))
        none = reader.count_per_series(T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert counts == {"host=a,metric=cpu": 6, "host=b,metric=cpu": 6}
    assert none == {}


def test_late_rows_are_the_rows_that_appeared_in_a_window_already_read() -> None:
    previous = ReadWindow(T0, T0 + timedelta(hours=1), {"b": 10, "c": 0}, default=12)
    assert late_rows(previous, {"a": 12, "b": 12, "c": 1, "d": 13}) == {"b": 2, "c": 1, "d": 1}
    assert late_rows(previous, {"a": 11}) == {}  # deleted rows are not late rows
    assert ReadWindow.from_json(previous.to_json()) == ReadWindow(
        T0, T0 + timedelta(hours=1), {"b": 10, "c": 0}, default=12
    )
    assert ReadWindow.from_json({"lo": "garbage"}) is None
    assert ReadWindow.from_json(None) is None


def test_a_window_is_stored_compactly_or_not_at_all() -> None:
    uniform = ReadWindow(T0, T0, {f"s{i}": 12 for i in range(5000)} | {"odd": 3})
    assert uniform.to_json() == {
        "lo": T0.isoformat(),
        "hi": T0.isoformat(),
        "n": 12,
        "other": {"odd": 3},
    }
    ragged = ReadWindow(T0, T0, {f"s{i}": i for i in range(MAX_WINDOW_EXCEPTIONS + 2)})
    assert ragged.to_json() is None


def test_tick_vouches_for_the_window_up_to_its_oldest_new_watermark() -> None:
    raw = pd.DataFrame(
        {
            "series": ["a", "a", "a", "b", "b"],
            "ts": [T0 + timedelta(minutes=m) for m in (5, 10, 15, 5, 10)],
        }
    )
    tick = TickData(until=T0 + timedelta(minutes=15), work={}, since=T0, new_raw=raw)
    marks = {
        "a": T0 + timedelta(minutes=15),
        "b": T0 + timedelta(minutes=10),
        "z": T0 + timedelta(hours=1),
    }
    window = tick.read_window(marks)
    assert window == ReadWindow(T0, T0 + timedelta(minutes=10), {"a": 2, "b": 2, "z": 0})
    # nothing scored: the previous window is carried on, with the late rows added
    idle = TickData(
        until=T0, work={}, late={"a": 1}, previous_window=ReadWindow(T0, T0, {"b": 1}, default=2)
    )
    assert idle.read_window({}) == ReadWindow(T0, T0, {"a": 3, "b": 1}, default=2)


def test_a_gap_before_new_rows_is_noted_and_regular_rows_are_not() -> None:
    times = [T0 + timedelta(minutes=5 * i) for i in range(6)]
    times += [times[-1] + timedelta(hours=2), times[-1] + timedelta(hours=2, minutes=5)]
    rows = pd.DataFrame({"series": "a", "ts": times, "value": 1.0})
    item = SeriesWork("a", times[3], rows, None)
    note = gap_note(item)
    assert note is not None
    assert (
        note == "a: 1 gap(s) in the data, longest 2h before 2026-11-20 02:25:00 UTC (usual step 5m)"
    )
    assert gap_note(SeriesWork("a", times[3], rows.iloc[:6], None)) is None
    assert gap_note(SeriesWork("a", times[-1], rows, None)) is None  # the gap is old news


# -- property: extract's cleaning never loses a row silently ----------------------------

cell = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e308, -1e308, 5e-324]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["a", "b"]), cell), max_size=30),
    st.sampled_from(["drop", "interpolate"]),
    st.sampled_from(["last", "first"]),
)
# found by hypothesis: the line between 1e308 and -8e307 overflows to -inf at the gap
@example([(1, "a", None), (0, "a", 1e308), (2, "a", -7.976931348623158e307)], "interpolate", "last")
def test_extract_read_accounts_for_every_row(tmp_path_factory, rows, on_nan, on_duplicate) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('x') / 's.db'}"
    text_table(
        url,
        [((T0 + timedelta(minutes=5 * m)).isoformat(sep=" "), h, v) for m, h, v in rows],
    )
    with SourceReader(monitor(url, on_nan=on_nan, on_duplicate=on_duplicate)) as reader:
        ex = reader.read_range(None, T0 + timedelta(hours=3))
        counts = reader.count_per_series(T0 - timedelta(minutes=1), T0 + timedelta(hours=3))
    frame = ex.frame
    assert ex.rows_read == len(rows) == sum(counts.values())
    assert len(frame) + ex.dropped_nan + ex.duplicates == len(rows)
    assert np.isfinite(frame["value"].to_numpy()).all()
    assert not frame.duplicated(["series", "ts"]).any()
    assert all(part["ts"].is_monotonic_increasing for _, part in frame.groupby("series"))
    assert ex.raw is None or len(ex.raw) == len(rows)
