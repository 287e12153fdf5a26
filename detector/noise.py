"""A floor under every noise scale, so that one step of a quantised series is not
a thousand sigmas.

A flow sensor with 15 distinct values, an integer queue length or a series that is
flat most of the time has a median absolute deviation near or at 0; any member that
divides by it then reports enormous errors for ordinary steps. The floor is the
larger of the value quantum (the typical gap between distinct values, when the
series takes few distinct values) and a share of its 1-99% spread.
"""

from __future__ import annotations

import numpy as np

QUANTISED_SHARE = 0.25  # fewer distinct values than this share of rows: a quantised series


def value_quantum(column: np.ndarray) -> float:
    """The typical step between distinct values of a quantised column, else 0."""
    distinct = np.unique(column[np.isfinite(column)])
    if len(distinct) < 2 or len(distinct) > QUANTISED_SHARE * len(column):
        return 0.0
    return float(np.median(np.diff(distinct)))


def value_quanta(X: np.ndarray) -> np.ndarray:
    """Per feature: value_quantum of the column."""
    X = np.asarray(X, dtype=float)
    return np.array([value_quantum(X[:, j]) for j in range(X.shape[1])])


def noise_floor(X: np.ndarray, share: float, quanta: np.ndarray | None = None) -> np.ndarray:
    """Per feature: max(value quantum, share x (99th - 1st percentile)); `quanta`, when
    the caller has them already (value_quanta(X)), are not computed again."""
    X = np.asarray(X, dtype=float)
    spread = np.quantile(X, 0.99, axis=0) - np.quantile(X, 0.01, axis=0)
    return np.maximum(value_quanta(X) if quanta is None else quanta, share * spread)
