"""Auto weights with several columns: moves of all columns together are negatives."""

from __future__ import annotations

import numpy as np

from detector.weights import RATE, auto_weights, inject_moves, noise_scale

MIX = np.random.default_rng(99).uniform(0.5, 1.5, (2, 8))


def related(n: int, seed: int) -> np.ndarray:
    """Eight sensors, each a fixed mix of two slow drivers plus its own noise (sd 0.02)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    drivers = np.column_stack([1.0 + 0.5 * np.sin(t / 150), 0.4 * np.cos(t / 410)])
    return drivers @ MIX + rng.normal(0, 0.02, (n, 8))


def test_moves_shift_every_column_along_the_relation_between_them() -> None:
    X = related(3000, seed=1)
    out, moves = inject_moves(X, seed=1, shift_length=16, label_length=4, settle=40)
    assert len(moves) >= 0.8 * max(2, int(RATE * len(X)))
    sigma = noise_scale(X)
    for a, _ in moves:
        step = out[a] - X[a]
        assert np.allclose(out[a : a + 16] - X[a : a + 16], step)  # a level, for 16 rows
        assert np.abs(step / sigma).max() >= 3 - 1e-9 and (step != 0).all()
        # the drivers explain it: the part of the step outside the mix is noise-sized
        drivers = np.linalg.lstsq(MIX.T, step, rcond=None)[0]
        assert np.abs(step - drivers @ MIX).max() < 0.03
    moved = np.zeros(len(X), dtype=bool)
    for a, _ in moves:
        moved[a : a + 16] = True
    assert (out[~moved] == X[~moved]).all()


def test_columns_that_vary_on_their_own_get_few_moves() -> None:
    rng = np.random.default_rng(5)
    walks = np.cumsum(rng.normal(0, 0.05, (3000, 8)), axis=0) + rng.normal(0, 0.05, (3000, 8))
    _, moves = inject_moves(walks, seed=1, shift_length=16, label_length=4, settle=40)
    assert len(moves) <= 0.25 * max(2, int(RATE * len(walks)))


def test_moves_cost_a_member_that_judges_each_column_alone_its_weight() -> None:
    """A per-column detector finds the faults as well as a relation detector, but it
    also fires on the moves: the relation gets the weight (before: the two tied)."""
    X = related(3000, seed=2)
    B = MIX.T @ np.linalg.pinv(MIX.T)  # projection on the drivers' span

    def errors_of(data: np.ndarray) -> dict[str, np.ndarray]:
        level = np.vstack([data[:1], data[:-1]])  # the row before as the expectation
        own = np.abs(data - level).max(axis=1) / 0.02
        relation = np.abs(data - data @ B).max(axis=1) / 0.02
        return {"own": own, "relation": relation}

    weights, aps = auto_weights(errors_of, X, seed=2, shift_length=16, label_length=4)
    assert weights["relation"] > 0.9 > 0.1 > weights["own"]


def test_one_column_gets_no_moves() -> None:
    """Univariate weights do not change: one copy with faults, as before."""
    calls: list[int] = []

    def errors_of(data: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(data.shape[1])
        return {"own": np.abs(np.diff(data[:, 0], prepend=data[0, 0]))}

    x = related(2000, seed=3)
    auto_weights(errors_of, x[:, :1], seed=3, shift_length=16, label_length=4)
    assert calls == [1, 1]
    calls.clear()
    auto_weights(errors_of, x[:, :2], seed=3, shift_length=16, label_length=4)
    assert calls == [2, 2, 2]
