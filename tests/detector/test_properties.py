"""Property-based tests (hypothesis) for windows and calibration."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from detector.calibration import EmpiricalCalibrator
from detector.windows import padded_windows, windows

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(
    arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 3)), elements=finite),
    st.integers(1, 20),
)
def test_windows_keep_every_window_including_the_last(X: np.ndarray, length: int) -> None:
    w = windows(X, length)
    assert len(w) == max(len(X) - length + 1, 0)
    if len(w):
        assert np.array_equal(w[-1], X[-length:])
        assert np.array_equal(w[0], X[:length])
    p = padded_windows(X, length)
    assert len(p) == len(X)
    assert np.array_equal(p[:, -1, :], X)  # window i ends at row i


@settings(max_examples=60)
@given(
    arrays(np.float64, st.integers(1, 300), elements=finite),
    arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e9, 1e9)),
)
def test_calibration_is_monotone_bounded_and_batch_independent(
    train: np.ndarray, probe: np.ndarray
) -> None:
    cal = EmpiricalCalibrator().fit(train)
    scores = cal.transform(probe)
    assert ((scores >= 0) & (scores <= 1)).all()
    order = np.argsort(probe, kind="stable")
    assert (np.diff(scores[order]) >= -1e-12).all()
    singles = np.array([cal.transform(np.array([v]))[0] for v in probe])
    assert np.array_equal(singles, scores)
