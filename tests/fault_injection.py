"""Real connection faults for tests and the soak benchmark.

A connection is killed the way an operator or a crashing server would: PostgreSQL
with pg_terminate_backend from a second connection, MariaDB with KILL CONNECTION,
SQLite by closing the DBAPI connection under SQLAlchemy. Hooks place the kill
inside the persist transaction (after the inserts and the watermark update,
before the commit) or right before a source read.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import anomwatch.source as source_module
import anomwatch.store.anomalies as anomalies_module

# the unpatched functions, so that killers installed one after another do not chain
ORIGINAL_ADVANCE = anomalies_module._advance_watermarks
ORIGINAL_MAKE_ENGINE = source_module.make_engine


def connection_id(dbapi_conn: Any) -> int | None:
    """The server's id of a DBAPI connection (PostgreSQL pid, MariaDB thread id)."""
    info = getattr(dbapi_conn, "info", None)
    if info is not None and hasattr(info, "backend_pid"):
        return int(info.backend_pid)
    if hasattr(dbapi_conn, "thread_id"):
        return int(dbapi_conn.thread_id())
    return None


def kill_connection(url: str, dbapi_conn: Any) -> None:
    """Kill one connection from outside (SQLite: close it underneath)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        dbapi_conn.close()
        return
    ident = connection_id(dbapi_conn)
    assert ident is not None, f"no connection id on {backend}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ident})
            # pg_terminate_backend only signals; wait until the backend is gone
            for _ in range(100):
                alive = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": ident}
                ).scalar_one()
                if not alive:
                    break
                time.sleep(0.02)
        else:
            conn.exec_driver_sql(f"KILL CONNECTION {int(ident)}")
    admin.dispose()


class ConnectionKiller:
    """Kills the store connection inside the persist transaction and/or the source
    connection before its range reads, a given number of times (None: every time)."""

    def __init__(
        self,
        store_url: str | None = None,
        source_url: str | None = None,
        store_kills: int | None = 0,
        source_kills: int | None = 0,
    ) -> None:
        self.store_url = store_url
        self.source_url = source_url
        self.store_kills = store_kills
        self.source_kills = source_kills
        self.killed = {"store": 0, "source": 0}

    def _due(self, which: str) -> bool:
        left = self.store_kills if which == "store" else self.source_kills
        if left is not None and self.killed[which] >= left:
            return False
        self.killed[which] += 1
        return True

    def advance(self, conn: Any, *args: Any) -> None:
        ORIGINAL_ADVANCE(conn, *args)
        if self.store_url and self._due("store"):
            kill_connection(self.store_url, conn.connection.dbapi_connection)

    def make_source_engine(self, url: str, **kwargs: Any) -> Engine:
        engine = ORIGINAL_MAKE_ENGINE(url, **kwargs)

        @event.listens_for(engine, "before_cursor_execute")
        def _kill(conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            lowered = statement.lower()
            is_read = (
                lowered.lstrip().startswith("select")
                and "order by" in lowered
                and "pg_catalog" not in lowered
                and "information_schema" not in lowered
            )
            if self.source_url and is_read and self._due("source"):
                kill_connection(self.source_url, conn.connection.dbapi_connection)

        return engine

    def install(self, setattr_: Any) -> ConnectionKiller:
        """Patch the hooks in with monkeypatch.setattr (or plain setattr in a child)."""
        setattr_(anomalies_module, "_advance_watermarks", self.advance)
        setattr_(source_module, "make_engine", self.make_source_engine)
        return self
