"""Alembic migrations run forward and back on every backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from anomwatch.store.db import Store
from anomwatch.store.schema import metadata


def test_upgrade_creates_every_table_then_downgrade_removes_them(databases) -> None:
    store = Store(databases.new("mig"))
    assert store.current_revision() is None
    store.migrate()
    assert store.current_revision() == store.head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables
    store.downgrade("base")
    assert store.current_revision() is None
    assert not set(metadata.tables) & set(inspect(store.engine).get_table_names())
    store.migrate()  # and forward again on the same database
    assert set(metadata.tables) <= set(inspect(store.engine).get_table_names())
    store.dispose()


def test_schema_matches_models_after_migration(databases) -> None:
    """autogenerate finds nothing to do: migrations and schema.py agree, column types
    included (SQLite reflects its loose type affinities, so types are compared only on
    PostgreSQL and MariaDB)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = Store(databases.new("cmp"))
    store.migrate()
    with store.engine.connect() as conn:
        compare_type = databases.backend != "sqlite"
        ctx = MigrationContext.configure(conn, opts={"compare_type": compare_type})
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    store.dispose()


def test_autogenerate_leaves_detect_run_tables_alone(databases) -> None:
    """`anomwatch detect` makes a table per run key at run time; autogenerate must not
    propose dropping them (it still sees any other stray table)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from anomwatch.store.schema import include_in_autogenerate

    store = Store(databases.new("det"))
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE detect_cpu_c0_01 (ts INTEGER)"))
        conn.execute(text("CREATE TABLE stray_table (ts INTEGER)"))
    with store.engine.connect() as conn:
        plain = compare_metadata(MigrationContext.configure(conn), metadata)
        filtered = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": include_in_autogenerate}),
            metadata,
        )
    assert _dropped(plain) == {"detect_cpu_c0_01", "stray_table"}
    assert _dropped(filtered) == {"stray_table"}
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE detect_cpu_c0_01"))
        conn.execute(text("DROP TABLE stray_table"))
    store.dispose()


def _dropped(diff: list[tuple[str, Any]]) -> set[str]:
    return {d[1].name for d in diff if d[0] == "remove_table"}
