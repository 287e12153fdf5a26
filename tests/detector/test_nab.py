"""NAB scoring on hand-made cases whose answers follow from the rules."""

from __future__ import annotations

import numpy as np
import pytest

from detector.nab import PROFILES, LabelledFile, best_threshold, normalised, raw_score

STANDARD = PROFILES["standard"]


def file_with_window(n: int = 400, window: tuple[int, int] = (200, 219)) -> LabelledFile:
    return LabelledFile(scores=np.zeros(n), windows=[window])


def detect(n: int, *rows: int) -> np.ndarray:
    flags = np.zeros(n, bool)
    flags[list(rows)] = True
    return flags


def test_detection_at_the_left_edge_earns_the_full_weight() -> None:
    f = file_with_window()
    assert raw_score(f, detect(400, 200), STANDARD) == pytest.approx(1.0)
    later = raw_score(f, detect(400, 215), STANDARD)
    assert 0 < later < 1.0


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    f = file_with_window()
    assert raw_score(f, detect(400, 200, 205, 210), STANDARD) == pytest.approx(1.0)


def test_false_positive_just_after_a_window_costs_less_than_far_away() -> None:
    f = file_with_window()
    near = raw_score(f, detect(400, 200, 221), STANDARD) - 1.0
    far = raw_score(f, detect(400, 200, 380), STANDARD) - 1.0
    assert far < near < 0
    assert far == pytest.approx(-STANDARD.fp, abs=0.01)


def test_missed_window_costs_fn_and_probation_detections_are_ignored() -> None:
    f = file_with_window()
    assert raw_score(f, detect(400, 10), STANDARD) == pytest.approx(-1.0)  # row 10 < probation 60
    low_fn = PROFILES["reward_low_FN_rate"]
    assert raw_score(f, detect(400), low_fn) == pytest.approx(-2.0)


def test_null_scores_zero_and_perfect_scores_hundred() -> None:
    assert normalised(-1.0 * 3, 3, STANDARD) == 0.0
    assert normalised(3.0, 3, STANDARD) == 100.0
    files = [file_with_window(), file_with_window(window=(300, 339))]
    for f in files:
        f.scores[f.windows[0][0]] = 1.0  # perfect: a hit at each window's left edge only
    score, threshold = best_threshold(files, STANDARD)
    assert score == pytest.approx(100.0)
    assert threshold == 1.0
    for f in files:
        f.scores[:] = 0.0
    assert best_threshold(files, STANDARD)[0] == pytest.approx(0.0)  # never alarming is best


def test_threshold_sweep_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    files = [
        LabelledFile(rng.random(300), [(150, 170)]),
        LabelledFile(rng.random(500), [(90, 99), (400, 449)]),
    ]
    sweep, _ = best_threshold(files, STANDARD)
    brute = max(
        normalised(sum(raw_score(f, f.scores >= t, STANDARD) for f in files), 3, STANDARD)
        for t in np.unique(np.concatenate([f.scores for f in files]))
    )
    assert sweep == pytest.approx(max(brute, 0.0))
