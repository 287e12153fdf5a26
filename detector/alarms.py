"""Alarm aggregation: turn per-point threshold crossings into alarms.

An alarm fires at a point when at least k of the last m points (itself included)
cross the threshold, and no alarm fired in the `suppress` points before it. One
excursion then raises one alarm instead of one per point, and an isolated
crossing among noisy points can be required to repeat (k > 1) before anyone is
woken up. Only past points are used: it runs the same on a stream.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from detector.windows import windows


def k_of_m(crossed: np.ndarray, k: int, m: int) -> np.ndarray:
    """True where at least k of the last m points (the point itself included) crossed."""
    crossed = np.asarray(crossed, dtype=bool)
    if m <= 1:
        return crossed.copy()
    padded = np.concatenate([np.zeros(m - 1, dtype=bool), crossed])
    counts = windows(padded[:, None].astype(np.int64), m).sum(axis=(1, 2))
    return counts >= k


def previous_max(scores: np.ndarray, length: int) -> np.ndarray:
    """max(scores[i - length : i]) per row (-inf for the first row), in O(n)."""
    padded = np.concatenate([np.full(length, -np.inf), np.asarray(scores, dtype=float)])
    # centred max over `length` values: position c covers [c - length // 2, ... + length)
    centred = maximum_filter1d(padded, size=length, mode="nearest")
    return centred[length // 2 : length // 2 + len(scores)]


def aggregate(
    crossed: np.ndarray,
    k: int = 1,
    m: int = 1,
    suppress: int = 0,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """Alarms: k of the last m crossed, and no alarm in the previous `suppress` points.

    With `scores`, a candidate inside the quiet period still fires when its score beats
    every score of the `suppress` points before it (rearm): a bigger excursion right
    after a small false alarm is not hidden by it.
    """
    candidates = np.flatnonzero(k_of_m(crossed, k, m))
    alarms = np.zeros(len(crossed), dtype=bool)
    if suppress <= 0:
        alarms[candidates] = True
        return alarms
    beats = None if scores is None else np.asarray(scores) > previous_max(scores, suppress)
    quiet_until = -1  # the loop runs over candidate points only, not over every point
    for i in candidates:
        if i > quiet_until or (beats is not None and beats[i]):
            alarms[i] = True
            quiet_until = int(i) + suppress
    return alarms
