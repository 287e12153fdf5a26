"""Unsupervised thresholds on a combined error series, chosen at fit time.

- sigma: median + k robust standard deviations (1.4826 x the median absolute
  deviation) of the combined training errors: the bulk of the errors sets the
  scale, so contamination in the training data barely moves it (a mean and
  standard deviation would be inflated by the very anomalies to be found). For a
  single residual with |N(0, s)| errors, k = 3.5 is about 2.8 s.
- dynamic: Hundman et al. (2018, "LSTM-DT", KDD): epsilon = mean + z * std of the
  smoothed errors, with the z that removes the most of the mean and standard
  deviation per flagged point and per anomalous sequence squared; then pruning:
  flagged sequences whose peak is not at least `prune` (13%) above the next lower
  peak (the highest unflagged error being the last) are dropped, which raises the
  threshold to just above the highest dropped peak. Chosen once on the training
  errors, so scoring stays batch-independent.
- the F1-optimal threshold from labels lives in metrics.best_f1_threshold.
"""

from __future__ import annotations

import numpy as np

from detector.config import DynamicThresholdParams
from detector.metrics import events

HALF_NORMAL_MEDIAN = 0.6745  # median of |N(0, 1)|


def noise_sigma(errors: np.ndarray) -> float:
    median = float(np.median(errors))
    if median > 0:
        return median / HALF_NORMAL_MEDIAN
    spread = float(np.std(errors))
    return spread if spread > 0 else 1.0


def quantile_threshold(train_scores: np.ndarray, contamination: float) -> float:
    """The lowest score that flags at most `contamination` of the training rows.

    1 - contamination alone over-flags when scores tie (a one-column forest has few
    distinct scores; the calibration tail lifts the top 5%): the flag rate on normal
    data would exceed the configured contamination, and so would the alert volume.
    """
    scores = np.sort(np.asarray(train_scores, dtype=float))
    floor = 1.0 - contamination
    allowed = int(np.floor(contamination * scores.size))
    if scores.size == 0 or allowed >= scores.size:
        return floor
    # flagging is `score >= threshold`: the threshold must sit above the value at rank
    # n - allowed - 1 (ascending), and ties there must stay unflagged
    boundary = scores[scores.size - allowed - 1]
    above = scores[scores > boundary]
    threshold = float(above[0]) if above.size else float(np.nextafter(boundary, np.inf))
    return max(floor, threshold)


def sigma_threshold(errors: np.ndarray, k: float) -> float:
    """median + k robust standard deviations (1.4826 x MAD) of the training errors."""
    median = float(np.median(errors))
    spread = 1.4826 * float(np.median(np.abs(errors - median)))
    if spread <= 0:
        spread = float(np.std(errors)) or 1.0
    return median + k * spread


def dynamic_threshold(errors: np.ndarray, params: DynamicThresholdParams) -> float:
    """Hundman et al.'s epsilon for these (smoothed) training errors, after pruning."""
    e = np.asarray(errors, dtype=float)
    mean, std = float(e.mean()), float(e.std())
    if std == 0 or mean == 0:
        return float(e.max()) + 1.0  # nothing stands out: flag only what exceeds training
    max_sequences = max(1, round(params.max_sequences * len(e) / params.per_points))
    best_value, epsilon = -np.inf, float(e.max()) + std  # default: above everything seen
    for z in np.arange(params.z_min, params.z_max + 1e-9, params.z_step):
        candidate = mean + z * std
        above = e >= candidate
        if not above.any() or above.mean() >= 0.5:
            continue
        below = e[~above]
        n_seq = len(events(above))
        if n_seq > max_sequences:
            continue
        drop = (mean - below.mean()) / mean + (std - below.std()) / std
        value = drop / (above.sum() + n_seq**2)
        if value > best_value:
            best_value, epsilon = value, float(candidate)
    return _pruned(e, epsilon, params.prune)


def _pruned(e: np.ndarray, epsilon: float, prune: float) -> float:
    flagged = e >= epsilon
    spans = events(flagged)
    if not spans or prune <= 0:
        return epsilon
    peaks = np.sort([e[a : b + 1].max() for a, b in spans])[::-1]
    floor = float(e[~flagged].max()) if (~flagged).any() else 0.0
    chain = np.append(peaks, floor)
    removed_from = len(peaks)  # peaks[removed_from:] are dropped
    for i in range(len(peaks) - 1, -1, -1):
        if chain[i] > 0 and (chain[i] - chain[i + 1]) / chain[i] >= prune:
            break
        removed_from = i
    if removed_from == len(peaks):
        return epsilon
    # just above the highest dropped peak, so that it (and all below) no longer cross
    return float(np.nextafter(peaks[removed_from], np.inf))
