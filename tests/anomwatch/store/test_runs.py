"""The monitors registry: two first runs of a new monitor racing to register it (a
served tick and an `anomwatch run`) both succeed, on every backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, select

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import monitors


def test_a_monitor_registered_by_a_racing_run_meanwhile_is_updated_not_an_error(store) -> None:
    rival = Store(store.url)  # the other run, on its own connection, commits first
    fired: list[str] = []

    def rival_registers_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MONITORS") and not fired:
            fired.append(statement)
            now = utcnow()
            with rival.begin() as conn:
                conn.execute(
                    insert(monitors).values(
                        name="web", config_hash="rival", created_at=now, updated_at=now
                    )
                )

    event.listen(store.engine, "before_cursor_execute", rival_registers_first)
    try:
        register_monitor(store, "web", "ours")
    finally:
        event.remove(store.engine, "before_cursor_execute", rival_registers_first)
        rival.dispose()
    assert fired, "the race was not staged: register_monitor never inserted"
    with store.begin() as conn:
        rows = conn.execute(select(monitors.c.name, monitors.c.config_hash)).all()
    assert [tuple(r) for r in rows] == [("web", "ours")]


def test_registering_again_updates_the_config_hash(store) -> None:
    register_monitor(store, "web", "first")
    register_monitor(store, "web", "second")
    with store.begin() as conn:
        rows = conn.execute(select(monitors.c.name, monitors.c.config_hash)).all()
    assert [tuple(r) for r in rows] == [("web", "second")]
