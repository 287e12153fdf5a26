"""Thresholds chosen at fit time, on small hand-made error series whose answer can be
worked out from the definitions in detector/thresholds.py."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import DynamicThresholdParams
from detector.thresholds import (
    _pruned,
    dynamic_threshold,
    noise_sigma,
    quantile_threshold,
    sigma_threshold,
)


def ripple_with_two_bumps() -> np.ndarray:
    """Errors near 1 with a 3-point sequence (4, 5, 4) and a lone 3."""
    e = np.ones(200)
    e[::7] = 1.2
    e[50:53] = [4.0, 5.0, 4.0]
    e[120] = 3.0
    return e


def params(**kw: float) -> DynamicThresholdParams:
    base = {"z_min": 1.0, "z_max": 10.0, "z_step": 1.0, "max_sequences": 5, "per_points": 200}
    return DynamicThresholdParams(**{**base, "prune": 0.0, **kw})


def test_dynamic_threshold_picks_the_z_that_explains_most_per_flagged_point() -> None:
    # z = 1..4 flag both bumps (4 points, 2 sequences: cost 4 + 2**2); z = 5 flags only
    # the (4, 5, 4) sequence (cost 3 + 1) and removes nearly as much mean and std, so
    # its value (drop / cost) is the highest; z = 7..9 flag the single 5 (lower value).
    e = ripple_with_two_bumps()
    epsilon = dynamic_threshold(e, params())
    assert epsilon == pytest.approx(e.mean() + 5 * e.std())
    assert np.flatnonzero(e >= epsilon).tolist() == [50, 51, 52]


def test_too_many_sequences_rule_out_a_z() -> None:
    # max 1 sequence per 200 points: the same z wins (it flags one sequence)
    e = ripple_with_two_bumps()
    assert dynamic_threshold(e, params(max_sequences=1)) == pytest.approx(e.mean() + 5 * e.std())
    # a window where every z flags two sequences: none qualifies, the default stands
    two = np.ones(200)
    two[::7] = 1.2
    two[50], two[120] = 5.0, 5.0
    assert dynamic_threshold(two, params(max_sequences=1)) == pytest.approx(5.0 + two.std())


def test_constant_errors_flag_only_what_exceeds_training() -> None:
    assert dynamic_threshold(np.full(50, 0.5), params()) == 1.5
    assert dynamic_threshold(np.zeros(50), params()) == 1.0


def test_pruning_drops_flagged_peaks_too_close_to_the_next_lower_one() -> None:
    e = np.full(100, 9.0)
    e[10], e[60] = 10.0, 9.5  # peaks 10 and 9.5 flagged; highest unflagged 9.0
    # (9.5 - 9) / 9.5 and (10 - 9.5) / 10 are both below 13%: both dropped
    assert _pruned(e, 9.2, 0.13) == np.nextafter(10.0, np.inf)
    e[10] = 20.0  # (20 - 9.5) / 20 >= 13%: 20 stays, 9.5 is dropped
    assert _pruned(e, 9.2, 0.13) == np.nextafter(9.5, np.inf)
    e[60] = 15.0  # (15 - 9) / 15 >= 13% and (20 - 15) / 20 >= 13%: nothing dropped
    assert _pruned(e, 9.2, 0.13) == 9.2
    assert _pruned(e, 9.2, 0.0) == 9.2  # pruning off
    assert _pruned(e, 25.0, 0.13) == 25.0  # nothing flagged


def test_pruning_inside_the_dynamic_threshold() -> None:
    e = ripple_with_two_bumps()
    # the kept sequence peaks at 5, the highest unflagged error is 3: a 40% drop
    assert dynamic_threshold(e, params(prune=0.39)) == pytest.approx(e.mean() + 5 * e.std())
    assert dynamic_threshold(e, params(prune=0.41)) == np.nextafter(5.0, np.inf)


def test_noise_sigma_is_the_half_normal_scale_with_fallbacks() -> None:
    assert noise_sigma(np.array([0.6745, 0.6745, 0.6745])) == pytest.approx(1.0)
    assert noise_sigma(np.array([0.0, 0.0, 0.0, 2.0])) == pytest.approx(np.std([0, 0, 0, 2.0]))
    assert noise_sigma(np.zeros(5)) == 1.0


def test_quantile_threshold_flags_at_most_the_contamination_even_with_ties() -> None:
    scores = np.array([0.1] * 90 + [0.97] * 5 + [0.99] * 5)
    assert quantile_threshold(scores, 0.05) == 0.99  # 5 flagged, the tied 0.97s are not
    assert quantile_threshold(scores, 0.07) == 0.99  # 7 allowed, but the 0.97 tie has 5 more
    assert quantile_threshold(scores, 0.10) == 0.97
    assert quantile_threshold(np.full(10, 0.995), 0.05) == np.nextafter(0.995, np.inf)
    assert quantile_threshold(np.array([]), 0.05) == 0.95
    assert quantile_threshold(np.array([0.2, 0.3]), 0.01) == 0.99  # never below 1 - c


def test_sigma_threshold_falls_back_to_the_std_when_the_mad_is_zero() -> None:
    assert sigma_threshold(np.full(10, 2.0), 3.0) == 5.0  # no spread at all: 1.0
    mostly_zero = np.array([0.0] * 9 + [5.0])  # MAD 0, std 1.5
    assert sigma_threshold(mostly_zero, 3.0) == pytest.approx(4.5)
    assert sigma_threshold(np.array([1.0, 2.0, 3.0]), 2.0) == pytest.approx(2 + 2 * 1.4826)
