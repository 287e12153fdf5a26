"""Extract: everything a tick reads from the source, in at most three queries.

New rows since the oldest watermark, sequence context before it, and (only when
some series must be (re)trained) the training history. Rows are then split per
series so batches can be scored independently, on threads or Dask workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from anomwatch.config import MonitorConfig
from anomwatch.durations import format_duration
from anomwatch.errors import SourceError
from anomwatch.retry import RetryPolicy, call_with_retries
from anomwatch.source import SERIES_COLUMN, TS_COLUMN, Extract, SourceReader
from anomwatch.store.anomalies import get_watermarks
from anomwatch.store.db import Store
from anomwatch.store.models_registry import ModelRecord, active_models
from anomwatch.store.runs import last_read_window
from anomwatch.store.tuning import active_threshold
from tasks.base import pipeline_task


@dataclass
class SeriesWork:
    """One series' share of a tick."""

    series: str
    watermark: datetime | None
    rows: pd.DataFrame  # context rows (ts <= watermark) then new rows (ts > watermark)
    model: ModelRecord | None
    train_reason: str | None = None  # why it must be (re)trained, None to reuse
    history: pd.DataFrame | None = None  # training rows when train_reason is set

    def new_rows(self) -> pd.DataFrame:
        if self.watermark is None:
            return self.rows.iloc[0:0]
        return self.rows[self.rows[TS_COLUMN] > self.watermark]

    def context_rows(self) -> pd.DataFrame:
        if self.watermark is None:
            return self.rows.iloc[0:0]
        return self.rows[self.rows[TS_COLUMN] <= self.watermark]


MAX_WINDOW_EXCEPTIONS = 1000  # beyond this, a window is not kept (runs.details stays small)


@dataclass
class ReadWindow:
    """Rows per series with lo < ts <= hi as a tick saw them. Every such row is at or
    before its series' new watermark, so a row that shows up there later arrived late:
    it is counted (and left to a backfill), never silently scored.

    Stored compactly: the usual count (`default`) and the series that differ."""

    lo: datetime
    hi: datetime
    counts: dict[str, int]
    default: int | None = None  # None: counts lists every series; else the usual count

    def count(self, series: str) -> int:
        return self.counts.get(series, self.default or 0)

    def to_json(self) -> dict[str, Any] | None:
        if self.default is None:
            values = list(self.counts.values())
            usual = max(set(values), key=values.count) if values else 0
            other = {s: n for s, n in self.counts.items() if n != usual}
        else:
            usual, other = self.default, self.counts
        if len(other) > MAX_WINDOW_EXCEPTIONS:
            return None
        return {"lo": self.lo.isoformat(), "hi": self.hi.isoformat(), "n": usual, "other": other}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReadWindow | None:
        try:
            assert data is not None
            return cls(
                datetime.fromisoformat(data["lo"]),
                datetime.fromisoformat(data["hi"]),
                {str(k): int(v) for k, v in data["other"].items()},
                int(data["n"]),
            )
        except (AssertionError, KeyError, TypeError, ValueError, AttributeError):
            return None


def late_rows(previous: ReadWindow, counts_now: dict[str, int]) -> dict[str, int]:
    """Rows per series that appeared in the previous window after it was read
    (counts_now: only series whose watermark is at or past the window's end)."""
    return {s: n - previous.count(s) for s, n in counts_now.items() if n > previous.count(s)}


@dataclass
class TickData:
    until: datetime
    work: dict[str, SeriesWork]
    min_score: float | None = None  # threshold tuned from feedback labels, if any
    rows_read: int = 0
    notes: list[str] = field(default_factory=list)
    since: datetime | None = None  # oldest watermark: new rows were read from here
    new_raw: pd.DataFrame | None = None  # series and ts of the new rows, before cleaning
    late: dict[str, int] = field(default_factory=dict)  # late rows per series, not scored
    previous_window: ReadWindow | None = None

    def read_window(self, new_marks: dict[str, datetime]) -> ReadWindow | None:
        """The window this tick vouches for once its watermarks moved to new_marks:
        (oldest old watermark, oldest new watermark], for the series it scored. A tick
        that scored nothing carries the previous window on, with today's counts."""
        if self.since is not None and new_marks and self.new_raw is not None:
            hi = min(new_marks.values())
            if hi > self.since:
                raw = self.new_raw[
                    (self.new_raw[TS_COLUMN] > self.since) & (self.new_raw[TS_COLUMN] <= hi)
                ]
                seen = raw[SERIES_COLUMN].value_counts()
                counts = {str(s): int(n) for s, n in seen.items()}
                for s in new_marks:
                    counts.setdefault(s, 0)
                return ReadWindow(self.since, hi, counts)
        previous = self.previous_window
        if previous is None:
            return None
        refreshed = dict(previous.counts)
        for s, n in self.late.items():
            refreshed[s] = previous.count(s) + n
        return ReadWindow(previous.lo, previous.hi, refreshed, previous.default)

    def series(self) -> list[str]:
        return sorted(self.work)

    def batches(self, size: int) -> list[list[SeriesWork]]:
        ordered = [self.work[s] for s in self.series()]
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def training_reason(
    record: ModelRecord | None, monitor: MonitorConfig, anchor: datetime, config_hash: str
) -> str | None:
    """Why a series needs a new model now, or None when its model can be reused."""
    if record is None:
        return "no model yet"
    if record.config_hash != config_hash:
        return "detector settings changed"
    if record.train_end is None or monitor.retrain.is_due(record.train_end, anchor):
        return "model as old as retrain.every"
    return None


def gap_note(item: SeriesWork, factor: float = 3.0) -> str | None:
    """A note when the new rows of a series follow a gap longer than `factor` times its
    usual step (a silent sensor, a broken ingest): the rows are still scored."""
    if item.watermark is None or len(item.rows) < 4:
        return None
    ts = item.rows[TS_COLUMN].reset_index(drop=True)
    diffs = ts.diff()
    step = diffs.median()
    if pd.isna(step) or step <= pd.Timedelta(0):
        return None
    big = diffs[(diffs > step * factor) & (ts > item.watermark)]
    if big.empty:
        return None
    longest = big.idxmax()
    return (
        f"{item.series}: {len(big)} gap(s) in the data, longest "
        f"{format_duration(big.max().to_pytimedelta())} before "
        f"{ts[longest]:%Y-%m-%d %H:%M:%S} UTC (usual step {format_duration(step.to_pytimedelta())})"
    )


def new_notes(extract: Extract, marks: dict[str, datetime], monitor: MonitorConfig) -> list[str]:
    """The read's notes, with duplicates counted only among rows newer than their series'
    watermark: older rows are read again (context, retraining) and were reported when
    they were new, so the same note does not repeat on every run."""
    if not extract.duplicates or extract.raw is None or not marks:
        return list(extract.notes)
    policy = monitor.source.on_duplicate
    old = f"{extract.duplicates} duplicate timestamp(s) resolved by keeping the {policy}"
    notes = [n for n in extract.notes if n != old]
    raw = extract.raw
    mark = pd.to_datetime(raw[SERIES_COLUMN].map(marks))
    fresh = raw[mark.isna() | (raw[TS_COLUMN] > mark)]
    count = int(fresh.duplicated([SERIES_COLUMN, TS_COLUMN]).sum())
    if count:
        notes.append(f"{count} duplicate timestamp(s) resolved by keeping the {policy}")
    return notes


def _split(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        str(key): part.reset_index(drop=True)
        for key, part in frame.groupby(SERIES_COLUMN, sort=False)
    }


def extract_rows(
    monitor: MonitorConfig, store: Store, until: datetime, policy: RetryPolicy | None = None
) -> TickData:
    """Everything the tick reads; a dropped or timed-out connection is retried with backoff
    (reads only, so a retry is always safe)."""
    return call_with_retries(
        lambda: _extract_once(monitor, store, until),
        monitor.name,
        "extract",
        policy or RetryPolicy.from_settings(),
    )


def _extract_once(monitor: MonitorConfig, store: Store, until: datetime) -> TickData:
    marks = get_watermarks(store, monitor.name)
    models = active_models(store, monitor.name)
    config_hash = monitor.config_hash()
    k = monitor.detector.context_rows  # sequence, residual window, smoothing, alarm
    rows_read = 0
    notes: list[str] = []
    previous = ReadWindow.from_json(last_read_window(store, monitor.name)) if marks else None
    late: dict[str, int] = {}
    new_raw: pd.DataFrame | None = None
    with SourceReader(monitor) as reader:
        reader.source_clause()  # checks table, columns and types before anything else
        if previous is not None:
            counted = reader.count_per_series(previous.lo, previous.hi)
            eligible = {s: n for s, n in counted.items() if s in marks and marks[s] >= previous.hi}
            late = late_rows(previous, eligible)
            if late:
                notes.append(
                    f"{sum(late.values())} row(s) arrived late, at or before their series' "
                    f"watermark (between {previous.lo:%Y-%m-%d %H:%M:%S} and "
                    f"{previous.hi:%Y-%m-%d %H:%M:%S} UTC; "
                    + ", ".join(f"{s}: {n}" for s, n in sorted(late.items()))
                    + "); not scored: run a backfill of that range to score them"
                )
        if marks:
            since = min(marks.values())
            limit = monitor.source.max_rows_per_tick
            new = reader.read_range(since, until, limit=limit)
            new_raw = new.raw
            if new.rows_read >= limit:
                notes.append(f"read limit of {limit} rows reached; later rows come next tick")
            context = reader.read_last(since, k, monitor.source.context_lookback)
            rows_read += new.rows_read + context.rows_read
            notes += new_notes(new, marks, monitor) + new_notes(context, marks, monitor)
            rows = (
                pd.concat([context.frame, new.frame], ignore_index=True)
                .drop_duplicates([SERIES_COLUMN, TS_COLUMN], keep="last")
                .sort_values([SERIES_COLUMN, TS_COLUMN], kind="stable")
            )
        else:
            rows = reader.read_range(until, until).frame  # empty, with the right columns
        per_series = _split(rows)
        empty = rows.iloc[0:0]
        names = set(per_series) | set(marks)
        reasons = {
            s: training_reason(models.get(s), monitor, marks.get(s, until), config_hash)
            for s in names
        }
        history: dict[str, pd.DataFrame] = {}
        if not marks or any(reasons.values()):
            anchors = [marks.get(s, until) for s, r in reasons.items() if r] or [until]
            since = min(anchors) - monitor.retrain.window
            hist = reader.read_range(since, until)
            rows_read += hist.rows_read
            notes += new_notes(hist, marks, monitor)
            history = _split(hist.frame)
            if not marks and not history:
                raise SourceError(
                    f"monitor {monitor.name!r}: the source has no rows between "
                    f"{since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC to train on; check "
                    "the table or query, the timestamp column and source.timezone"
                )
            for s in history:
                if s not in names:
                    names.add(s)
                    reasons[s] = "no model yet"
    work: dict[str, SeriesWork] = {}
    for s in sorted(names):
        mark = marks.get(s)
        item = SeriesWork(s, mark, per_series.get(s, empty), models.get(s), reasons[s])
        if item.train_reason:
            anchor = mark or until
            h = history.get(s, empty)
            h = h[(h[TS_COLUMN] <= anchor) & (h[TS_COLUMN] > anchor - monitor.retrain.window)]
            item.history = h.tail(monitor.retrain.max_points).reset_index(drop=True)
        if mark is not None:
            # keep only the context rows the model needs, then every new row
            ctx = item.rows[item.rows[TS_COLUMN] <= mark].tail(k)
            item.rows = pd.concat([ctx, item.rows[item.rows[TS_COLUMN] > mark]], ignore_index=True)
        work[s] = item
        note = gap_note(item)
        if note:
            notes.append(note)
    return TickData(
        until=until,
        work=work,
        min_score=active_threshold(store, monitor.name),
        rows_read=rows_read,
        notes=notes,
        since=min(marks.values()) if marks else None,
        new_raw=new_raw,
        late=late,
        previous_window=previous,
    )


# Retries happen inside extract_rows (same behaviour with or without Prefect).
extract_task = pipeline_task("extract")(extract_rows)
