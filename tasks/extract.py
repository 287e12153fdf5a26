"""Extract: the rows that arrived since each series' watermark, plus sequence context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from anomwatch.config import MonitorConfig
from anomwatch.source import SERIES_COLUMN, TS_COLUMN, SourceReader
from anomwatch.store.anomalies import get_watermarks
from anomwatch.store.db import Store
from tasks.base import pipeline_task, retry_if_transient


@dataclass
class TickData:
    """Everything the rest of a tick needs from the source.

    `rows` holds, per series, up to sequence_length-1 context rows at or before the
    series' watermark followed by every row after it (up to `until`).
    """

    until: datetime
    watermarks: dict[str, datetime]
    rows: pd.DataFrame
    rows_read: int = 0
    notes: list[str] = field(default_factory=list)

    def new_rows(self, series: str) -> pd.DataFrame:
        part = self.rows[self.rows[SERIES_COLUMN] == series]
        mark = self.watermarks.get(series)
        return part if mark is None else part[part[TS_COLUMN] > mark]

    def context_rows(self, series: str, k: int) -> pd.DataFrame:
        mark = self.watermarks.get(series)
        if mark is None or k <= 0:
            return self.rows.iloc[0:0]
        part = self.rows[self.rows[SERIES_COLUMN] == series]
        return part[part[TS_COLUMN] <= mark].tail(k)

    def series(self) -> list[str]:
        return sorted(set(self.rows[SERIES_COLUMN].unique()) | set(self.watermarks))


def extract_rows(monitor: MonitorConfig, store: Store, until: datetime) -> TickData:
    marks = get_watermarks(store, monitor.name)
    with SourceReader(monitor) as reader:
        reader.source_clause()  # checks table, columns and types before anything else
        if not marks:
            empty = reader.read_range(until, until)
            return TickData(until=until, watermarks={}, rows=empty.frame)
        since = min(marks.values())
        new = reader.read_range(since, until)
        context = reader.read_last(
            since, monitor.detector.sequence_length - 1, monitor.source.context_lookback
        )
    rows = (
        pd.concat([context.frame, new.frame], ignore_index=True)
        .drop_duplicates([SERIES_COLUMN, TS_COLUMN], keep="last")
        .sort_values([SERIES_COLUMN, TS_COLUMN], kind="stable")
        .reset_index(drop=True)
    )
    return TickData(
        until=until,
        watermarks=marks,
        rows=rows,
        rows_read=new.rows_read + context.rows_read,
        notes=new.notes + context.notes,
    )


extract_task = pipeline_task(
    "extract", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_if_transient
)(extract_rows)
