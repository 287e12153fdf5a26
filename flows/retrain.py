"""Retrain flow: feedback labels re-choose a monitor's threshold, and the run says what changed.

Models themselves are retrained by the monitor tick (`retrain.every`, config hash,
tampered files); this flow is the feedback half of retraining and runs on the
monitor's `feedback.schedule`. It is also the monitor's nightly housekeeping: with
`retention:` set, rows older than that are deleted here (anomwatch/store/lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from anomwatch.durations import format_duration
from anomwatch.logs import hide_expected_tracebacks
from anomwatch.store.lifecycle import Pruned, apply_retention
from flows.runtime import flow_run_id, monitor_and_store, run_logger
from tasks.base import pipeline_task
from tasks.retune import RetuneOutcome, retune_markdown, retune_task

retention_task = pipeline_task("apply_retention")(apply_retention)


@flow(name="anomwatch-retrain", log_prints=False)
def retrain(monitor: str, monitors_file: str | None = None) -> dict[str, Any]:
    hide_expected_tracebacks()
    return retrain_monitor(monitor, monitors_file)


def retrain_monitor(
    monitor: str,
    monitors_file: str | None = None,
    retune: Callable[..., RetuneOutcome] | None = None,
    prune: Callable[..., Pruned] | None = None,
) -> dict[str, Any]:
    """The flow's body; `anomwatch retrain` without a Prefect API passes the plain functions."""
    pruned: Pruned | None = None
    with monitor_and_store(monitor, monitors_file) as (settings, config, store):
        outcome: RetuneOutcome = (retune or retune_task)(config, store, settings.models_dir)
        if config.retention is not None:
            pruned = (prune or retention_task)(store, config.name, config.retention)
    markdown = retune_markdown(outcome)
    if pruned is not None and config.retention is not None:
        markdown = markdown.rstrip() + (
            f"\n\nretention {format_duration(config.retention)}: deleted {pruned.describe()} "
            f"older than {pruned.cutoff:%Y-%m-%d %H:%M} UTC\n"
        )
    run_logger().info("monitor %s: %s", monitor, outcome.reason)
    if flow_run_id() is not None:
        create_markdown_artifact(
            markdown=markdown, key=f"{monitor}-retrain", description="anomwatch retrain"
        )
    tuning = outcome.tuning
    return {
        "monitor": monitor,
        "changed": outcome.changed,
        "reason": outcome.reason,
        "labels": outcome.labels.total,
        "new_labels": outcome.labels.new,
        "threshold_before": tuning.before.threshold if tuning else None,
        "threshold_after": tuning.after.threshold if tuning else None,
        "classifier_after": tuning.after.classifier if tuning else None,
        "retention_deleted": pruned.counts if pruned else None,
        "markdown": markdown,
    }
