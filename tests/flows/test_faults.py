"""Connections killed for real during a tick, and a source statement timeout.

PostgreSQL connections are killed with pg_terminate_backend and MariaDB ones with
KILL CONNECTION, from a second connection: the store's inside the persist
transaction (after the inserts and the watermark update, before the commit), the
source's right before its range read. The tick retries with backoff; when every
attempt fails the run is recorded as failed with the cause, and nothing is
half-written (no anomalies without their watermark, no watermark past unstored
rows). The next healthy tick completes the work and notifies once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import DatabaseFactory, _factory  # noqa: E402
from fault_injection import ConnectionKiller  # noqa: E402
from notify_servers import SmtpServer  # noqa: E402
from test_monitor_flow import SPIKE, STEP, T0, Deployment, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.store.anomalies import get_watermarks, query_anomalies  # noqa: E402
from anomwatch.store.outbox import list_notifications  # noqa: E402
from anomwatch.store.runs import list_runs  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]
UNTIL = T0 + timedelta(hours=1)
SERIES = ["host=a,metric=cpu", "host=b,metric=cpu"]


@pytest.fixture(params=["postgresql", "mariadb"])
def server_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    yield from _factory(request.param, tmp_path)


def keys(dep: Deployment) -> list[tuple[str, object]]:
    return sorted((r["series"], r["ts"]) for r in query_anomalies(dep.store, monitor="hosts"))


def prepared(databases: DatabaseFactory, tmp_path: Path, monkeypatch, targets, **source):
    dep = Deployment(databases, tmp_path, monkeypatch, targets)
    if source:
        dep.write_monitors(targets, **source)
    monkeypatch.setenv("ANOMWATCH_DB_ATTEMPTS", "3")
    monkeypatch.setenv("ANOMWATCH_DB_RETRY_BASE_SECONDS", "0.05")
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), UNTIL + STEP))
    assert dep.tick(T0)["status"] == "succeeded"
    return dep


@pytest.mark.parametrize("target", ["store", "source"])
def test_killed_connection_is_retried_then_fails_cleanly_then_recovers(
    target, server_databases, tmp_path, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    step = "persist" if target == "store" else "extract"
    with SmtpServer() as smtp:
        dep = prepared(server_databases, tmp_path, monkeypatch, [smtp.target()])
        marks_before = get_watermarks(dep.store, "hosts")
        urls = {"store_url": dep.store_url, "source_url": dep.source_url}

        # 1. killed on every attempt: a failed run naming the monitor, step and cause
        always = ConnectionKiller(**urls, **{f"{target}_kills": None})
        always.install(monkeypatch.setattr)
        with pytest.raises(Exception, match=f"monitor 'hosts': {step} failed after 3 attempt"):
            dep.tick(UNTIL)
        assert always.killed[target] == 3
        last = list_runs(dep.store, "hosts")[0]
        assert last["status"] == "failed"
        assert f"{step} failed after 3 attempt(s)" in last["error"]
        cause = {
            "postgresql": "terminating connection due to administrator command",
            "mariadb": "Lost connection to MySQL server during query",
        }[server_databases.backend]
        assert cause in last["error"]
        assert keys(dep) == []  # nothing half-written
        assert get_watermarks(dep.store, "hosts") == marks_before
        assert smtp.messages == []
        retried = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert len(retried) == 2 and f"{step} failed (attempt 1 of 3)" in retried[0]

        # 2. killed once: the retry succeeds and the tick completes normally
        once = ConnectionKiller(**urls, **{f"{target}_kills": 1})
        once.install(monkeypatch.setattr)
        result = dep.tick(UNTIL)
        assert once.killed[target] == 1
        assert result["status"] == "succeeded"
        stored = keys(dep)
        assert ("host=b,metric=cpu", SPIKE.start) in stored
        assert len(stored) == len(set(stored))
        assert get_watermarks(dep.store, "hosts") == dict.fromkeys(SERIES, UNTIL)
        assert len(smtp.messages) == 1

        # 3. a rerun changes nothing and sends nothing
        dep.tick(UNTIL)
        assert keys(dep) == stored and len(smtp.messages) == 1
        assert [n["status"] for n in list_notifications(dep.store, "hosts")] == ["sent"]
        assert [r["status"] for r in list_runs(dep.store, "hosts")][::-1] == [
            "succeeded",
            "failed",
            "succeeded",
            "succeeded",
        ]
    dep.store.dispose()


def test_source_statement_timeout_is_retried_then_fails_with_the_setting_named(
    server_databases, tmp_path, monkeypatch
) -> None:
    """A lock held by someone else makes the read hang; statement_timeout cancels it."""
    dep = prepared(server_databases, tmp_path, monkeypatch, [], statement_timeout="1s")
    marks_before = get_watermarks(dep.store, "hosts")
    admin = create_engine(dep.source_url)
    conn = admin.connect()
    tx = conn.begin()
    if server_databases.backend == "postgresql":
        conn.execute(text("LOCK TABLE metrics IN ACCESS EXCLUSIVE MODE"))
    else:
        conn.execute(text("LOCK TABLES metrics WRITE"))
    try:
        with pytest.raises(Exception, match="extract failed after 3 attempt") as failure:
            dep.tick(UNTIL)
    finally:
        tx.rollback()
        if server_databases.backend != "postgresql":
            conn.execute(text("UNLOCK TABLES"))
        conn.close()
        admin.dispose()
    message = str(failure.value)
    assert "monitor 'hosts'" in message
    assert "cancelled after source.statement_timeout (1 s)" in message
    last = list_runs(dep.store, "hosts")[0]
    assert last["status"] == "failed" and "statement_timeout" in last["error"]
    assert get_watermarks(dep.store, "hosts") == marks_before
    assert dep.tick(UNTIL)["status"] == "succeeded"  # lock gone: the tick catches up
    assert ("host=b,metric=cpu", SPIKE.start) in keys(dep)
    dep.store.dispose()


def test_tampered_model_file_is_refused_then_retrained_and_nothing_is_lost(
    sqlite_databases, tmp_path, monkeypatch, caplog
) -> None:
    """Bytes of a model file changed on disk: the next tick (a new process, so no
    in-memory copy) refuses it with a clear message and keeps that series' watermark;
    the tick after retrains it, scores the rows it skipped, and the registry points to
    the new model."""
    from anomwatch.store.models_registry import active_models
    from detector import ModelIntegrityError
    from tasks.fit import clear_model_cache, load_model

    caplog.set_level(logging.WARNING)
    dep = prepared(sqlite_databases, tmp_path, monkeypatch, [])
    spiky = "host=b,metric=cpu"
    old = active_models(dep.store, "hosts")[spiky]
    state = Path(old.artifact_path) / "state.joblib"
    state.write_bytes(state.read_bytes()[:-1] + b"\x00")  # one byte changed
    clear_model_cache()  # each scheduled run starts a fresh process

    refused = dep.tick(UNTIL)
    assert refused["status"] == "partial"
    assert "model file refused, retraining next tick" in refused["errors"][spiky]
    assert "modified since it was saved; refused" in refused["errors"][spiky]
    assert any(
        "modified since it was saved" in r.getMessage() and spiky in r.getMessage()
        for r in caplog.records
    )
    assert keys(dep) == []  # the spike's series was not scored with a suspect model
    marks = get_watermarks(dep.store, "hosts")
    assert marks[spiky] == T0 and marks["host=a,metric=cpu"] == UNTIL
    assert spiky not in active_models(dep.store, "hosts")

    retrained = dep.tick(UNTIL)
    assert retrained["status"] == "succeeded" and retrained["models_trained"] == 1
    assert ("host=b,metric=cpu", SPIKE.start) in keys(dep)  # the skipped rows were scored
    assert get_watermarks(dep.store, "hosts")[spiky] == UNTIL
    new = active_models(dep.store, "hosts")[spiky]
    assert new.version == old.version + 1
    assert new.artifact_path != old.artifact_path  # a new directory, the old one untouched
    clear_model_cache()
    assert load_model(new) is not None  # the registry's file verifies
    with pytest.raises(ModelIntegrityError):
        load_model(old)
    dep.store.dispose()
