"""The model registry: which trained model serves each series, and its file hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from anomwatch.store.db import Store, inserted_id
from anomwatch.store.model_paths import from_stored, models_root, to_stored
from anomwatch.store.schema import models


@dataclass(frozen=True)
class ModelRecord:
    id: int
    monitor: str
    series: str
    version: int
    trained_at: datetime
    train_end: datetime | None
    config_hash: str
    artifact_path: str
    sha256: str


def _record(row: Any, root: Path) -> ModelRecord:
    return ModelRecord(
        id=int(row.id),
        monitor=row.monitor,
        series=row.series,
        version=int(row.version),
        trained_at=row.trained_at,
        train_end=row.train_end,
        config_hash=row.config_hash,
        artifact_path=from_stored(row.artifact_path, root),
        sha256=row.sha256,
    )


def active_models(store: Store, monitor: str) -> dict[str, ModelRecord]:
    with store.begin() as conn:
        rows = conn.execute(
            select(models).where(models.c.monitor == monitor, models.c.active.is_(True))
        )
        root = models_root()
        return {r.series: _record(r, root) for r in rows}


def next_version(store: Store, monitor: str, series: str) -> int:
    with store.begin() as conn:
        current = conn.execute(
            select(func.max(models.c.version)).where(
                models.c.monitor == monitor, models.c.series == series
            )
        ).scalar()
    return int(current or 0) + 1


def register_model(
    store: Store,
    *,
    monitor: str,
    series: str,
    version: int,
    trained_at: datetime,
    train_start: datetime | None,
    train_end: datetime | None,
    n_rows: int,
    config_hash: str,
    params: dict[str, Any],
    artifact_path: str,
    sha256: str,
    metrics: dict[str, Any],
) -> ModelRecord:
    """Record a trained model and make it the only active one of its series."""
    root = models_root()
    with store.begin() as conn:
        conn.execute(
            update(models)
            .where(
                models.c.monitor == monitor, models.c.series == series, models.c.active.is_(True)
            )
            .values(active=False)
        )
        result = conn.execute(
            insert(models).values(
                monitor=monitor,
                series=series,
                version=version,
                trained_at=trained_at,
                train_start=train_start,
                train_end=train_end,
                n_rows=n_rows,
                config_hash=config_hash,
                params=json.dumps(params, default=str),
                artifact_path=to_stored(artifact_path, root),
                sha256=sha256,
                metrics=json.dumps(metrics, default=str),
                active=True,
            )
        )
        model_id = inserted_id(result)
        row = conn.execute(select(models).where(models.c.id == model_id)).one()
        return _record(row, root)


def deactivate(store: Store, model_id: int) -> None:
    with store.begin() as conn:
        conn.execute(update(models).where(models.c.id == model_id).values(active=False))
