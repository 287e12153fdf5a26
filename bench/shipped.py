"""The shipped path, for benchmarks: one series streamed as a deployed monitor sees it.

The streaming itself lives in anomwatch/replay.py (`anomwatch preview` replays a
monitor through it too); this module keeps the benchmarks' imports and the
label-swept "oracle" view of the same run.
"""

from __future__ import annotations

import numpy as np

from anomwatch.config import RetrainPolicy
from anomwatch.replay import StreamResult, stream_series
from detector.events import EventParams, track_events

__all__ = ["StreamResult", "event_starts", "retrain_policy", "stream_series"]


def retrain_policy(window: str | None = None, every: str | None = None) -> RetrainPolicy:
    """The product's default RetrainPolicy, with `window`/`every` ("28d", "12h") replaced
    where given: the benchmarks' --retrain-window/--retrain-every. A bad duration is a
    ValueError of one line."""
    given = {k: v for k, v in (("window", window), ("every", every)) if v}
    try:
        policy = RetrainPolicy.model_validate(given)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        detail = errors()[0]["msg"] if callable(errors) else str(exc)
        raise ValueError(f"retrain policy {given}: {detail}") from None
    if policy.window.total_seconds() <= 0:
        raise ValueError(f"retrain policy {given}: the window must be longer than 0")
    return policy


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
