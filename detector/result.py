"""What scoring returns: one value per input row, for every field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    score: np.ndarray  # (n,) calibrated ensemble score in [0, 1]
    is_anomaly: np.ndarray  # (n,) bool
    threshold: float
    components: dict[str, np.ndarray]  # component -> (n,) calibrated score (contributions)
    expected: np.ndarray  # (n, f)
    lower: np.ndarray  # (n, f)
    upper: np.ndarray  # (n, f)
