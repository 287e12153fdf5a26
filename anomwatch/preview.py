"""`anomwatch preview`: what a monitor would have sent over a past range, before it is on.

The monitor's rows are read from its source (read-only, the backfill's bulk reader)
and each series is streamed through the shipped path (anomwatch/replay.py: refits
every `retrain.every` of data time on the last `retrain.window`, the detector's own
threshold, the product's alert events). Nothing is written to the store and nothing
is sent: no monitor registration, no model files, no outbox rows. `--set key=value`
changes the configuration for this replay only, validated by the same pydantic model
as monitors.yaml, so a user can tune alert noise and see the effect first.

What the replay does not reproduce: a threshold tuned from feedback labels
(`anomalies tune`), snoozes and the hourly message cap (which delay or drop messages,
not events); `lstm_sharing: per_monitor` trains each series' own LSTM here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cronsim import CronSim
from pydantic import ValidationError

from anomwatch.bulk_read import BulkReader, RawChunk, SeriesChunk
from anomwatch.config import MonitorConfig
from anomwatch.errors import AnomwatchError, ConfigError
from anomwatch.replay import StreamResult, stream_series
from anomwatch.source import SourceReader
from anomwatch.store.events import SEVERITY_NAME, SEVERITY_RANK

# Groups of monitors.yaml a --set may change; any other first key is a detector setting.
SETTABLE_GROUPS = ("detector", "retrain", "events", "severity", "notify")
PLOT_SERIES = 6  # panels in the plot: the series with the most events


class PreviewError(AnomwatchError):
    """The preview cannot run as asked (bad --set, empty range)."""


@dataclass(frozen=True)
class PreviewEvent:
    series: str
    start: datetime
    end: datetime  # the last anomalous point
    peak_score: float
    severity: str
    status: str  # resolved, or open / new_normal at the end of the range
    sent: bool  # at or above the targets' min_severity


@dataclass
class SeriesReplay:
    key: str
    ts: np.ndarray  # datetime64[us], training rows included
    values: np.ndarray  # first value column
    first_scored: int  # rows before this index trained the first model
    result: StreamResult


@dataclass
class Preview:
    monitor: MonitorConfig
    since: datetime
    until: datetime
    series: list[SeriesReplay] = field(default_factory=list)
    events: list[PreviewEvent] = field(default_factory=list)
    rows_read: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows_scored(self) -> int:
        return sum(len(s.ts) - s.first_scored for s in self.series)

    @property
    def fits(self) -> int:
        return sum(s.result.fits for s in self.series)

    def sent(self) -> list[PreviewEvent]:
        return [e for e in self.events if e.sent]


# -- settings -----------------------------------------------------------------------


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _path(key: str) -> list[str]:
    parts = key.split(".")
    return parts if parts[0] in SETTABLE_GROUPS else ["detector", *parts]


def apply_sets(monitor: MonitorConfig, sets: list[str]) -> MonitorConfig:
    """The monitor with `key=value` overrides (JSON values, dotted keys; a bare key is a
    detector setting), validated as monitors.yaml is; a bad key or value is an error."""
    if not sets:
        return monitor
    data = monitor.model_dump()
    paths: list[tuple[str, str]] = []
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise PreviewError(f"--set {item!r}: expected key=value, e.g. --set threshold_sigma=4")
        path = _path(key.strip())
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise PreviewError(f"--set {item!r}: {part!r} is not a group of settings")
            node = child
        node[path[-1]] = _value(raw)
        paths.append((".".join(path), item))
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            culprit = next((i for p, i in paths if where.startswith(p) or p.startswith(where)), "")
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting (see README 'monitors.yaml reference')"
            prefix = f"--set {culprit}: " if culprit else "--set: "
            lines.append(f"{prefix}{where or '(monitor)'}: {message}")
        raise PreviewError("; ".join(lines)) from None
    except ConfigError as exc:  # e.g. a notify target apprise cannot parse
        raise PreviewError(f"--set: {exc}") from None


def changed_settings(sets: list[str]) -> list[str]:
    """The --set items as full paths, for the header line."""
    out = []
    for item in sets:
        key, _, raw = item.partition("=")
        out.append(f"{'.'.join(_path(key.strip()))}={raw}")
    return out


# -- reading --------------------------------------------------------------------------


def read_rows(
    monitor: MonitorConfig,
    since: datetime,
    until: datetime,
    chunk_rows: int = 100_000,
    on_rows: Callable[[int, int], None] | None = None,
) -> tuple[SeriesChunk, int]:
    """Clean rows with since < ts <= until, sorted by (series, ts), and how many were read."""
    with SourceReader(monitor) as reader:
        total = reader.count_range(since, until)
        bulk = BulkReader(reader)
        chunks: list[RawChunk] = []
        read = 0
        for chunk in bulk.iter_raw(since, until, chunk_rows, total):
            chunks.append(chunk)
            read += len(chunk)
            if on_rows is not None:
                on_rows(read, total)
        if not read:
            return bulk.tidy(RawChunk(np.array([], "datetime64[us]"), [], np.zeros((0, 1)))), 0
        raw = RawChunk(
            np.concatenate([c.ts for c in chunks]),
            [np.concatenate([c.dims[i] for c in chunks]) for i in range(len(chunks[0].dims))],
            np.concatenate([c.values for c in chunks]),
        )
        return bulk.tidy(raw), read


def tick_rows(monitor: MonitorConfig, ts: np.ndarray) -> int:
    """Rows per scheduled tick: the schedule's period over the data's median step."""
    if len(ts) < 3:
        return 1
    step = float(np.median(np.diff(ts).astype("timedelta64[us]").astype(np.int64)))
    runs = CronSim(monitor.schedule, datetime(2026, 1, 5))
    first, second = next(runs), next(runs)
    period = (second - first).total_seconds() * 1e6
    return max(1, round(period / step)) if step > 0 else 1


# -- the replay -----------------------------------------------------------------------


def run_preview(
    monitor: MonitorConfig,
    since: datetime,
    until: datetime,
    progress: Callable[[str], None] | None = None,
) -> Preview:
    """Replay `monitor` over (since, until]: its events, nothing stored or sent."""
    if until <= since:
        raise PreviewError(f"--until ({until:%Y-%m-%d %H:%M}) must be after --since")
    say = progress or (lambda _line: None)
    began = time.monotonic()
    window = monitor.retrain.window
    last_said = [0.0]

    def rows_read(read: int, total: int) -> None:
        if time.monotonic() - last_said[0] >= 5:
            last_said[0] = time.monotonic()
            say(f"reading rows: {read:,} of {total:,}")

    chunk, read = read_rows(monitor, since - window, until, on_rows=rows_read)
    if not read:
        raise PreviewError(
            f"monitor {monitor.name!r}: no rows in the source between "
            f"{since - window:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC"
        )
    say(f"read {read:,} rows of {len(chunk.keys)} series in {time.monotonic() - began:.1f} s")
    out = Preview(monitor, since, until, rows_read=read)
    for note, count in (("duplicate timestamps", chunk.duplicates), ("NaN", chunk.dropped_nan)):
        if count:
            out.notes.append(f"{count:,} row(s) with {note} handled by the source policy")
    order = sorted(range(len(chunk.keys)), key=lambda i: chunk.keys[i])
    for n, i in enumerate(order, start=1):
        key = chunk.keys[i]
        lo, hi = int(chunk.starts[i]), int(chunk.starts[i + 1])
        started = time.monotonic()
        label = f"[{n}/{len(order)}] {key}"
        replay = _replay_series(
            monitor, key, chunk.ts[lo:hi], chunk.values[lo:hi], since, out, _every(10, say, label)
        )
        if replay is None:
            continue
        out.series.append(replay)
        say(
            f"{label}: {len(replay.ts) - replay.first_scored:,} rows scored, "
            f"{replay.result.fits} fit(s), {len(replay.result.events)} event(s) "
            f"({time.monotonic() - started:.1f} s)"
        )
    out.events = sorted(
        (e for s in out.series for e in _events(monitor, s)), key=lambda e: (e.start, e.series)
    )
    return out


def _replay_series(
    monitor: MonitorConfig,
    key: str,
    ts: np.ndarray,
    X: np.ndarray,
    since: datetime,
    out: Preview,
    on_fit: Callable[[int, int], None] | None = None,
) -> SeriesReplay | None:
    first = int(np.searchsorted(ts, np.datetime64(since, "us"), side="right"))
    if first == len(ts):
        out.notes.append(f"{key}: no rows in the range (only older ones)")
        return None
    need = monitor.detector.min_train_points
    if first < need:  # as the first ticks would: train once enough rows have come
        baseline = min(need, len(ts))
        out.notes.append(
            f"{key}: {first} row(s) before --since (a model needs {need}); the first "
            f"{baseline - first} row(s) of the range were its training baseline, not scored"
        )
        first = baseline
    if first >= len(ts):
        return None
    result = stream_series(
        X,
        ts,
        first,
        monitor.detector,
        monitor.retrain,
        monitor.events,
        tick_rows=tick_rows(monitor, ts),
        severity=monitor.severity,
        keep_band=True,
        on_fit=on_fit,
    )
    out.notes += [f"{key}: {note}" for note in result.notes]
    return SeriesReplay(key, ts, X[:, 0], first, result)


def _every(seconds: float, say: Callable[[str], None], label: str) -> Callable[[int, int], None]:
    """A refit callback that reports a long series' progress at most every `seconds`."""
    last = [time.monotonic()]

    def report(row: int, n: int) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            say(f"{label}: {row / max(n, 1):.0%} of its rows scored")

    return report


def severity_floor(monitor: MonitorConfig) -> str:
    """The lowest severity any target hears of (the digest's own rule)."""
    floors = [t.min_severity for t in monitor.notify.target_list()] or [monitor.notify.min_severity]
    return min(floors, key=SEVERITY_RANK.__getitem__)


def _events(monitor: MonitorConfig, replay: SeriesReplay) -> list[PreviewEvent]:
    floor = SEVERITY_RANK[severity_floor(monitor)]
    result = []
    for i, ev in enumerate(replay.result.events):
        still_open = i == len(replay.result.events) - 1 and replay.result.open is not None
        result.append(
            PreviewEvent(
                series=replay.key,
                start=ev.start.astype("datetime64[us]").item(),
                end=ev.last.astype("datetime64[us]").item(),
                peak_score=float(ev.peak_score),
                severity=SEVERITY_NAME[ev.severity],
                status=("new_normal" if ev.new_normal else "open") if still_open else "resolved",
                sent=ev.severity >= floor,
            )
        )
    return result


# -- tables ---------------------------------------------------------------------------


def week_start(value: datetime) -> datetime:
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly_rows(preview: Preview) -> tuple[list[dict[str, Any]], list[str]]:
    """Sent events per series per week (weeks from Monday), with a total and a daily rate."""
    weeks: list[datetime] = []
    week = week_start(preview.since)
    while week <= preview.until:
        weeks.append(week)
        week += timedelta(days=7)
    labels = [f"{w:%Y-%m-%d}" for w in weeks]
    days = (preview.until - preview.since).total_seconds() / 86400
    rows = []
    for replay in preview.series:
        mine = [e for e in preview.events if e.series == replay.key and e.sent]
        counts = pd.Series([f"{week_start(e.start):%Y-%m-%d}" for e in mine]).value_counts()
        row: dict[str, Any] = {"series": replay.key}
        row |= {label: int(counts.get(label, 0)) for label in labels}
        row["total"] = len(mine)
        row["per day"] = f"{len(mine) / days:.2f}" if days > 0 else "-"
        rows.append(row)
    return rows, ["series", *labels, "total", "per day"]


# -- plot -----------------------------------------------------------------------------


def draw_preview(preview: Preview, path: Path) -> Path:
    """One panel per series (the PLOT_SERIES with the most events sent): the scored rows,
    the expected band and the flagged points."""
    from anomwatch.plots import SeriesPlot, plot_series

    sent: dict[str, int] = {}
    for e in preview.sent():
        sent[e.series] = sent.get(e.series, 0) + 1
    chosen = sorted(preview.series, key=lambda s: (-sent.get(s.key, 0), s.key))[:PLOT_SERIES]
    panels = []
    for replay in chosen:
        lo = replay.first_scored
        band = replay.result
        panels.append(
            SeriesPlot(
                title=f"{replay.key}: {sent.get(replay.key, 0)} event(s) sent",
                ts=pd.Series(pd.to_datetime(replay.ts[lo:])),
                values=replay.values[lo:],
                expected=None if band.expected is None else band.expected[lo:],
                lower=None if band.lower is None else band.lower[lo:],
                upper=None if band.upper is None else band.upper[lo:],
                anomalous=band.flags[lo:],
            )
        )
    if not panels:
        raise PreviewError("nothing to plot: no series was scored")
    shown = (
        ""
        if len(preview.series) <= PLOT_SERIES
        else f" ({len(panels)} of {len(preview.series)} series)"
    )
    title = (
        f"preview {preview.monitor.name}: {preview.since:%Y-%m-%d %H:%M} to "
        f"{preview.until:%Y-%m-%d %H:%M} UTC{shown}"
    )
    return plot_series(panels, path, title)
