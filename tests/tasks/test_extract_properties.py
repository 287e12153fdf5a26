"""Property-based test of the tick's extract against a real SQLite source and store:
whatever the rows and watermarks, each series gets exactly its rows after its
watermark (up to `until`) and at most sequence_length - 1 context rows before it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from anomwatch.config import parse_monitors
from anomwatch.store.anomalies import persist_tick
from anomwatch.store.db import Store, make_engine
from tasks.extract import extract_rows

T0 = datetime(2026, 11, 20)
K = 3  # sequence_length 4
UNTIL = T0 + timedelta(minutes=5 * 40)
NAMES = itertools.count()

minutes = st.integers(0, 50)  # some rows lie after UNTIL (minute 40) and must not be read
rows_strategy = st.lists(
    st.tuples(minutes, st.sampled_from(["a", "b", "c"]), st.floats(-1e6, 1e6)),
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),  # duplicates have their own tests (ties sort freely)
)
marks_strategy = st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 40), min_size=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    s.migrate()
    return s


def fresh_monitor(url: str, name: str):  # type: ignore[no-untyped-def]
    spec = {
        "name": name,
        "source": {
            "url": url,
            "table": "m",
            "timestamp": "ts",
            "series": ["host"],
            "values": ["value"],
        },
        "detector": {"components": ["iforest"], "sequence_length": K + 1},
    }
    return parse_monitors({"monitors": [spec]}).get(name)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy, marks=marks_strategy)
def test_each_series_gets_its_new_rows_and_at_most_k_context_rows(
    store, tmp_path_factory, rows, marks
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('src') / 'src.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE m (ts TIMESTAMP, host TEXT, value FLOAT)"))
        for minute, host, value in rows:
            stamp = (T0 + timedelta(minutes=5 * minute)).isoformat(sep=" ")
            conn.execute(
                text("INSERT INTO m VALUES (:t, :h, :v)"), {"t": stamp, "h": host, "v": value}
            )
    engine.dispose()
    name = f"p-{next(NAMES)}"  # a fresh monitor per example: no watermarks left over
    watermarks = {f"host={h}": T0 + timedelta(minutes=5 * m) for h, m in marks.items()}
    persist_tick(store, name, None, [], watermarks)

    tick = extract_rows(fresh_monitor(url, name), store, UNTIL)

    # the rows as the source holds them
    source: dict[str, dict[datetime, float]] = {}
    for minute, host, value in rows:
        source.setdefault(f"host={host}", {})[T0 + timedelta(minutes=5 * minute)] = value
    for series, mark in watermarks.items():
        work = tick.work[series]
        held = sorted(source.get(series, {}).items())
        new = [(t, v) for t, v in held if mark < t <= UNTIL]
        before = [(t, v) for t, v in held if t <= mark][-K:]
        got_new = list(zip(work.new_rows()["ts"], work.new_rows()["value"], strict=True))
        got_ctx = list(zip(work.context_rows()["ts"], work.context_rows()["value"], strict=True))
        assert got_new == new
        assert got_ctx == before
    for series, work in tick.work.items():
        assert (work.rows["ts"] <= UNTIL).all()
        assert work.rows["ts"].is_monotonic_increasing and not work.rows["ts"].duplicated().any()
        if series not in watermarks:  # a new series: no watermark, trained on its history
            assert work.train_reason == "no model yet" and work.new_rows().empty
