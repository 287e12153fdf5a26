"""EWMA smoothing of error series, with a finite memory.

A plain recursive EWMA depends on every earlier row, so a 20-row scheduled batch
and a 20,000-row backfill would smooth the same row differently. This one is a
convolution with the EWMA weights cut where they fall below 1% of the newest
(`smoothing_length`), renormalised; rows before the first are taken equal to it,
as windows.padded_windows does. With `config.context_rows` rows of context, a
batch smooths every new row exactly as one long batch does.
"""

from __future__ import annotations

import numpy as np

from detector.config import smoothing_length
from detector.windows import padded_windows


def ewma(values: np.ndarray, span: int) -> np.ndarray:
    """(n,) → (n,): EWMA with alpha = 2 / (span + 1) over the last smoothing_length(span) rows."""
    values = np.asarray(values, dtype=float)
    if span <= 1 or values.size == 0:
        return values.copy()
    length = smoothing_length(span)
    alpha = 2.0 / (span + 1)
    weights = (1 - alpha) ** np.arange(length - 1, -1, -1)  # oldest first, newest = 1
    weights /= weights.sum()
    return padded_windows(values[:, None], length)[:, :, 0] @ weights
