"""Retrain flow: feedback labels re-choose a monitor's threshold, and the run says what changed.

Models themselves are retrained by the monitor tick (`retrain.every`, config hash,
tampered files); this flow is the feedback half of retraining and runs on the
monitor's `feedback.schedule`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from anomwatch.logs import hide_expected_tracebacks
from flows.runtime import flow_run_id, monitor_and_store, run_logger
from tasks.retune import RetuneOutcome, retune_markdown, retune_task


@flow(name="anomwatch-retrain", log_prints=False)
def retrain(monitor: str, monitors_file: str | None = None) -> dict[str, Any]:
    hide_expected_tracebacks()
    return retrain_monitor(monitor, monitors_file)


def retrain_monitor(
    monitor: str,
    monitors_file: str | None = None,
    retune: Callable[..., RetuneOutcome] | None = None,
) -> dict[str, Any]:
    """The flow's body; `anomwatch retrain` without a Prefect API passes the plain function."""
    with monitor_and_store(monitor, monitors_file) as (settings, config, store):
        outcome: RetuneOutcome = (retune or retune_task)(config, store, settings.models_dir)
    markdown = retune_markdown(outcome)
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
        "markdown": markdown,
    }
