"""The shipped path, for benchmarks: one series streamed as a deployed monitor sees it.

The streaming itself lives in anomwatch/replay.py (`anomwatch preview` replays a
monitor through it too); this module keeps the benchmarks' imports and the
label-swept "oracle" view of the same run.
"""

from __future__ import annotations

import numpy as np

from anomwatch.replay import StreamResult, stream_series
from detector.events import EventParams, track_events

__all__ = ["StreamResult", "event_starts", "stream_series"]


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
