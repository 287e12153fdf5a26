"""Alarm aggregation: turn per-point threshold crossings into alarms.

An alarm fires at a point when at least k of the last m points (itself included)
cross the threshold, and no alarm fired in the `suppress` points before it. One
excursion then raises one alarm instead of one per point, and an isolated
crossing among noisy points can be required to repeat (k > 1) before anyone is
woken up. Only past points are used: it runs the same on a stream.
"""

from __future__ import annotations

import numpy as np

from detector.windows import windows


def k_of_m(crossed: np.ndarray, k: int, m: int) -> np.ndarray:
    """True where at least k of the last m points (the point itself included) crossed."""
    crossed = np.asarray(crossed, dtype=bool)
    if m <= 1:
        return crossed.copy()
    padded = np.concatenate([np.zeros(m - 1, dtype=bool), crossed])
    counts = windows(padded[:, None].astype(np.int64), m).sum(axis=(1, 2))
    return counts >= k


def aggregate(crossed: np.ndarray, k: int = 1, m: int = 1, suppress: int = 0) -> np.ndarray:
    """Alarms: k of the last m crossed, and no alarm in the previous `suppress` points."""
    candidates = np.flatnonzero(k_of_m(crossed, k, m))
    alarms = np.zeros(len(crossed), dtype=bool)
    if suppress <= 0:
        alarms[candidates] = True
        return alarms
    quiet_until = -1  # the loop runs over candidate points only, not over every point
    for i in candidates:
        if i > quiet_until:
            alarms[i] = True
            quiet_until = int(i) + suppress
    return alarms
