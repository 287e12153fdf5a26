"""The shipped path, replayed: one series streamed as a deployed monitor sees it.

Rows arrive in tick-sized chunks; before a chunk the model is refitted when it is
older (in data time) than the monitor's `retrain.every`, on the rows of the last
`retrain.window` (at most `retrain.max_points`), as the ticks' training rule does
(tasks/extract.py `training_reason`); each chunk is scored with the detector's own
`context_rows` and its own fitted threshold and alarm logic; flags become alert
events with the product's tracker (detector/events.py), carrying the open event from
chunk to chunk as the store does. Nothing here is tuned on labels and nothing is
stored: `anomwatch preview` and the benchmarks (bench/shipped.py) both stream here,
so what a preview shows is what the benchmarks measure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from anomwatch.config import RetrainPolicy, SeverityPolicy
from detector import DetectorConfig, EnsembleDetector, InsufficientDataError
from detector.events import EventParams, OpenEvent, track_events


@dataclass
class StreamResult:
    score: np.ndarray  # (n,) calibrated score, 0 where not scored
    flags: np.ndarray  # (n,) the detector's own decision
    opened: np.ndarray  # (n,) an alert event opened at this row (the page)
    notified: np.ndarray  # (n,) any row that sends a message (opened, escalated, new normal)
    fits: int = 0
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # every alert event in time order, in its final state (the last may still be open)
    events: list[OpenEvent] = field(default_factory=list)
    open: OpenEvent | None = None  # the event still open after the last row
    # expected value and band of the first value column, NaN where not scored (keep_band)
    expected: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


def stream_series(
    values: np.ndarray,
    ts: np.ndarray,
    first_train_end: int,
    config: DetectorConfig | None = None,
    retrain: RetrainPolicy | None = None,
    events: EventParams | None = None,
    tick_rows: int = 12,
    severity: SeverityPolicy | None = None,
    keep_band: bool = False,
    on_fit: Callable[[int, int], None] | None = None,
) -> StreamResult:
    """Stream rows first_train_end.. through the shipped path (defaults when None).

    `on_fit(done, total)` is called after each refit with the streamed rows before it and
    all rows to stream (progress of long replays).
    """
    config = config or DetectorConfig()
    retrain = retrain or RetrainPolicy()
    events = events or EventParams()
    severity = severity or SeverityPolicy()
    X = np.asarray(values, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    ts = np.asarray(ts).astype("datetime64[us]")
    n = len(X)
    out = StreamResult(
        score=np.zeros(n),
        flags=np.zeros(n, bool),
        opened=np.zeros(n, bool),
        notified=np.zeros(n, bool),
    )
    if keep_band:
        out.expected, out.lower, out.upper = (np.full(n, np.nan) for _ in range(3))
    window = np.timedelta64(retrain.window, "us")
    # Ticks start every tick_rows rows; the model is refitted at the first tick more than
    # `every` after the last fit. Scoring with context_rows and the event tracker are
    # exact under any split into ticks (tests/detector), so the rows between two fits
    # are scored and tracked in one call: the same result as tick by tick, faster.
    ticks = list(range(first_train_end, n, max(1, tick_rows)))
    fits: list[int] = []
    for start in ticks:
        if not fits or retrain.is_due(ts[fits[-1] - 1], ts[start - 1]):  # as the tick decides
            fits.append(start)
    carried: OpenEvent | None = None
    model: EnsembleDetector | None = None
    for i, start in enumerate(fits):
        end = fits[i + 1] if i + 1 < len(fits) else n
        now = ts[start - 1]
        lo = int(np.searchsorted(ts, now - window, side="right"))
        lo = max(lo, start - retrain.max_points)
        began = time.perf_counter()
        try:
            model = EnsembleDetector(config).fit(X[lo:start], ts=ts[lo:start])
            out.fits += 1
        except InsufficientDataError as exc:
            out.notes.append(f"rows {lo}-{start}: {exc}")  # the previous model stays
        out.fit_seconds += time.perf_counter() - began
        if on_fit is not None:
            on_fit(start - first_train_end, n - first_train_end)
        if model is None:
            continue
        context = max(0, start - config.context_rows)
        began = time.perf_counter()
        detection = model.score(X[context:end], ts=ts[context:end])
        out.score_seconds += time.perf_counter() - began
        k = start - context
        score = detection.score[k:]
        flags = detection.is_anomaly[k:]
        out.score[start:end] = score
        out.flags[start:end] = flags
        if out.expected is not None and out.lower is not None and out.upper is not None:
            out.expected[start:end] = detection.expected[k:, 0]
            out.lower[start:end] = detection.lower[k:, 0]
            out.upper[start:end] = detection.upper[k:, 0]
        rank = severity.ranks(score, detection.margin_of(slice(k, None)))
        feed = track_events(
            ts[start:end], flags, score, rank, events, carried, detection.hold_of(slice(k, None))
        )
        if carried is not None and feed.events:
            out.events[-1] = feed.events[0]  # the carried event, continued
            out.events += feed.events[1:]
        else:
            out.events += feed.events
        carried = feed.open
        out.opened[start + feed.opened_rows()] = True
        out.notified[start + feed.notifying_rows()] = True
    out.open = carried
    return out
