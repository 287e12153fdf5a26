"""Backfill: chunked, resumable, idempotent, never notifies."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from anomwatch.config import parse_monitors
from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.store.anomalies import get_watermarks, query_anomalies
from tasks.backfill import run_backfill
from tests.monitor_specs import hosts_spec

T0 = datetime(2026, 11, 20)
SPIKES = (
    Incident("a", "cpu", "spike", T0 + timedelta(hours=3), 1),
    Incident("b", "cpu", "spike", T0 + timedelta(hours=9), 1),
)


class Stop(Exception):
    pass


def write_source(url: str) -> None:
    """Two hosts' cpu, two days of history and 12 hours with one spike each."""
    write_rows(
        url,
        simulate(
            T0 - timedelta(days=2),
            T0 + timedelta(hours=12),
            SPIKES,
            hosts=("a", "b"),
            metrics={"cpu": (40.0, 15.0, 2.0)},
        ),
    )


# An Isolation-Forest-only monitor with the contamination quantile: the configuration
# the step tables (the backfill fast path) can tabulate.
FOREST_ONLY = {
    "components": ["iforest"],
    "weights": "equal",
    "threshold": "quantile",
    "max_events_per_week": None,
    "seasonality": {"mode": "off"},
}


def monitor_spec(url: str, **detector: object) -> dict:
    return hosts_spec(url, {"seed": 1, **detector})


@pytest.fixture
def setup(databases, store, tmp_path):  # type: ignore[no-untyped-def]
    url = databases.new("src")
    write_source(url)
    monitor = parse_monitors({"monitors": [monitor_spec(url)]}).get("hosts")
    return monitor, store, tmp_path / "models"


def found(store) -> list[tuple[str, datetime, str | None]]:  # type: ignore[no-untyped-def]
    rows = query_anomalies(store, monitor="hosts", newest_first=False)
    return [(r["series"], r["ts"], r["suppressed"]) for r in rows]


def test_backfill_finds_the_spikes_in_chunks_and_stores_them_unnotified(setup) -> None:
    monitor, store, models = setup
    chunks = []
    result = run_backfill(
        monitor,
        store,
        models,
        T0,
        T0 + timedelta(hours=12),
        chunk_rows=50,
        on_progress=lambda p: chunks.append(p.rows_read),
    )
    assert result.total_rows == result.rows_read == 2 * 143
    assert result.points_scored == 2 * 143
    assert len(chunks) >= 5  # really chunked
    stored = found(store)
    assert ("host=a,metric=cpu", SPIKES[0].start, "backfill") in stored
    assert ("host=b,metric=cpu", SPIKES[1].start, "backfill") in stored
    assert get_watermarks(store, "hosts") == {}  # live ticks untouched


def test_interrupted_backfill_resumes_without_duplicates(setup) -> None:
    monitor, store, models = setup
    calls = 0

    def crash_after_two_chunks(_progress) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Stop

    with pytest.raises(Stop):
        run_backfill(
            monitor, store, models, T0, T0 + timedelta(hours=12), 50, crash_after_two_chunks
        )
    partial = found(store)
    resumed = run_backfill(monitor, store, models, T0, T0 + timedelta(hours=12), 50)
    assert resumed.resumed
    assert resumed.rows_read < 2 * 143  # did not start over
    complete = found(store)
    assert set(partial) <= set(complete)
    assert len(complete) == len(set(complete))
    fresh = run_backfill(monitor, store, models, T0, T0 + timedelta(hours=12), 50)
    assert not fresh.resumed and fresh.anomalies == 0  # a rerun of a done range adds nothing


def test_step_tables_store_the_same_anomalies_as_the_detector(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The fast path (one lookup table per model) changes nothing that is stored."""
    from sqlalchemy import delete

    import tasks.backfill as backfill_module
    from anomwatch.store.schema import anomalies, backfills
    from detector.step_table import StepTableScorer

    built = []
    original_build = StepTableScorer.build

    def counting_build(detector):  # type: ignore[no-untyped-def]
        table = original_build(detector)
        built.append(table is not None)
        return table

    monkeypatch.setattr(StepTableScorer, "build", staticmethod(counting_build))
    _, store, models = setup
    monitor = parse_monitors({"monitors": [monitor_spec(setup[0].source.url, **FOREST_ONLY)]}).get(
        "hosts"
    )
    stored = {}
    for threshold in (10**9, 0):  # detector.score per series, then step tables
        monkeypatch.setattr(backfill_module, "TABLE_MIN_ROWS_PER_SERIES", threshold)
        with store.begin() as conn:
            conn.execute(delete(anomalies))
            conn.execute(delete(backfills))
        run_backfill(monitor, store, models, T0, T0 + timedelta(hours=12), 60)
        stored[threshold] = [
            (r["series"], r["ts"], r["score"], r["components"], r["expected"])
            for r in query_anomalies(store, monitor="hosts", newest_first=False)
        ]
    assert built and all(built)  # both series really went through their tables
    assert stored[0] == stored[10**9]
    assert len(stored[0]) >= 2


def test_time_windows_read_the_same_rows_as_one_statement(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Long ranges are read as several statements (each under statement_timeout)."""
    from anomwatch.bulk_read import BulkReader
    from anomwatch.source import SourceReader

    monitor, _store, _models = setup
    until = T0 + timedelta(hours=12)

    def rows(chunks) -> list[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
        out = []
        for c in chunks:
            for i in range(len(c)):
                out.append((str(c.ts[i]), ",".join(str(d[i]) for d in c.dims), c.values[i, 0]))
        return sorted(out)

    statements = []
    original = BulkReader._iter_statement

    def counting(self, since, until, chunk_rows):  # type: ignore[no-untyped-def]
        statements.append((since, until))
        return original(self, since, until, chunk_rows)

    monkeypatch.setattr(BulkReader, "_iter_statement", counting)
    with SourceReader(monitor) as reader:
        bulk = BulkReader(reader)
        one = list(bulk.iter_raw(T0, until, 50))
        assert len(statements) == 1
        windows = list(bulk.iter_raw(T0, until, 50, expected_rows=286, rows_per_statement=40))
    assert len(statements) == 1 + 6  # ceil(286 / max(40, 50)) consecutive windows
    assert statements[1][0] == T0 and statements[-1][1] == until
    assert rows(windows) == rows(one)
    assert len(rows(one)) == 2 * 143
