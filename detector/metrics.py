"""Detection quality metrics. Point-adjusted F1 is deliberately absent: a random
score reaches about 0.7 with it, so it says nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def point_prf(labels: np.ndarray, flags: np.ndarray) -> PRF:
    labels, flags = np.asarray(labels, bool), np.asarray(flags, bool)
    tp = int((labels & flags).sum())
    precision = tp / flags.sum() if flags.any() else 0.0
    recall = tp / labels.sum() if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(float(precision), float(recall), float(f1))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(average_precision_score(np.asarray(labels, bool), scores))


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(F1, threshold) at the F1-optimal point of the precision-recall curve.

    Unlike "the point where precision equals recall", this always exists and is the
    best any single threshold can do on these labels.
    """
    precision, recall, thresholds = precision_recall_curve(np.asarray(labels, bool), scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return float(f1[best]), float(thresholds[best]) if len(thresholds) else 1.0


def events(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end] index ranges of consecutive True values."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def event_prf(labels: np.ndarray, flags: np.ndarray) -> PRF:
    """Event-wise: a true event is found if any flag overlaps it; a flagged event is
    correct if it overlaps a true one. No point adjustment of the scores."""
    true_events, flag_events = events(labels), events(flags)
    found = sum(any(a <= d and c <= b for c, d in flag_events) for a, b in true_events)
    correct = sum(any(a <= d and c <= b for a, b in true_events) for c, d in flag_events)
    recall = found / len(true_events) if true_events else 0.0
    precision = correct / len(flag_events) if flag_events else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


_events = events  # the old private name
