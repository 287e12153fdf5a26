"""Bulk reads for backfills: a range of source rows as numpy column chunks.

`SourceReader.iter_range` builds a pandas frame from SQLAlchemy rows, which costs
more than scoring when millions of rows stream by. Here the same statement (same
checked table or query, same binds, same read-only connection) is read with the
DBAPI cursor straight into column arrays: PostgreSQL tables stream with
`COPY (SELECT …) TO STDOUT` in CSV parsed by pandas' C parser; other backends use
the statement's cursor with `fetchmany`. Cleaning follows `SourceReader._tidy`
(timezone to naive UTC, the same series keys, `on_duplicate`, `on_nan`), done
with array operations: sorted once by (series, ts) and sliced per series.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Integer, String

from anomwatch.source import DEFAULT_SERIES, SourceReader, series_keys

_NULL = "\\N"
_PG_NOT_NUMBERS = [_NULL, "NaN", "Infinity", "-Infinity"]


@dataclass
class RawChunk:
    """Rows as read, in source order: naive UTC times, dimension and value columns."""

    ts: np.ndarray  # datetime64[us]; NaT where the source had no usable time
    dims: list[np.ndarray]  # object arrays, one per series column
    values: np.ndarray  # (n, f) float64, NaN for null/NaN/inf

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> RawChunk:
        return RawChunk(self.ts[index], [d[index] for d in self.dims], self.values[index])

    @staticmethod
    def concat(a: RawChunk, b: RawChunk) -> RawChunk:
        return RawChunk(
            np.concatenate([a.ts, b.ts]),
            [np.concatenate([x, y]) for x, y in zip(a.dims, b.dims, strict=True)],
            np.concatenate([a.values, b.values]),
        )


@dataclass
class SeriesChunk:
    """Clean rows sorted by (series, ts); series i owns rows starts[i]:starts[i + 1]."""

    keys: list[str]
    starts: np.ndarray  # len(keys) + 1 boundaries
    ts: np.ndarray  # datetime64[us]
    values: np.ndarray  # (n, f) float64
    dropped_nan: int = 0
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.ts)


class BulkReader:
    """Column-chunk reads of one monitor's source, on top of its SourceReader."""

    def __init__(self, reader: SourceReader) -> None:
        self.reader = reader
        self.config = reader.config

    # -- reading ----------------------------------------------------------------------

    def iter_raw(
        self,
        since: datetime,
        until: datetime,
        chunk_rows: int,
        expected_rows: int | None = None,
        rows_per_statement: int = 1_000_000,
    ) -> Iterator[RawChunk]:
        """Rows with since < ts <= until in time order, chunk_rows at a time (bounded memory).

        The range is read as consecutive time windows of about `rows_per_statement`
        rows (from `expected_rows`), each its own statement: a statement stays open
        while its rows are scored, and source.statement_timeout cancels any one
        statement that runs too long.
        """
        windows = 1
        if expected_rows:
            windows = max(1, -(-expected_rows // max(rows_per_statement, chunk_rows)))
        step = (until - since) / windows
        edges = [since + i * step for i in range(windows)] + [until]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            yield from self._iter_statement(lo, hi, chunk_rows)

    def _iter_statement(
        self, since: datetime, until: datetime, chunk_rows: int
    ) -> Iterator[RawChunk]:
        stmt = self.reader.range_statement(since, until)
        binds = self.reader.binds(since, until)
        with self.reader.database_errors("reading from"), self.reader.engine.connect() as conn:
            if self._copy_works(conn):
                yield from self._copy_chunks(conn, stmt, binds, chunk_rows)
                return
            # SQLite cursors step lazily anyway; elsewhere a server-side cursor
            streaming = conn.dialect.name != "sqlite"
            result = conn.execution_options(stream_results=streaming).execute(stmt, binds)
            cursor = result.cursor  # the DBAPI cursor: plain tuples, no Row objects
            # a streaming result pre-fetches its first raw row(s) into a buffer: take them too
            head = list(getattr(result.cursor_strategy, "_rowbuffer", ()))
            try:
                while rows := head + list(cursor.fetchmany(chunk_rows - len(head))):
                    head = []
                    yield self._from_tuples(rows)
            finally:
                result.close()

    def _copy_works(self, conn: Any) -> bool:
        """COPY for PostgreSQL tables whose series columns print as Python prints them."""
        if conn.dialect.name != "postgresql" or self.config.table is None:
            return False
        if conn.dialect.driver != "psycopg":  # psycopg 3: cursor.copy()
            return False
        if self.reader.tz_aware_column:
            return False
        table: Any = self.reader.source_clause()
        return all(isinstance(table.c[c].type, (String, Integer)) for c in self.config.series)

    def _copy_chunks(
        self, conn: Any, stmt: Any, binds: dict[str, Any], chunk_rows: int
    ) -> Iterator[RawChunk]:
        compiled = stmt.compile(dialect=conn.dialect)
        params = compiled.construct_params(binds)
        sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv, NULL '{_NULL}')"
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(sql, params) as copy:
            block: list[bytes] = []
            for row in copy:  # one row per item
                block.append(bytes(row))
                if len(block) >= chunk_rows:
                    yield self._from_csv(b"".join(block))
                    block = []
            if block:
                yield self._from_csv(b"".join(block))

    def _from_csv(self, data: bytes) -> RawChunk:
        cfg = self.config
        names = [cfg.timestamp, *cfg.series, *cfg.values]
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=names,
            dtype={**{c: object for c in [cfg.timestamp, *cfg.series]}},
            keep_default_na=False,
            na_values={
                cfg.timestamp: [_NULL],
                **{c: [_NULL] for c in cfg.series},
                **{c: _PG_NOT_NUMBERS for c in cfg.values},
            },
        )
        dims = [_none_for_null(frame[c]) for c in cfg.series]
        columns = {c: frame[c] for c in cfg.values}
        return RawChunk(
            self._times(frame[cfg.timestamp].to_numpy(object)), dims, self._values(columns)
        )

    def _from_tuples(self, rows: list[Any]) -> RawChunk:
        cfg = self.config
        # one column at a time: zip(*rows) over 100,000s of rows is 15x slower
        columns = [list(map(itemgetter(i), rows)) for i in range(len(rows[0]))]
        dims = [np.array(columns[1 + i], dtype=object) for i in range(len(cfg.series))]
        offset = 1 + len(cfg.series)
        values = {c: columns[offset + i] for i, c in enumerate(cfg.values)}
        return RawChunk(self._times(np.array(columns[0], dtype=object)), dims, self._values(values))

    def _times(self, raw: np.ndarray) -> np.ndarray:
        """Source times → naive UTC datetime64[us]; each distinct time converted once
        (a chunk holds every series at the same few times), ISO text parsed in C."""
        codes, uniques = pd.factorize(raw)
        distinct = pd.Series(uniques, dtype=object)
        parsed: pd.Series = distinct
        if len(distinct) and isinstance(distinct.iloc[0], str):
            try:
                parsed = pd.to_datetime(distinct, format="ISO8601")
            except (ValueError, TypeError):
                parsed = distinct  # SourceReader.to_utc names the bad value
        converted = self.reader.to_utc(parsed).to_numpy("datetime64[us]")
        out = np.append(converted, np.datetime64("NaT", "us"))  # code -1: a NULL time
        return out[codes]

    def _values(self, columns: dict[str, Any]) -> np.ndarray:
        """Numeric columns as float64; NaN/inf become NaN (handled by on_nan)."""
        out = np.empty((len(next(iter(columns.values()))), len(columns)), dtype=np.float64)
        for j, (name, raw) in enumerate(columns.items()):
            try:
                out[:, j] = np.asarray(raw, dtype=np.float64)  # floats, ints, Decimals, None
            except (TypeError, ValueError):  # the reader's check names the bad value
                out[:, j] = self.reader.numeric_values(
                    pd.Series(raw, dtype=object), name
                ).to_numpy()
        out[np.isinf(out)] = np.nan
        return out

    # -- cleaning ---------------------------------------------------------------------

    def tidy(self, raw: RawChunk) -> SeriesChunk:
        """Sorted by (series, ts), duplicates and NaN handled as `SourceReader._tidy` does."""
        good = ~np.isnat(raw.ts)
        if not good.all():
            raw = raw.take(np.flatnonzero(good))
        codes, keys = self._series_codes(raw)
        order = np.lexsort((raw.ts, codes))  # stable: duplicates keep their read order
        codes, ts, values = codes[order], raw.ts[order], raw.values[order]
        duplicates = 0
        if len(ts) > 1:
            same = (codes[1:] == codes[:-1]) & (ts[1:] == ts[:-1])
            if same.any():
                duplicates = int(same.sum())
                policy = self.config.on_duplicate
                if policy == "reject":
                    i = int(np.flatnonzero(same)[0])
                    raise self.reader.source_error(
                        f"{duplicates} duplicate timestamp(s), e.g. series {keys[codes[i]]!r} at "
                        f"{pd.Timestamp(ts[i])}; set source.on_duplicate to 'last' or 'first' "
                        "to accept"
                    )
                keep = np.ones(len(ts), dtype=bool)
                if policy == "last":
                    keep[:-1] = ~same
                else:
                    keep[1:] = ~same
                codes, ts, values = codes[keep], ts[keep], values[keep]
        codes, ts, values, dropped = self._handle_nan(codes, ts, values, keys)
        starts = np.searchsorted(codes, np.arange(len(keys) + 1), side="left")
        return SeriesChunk(keys, starts, ts, values, dropped, duplicates)

    def _series_codes(self, raw: RawChunk) -> tuple[np.ndarray, list[str]]:
        """An int per row and the series key of each int, built once per distinct series."""
        n = len(raw)
        if not raw.dims:
            return np.zeros(n, dtype=np.int64), [DEFAULT_SERIES]
        combined = np.zeros(n, dtype=np.int64)
        for dim in raw.dims:
            codes, uniques = pd.factorize(dim, use_na_sentinel=False)
            combined = combined * max(len(uniques), 1) + codes
        distinct, first = np.unique(combined, return_index=True)
        inverse = np.searchsorted(distinct, combined)
        sample = pd.DataFrame.from_records(
            [tuple(d[i] for d in raw.dims) for i in first], columns=self.config.series
        )
        return inverse.astype(np.int64), [str(k) for k in series_keys(sample, self.config.series)]

    def _handle_nan(
        self, codes: np.ndarray, ts: np.ndarray, values: np.ndarray, keys: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        missing = np.isnan(values).any(axis=1)
        if not missing.any():
            return codes, ts, values, 0
        policy = self.config.on_nan
        count = int(missing.sum())
        if policy == "reject":
            i = int(np.flatnonzero(missing)[0])
            raise self.reader.source_error(
                f"{count} row(s) with missing/NaN/inf values, e.g. series {keys[codes[i]]!r} at "
                f"{pd.Timestamp(ts[i])}; set source.on_nan to 'drop' or 'interpolate' to accept"
            )
        if policy == "interpolate":
            values = values.copy()
            for code in np.unique(codes[missing]):
                rows = np.flatnonzero(codes == code)
                for j in range(values.shape[1]):
                    column = values[rows, j]
                    known = ~np.isnan(column)
                    if known.any() and not known.all():
                        at = np.arange(len(rows))
                        values[rows, j] = np.interp(at, at[known], column[known])
            missing = ~np.isfinite(values).all(axis=1)  # an interpolation may overflow
        keep = ~missing
        return codes[keep], ts[keep], values[keep], int(missing.sum())


def _none_for_null(column: pd.Series) -> np.ndarray:
    """A text column with NULL as None, like the DBAPI gives it."""
    out = column.to_numpy(object, copy=True)
    out[pd.isna(column).to_numpy()] = None
    return out
