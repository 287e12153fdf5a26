"""What scoring returns: one value per input row, for every field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hold:
    """Per row, what keeps an incident's alert event open once its members have adapted
    to the incident's level (detector/events.py reads it; one bool array each, (n,))."""

    # most of the last level_shift.recent rows (deseasoned) lie beyond the training rows'
    # 0.5-99.5% range on one side: the incident is still under way
    away: np.ndarray
    # away, or the residual's window still holds level_shift.recent away rows (its line
    # leans on the incident): the rows that hold an open event open
    held: np.ndarray
    # beyond the training range and further out than the residual expects, or away on
    # the other side than earlier in its window: a flagged row so is a new incident, not
    # the return, and ends the hold of the one before
    departing: np.ndarray

    @classmethod
    def of(
        cls, held: np.ndarray, away: np.ndarray | None = None, departing: np.ndarray | None = None
    ) -> Hold:
        """Bool arrays; `away` defaults to every held row, `departing` to none."""
        held = np.asarray(held, dtype=bool)
        return cls(
            away=held if away is None else np.asarray(away, dtype=bool),
            held=held,
            departing=np.zeros(len(held), bool)
            if departing is None
            else np.asarray(departing, dtype=bool),
        )

    def __getitem__(self, rows: slice | np.ndarray) -> Hold:
        return Hold(self.away[rows], self.held[rows], self.departing[rows])


@dataclass(frozen=True)
class Detection:
    score: np.ndarray  # (n,) calibrated ensemble score in [0, 1]
    is_anomaly: np.ndarray  # (n,) bool: crossings, or alarms when alarm aggregation is on
    threshold: float
    components: dict[str, np.ndarray]  # component -> (n,) calibrated score (contributions)
    expected: np.ndarray  # (n, f)
    lower: np.ndarray  # (n, f)
    upper: np.ndarray  # (n, f)
    crossed: np.ndarray | None = None  # (n,) bool: score >= threshold, before aggregation
    errors: np.ndarray | None = None  # (n,) combined (smoothed) error the threshold acts on
    # (n,) that error as a multiple of the model's error threshold (sigma/dynamic only):
    # how far past its own alert line a row is, whatever the history's length
    margin: np.ndarray | None = None
    # (n,) what holds an open alert event open after its members have adapted
    hold: Hold | None = None

    def margin_of(self, rows: slice | np.ndarray) -> np.ndarray | None:
        """These rows' margin; None when the model has no error threshold."""
        return None if self.margin is None else self.margin[rows]

    def hold_of(self, rows: slice | np.ndarray) -> Hold | None:
        """These rows' hold; None for detections made without one."""
        return None if self.hold is None else self.hold[rows]


@dataclass(frozen=True)
class ComponentOutput:
    """A component's view of each row: calibrated score and error in noise sigmas."""

    calibrated: np.ndarray  # (n,) in [0, 1]
    errors: np.ndarray  # (n,) >= 0, about |N(0, 1)| on normal rows
    expected: np.ndarray | None = None  # (n, f) forecast, if the component makes one


def half_normal_errors(calibrated: np.ndarray) -> np.ndarray:
    """Calibrated score (uniform on training rows) → the |N(0, 1)| quantile: an error in
    sigmas for components without a natural residual (the Isolation Forest)."""
    from scipy.special import ndtri  # here: reading a config should not load scipy

    upper = np.nextafter(1.0, 0.0)  # ndtri(1) is inf: a score of 1 maps to about 8.2
    return np.asarray(ndtri(np.clip((1.0 + calibrated) / 2.0, 0.5, upper)), dtype=float)
