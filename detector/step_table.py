"""A fitted univariate Isolation-Forest detector as one sorted lookup table.

On one value column every isolation tree cuts the real line into intervals, so the
whole forest (and its calibration) is a step function of the value: a point's
score is found with one binary search instead of walking 100 trees. Building the
table walks each tree only over its own thresholds (cheap), so it pays off as
soon as a series has a few thousand rows to score: backfills. The range guard is
not a step, so it is computed per point exactly as the component does.

`StepTableScorer.build` returns None for anything else (several value columns,
other components) and checks its scores against `EnsembleDetector.score` on probe
points before it is used, so a change in the detector can never make the two
disagree silently: the caller then falls back to the detector itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.compact_forest import CompactForest
from detector.ensemble import EnsembleDetector
from detector.iforest import IForestComponent
from detector.result import Detection

_PROBES = 64


def _float32_below(values: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 value (a representative of (.., value])."""
    as32 = values.astype(np.float32)
    too_big = as32.astype(np.float64) > values
    as32[too_big] = np.nextafter(as32[too_big], np.float32(-np.inf))
    return as32


def forest_step_function(forest: CompactForest) -> tuple[np.ndarray, np.ndarray]:
    """(breaks, raw) with raw[i] = score_samples of any float32 x, breaks[i-1] < x <= breaks[i].

    Bit-identical to `CompactForest.score_samples` (see the exactness note below).
    """
    n_trees, width = forest.left.shape
    inner = forest.left >= 0
    tree_of, node_of = np.nonzero(inner)
    thresholds = forest.threshold[tree_of, node_of]
    order = np.lexsort((thresholds, tree_of))  # by tree, then threshold
    tree_of, thresholds = tree_of[order], thresholds[order]
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = (tree_of[1:] != tree_of[:-1]) | (thresholds[1:] != thresholds[:-1])
    tree_ids, own = tree_of[fresh].astype(np.int64), thresholds[fresh]
    breaks_per_tree = np.bincount(tree_ids, minlength=n_trees)
    # representatives of each tree's own intervals: one below each break, one above the last
    reps_per_tree = breaks_per_tree + 1
    first_rep = np.concatenate([[0], np.cumsum(reps_per_tree)[:-1]])
    rep_tree = np.repeat(np.arange(n_trees), reps_per_tree)
    reps = np.empty(len(rep_tree), dtype=np.float32)
    slot = np.ones(len(rep_tree), dtype=bool)
    last_slots = first_rep + reps_per_tree - 1
    slot[last_slots] = False
    reps[slot] = _float32_below(own)
    tops = own[np.concatenate([[0], np.cumsum(breaks_per_tree)])[1:] - 1]
    above = _float32_below(tops)
    reps[last_slots] = np.nextafter(above, np.float32(np.inf))
    empty = breaks_per_tree == 0
    reps[last_slots[empty]] = 0.0
    # walk each representative down its own tree only
    left, right, threshold = forest.left.ravel(), forest.right.ravel(), forest.threshold.ravel()
    base = rep_tree.astype(np.int64) * width
    node = base.copy()
    for _ in range(forest.max_depth + 1):
        child_left = left[node]
        is_inner = child_left >= 0
        if not is_inner.any():
            break
        step = base + np.where(reps <= threshold[node], child_left, right[node])
        node = np.where(is_inner, step, node)
    if forest.normaliser == 0:
        return np.unique(own), -np.ones(len(np.unique(own)) + 1)
    # Depth of the forest on each global interval: the sum of the trees' leaf depths,
    # as a running sum of each tree's depth changes at its own breaks. Leaf depths are
    # float32 multiples of 2**-23 below 2**5 (integers, or >= 1), so every partial sum
    # of 100s of them is exact in float64: the order does not change a bit.
    depth = forest.leaf_depth.ravel()[node].astype(np.float64)
    breaks = np.unique(own)
    position = np.searchsorted(breaks, own)
    inner_slot = np.flatnonzero(slot)  # the rep just below each break ...
    change = depth[inner_slot + 1] - depth[inner_slot]  # ... and the one after it
    steps = np.bincount(position + 1, weights=change, minlength=len(breaks) + 1)
    total = depth[first_rep].sum() + np.cumsum(steps)
    return breaks, -(2.0 ** (-total / forest.normaliser))


@dataclass
class StepTableScorer:
    """Final ensemble scores of a one-column, Isolation-Forest-only detector."""

    breaks: np.ndarray  # sorted, in robust-scaled units
    forest_score: np.ndarray  # calibrated forest score per interval (len(breaks) + 1)
    center: float
    scale: float
    low: float
    high: float
    contamination: float
    weight: float
    threshold: float
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def build(cls, detector: EnsembleDetector) -> StepTableScorer | None:
        """The table of a fitted detector, or None when it cannot be one (or disagrees)."""
        component = detector.components.get("iforest")
        config = detector.config
        if (
            type(detector) is not EnsembleDetector
            or list(detector.components) != ["iforest"]
            or type(component) is not IForestComponent
            or detector.n_features != 1
            or getattr(detector, "seasonal_", None) is not None  # values alone don't decide
            # pointwise scores compared with the quantile threshold only: no smoothing,
            # no alarm aggregation, no error-space threshold, no second calibration
            or getattr(config, "threshold", "quantile") != "quantile"
            or getattr(config, "smoothing", 0) > 1
            or getattr(config, "alarm", None) is not None
            or getattr(detector, "error_threshold_", None) is not None
            or getattr(detector, "ensemble_calibrator_", None) is not None
        ):
            return None
        assert isinstance(component, IForestComponent)
        if not (component.forest_.left >= 0).any():
            return None  # a constant training series: no splits, nothing to tabulate
        breaks, raw = forest_step_function(component.forest_)
        calibrated = component.calibrator_.transform(-raw)
        kept = np.flatnonzero(np.diff(calibrated) != 0)  # merge equal neighbours
        scorer = cls(
            breaks=breaks[kept],
            forest_score=calibrated[np.concatenate([kept, [len(calibrated) - 1]])],
            center=float(component.scaler_.center_[0]),
            scale=float(component.scaler_.scale_[0]),
            low=float(component.low_[0]),
            high=float(component.high_[0]),
            contamination=float(component.contamination),
            weight=float(detector.weights_["iforest"]),
            threshold=float(detector.threshold_),
            expected=np.asarray(detector.center_, dtype=float),
            lower=np.asarray(detector.lower_, dtype=float),
            upper=np.asarray(detector.upper_, dtype=float),
        )
        return scorer if scorer._agrees_with(detector, breaks) else None

    def _agrees_with(self, detector: EnsembleDetector, breaks: np.ndarray) -> bool:
        """Same scores as the detector on probes around and between its thresholds."""
        rng = np.random.default_rng(0)
        z = np.concatenate(
            [
                rng.choice(breaks, min(len(breaks), _PROBES)) if len(breaks) else [],
                np.linspace(self.low - 3, self.high + 3, _PROBES),
                [self.low, self.high, self.low - 50, self.high + 50],
            ]
        )
        X = (z * self.scale + self.center)[:, None]
        expected = detector.score(X)
        got = self.detect(X)
        return bool(
            np.array_equal(expected.score, got.score)
            and np.array_equal(expected.is_anomaly, got.is_anomaly)
            and np.array_equal(expected.components["iforest"], got.components["iforest"])
        )

    def component_scores(self, x: np.ndarray) -> np.ndarray:
        """The iforest component's calibrated score (forest or range guard) per value."""
        z = (x - self.center) / self.scale
        at = np.searchsorted(self.breaks, z.astype(np.float32).astype(np.float64), side="left")
        forest = self.forest_score[at]
        beyond = np.maximum(z - self.high, self.low - z)
        guard = np.where(
            beyond > 0, 1 - (self.contamination / 2) * np.exp(-np.maximum(beyond, 0.0)), 0.0
        )
        return np.maximum(forest, guard)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Final (ensemble) scores of a 1-D array of values."""
        return np.clip(self.weight * self.component_scores(x), 0.0, 1.0)

    def detect(self, X: np.ndarray) -> Detection:
        """The Detection `EnsembleDetector.score` returns for these (n, 1) rows."""
        part = self.component_scores(np.asarray(X, dtype=float)[:, 0])
        score = np.clip(self.weight * part, 0.0, 1.0)
        n = len(part)
        return Detection(
            score=score,
            is_anomaly=score >= self.threshold,
            threshold=self.threshold,
            components={"iforest": part},
            expected=np.tile(self.expected, (n, 1)),
            lower=np.tile(self.lower, (n, 1)),
            upper=np.tile(self.upper, (n, 1)),
        )
