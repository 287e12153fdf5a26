"""Thresholds (and optionally a classifier) re-chosen from feedback labels.

The detector flags points above its calibrated threshold; once people have
labelled enough of those as true or false positives, the F1-optimal score threshold
on the labelled points (from the precision-recall curve) becomes the monitor's
minimum score. It only ever narrows what the detector flags. With a classifier
(see anomwatch.feedback_classifier) later ticks also hold back the flagged points
it predicts to be false positives.

Every retrain reports what changed: the threshold and classifier before and after,
and the precision/recall each setting gives on the labelled points. The "after"
figures of a new classifier are cross-validated (out-of-fold predictions), not
measured on the labels it was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

from anomwatch.durations import utcnow
from anomwatch.errors import AnomwatchError
from anomwatch.feedback_classifier import (
    KINDS,
    MIN_PER_CLASS,
    active_classifier,
    cross_validated_predictions,
    feature_matrix,
    feature_names,
    make_estimator,
    save_classifier,
)
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, thresholds
from detector.metrics import best_f1_threshold, point_prf


@dataclass(frozen=True)
class Setting:
    """One configuration of the feedback filters and how it does on the labels."""

    threshold: float | None  # None: the detector's own
    classifier: str | None  # e.g. "tree v2", None: no classifier
    kept: int  # labelled points it would still flag
    precision: float
    recall: float


@dataclass(frozen=True)
class Tuning:
    previous: float | None
    threshold: float
    n_labels: int
    n_true: int
    precision: float
    recall: float
    before: Setting
    after: Setting


def active_threshold(store: Store, monitor: str) -> float | None:
    with store.begin() as conn:
        value = conn.execute(
            select(thresholds.c.threshold)
            .where(thresholds.c.monitor == monitor)
            .order_by(thresholds.c.chosen_at.desc(), thresholds.c.id.desc())
            .limit(1)
        ).scalar()
    return None if value is None else float(value)


@dataclass(frozen=True)
class LabelCounts:
    total: int  # labelled anomalies of the monitor
    new: int  # labelled after the last tuning (all of them when never tuned)
    last_tuned_at: datetime | None
    true_positives: int = 0

    @property
    def false_positives(self) -> int:
        return self.total - self.true_positives


def label_counts(store: Store, monitor: str) -> LabelCounts:
    """How many labels exist, and how many arrived since the threshold was last chosen."""
    with store.begin() as conn:
        last = conn.execute(
            select(func.max(thresholds.c.chosen_at)).where(thresholds.c.monitor == monitor)
        ).scalar()
        labelled = (anomalies.c.monitor == monitor) & anomalies.c.label.is_not(None)
        total = conn.execute(select(func.count()).where(labelled)).scalar_one()
        true = conn.execute(
            select(func.count()).where(labelled, anomalies.c.label == "true_positive")
        ).scalar_one()
        new = total
        if last is not None:
            new = conn.execute(
                select(func.count()).where(labelled, anomalies.c.labelled_at > last)
            ).scalar_one()
    return LabelCounts(int(total), int(new), last, int(true))


def _setting(
    threshold: float | None, classifier: str | None, keep: np.ndarray, truth: np.ndarray
) -> Setting:
    quality = point_prf(truth, keep)
    return Setting(threshold, classifier, int(keep.sum()), quality.precision, quality.recall)


def tune_threshold(
    store: Store,
    monitor: str,
    who: str,
    min_labels: int = 20,
    classifier: str | None = None,
    models_dir: Path | None = None,
) -> Tuning:
    """Re-choose the threshold (and train a classifier when asked); nothing changes on error."""
    if classifier is not None and classifier not in KINDS:
        raise AnomwatchError(f"--classifier must be one of {', '.join(KINDS)}")
    with store.begin() as conn:
        labelled = conn.execute(
            select(anomalies.c.score, anomalies.c.label, anomalies.c.components).where(
                anomalies.c.monitor == monitor, anomalies.c.label.is_not(None)
            )
        ).all()
    if len(labelled) < min_labels:
        raise AnomwatchError(
            f"monitor {monitor!r} has {len(labelled)} labelled anomalies; at least {min_labels} "
            "are needed (label with `anomwatch anomalies label ID... --true-positive|"
            "--false-positive`); nothing changed"
        )
    scores = np.array([r.score for r in labelled])
    components = [r.components for r in labelled]
    truth = np.array([r.label == "true_positive" for r in labelled])
    n_true = int(truth.sum())
    if truth.all() or not truth.any():
        raise AnomwatchError(
            f"monitor {monitor!r}: all {len(labelled)} labels say the same; a threshold needs "
            "both true and false positives; nothing changed"
        )
    if classifier is not None and min(n_true, len(truth) - n_true) < MIN_PER_CLASS:
        raise AnomwatchError(
            f"monitor {monitor!r}: a classifier needs at least {MIN_PER_CLASS} true and "
            f"{MIN_PER_CLASS} false positives; the labels have {n_true} and "
            f"{len(truth) - n_true}; nothing changed"
        )

    previous = active_threshold(store, monitor)
    old = active_classifier(store, monitor)
    old_keep = old.keeps(components, scores) if old else np.ones(len(truth), bool)
    before_keep = (scores >= previous if previous is not None else np.ones_like(truth)) & old_keep
    before = _setting(previous, old.name if old else None, before_keep, truth)

    _, threshold = best_f1_threshold(truth, scores)
    after_keep = scores >= threshold
    estimator = None
    features: list[str] = []
    if classifier is not None:
        features = feature_names(components)
        X = feature_matrix(features, components, scores)
        after_keep = after_keep & cross_validated_predictions(classifier, X, truth)
        estimator = make_estimator(classifier).fit(X, truth)
    elif old is not None:
        after_keep = after_keep & old_keep  # the existing classifier stays active
    after_quality = point_prf(truth, after_keep)

    with store.begin() as conn:
        conn.execute(
            insert(thresholds).values(
                monitor=monitor,
                threshold=threshold,
                n_labels=len(labelled),
                precision=after_quality.precision,
                recall=after_quality.recall,
                chosen_by=who,
                chosen_at=utcnow(),
            )
        )
        name = old.name if old else None
        if classifier is not None:
            assert models_dir is not None, "a classifier needs a models directory"
            version = save_classifier(
                conn,
                monitor=monitor,
                kind=classifier,
                features=features,
                estimator=estimator,
                n_labels=len(labelled),
                metrics={
                    "cv_precision": after_quality.precision,
                    "cv_recall": after_quality.recall,
                    "true_positives": n_true,
                    "false_positives": len(truth) - n_true,
                    "threshold": threshold,
                },
                who=who,
                models_dir=models_dir,
            )
            name = f"{classifier} v{version}"
    after = _setting(threshold, name, after_keep, truth)
    return Tuning(
        previous,
        threshold,
        len(labelled),
        n_true,
        after.precision,
        after.recall,
        before,
        after,
    )
