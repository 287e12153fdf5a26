"""The Numenta Anomaly Benchmark score, implemented from its published rules
(../shared/data/nab/SCORING.md): windows, scaled-sigmoid position weights,
profiles, normalisation between the null and the perfect detector, and the
corpus-wide threshold sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}


def scaled_sigmoid(y: float) -> float:
    if y > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n_rows: int) -> int:
    return int(min(math.floor(0.15 * n_rows), 0.15 * 5000))


@dataclass
class LabelledFile:
    """One series: its scores per row and its anomaly windows as [first, last] row indices."""

    scores: np.ndarray
    windows: list[tuple[int, int]]

    @property
    def probation(self) -> int:
        return probation_rows(len(self.scores))


def _row_values(file: LabelledFile, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the window it falls in (-1 if none) and the value of a detection there."""
    n = len(file.scores)
    window_of = np.full(n, -1)
    value = np.zeros(n)
    for w, (left, right) in enumerate(file.windows):
        width = right - left + 1
        for i in range(max(left, 0), min(right, n - 1) + 1):
            window_of[i] = w
            value[i] = profile.tp * scaled_sigmoid(-(right - i + 1) / width) / scaled_sigmoid(-1)
    previous = -1
    for i in range(n):
        if window_of[i] >= 0:
            previous = window_of[i]
            continue
        if previous < 0:
            value[i] = -profile.fp
        else:
            left, right = file.windows[previous]
            width = right - left + 1
            y = abs(i - right) / max(width - 1, 1)
            value[i] = profile.fp * scaled_sigmoid(y)
    return window_of, value


def raw_score(file: LabelledFile, detections: np.ndarray, profile: Profile) -> float:
    """A file's raw score for boolean detections per row (probation ignored)."""
    window_of, value = _row_values(file, profile)
    flagged = np.flatnonzero(detections)
    flagged = flagged[flagged >= file.probation]
    total = 0.0
    for w in range(len(file.windows)):
        inside = flagged[window_of[flagged] == w]
        total += value[inside[0]] if len(inside) else -profile.fn
    outside = flagged[window_of[flagged] < 0]
    return total + float(value[outside].sum())


def normalised(raw: float, n_windows: int, profile: Profile) -> float:
    null, perfect = -profile.fn * n_windows, profile.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def best_threshold(files: list[LabelledFile], profile: Profile) -> tuple[float, float]:
    """(normalised corpus score, threshold) for the best single threshold.

    Sweeps the threshold down through every distinct score, updating each window's
    earliest detection and the false-positive sum incrementally.
    """
    n_windows = sum(len(f.windows) for f in files)
    scores, windows, values, rows = [], [], [], []
    offset = 0
    for f in files:
        window_of, value = _row_values(f, profile)
        keep = np.arange(f.probation, len(f.scores))
        scores.append(f.scores[keep])
        windows.append(np.where(window_of[keep] >= 0, window_of[keep] + offset, -1))
        values.append(value[keep])
        rows.append(keep)
        offset += len(f.windows)
    all_scores = np.concatenate(scores) if scores else np.empty(0)
    all_windows, all_values = np.concatenate(windows), np.concatenate(values)
    all_rows = np.concatenate(rows)
    order = np.argsort(-all_scores, kind="stable")
    earliest = np.full(n_windows, np.iinfo(np.int64).max)
    current = np.full(n_windows, -profile.fn)
    total = -profile.fn * n_windows
    best_total, best_thr = total, float("inf")
    k = 0
    while k < len(order):
        threshold = all_scores[order[k]]
        while k < len(order) and all_scores[order[k]] == threshold:
            j = order[k]
            w = all_windows[j]
            if w < 0:
                total += all_values[j]
            elif all_rows[j] < earliest[w]:
                total += all_values[j] - current[w]
                current[w] = all_values[j]
                earliest[w] = all_rows[j]
            k += 1
        if total > best_total:
            best_total, best_thr = total, float(threshold)
    return normalised(best_total, n_windows, profile), best_thr
