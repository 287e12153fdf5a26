"""Persist: anomalies and watermarks commit together, so a rerun changes nothing."""

from __future__ import annotations

from anomwatch.store.anomalies import persist_tick
from anomwatch.store.db import Store
from tasks.base import pipeline_task, retry_if_transient
from tasks.score import ScoredBatch


def persist_scored(
    store: Store, monitor: str, run_id: int | None, scored: ScoredBatch
) -> list[int]:
    return persist_tick(store, monitor, run_id, scored.records, scored.marks)


persist_task = pipeline_task(
    "persist", retries=3, retry_delay_seconds=[1, 5, 20], retry_condition_fn=retry_if_transient
)(persist_scored)
