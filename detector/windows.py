"""Sliding windows without Python loops, and front padding so every point gets one."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(X: np.ndarray, length: int) -> np.ndarray:
    """(n, f) → (n - length + 1, length, f): every window, the last one included."""
    if len(X) < length:
        return np.empty((0, length, X.shape[1]), dtype=X.dtype)
    return np.moveaxis(sliding_window_view(X, length, axis=0), -1, 1)


def padded_windows(X: np.ndarray, length: int) -> np.ndarray:
    """(n, f) → (n, length, f): window i ends at row i; rows before 0 repeat row 0."""
    pad = np.repeat(X[:1], length - 1, axis=0)
    return windows(np.concatenate([pad, X]), length)
