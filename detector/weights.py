"""Ensemble weights learned from the training data ("auto").

The training data carries no labels, so we make some: a copy of it gets synthetic
anomalies injected at about 2% of the rows (seeded), half single-point spikes and
half level shifts lasting `sequence_length` rows, each 3-6 noise sigmas (sigma
from the median absolute first difference), with random signs. Every fitted
component scores the copy; its weight is its average precision at finding the
injected anomalies above the chance level, (AP - prevalence) / (1 - prevalence), and
the weights are normalised to sum to 1 (all equal when none beats chance), after
raising each lift to the 4th power (`sharpness`) so that a clearly better component
dominates. Lower powers were measured on the tuning data and not kept: with the event
budget of 8fa45d9, NAB's tuning split scores 67.4 at 4 and 65.9 at 2.5 for one-column
models, and the seed benchmark's tuning seeds 0.660 and 0.651 (recommended F1).
Components that see these anomalies well, on this series, dominate; one that has
collapsed (an autoencoder reproducing its input, a forest that cannot split a
repetitive series) gets a small weight instead of diluting the others. The labels
are events, not rows: a spike is found by its own row, a shift by any of its first
`recent` rows (a level detector needs a few shifted rows to see it, a residual
detector sees the first), and the negatives are the rows no injection touched
and that no component found unusual before the injection (real, unlabelled
anomalies would otherwise count as false alarms).

With several columns the faults hit one column, and a second copy gets as many
moves of all columns together (`inject_moves`): each column steps part of the way
towards its level at another time, a state the machine has been in, so the step
keeps the relations between the columns (moves that do not, as between columns
that vary on their own, are not made). A new operating point is such a move, and
not a fault; each move is one more negative, found like a fault by any of its first
`recent` rows. A member that judges each column alone fires on the moves as on the
faults and loses weight to one that judges the relation between them: in fits on
days 7, 12 and 16 of the multivariate benchmark's tuning seeds (8 sensors) the
per-column residual's weight fell from 0.23-0.54 (one fit 0) to 0.02-0.15, and the
benchmark's F1 rose from 0.272 to 0.372 (false events per day 0.10 to 0.06). One
column gets no moves and no second copy, so univariate weights are as before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detector.metrics import average_precision

RATE = 0.01
LOW, HIGH = 3.0, 6.0
MOVE_TRIES = 10


def noise_scale(X: np.ndarray) -> np.ndarray:
    diffs = np.diff(X, axis=0)
    mad = np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0) * 1.4826 / np.sqrt(2)
    fallback = np.std(X, axis=0)
    return np.where(mad > 0, mad, np.where(fallback > 0, fallback, 1.0))


def inject(
    X: np.ndarray, seed: int, shift_length: int, label_length: int, settle: int = 0
) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """A copy of X with spikes and level shifts (in one column of a multivariate X);
    each anomaly's [first, last] rows where a
    detector should fire; and the rows an injection touched (not negatives): up to
    `settle` rows after it, while it is still in the components' windows."""
    rng = np.random.default_rng(seed)
    n = len(X)
    start = min(shift_length, n - 1)
    count = max(2, int(RATE * n))
    spots = np.sort(rng.choice(np.arange(start, n), size=min(count, n - start), replace=False))
    sigma = noise_scale(X)
    out, touched = X.copy(), np.zeros(n, dtype=bool)
    events = []
    for j, p in enumerate(spots):
        size = rng.uniform(LOW, HIGH) * rng.choice([-1.0, 1.0]) * sigma
        if X.shape[1] > 1:  # a fault hits one sensor, not all of them in step
            size = np.where(np.arange(X.shape[1]) == rng.integers(X.shape[1]), size, 0.0)
        if j % 2 == 0:
            out[p] += size
            events.append((int(p), int(p)))
            touched[p : p + label_length + settle] = True
        else:
            out[p : p + shift_length] += size
            events.append((int(p), int(min(p + label_length, n) - 1)))
            # the return to the old level is an anomaly too, just not a labelled one
            touched[p : p + shift_length + label_length + settle] = True
    return out, events, touched


def implied(X: np.ndarray) -> np.ndarray:
    """B with (d @ B)[j] the change of column j that the other columns' changes d imply:
    least squares of each column on the others over the rows of X (zero diagonal)."""
    Z = X - X.mean(axis=0)
    f = X.shape[1]
    B = np.zeros((f, f))
    for j in range(f):
        others = [k for k in range(f) if k != j]
        B[others, j] = np.linalg.lstsq(Z[:, others], Z[:, j], rcond=None)[0]
    return B


def inject_moves(
    X: np.ndarray,
    seed: int,
    shift_length: int,
    label_length: int,
    settle: int = 0,
    quiet: np.ndarray | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A copy of X with moves of all columns together, and each move's [first, last]
    rows, where a member that fires raises a false alarm.

    There are as many spots as `inject` makes faults, far enough apart for a move and
    its settling, and (given `quiet`) where those rows are quiet. At each, for
    `shift_length` rows, every column steps part of the way from its level before (the
    median of the `shift_length` rows before) towards its level around another row, a
    state the machine has been in, so that the largest column moves LOW-HIGH of its
    noise sigmas. The other row is the first of MOVE_TRIES draws whose level differs
    by at least LOW sigmas in some column (else the step would point where the noise
    of two medians does). The move is made only if it keeps the relations between the
    columns: what the other columns' steps imply for each column (least squares on X)
    misses none by more than a noise sigma; columns that move on their own get few or
    no moves.
    """
    n, f = X.shape
    rng = np.random.default_rng([seed, f])
    start = min(shift_length, n - 1)
    gap = shift_length + label_length + settle
    sigma = noise_scale(X)
    B = implied(X)
    half = max(shift_length // 2, 1)
    out, taken = X.copy(), np.zeros(n, dtype=bool)
    moves: list[tuple[int, int]] = []
    spots = 0
    for p in rng.permutation(np.arange(start, n)):
        if spots == max(2, int(RATE * n)):
            break
        if taken[p] or (quiet is not None and not quiet[p : p + label_length].all()):
            continue
        spots += 1
        taken[max(p - gap + 1, 0) : p + gap] = True
        here = np.median(X[p - start : p], axis=0)
        for _ in range(MOVE_TRIES):
            q = int(rng.integers(n))
            step = np.median(X[max(q - half, 0) : q + half], axis=0) - here
            largest = float(np.max(np.abs(step) / sigma))
            if largest >= LOW:
                break
        else:
            continue
        step *= rng.uniform(LOW, HIGH) / largest
        if np.max(np.abs(step - step @ B) / sigma) > 1.0:
            continue
        out[p : p + shift_length] += step
        moves.append((int(p), int(min(p + label_length, n) - 1)))
    return out, moves


def auto_weights(
    errors_of: Callable[[np.ndarray], dict[str, np.ndarray]],
    X: np.ndarray,
    seed: int,
    shift_length: int,
    label_length: int,
    settle: int = 0,
    natural_rate: float = 0.05,
    sharpness: float = 4.0,
) -> tuple[dict[str, float], dict[str, float]]:
    """(weights summing to 1, each component's AP on the injected anomalies).

    AP ranks each injected anomaly by its highest error over its rows against every
    untouched row: finding a shift on its third row counts as finding it.
    """
    injected, events, touched = inject(X, seed, shift_length, label_length, settle)
    errors = errors_of(injected)
    # rows that some component already finds unusual before injection are probably real
    # anomalies nobody labelled: leave them out rather than count them as false alarms
    before = errors_of(X)
    natural = np.any([e > np.quantile(e, 1 - natural_rate) for e in before.values()], axis=0)
    moves: list[tuple[int, int]] = []
    moved_errors: dict[str, np.ndarray] = {}
    if X.shape[1] > 1:  # several columns: a member should not fire when they move together
        moved, moves = inject_moves(X, seed, shift_length, label_length, settle, ~natural)
        moved_errors = errors_of(moved) if moves else {}
    negatives = ~touched & ~natural
    labels = np.concatenate(
        [np.ones(len(events), bool), np.zeros(len(moves) + int(negatives.sum()), bool)]
    )
    prevalence = float(labels.mean())
    aps = {}
    for name, e in errors.items():
        found = [e[a : b + 1].max() for a, b in events]
        found += [moved_errors[name][a : b + 1].max() for a, b in moves]
        aps[name] = average_precision(labels, np.concatenate([found, e[negatives]]))
    lift = {
        name: (max(ap - prevalence, 0.0) / (1 - prevalence)) ** sharpness
        for name, ap in aps.items()
    }
    total = sum(lift.values())
    if total <= 0:
        return dict.fromkeys(errors, 1.0 / len(errors)), aps
    return {name: v / total for name, v in lift.items()}, aps
