"""Feedback on stored anomalies: acknowledgement and true/false-positive labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, models

LABEL_STATUS = {"true_positive": "acknowledged", "false_positive": "false_positive"}


def missing_ids(store: Store, ids: Sequence[int]) -> list[int]:
    with store.begin() as conn:
        found = set(conn.execute(select(anomalies.c.id).where(anomalies.c.id.in_(ids))).scalars())
    return sorted(set(ids) - found)


def acknowledge(store: Store, ids: Sequence[int], who: str) -> int:
    with store.begin() as conn:
        result = conn.execute(
            update(anomalies)
            .where(anomalies.c.id.in_(ids), anomalies.c.status == "open")
            .values(status="acknowledged", labelled_by=who, labelled_at=utcnow())
        )
        return int(result.rowcount or 0)


def label(store: Store, ids: Sequence[int], verdict: str, who: str) -> int:
    """Label anomalies true/false positives; a false positive also leaves the open list."""
    with store.begin() as conn:
        result = conn.execute(
            update(anomalies)
            .where(anomalies.c.id.in_(ids))
            .values(
                label=verdict, status=LABEL_STATUS[verdict], labelled_by=who, labelled_at=utcnow()
            )
        )
        return int(result.rowcount or 0)


def anomaly_detail(store: Store, anomaly_id: int) -> dict[str, Any] | None:
    """The anomaly with the version and training range of the model that found it."""
    with store.begin() as conn:
        row = (
            conn.execute(
                select(
                    anomalies,
                    models.c.version.label("model_version"),
                    models.c.trained_at.label("model_trained_at"),
                    models.c.train_start.label("model_train_start"),
                    models.c.train_end.label("model_train_end"),
                    models.c.artifact_path.label("model_artifact_path"),
                    models.c.sha256.label("model_sha256"),
                )
                .select_from(anomalies.outerjoin(models, models.c.id == anomalies.c.model_id))
                .where(anomalies.c.id == anomaly_id)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None
