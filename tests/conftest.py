"""Shared fixtures: real databases on SQLite, PostgreSQL and MariaDB.

Each test that asks for a database gets a fresh one (a new SQLite file, or a new
PostgreSQL/MariaDB database dropped afterwards). A server that cannot be reached
skips its tests with the reason shown in pytest's summary, unless
ANOMWATCH_REQUIRE_SERVERS=1 (set by .ci/run): then those tests fail with the reason,
so a CI machine with a server down cannot go green on SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN = os.environ.get("ANOMWATCH_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
MY_ADMIN = os.environ.get("ANOMWATCH_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
BACKENDS = ["sqlite", "postgresql", "mariadb"]
REQUIRE_SERVERS = os.environ.get("ANOMWATCH_REQUIRE_SERVERS", "") not in ("", "0")

# No traffic leaves the machine: Prefect's temporary server would send telemetry.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@cache
def _unreachable(admin_url: str) -> str | None:
    try:
        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{make_url(admin_url).render_as_string(hide_password=True)} unreachable: {exc}"


class DatabaseFactory:
    """Creates throwaway databases on one backend and drops them at teardown."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.created: list[str] = []

    def new(self, label: str = "db") -> str:
        name = f"aw_{label}_{uuid.uuid4().hex[:10]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / (name + '.db')}"
        admin = PG_ADMIN if self.backend == "postgresql" else MY_ADMIN
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        self.created.append(name)
        return make_url(admin).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.backend == "sqlite":
            return
        admin = PG_ADMIN if self.backend == "postgresql" else MY_ADMIN
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.created:
                force = " WITH (FORCE)" if self.backend == "postgresql" else ""
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        engine.dispose()


def _factory(backend: str, tmp_path: Path) -> Iterator[DatabaseFactory]:
    if backend != "sqlite":
        reason = _unreachable(PG_ADMIN if backend == "postgresql" else MY_ADMIN)
        if reason and REQUIRE_SERVERS:
            pytest.fail(f"ANOMWATCH_REQUIRE_SERVERS is set and {reason}", pytrace=False)
        if reason:
            pytest.skip(reason)
    factory = DatabaseFactory(backend, tmp_path)
    try:
        yield factory
    finally:
        factory.drop_all()


@pytest.fixture(params=BACKENDS)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    """A database factory on each backend in turn."""
    yield from _factory(request.param, tmp_path)


@pytest.fixture
def sqlite_databases(tmp_path: Path) -> Iterator[DatabaseFactory]:
    yield from _factory("sqlite", tmp_path)


@pytest.fixture
def store(databases: DatabaseFactory):  # type: ignore[no-untyped-def]
    """A migrated store on each backend."""
    from anomwatch.store.db import Store

    s = Store(databases.new("store"))
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from anomwatch.settings import Settings

    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_NOTIFY_RETRY_BASE_SECONDS", "0")
    return Settings()
