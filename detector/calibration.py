"""Map raw component scores to [0, 1] by their training distribution.

Calibrated = empirical CDF of the raw score on training data, with a power-law
tail beyond the top 5% (1 - 0.05 (1 + excess / (2 s))^-2, s the mean excess of the
training tail) so that points more extreme than anything seen still get ordered
scores close to 1: an exponential tail reaches 1.0 in floating point about 37 tail
scales out, and a 10-sigma spike and a 40-sigma one would then both score exactly 1;
this one keeps them apart beyond a million tail scales. Above the highest training
score the empirical CDF is flat at n/(n+1), so there the same power law continues
from that value towards 1: otherwise every new point between the training maximum
and where the tail overtakes n/(n+1) ties (with 865 training rows: every
statistic from 1.0 to 1.6 times the maximum, in one of the demo's models), and
neither ranking nor severity can tell them apart. Unlike per-batch
min-max scaling, the mapping is fixed at fit time: a 20-point window and a 20,000-point
backfill score alike.
"""

from __future__ import annotations

import numpy as np

TAIL_FRACTION = 0.05
TAIL_POWER = 2.0


class EmpiricalCalibrator:
    def fit(self, raw: np.ndarray) -> EmpiricalCalibrator:
        values = np.sort(np.asarray(raw, dtype=float))
        if values.size == 0:
            raise ValueError("cannot calibrate on an empty score sample")
        self.sorted_ = values
        self.tail_start_ = float(np.quantile(values, 1 - TAIL_FRACTION))
        excess = values[values > self.tail_start_] - self.tail_start_
        spread = float(np.std(values))
        self.tail_scale_ = float(excess.mean()) if excess.size else max(spread, 1e-12)
        self.tail_scale_ = max(self.tail_scale_, 1e-12)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        n = self.sorted_.size
        # mid-rank: a raw score tied with many training scores (a constant series) sits
        # in the middle of them, not at the top
        below = np.searchsorted(self.sorted_, raw, side="left")
        upto = np.searchsorted(self.sorted_, raw, side="right")
        cdf = (below + upto) / 2 / (n + 1)
        in_tail = raw > self.tail_start_
        tail = self._tail(raw)
        # the tail model only ever raises a score, so the mapping stays monotone
        score = np.where(in_tail, np.maximum(cdf, tail), cdf)
        top = float(self.sorted_[-1])
        above = raw > top
        if above.any():
            base = max(n / (n + 1), float(self._tail(np.array([top]))[0]))
            beyond = 1 - (1 - base) * self._decay(raw - top)
            score = np.where(above, np.maximum(beyond, tail), score)
        return np.clip(score, 0.0, 1.0)

    def _decay(self, excess: np.ndarray) -> np.ndarray:
        excess = np.maximum(excess, 0.0)
        return (1 + excess / (TAIL_POWER * self.tail_scale_)) ** -TAIL_POWER

    def _tail(self, raw: np.ndarray) -> np.ndarray:
        return 1 - TAIL_FRACTION * self._decay(raw - self.tail_start_)
