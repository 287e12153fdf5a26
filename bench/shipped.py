"""The shipped path, for benchmarks: one series streamed as a deployed monitor sees it.

Rows arrive in tick-sized chunks; before a chunk the model is refitted when it is
older (in data time) than the monitor's `retrain.every`, on the rows of the last
`retrain.window` (at most `retrain.max_points`); each chunk is scored with the
detector's own `context_rows` and its own fitted threshold and alarm logic; flags
become alert events with the product's tracker (detector/events.py), carrying the
open event from chunk to chunk as the store does. Nothing here is tuned on labels.
"""

from __future__ import annotations

import time
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


def stream_series(
    values: np.ndarray,
    ts: np.ndarray,
    first_train_end: int,
    config: DetectorConfig | None = None,
    retrain: RetrainPolicy | None = None,
    events: EventParams | None = None,
    tick_rows: int = 12,
    critical_score: float | None = None,
) -> StreamResult:
    """Stream rows first_train_end.. through the shipped path (defaults when None)."""
    config = config or DetectorConfig()
    retrain = retrain or RetrainPolicy()
    events = events or EventParams()
    critical = critical_score if critical_score is not None else SeverityPolicy().critical_score
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
    every = np.timedelta64(retrain.every, "us")
    window = np.timedelta64(retrain.window, "us")
    # Ticks start every tick_rows rows; the model is refitted at the first tick at least
    # `every` after the last fit. Scoring with context_rows and the event tracker are
    # exact under any split into ticks (tests/detector), so the rows between two fits
    # are scored and tracked in one call: the same result as tick by tick, faster.
    ticks = list(range(first_train_end, n, tick_rows))
    fits: list[int] = []
    for start in ticks:
        if not fits or ts[start - 1] - ts[fits[-1] - 1] >= every:
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
        rank = np.where(score >= critical, 2, 1)
        feed = track_events(ts[start:end], flags, score, rank, events, carried)
        carried = feed.open
        out.opened[start + feed.opened_rows()] = True
        out.notified[start + feed.notifying_rows()] = True
    return out


def event_starts(
    score: np.ndarray,
    ts: np.ndarray,
    threshold: float,
    first_row: int,
    events: EventParams | None = None,
) -> np.ndarray:
    """Rows opening an event when every scored row at or above `threshold` is flagged
    (the label-swept "oracle" view of the same run)."""
    flags = np.asarray(score) >= threshold
    flags[:first_row] = False
    rank = np.ones(len(flags), dtype=np.int64)
    feed = track_events(ts, flags, score, rank, events or EventParams())
    out = np.zeros(len(flags), bool)
    out[feed.opened_rows()] = True
    return out
