"""The persist step: one transaction, retried when the store drops the connection."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fault_injection import ConnectionKiller  # noqa: E402

from anomwatch.retry import RetryPolicy  # noqa: E402
from anomwatch.store.anomalies import get_watermarks, query_anomalies  # noqa: E402
from anomwatch.store.db import StoreUnavailableError  # noqa: E402
from anomwatch.store.runs import register_monitor, start_run  # noqa: E402
from tasks.persist import persist_scored  # noqa: E402
from tasks.score import ScoredBatch  # noqa: E402
from tests.anomwatch.store.test_persist import T0, record  # noqa: E402

QUICK = RetryPolicy(attempts=3, base_seconds=0.0)


def batch() -> ScoredBatch:
    return ScoredBatch(
        records=[record("a", 5), record("b", 10)],
        marks={"a": T0 + timedelta(minutes=30), "b": T0 + timedelta(minutes=30)},
    )


def test_a_killed_connection_is_retried_and_the_batch_stored_once(store, monkeypatch) -> None:
    register_monitor(store, "m1", "h")
    run_id = start_run(store, "m1", None)
    killer = ConnectionKiller(store_url=store.url, store_kills=1).install(monkeypatch.setattr)
    ids = persist_scored(store, "m1", run_id, batch(), QUICK)
    assert killer.killed["store"] == 1  # the first attempt died inside the transaction
    stored = list(query_anomalies(store, monitor="m1"))
    assert sorted(r["id"] for r in stored) == ids and len(ids) == 2
    assert {r["run_id"] for r in stored} == {run_id}  # each anomaly names its run
    assert get_watermarks(store, "m1") == batch().marks
    assert persist_scored(store, "m1", None, batch(), QUICK) == []  # a repeat adds nothing
    assert len(list(query_anomalies(store, monitor="m1"))) == 2


def test_killed_on_every_attempt_fails_naming_the_step_and_writes_nothing(
    store, monkeypatch
) -> None:
    register_monitor(store, "m1", "h")
    killer = ConnectionKiller(store_url=store.url, store_kills=None).install(monkeypatch.setattr)
    with pytest.raises(
        StoreUnavailableError, match=r"monitor 'm1': persist failed after 3 attempt"
    ):
        persist_scored(store, "m1", None, batch(), QUICK)
    assert killer.killed["store"] == 3
    assert list(query_anomalies(store, monitor="m1")) == []
    assert get_watermarks(store, "m1") == {}
