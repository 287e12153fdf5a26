"""Connection to the store and its migrations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from anomwatch.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
CONNECT_TIMEOUT = 10  # seconds; PyMySQL's default is the same


class StoreUnavailableError(StoreError):
    """The store dropped the connection, restarted or timed out: worth retrying."""


# MySQL/MariaDB error codes of a server that answered "no": retrying cannot help.
_MYSQL_REFUSALS = {
    1044: "access denied to the database",
    1045: "authentication failed",
    1698: "authentication failed",
    1049: "the database does not exist",
}
# PostgreSQL (libpq) connection messages of the same kind.
_PG_REFUSALS = (
    (r"password authentication failed", "authentication failed"),
    (r"no pg_hba\.conf entry", "authentication failed (the server does not allow this host/user)"),
    (r'role "[^"]*" does not exist', "authentication failed (unknown user)"),
    (r"permission denied for database", "access denied to the database"),
    (r'database "[^"]*" does not exist', "the database does not exist"),
)


def refusal(exc: BaseException) -> str | None:
    """Why the server refused the connection (bad credentials, no such database), or None.

    These are answers, not outages: they are reported at once and never retried.
    """
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_REFUSALS:
        return _MYSQL_REFUSALS[args[0]]
    text = str(orig)
    for pattern, reason in _PG_REFUSALS:
        if re.search(pattern, text):
            return reason
    return None


def is_transient(exc: SQLAlchemyError) -> bool:
    """A lost or killed connection, or a server that is (re)starting: another try can work.
    A refused login (`refusal`) is not transient."""
    if refusal(exc) is not None:
        return False
    return isinstance(exc, OperationalError | InterfaceError) or bool(
        getattr(exc, "connection_invalidated", False)
    )


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL must still not leak
        return "<unparsable database URL>"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with settings that suit a short-lived job on any of our backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # libpq waits for the OS TCP timeout (minutes) on a host that drops packets
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT)
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Store:
    """anomwatch's own database. Source databases never go through this class."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self.engine = make_engine(url)

    def __repr__(self) -> str:
        return f"Store({self.masked_url})"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; connection errors become a StoreError without the password."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            error = StoreUnavailableError if is_transient(exc) else StoreError
            raise error(
                f"store {self.masked_url}: {type(exc).__name__}: {first_line(exc)}"
            ) from exc

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["configure_logging"] = False
        return config

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema (alembic upgrade)."""
        with self.engine.begin() as conn:
            config = self._alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def downgrade(self, revision: str) -> None:
        with self.engine.begin() as conn:
            config = self._alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            reason = refusal(exc)
            if reason is not None:
                raise StoreError(
                    f"store {self.masked_url}: {reason}: {first_line(exc)}; check "
                    "ANOMWATCH_STORE_URL"
                ) from exc
            raise StoreUnavailableError(
                f"store {self.masked_url} is unreachable: {first_line(exc)}"
            ) from exc

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def require_migrated(self) -> None:
        current = self.current_revision()
        if current != self.head_revision():
            raise StoreError(
                f"store {self.masked_url} is at schema revision {current or 'none'}, "
                f"expected {self.head_revision()}; run `anomwatch init`"
            )

    def dispose(self) -> None:
        self.engine.dispose()


def first_line(exc: BaseException) -> str:
    """The first line of a database error (the driver's message, without SQL or params)."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def inserted_id(result: Any) -> int:
    """The new row's integer primary key from an INSERT result."""
    key = result.inserted_primary_key
    if not key:
        raise StoreError("the store returned no primary key for an insert")
    return int(key[0])
