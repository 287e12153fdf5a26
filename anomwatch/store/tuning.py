"""Thresholds re-chosen from feedback labels, and applied by later ticks.

The detector flags points above its calibrated threshold; once people have
labelled enough of those as true or false positives, the F1-optimal score threshold
on the labelled points (from the precision-recall curve) becomes the monitor's
minimum score. It only ever narrows what the detector flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, select

from anomwatch.durations import utcnow
from anomwatch.errors import AnomwatchError
from anomwatch.store.db import Store
from anomwatch.store.schema import anomalies, thresholds
from detector.metrics import best_f1_threshold, point_prf


@dataclass(frozen=True)
class Tuning:
    previous: float | None
    threshold: float
    n_labels: int
    precision: float
    recall: float


def active_threshold(store: Store, monitor: str) -> float | None:
    with store.begin() as conn:
        value = conn.execute(
            select(thresholds.c.threshold)
            .where(thresholds.c.monitor == monitor)
            .order_by(thresholds.c.chosen_at.desc(), thresholds.c.id.desc())
            .limit(1)
        ).scalar()
    return None if value is None else float(value)


def tune_threshold(store: Store, monitor: str, who: str, min_labels: int = 20) -> Tuning:
    with store.begin() as conn:
        labelled = conn.execute(
            select(anomalies.c.score, anomalies.c.label).where(
                anomalies.c.monitor == monitor, anomalies.c.label.is_not(None)
            )
        ).all()
    if len(labelled) < min_labels:
        raise AnomwatchError(
            f"monitor {monitor!r} has {len(labelled)} labelled anomalies; at least {min_labels} "
            "are needed (label with `anomwatch anomalies label ID... --true-positive|"
            "--false-positive`)"
        )
    scores = np.array([r.score for r in labelled])
    truth = np.array([r.label == "true_positive" for r in labelled])
    if truth.all() or not truth.any():
        raise AnomwatchError(
            f"monitor {monitor!r}: all {len(labelled)} labels say the same; a threshold needs "
            "both true and false positives"
        )
    _, threshold = best_f1_threshold(truth, scores)
    quality = point_prf(truth, scores >= threshold)
    previous = active_threshold(store, monitor)
    with store.begin() as conn:
        conn.execute(
            insert(thresholds).values(
                monitor=monitor,
                threshold=threshold,
                n_labels=len(labelled),
                precision=quality.precision,
                recall=quality.recall,
                chosen_by=who,
                chosen_at=utcnow(),
            )
        )
    return Tuning(previous, threshold, len(labelled), quality.precision, quality.recall)
