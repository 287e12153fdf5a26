"""EmpiricalCalibrator on samples small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from detector.calibration import EmpiricalCalibrator


def tail(excess: float, scale: float) -> float:
    """The power-law tail: 1 - 0.05 (1 + excess / (2 scale))^-2."""
    return 1 - 0.05 * (1 + excess / (2 * scale)) ** -2


def beyond(base: float, excess: float, scale: float) -> float:
    """Past the training maximum: the same power law, continued from `base`."""
    return 1 - (1 - base) * (1 + excess / (2 * scale)) ** -2


def test_mid_rank_cdf_below_the_tail_and_a_power_law_tail_above_it() -> None:
    cal = EmpiricalCalibrator().fit(np.arange(100, 0, -1))  # 1..100, any order
    # the tail starts at the 95% quantile, 1 + 0.95 * 99; its scale is the mean excess
    # of 96..100 over it
    assert cal.tail_start_ == pytest.approx(95.05)
    assert cal.tail_scale_ == pytest.approx(2.95)
    scores = cal.transform(np.array([0.0, 50.0, 95.05, 96.0, 100.0, 1000.0]))
    assert scores[0] == 0.0
    assert scores[1] == pytest.approx((49 + 50) / 2 / 101)  # 49 below, 1 tied
    assert scores[2] == pytest.approx(95 / 101)  # at the tail start: the CDF alone
    assert scores[3] == pytest.approx(tail(0.95, 2.95))  # tail > CDF
    assert scores[4] == pytest.approx(tail(4.95, 2.95))
    # past the maximum (100) the score goes on from the CDF there, 100/101
    assert scores[5] == pytest.approx(beyond(100 / 101, 900, 2.95), abs=1e-12)
    assert scores[5] > tail(904.95, 2.95)
    assert scores[4] < scores[5] < 1.0  # far out still ranks, below 1


def test_points_past_the_training_maximum_rank_instead_of_tying() -> None:
    rng = np.random.default_rng(0)
    cal = EmpiricalCalibrator().fit(rng.normal(0, 1, 865))
    top = cal.sorted_[-1]
    # just past the maximum the CDF is n/(n+1) while the tail is still below it
    assert tail(top - cal.tail_start_, cal.tail_scale_) < 865 / 866
    scores = cal.transform(top * np.array([1.01, 1.1, 1.3, 1.6, 3.0, 100.0]))
    assert np.all(np.diff(scores) > 0)
    assert scores[0] > 865 / 866 and scores[-1] < 1.0
    # and the mapping stays monotone across the maximum
    grid = np.linspace(top - 1, top + 1, 2001)
    assert np.all(np.diff(cal.transform(grid)) >= 0)


def test_the_tail_never_lowers_the_cdf() -> None:
    # five training scores just above the tail start and one far out (a wide tail):
    # just past them the exponential tail says about 0.95, the CDF 100/102
    train = [*range(1, 96), 95.2, 95.3, 95.4, 95.5, 95.6, 1000.0]
    cal = EmpiricalCalibrator().fit(np.array(train))
    assert cal.tail_start_ == pytest.approx(95.2)
    assert cal.tail_scale_ == pytest.approx((0.1 + 0.2 + 0.3 + 0.4 + 904.8) / 5)
    assert tail(0.5, cal.tail_scale_) < 0.951
    assert cal.transform(np.array([95.7]))[0] == pytest.approx(100 / 102)


def test_no_excess_over_the_tail_start_falls_back_to_the_spread() -> None:
    cal = EmpiricalCalibrator().fit(np.array([0.0] * 10 + [1.0] * 10))
    assert cal.tail_start_ == 1.0 and cal.tail_scale_ == pytest.approx(0.5)  # std
    # 2.0 is past the maximum (1.0): the power law continues from the CDF there, 20/21
    assert cal.transform(np.array([2.0]))[0] == pytest.approx(beyond(20 / 21, 1.0, 0.5))


def test_a_constant_sample_scores_its_value_mid_rank_and_anything_else_near_one() -> None:
    cal = EmpiricalCalibrator().fit(np.full(10, 3.0))
    assert cal.tail_scale_ == 1e-12
    low, same, high = cal.transform(np.array([2.0, 3.0, 3.0001]))
    assert (low, high) == (0.0, 1.0)
    assert same == pytest.approx(5 / 11)


def test_an_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot calibrate on an empty score sample"):
        EmpiricalCalibrator().fit(np.array([]))
