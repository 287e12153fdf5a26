"""`anomwatch init`: create or upgrade the store."""

from __future__ import annotations

import typer

from anomwatch.cli._app import app, open_store, settings_for


@app.command()
def init() -> None:
    """Create or upgrade the store (alembic upgrade head)."""
    settings = settings_for()
    store = open_store(settings, require_migrated=False)
    before = store.current_revision()
    store.migrate()
    typer.echo(
        f"store {store.masked_url}: schema at revision {store.current_revision()} "
        f"(was {before or 'empty'})"
    )
