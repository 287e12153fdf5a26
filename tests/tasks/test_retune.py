"""The retrain flow's feedback step: re-tune only with enough labels, and only new ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from anomwatch.config import MonitorConfig
from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.feedback import label
from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import classifiers, thresholds
from tasks.retune import retune_from_feedback, retune_markdown

T0 = datetime(2026, 11, 1)


def monitor(**feedback: object) -> MonitorConfig:
    return MonitorConfig.model_validate(
        {
            "name": "web",
            "source": {"url": "sqlite://", "table": "m", "timestamp": "ts", "values": ["v"]},
            "feedback": feedback,
        }
    )


def add_labelled(store, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    """n anomalies; the real ones score higher, so a threshold separates most of them."""
    records = []
    for i in range(start, start + n):
        real = i % 2 == 0
        score = 0.995 + 0.004 * (i % 7) / 7 if real else 0.990 + 0.004 * (i % 5) / 5
        residual = 0.9 if real else 0.2
        records.append(
            AnomalyRecord(
                "web",
                f"host={i % 3}",
                T0 + timedelta(minutes=5 * i),
                100.0,
                50.0,
                40.0,
                60.0,
                score,
                json.dumps({"iforest": score, "robust_residual": residual}),
                "{}",
                "warning",
                None,
            )
        )
    persist_tick(store, "web", None, records, {})
    rows = [r for r in query_anomalies(store, monitor="web") if r["label"] is None]
    rows.sort(key=lambda r: r["ts"])
    real = [r["id"] for r in rows if r["ts"].minute % 10 == 0]
    false = [r["id"] for r in rows if r["ts"].minute % 10 != 0]
    label(store, real, "true_positive", "alice")
    label(store, false, "false_positive", "alice")


def n_thresholds(store) -> int:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(thresholds)).scalar_one()


@pytest.fixture
def web(store):  # type: ignore[no-untyped-def]
    register_monitor(store, "web", "h")
    return store


def test_too_few_labels_changes_nothing_and_says_how_many_are_needed(web, tmp_path) -> None:
    add_labelled(web, 8)
    outcome = retune_from_feedback(monitor(min_labels=10), web, tmp_path)
    assert not outcome.changed and outcome.tuning is None
    assert outcome.reason == "8 labelled anomalies, 10 needed (feedback.min_labels)"
    assert n_thresholds(web) == 0


def test_enough_new_labels_retune_once_then_wait_for_new_ones(web, tmp_path: Path) -> None:
    add_labelled(web, 24)
    first = retune_from_feedback(monitor(min_labels=20), web, tmp_path)
    assert first.changed and first.tuning is not None
    assert first.labels.total == first.labels.new == 24
    assert first.tuning.before.threshold is None
    assert first.tuning.after.precision > first.tuning.before.precision
    assert n_thresholds(web) == 1
    markdown = retune_markdown(first)
    assert "| minimum score | detector's own |" in markdown
    assert f"{first.tuning.after.threshold:.6f}" in markdown

    again = retune_from_feedback(monitor(min_labels=20), web, tmp_path)
    assert not again.changed and again.reason.startswith("no new labels since the last tuning")
    assert n_thresholds(web) == 1

    add_labelled(web, 4, start=24)
    third = retune_from_feedback(monitor(min_labels=20), web, tmp_path)
    assert third.changed and third.labels.new == 4 and third.labels.total == 28
    assert third.tuning is not None
    assert third.tuning.before.threshold == pytest.approx(first.tuning.after.threshold)
    assert n_thresholds(web) == 2


def test_auto_tune_off_leaves_the_threshold_alone(web, tmp_path: Path) -> None:
    add_labelled(web, 24)
    outcome = retune_from_feedback(monitor(auto_tune=False), web, tmp_path)
    assert not outcome.changed and outcome.reason == "feedback.auto_tune is off"
    assert n_thresholds(web) == 0


def test_classifier_needs_both_kinds_else_the_threshold_alone_is_tuned(web, tmp_path) -> None:
    add_labelled(web, 24)
    # 12 true / 12 false positives: a classifier is trained and stored with the threshold
    outcome = retune_from_feedback(monitor(min_labels=20, classifier="tree"), web, tmp_path)
    assert outcome.changed and outcome.tuning is not None
    assert outcome.tuning.after.classifier == "tree v1"
    with web.begin() as conn:
        assert conn.execute(select(func.count()).select_from(classifiers)).scalar_one() == 1


def test_classifier_skipped_with_the_reason_when_one_label_kind_is_rare(web, tmp_path) -> None:
    add_labelled(web, 24)
    rows = sorted(query_anomalies(web, monitor="web"), key=lambda r: r["ts"])
    label(web, [r["id"] for r in rows[1:-6]], "true_positive", "bob")  # 3 false positives left
    outcome = retune_from_feedback(monitor(min_labels=20, classifier="tree"), web, tmp_path)
    assert outcome.changed and outcome.tuning is not None
    assert outcome.tuning.after.classifier is None
    assert outcome.reason.endswith(
        "classifier skipped: it needs at least 5 true and 5 false positives; "
        "the labels have 21 and 3"
    )
    assert (outcome.labels.true_positives, outcome.labels.false_positives) == (21, 3)
    assert n_thresholds(web) == 1
