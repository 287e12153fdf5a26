"""Feedback re-tuning for the retrain flow: labels in, a new threshold (and classifier) out.

`anomwatch anomalies tune` does the same by hand; the retrain flow does it on a
schedule, but only when there are enough labels and some are new since the last
tuning, so a quiet week does not rewrite the threshold history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from anomwatch.config import MonitorConfig
from anomwatch.errors import AnomwatchError
from anomwatch.feedback_classifier import MIN_PER_CLASS
from anomwatch.store.db import Store
from anomwatch.store.tuning import LabelCounts, Setting, Tuning, label_counts, tune_threshold
from tasks.base import pipeline_task


@dataclass(frozen=True)
class RetuneOutcome:
    monitor: str
    changed: bool
    reason: str  # why nothing changed, or what was done
    labels: LabelCounts
    tuning: Tuning | None = None


def retune_from_feedback(
    monitor: MonitorConfig, store: Store, models_dir: Path, who: str = "retrain-flow"
) -> RetuneOutcome:
    """Re-choose the threshold from labels when the monitor's feedback policy says so."""
    policy = monitor.feedback
    counts = label_counts(store, monitor.name)
    if not policy.auto_tune:
        return RetuneOutcome(monitor.name, False, "feedback.auto_tune is off", counts)
    if counts.total < policy.min_labels:
        return RetuneOutcome(
            monitor.name,
            False,
            f"{counts.total} labelled anomalies, {policy.min_labels} needed (feedback.min_labels)",
            counts,
        )
    if counts.new == 0:
        return RetuneOutcome(
            monitor.name,
            False,
            f"no new labels since the last tuning at {_when(counts.last_tuned_at)}",
            counts,
        )
    notes: list[str] = []
    classifier = policy.classifier
    if (
        classifier is not None
        and min(counts.true_positives, counts.false_positives) < MIN_PER_CLASS
    ):
        notes.append(
            f"classifier skipped: it needs at least {MIN_PER_CLASS} true and {MIN_PER_CLASS} "
            f"false positives; the labels have {counts.true_positives} and "
            f"{counts.false_positives}"
        )
        classifier = None
    try:
        tuning = tune_threshold(store, monitor.name, who, policy.min_labels, classifier, models_dir)
    except AnomwatchError as exc:
        return RetuneOutcome(monitor.name, False, str(exc), counts)
    done = f"re-tuned from {tuning.n_labels} labels ({counts.new} new)"
    return RetuneOutcome(monitor.name, True, "; ".join([done, *notes]), counts, tuning)


def _when(at: datetime | None) -> str:
    return "never tuned" if at is None else f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _threshold(setting: Setting) -> str:
    return "detector's own" if setting.threshold is None else f"{setting.threshold:.6f}"


def retune_markdown(outcome: RetuneOutcome) -> str:
    """What changed, for the Prefect artifact and the CLI."""
    lines = [f"# anomwatch retrain: {outcome.monitor}", "", outcome.reason, ""]
    lines.append(
        f"Labels: {outcome.labels.total} in all, {outcome.labels.new} since the last tuning"
        f" ({_when(outcome.labels.last_tuned_at)})."
    )
    if outcome.tuning is not None:
        before, after = outcome.tuning.before, outcome.tuning.after
        lines += [
            "",
            "| | before | after |",
            "|---|---|---|",
            f"| minimum score | {_threshold(before)} | {_threshold(after)} |",
            f"| classifier | {before.classifier or 'none'} | {after.classifier or 'none'} |",
            f"| labelled anomalies still flagged | {before.kept} | {after.kept} |",
            f"| precision on labels | {before.precision:.2f} | {after.precision:.2f} |",
            f"| recall on labels | {before.recall:.2f} | {after.recall:.2f} |",
        ]
    return "\n".join(lines) + "\n"


retune_task = pipeline_task("retune_from_feedback")(retune_from_feedback)
