"""Reading metric rows from a monitor's source database (read-only, bound parameters).

Table and column names come from monitors.yaml, so they are checked against the
source's reflected schema and then quoted by SQLAlchemy; values (times) are
always bound parameters. Naive source timestamps are interpreted in the source's
timezone and everything leaves this module as naive UTC.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    FromClause,
    MetaData,
    Table,
    and_,
    bindparam,
    column,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, NoSuchTableError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.sqltypes import NullType

from anomwatch.config import MonitorConfig
from anomwatch.errors import SourceError, SourceUnavailableError
from anomwatch.store.db import first_line, is_transient, make_engine, mask_url, refusal

SERIES_COLUMN = "series"
TS_COLUMN = "ts"
DEFAULT_SERIES = "all"
_NUMERIC_TYPES = (int, float)


def series_key(values: dict[str, Any]) -> str:
    """A readable, stable id for one combination of dimension values."""
    if not values:
        return DEFAULT_SERIES
    return ",".join(f"{k}={v}" for k, v in values.items())


@dataclass
class Extract:
    """Rows of one read, long format: series, ts, then one column per value."""

    frame: pd.DataFrame
    rows_read: int = 0
    dropped_nan: int = 0
    interpolated_nan: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    raw: pd.DataFrame | None = None  # series and ts of every row as read, before cleaning

    def series(self) -> list[str]:
        return sorted(self.frame[SERIES_COLUMN].unique().tolist())


def _configure_session(engine: Engine, timeout: timedelta) -> None:
    """Every source connection is read-only and cancels statements after `timeout`.

    PostgreSQL: default_transaction_read_only and statement_timeout; MariaDB:
    SET SESSION TRANSACTION READ ONLY and max_statement_time (MySQL:
    max_execution_time); SQLite: no read-only switch (give anomwatch a file it can
    only read), the timeout aborts the statement through a progress handler.
    """
    backend = engine.dialect.name
    millis = max(1, int(timeout.total_seconds() * 1000))
    if backend == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_session(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.execute(f"SET statement_timeout = {millis}")
            cursor.close()
            dbapi_conn.commit()

    elif backend in ("mysql", "mariadb"):

        @event.listens_for(engine, "connect")
        def _mysql_session(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("SELECT VERSION()")
            if "mariadb" in str(cursor.fetchone()[0]).lower():
                cursor.execute(f"SET SESSION max_statement_time = {millis / 1000:.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {millis}")
            cursor.close()

    elif backend == "sqlite":
        _sqlite_deadline(engine, timeout.total_seconds())


def _sqlite_deadline(engine: Engine, seconds: float) -> None:
    """SQLite has no statement timeout: a progress handler interrupts a statement that
    runs past its deadline (streamed reads, whose fetches span many calls, are exempt)."""

    @event.listens_for(engine, "connect")
    def _install(dbapi_conn: Any, record: Any) -> None:
        deadline: list[float] = [0.0]
        record.info["aw_deadline"] = deadline
        dbapi_conn.set_progress_handler(
            lambda: 1 if deadline[0] and time.monotonic() > deadline[0] else 0, 10_000
        )

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any) -> None:
        deadline = conn.info.get("aw_deadline")
        if deadline is None:
            return
        streamed = bool(context and context.execution_options.get("stream_results"))
        deadline[0] = 0.0 if streamed else time.monotonic() + seconds


def is_timeout(exc: BaseException) -> bool:
    """A statement cancelled by the timeout (PostgreSQL 57014, MariaDB 1969, MySQL 3024,
    SQLite interrupted)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "57014" or getattr(orig, "pgcode", None) == "57014":
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1969, 3024):
        return True
    return isinstance(orig, sqlite3.OperationalError) and str(orig) == "interrupted"


class SourceReader:
    """Reads one monitor's rows. Create per tick; call close() when done."""

    def __init__(self, monitor: MonitorConfig) -> None:
        self.monitor = monitor
        self.config = monitor.source
        url = self.config.resolved_url(monitor.name)
        self.masked_url = mask_url(url)
        try:
            make_url(url)
        except Exception:  # noqa: BLE001
            raise SourceError(
                f"monitor {monitor.name!r}: source URL is not a valid SQLAlchemy URL"
            ) from None
        try:
            self.tz = ZoneInfo(self.config.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SourceError(
                f"monitor {monitor.name!r}: source.timezone {self.config.timezone!r} is unknown"
            ) from None
        self.engine = make_engine(url)
        self.timeout = self.config.statement_timeout
        _configure_session(self.engine, self.timeout)
        self._from: FromClause | None = None
        self.tz_aware_column = False

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema checks -------------------------------------------------------------

    def source_error(self, message: str) -> SourceError:
        return SourceError(f"monitor {self.monitor.name!r}: {message}")

    @contextmanager
    def database_errors(self, doing: str) -> Iterator[None]:
        """Database errors as our errors: unreachable (worth a retry) or failed (not)."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            reason = refusal(exc)
            if reason is not None:
                raise self.source_error(
                    f"{doing} {self.masked_url} failed: {reason} (check {self.url_origin}): "
                    f"{first_line(exc)}"
                ) from exc
            if is_timeout(exc):
                raise SourceUnavailableError(
                    f"monitor {self.monitor.name!r}: {doing} {self.masked_url} was cancelled "
                    f"after source.statement_timeout ({self.timeout.total_seconds():g} s); "
                    "make the query cheaper (an index on the timestamp column) or raise "
                    f"the timeout: {first_line(exc)}"
                ) from exc
            raise SourceUnavailableError(
                f"monitor {self.monitor.name!r}: {doing} {self.masked_url} failed "
                f"(unreachable or timed out): {first_line(exc)}"
            ) from exc
        except SQLAlchemyError as exc:
            if is_transient(exc):  # e.g. a connection closed under us (invalidated)
                raise SourceUnavailableError(
                    f"monitor {self.monitor.name!r}: {doing} {self.masked_url} failed "
                    f"(connection lost): {first_line(exc)}"
                ) from exc
            raise self.source_error(f"{doing} {self.masked_url} failed: {first_line(exc)}") from exc

    @property
    def url_origin(self) -> str:
        """Where the URL (and its credentials) came from, for messages."""
        if self.config.url_env:
            return f"the URL in ${self.config.url_env}"
        return "source.url in monitors.yaml"

    def wanted_columns(self) -> list[str]:
        return [self.config.timestamp, *self.config.series, *self.config.values]

    def source_clause(self) -> FromClause:
        """The checked table (or query subquery) that every read selects from."""
        if self._from is not None:
            return self._from
        with self.database_errors("connecting to"):
            if self.config.table is not None:
                self._from = self._reflect_table(self.config.table)
            else:
                self._from = self._query_clause()
        return self._from

    def _reflect_table(self, name: str) -> Table:
        schema, _, table_name = name.rpartition(".")
        try:
            table = Table(table_name, MetaData(), schema=schema or None, autoload_with=self.engine)
        except NoSuchTableError:
            available = inspect(self.engine).get_table_names(schema=schema or None)
            raise self.source_error(
                f"table {name!r} not found in {self.masked_url}; "
                f"available tables: {', '.join(sorted(available)) or '(none)'}"
            ) from None
        missing = [c for c in self.wanted_columns() if c not in table.c]
        if missing:
            raise self.source_error(
                f"column(s) {', '.join(map(repr, missing))} not found in table {name!r}; "
                f"it has: {', '.join(table.c.keys())}"
            )
        for value_column in self.config.values:
            python_type = _python_type(table.c[value_column])
            if (
                python_type is not None
                and python_type not in _NUMERIC_TYPES
                and not _is_decimal(python_type)
            ):
                raise self.source_error(
                    f"value column {value_column!r} has type {table.c[value_column].type}; "
                    "value columns must be numeric (cast it in a 'query' source if needed)"
                )
        ts_type = table.c[self.config.timestamp].type
        self.tz_aware_column = isinstance(ts_type, DateTime) and bool(ts_type.timezone)
        return table

    def _query_clause(self) -> FromClause:
        assert self.config.query is not None
        columns: list[Any] = [column(c) for c in self.wanted_columns()]
        # Typed binds: SQLite compares times as text, so they must be rendered the way
        # SQLAlchemy stores them, not by the driver's default adapter.
        probe = text(self.config.query).bindparams(
            bindparam("since", type_=DateTime()), bindparam("until", type_=DateTime())
        )
        clause = probe.columns(*columns).subquery("anomwatch_src")
        early = datetime(1970, 1, 2)
        with self.engine.connect() as conn:
            result = conn.execute(probe, {"since": early, "until": early})
            keys = list(result.keys())
            result.close()
        missing = [c for c in self.wanted_columns() if c not in keys]
        if missing:
            raise self.source_error(
                f"the source query does not return column(s) {', '.join(map(repr, missing))}; "
                f"it returns: {', '.join(keys)}"
            )
        return clause

    # -- reads ---------------------------------------------------------------------

    def bind_time(self, value: datetime) -> datetime:
        """Naive UTC → what the source column holds."""
        aware = value.replace(tzinfo=ZoneInfo("UTC"))
        if self.tz_aware_column:
            return aware
        return aware.astimezone(self.tz).replace(tzinfo=None)

    def binds(self, since: datetime | None, until: datetime) -> dict[str, Any]:
        if self.config.query is None:
            return {}
        early = datetime(1970, 1, 2)
        return {
            "since": self.bind_time(since) if since else early,
            "until": self.bind_time(until),
        }

    def range_statement(self, since: datetime | None, until: datetime) -> Any:
        src = self.source_clause()
        ts = src.c[self.config.timestamp]
        conditions = [ts <= self.bind_time(until)]
        if since is not None:
            conditions.append(ts > self.bind_time(since))
        return (
            select(*[src.c[c] for c in self.wanted_columns()]).where(and_(*conditions)).order_by(ts)
        )

    def read_range(
        self, since: datetime | None, until: datetime, limit: int | None = None
    ) -> Extract:
        """Rows with since < ts <= until (all rows up to until when since is None)."""
        stmt = self.range_statement(since, until)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self.run_statement(stmt, self.binds(since, until))

    def count_range(self, since: datetime | None, until: datetime) -> int:
        """How many rows read_range would return (for progress reporting)."""
        inner = self.range_statement(since, until).order_by(None).subquery("aw_counted")
        with self.database_errors("counting rows in"), self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(inner), self.binds(since, until))
            return int(count.scalar_one())

    def count_per_series(self, since: datetime, until: datetime) -> dict[str, int]:
        """Rows per series with since < ts <= until, counted by the database (before any
        cleaning), for the late-row check."""
        src = self.source_clause()
        ts = src.c[self.config.timestamp]
        dims = [src.c[c] for c in self.config.series]
        stmt = (
            select(*dims, func.count().label("aw_n"))
            .where(ts > self.bind_time(since), ts <= self.bind_time(until))
            .group_by(*dims)
        )
        with self.database_errors("counting rows in"), self.engine.connect() as conn:
            rows = conn.execute(stmt, self.binds(since, until)).all()
        frame = _frame(rows, [*self.config.series, "aw_n"])
        keys = series_keys(frame, self.config.series)
        return {str(k): int(n) for k, n in zip(keys, frame["aw_n"], strict=True)}

    def iter_range(
        self, since: datetime | None, until: datetime, chunk_rows: int
    ) -> Iterator[Extract]:
        """The same rows as read_range, streamed in chunks with a server-side cursor.

        Memory stays bounded by chunk_rows whatever the range (backfills).
        """
        stmt = self.range_statement(since, until)
        columns = self.wanted_columns()
        with self.database_errors("reading from"), self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(
                stmt, self.binds(since, until)
            )
            for part in result.partitions(chunk_rows):
                yield self._tidy(_frame(part, columns))

    def read_last(self, before: datetime, k: int, lookback: timedelta) -> Extract:
        """The last k rows of every series with before - lookback < ts <= before."""
        if k <= 0:
            return self._tidy(pd.DataFrame(columns=self.wanted_columns()))
        src = self.source_clause()
        ts = src.c[self.config.timestamp]
        partition = [src.c[c] for c in self.config.series] or None
        rank = func.row_number().over(partition_by=partition, order_by=ts.desc()).label("aw_rank")
        inner = (
            select(*[src.c[c] for c in self.wanted_columns()], rank)
            .where(ts <= self.bind_time(before), ts > self.bind_time(before - lookback))
            .subquery("aw_ranked")
        )
        stmt = select(*[inner.c[c] for c in self.wanted_columns()]).where(inner.c.aw_rank <= k)
        return self.run_statement(stmt, self.binds(before - lookback, before))

    def run_statement(self, stmt: Any, binds: dict[str, Any]) -> Extract:
        with self.database_errors("reading from"), self.engine.connect() as conn:
            frame = _frame(conn.execute(stmt, binds).fetchall(), self.wanted_columns())
        return self._tidy(frame)

    # -- cleaning ------------------------------------------------------------------

    def to_utc(self, values: pd.Series) -> pd.Series:
        try:
            parsed = pd.to_datetime(values, format="mixed")
        except (ValueError, TypeError) as exc:
            if "mixed timezones" in str(exc).lower():
                return self._mixed_to_utc(values)
            raise self.source_error(
                f"timestamp column {self.config.timestamp!r} holds values that are not times: {exc}"
            ) from None
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(self.tz, ambiguous="NaT", nonexistent="shift_forward")
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")

    def _mixed_to_utc(self, values: pd.Series) -> pd.Series:
        """Times with different UTC offsets (a DST change in a text column) or naive and
        aware ones mixed: each aware time keeps its offset, naive ones are in source.timezone."""

        def one(value: Any) -> pd.Timestamp:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return pd.NaT
            stamp = pd.Timestamp(value)
            if stamp.tzinfo is None:
                stamp = stamp.tz_localize(self.tz, ambiguous="NaT", nonexistent="shift_forward")
            return stamp.tz_convert("UTC").tz_localize(None)

        try:
            converted = [one(v) for v in values]
        except (ValueError, TypeError) as exc:
            raise self.source_error(
                f"timestamp column {self.config.timestamp!r} holds values that are not times: {exc}"
            ) from None
        return pd.Series(converted, index=values.index, dtype="datetime64[us]")

    def _tidy(self, raw: pd.DataFrame) -> Extract:
        cfg = self.config
        rows_read = len(raw)
        out = pd.DataFrame(
            {
                SERIES_COLUMN: series_keys(raw, cfg.series),
                TS_COLUMN: self.to_utc(raw[cfg.timestamp])
                if rows_read
                else pd.Series([], dtype="datetime64[us]"),
            }
        )
        for name in cfg.values:
            out[name] = self.numeric_values(raw[name], name)
        extract = Extract(frame=out, rows_read=rows_read)
        if rows_read == 0:
            return extract
        extract.raw = out[[SERIES_COLUMN, TS_COLUMN]].copy()
        bad_ts = out[TS_COLUMN].isna()
        if bad_ts.any():
            extract.notes.append(f"{int(bad_ts.sum())} row(s) with a null timestamp dropped")
            out = out[~bad_ts]
        out = out.sort_values([SERIES_COLUMN, TS_COLUMN], kind="stable")
        out = self._dedupe(out, extract)
        out = self._handle_nan(out, extract)
        extract.frame = out.reset_index(drop=True)
        return extract

    def numeric_values(self, values: pd.Series, name: str) -> pd.Series:
        converted = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = converted.isna() & values.notna()
        if bad.any():
            example = values[bad].iloc[0]
            raise self.source_error(
                f"value column {name!r} holds a non-numeric value ({example!r}); "
                "value columns must be numeric"
            )
        return converted.replace([np.inf, -np.inf], np.nan)

    def _dedupe(self, frame: pd.DataFrame, extract: Extract) -> pd.DataFrame:
        dup = frame.duplicated([SERIES_COLUMN, TS_COLUMN], keep=False)
        if not dup.any():
            return frame
        policy = self.config.on_duplicate
        count = int(frame.duplicated([SERIES_COLUMN, TS_COLUMN]).sum())
        if policy == "reject":
            first = frame[dup].iloc[0]
            raise self.source_error(
                f"{count} duplicate timestamp(s), e.g. series {first[SERIES_COLUMN]!r} at "
                f"{first[TS_COLUMN]}; set source.on_duplicate to 'last' or 'first' to accept"
            )
        extract.duplicates = count
        extract.notes.append(f"{count} duplicate timestamp(s) resolved by keeping the {policy}")
        return frame.drop_duplicates([SERIES_COLUMN, TS_COLUMN], keep=policy)

    def _handle_nan(self, frame: pd.DataFrame, extract: Extract) -> pd.DataFrame:
        values = self.config.values
        missing = frame[values].isna().any(axis=1)
        if not missing.any():
            return frame
        count = int(missing.sum())
        policy = self.config.on_nan
        if policy == "reject":
            first = frame[missing].iloc[0]
            raise self.source_error(
                f"{count} row(s) with missing/NaN/inf values, e.g. series "
                f"{first[SERIES_COLUMN]!r} at {first[TS_COLUMN]}; set source.on_nan to 'drop' "
                "or 'interpolate' to accept"
            )
        if policy == "interpolate":
            filled = frame.copy()
            filled[values] = frame.groupby(SERIES_COLUMN)[values].transform(
                lambda s: s.interpolate(limit_direction="both")
            )
            # between two values near the float limit the line overflows to inf: still missing
            still = ~np.isfinite(filled[values].to_numpy(dtype=float)).all(axis=1)
            extract.interpolated_nan = count - int(still.sum())
            extract.dropped_nan = int(still.sum())
            extract.notes.append(f"{extract.interpolated_nan} NaN row(s) interpolated")
            return filled[~still]
        extract.dropped_nan = count
        extract.notes.append(f"{count} row(s) with NaN/inf values dropped")
        return frame[~missing]


def _frame(rows: Any, columns: list[str]) -> pd.DataFrame:
    """Rows → DataFrame; plain tuples first, as pandas probes Row objects slowly."""
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def series_keys(raw: pd.DataFrame, columns: list[str]) -> pd.Series:
    if not columns:
        return pd.Series([DEFAULT_SERIES] * len(raw), index=raw.index, dtype=object)
    parts = [f"{c}=" + raw[c].astype(str) for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + "," + part
    return key.astype(object)


def _python_type(col: Column[Any]) -> type | None:
    """The column's Python type, or None when the database does not say (checked per row)."""
    if isinstance(col.type, NullType):
        return None
    try:
        return col.type.python_type
    except NotImplementedError:
        return None


def _is_decimal(python_type: type) -> bool:
    import decimal

    return issubclass(python_type, decimal.Decimal)
