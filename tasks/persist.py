"""Persist: anomalies, watermarks and events commit together, so a rerun changes nothing."""

from __future__ import annotations

from anomwatch.retry import RetryPolicy, call_with_retries
from anomwatch.store.anomalies import persist_tick
from anomwatch.store.db import Store
from tasks.base import pipeline_task
from tasks.score import ScoredBatch


def persist_scored(
    store: Store,
    monitor: str,
    run_id: int | None,
    scored: ScoredBatch,
    policy: RetryPolicy | None = None,
) -> list[int]:
    """One transaction, retried with backoff when the store drops the connection.

    A failed attempt rolled back as a whole; an attempt whose commit went through
    but whose answer was lost is harmless to repeat (stored keys are skipped,
    watermarks only move forward), it just returns no new ids.
    """
    return call_with_retries(
        lambda: persist_tick(
            store, monitor, run_id, scored.records, scored.marks, scored.points, scored.events
        ),
        monitor,
        "persist",
        policy or RetryPolicy.from_settings(),
    )


# Retries happen inside persist_scored (same behaviour with or without Prefect).
persist_task = pipeline_task("persist")(persist_scored)
