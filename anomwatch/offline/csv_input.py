"""Reading one CSV file for `anomwatch detect`: a timestamp column, numeric values,
optional 0/1 labels; every problem named with its file, column and line."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anomwatch.offline.names import OfflineError

TS_NAMES = ("timestamp", "ts", "time", "datetime", "date", "time_stamp")


@dataclass(frozen=True)
class CSVData:
    path: Path
    ts: np.ndarray  # datetime64[us], naive UTC, ascending
    line: np.ndarray  # the CSV line each row came from (header = line 1)
    values: np.ndarray  # (n, features)
    value_names: list[str]
    labels: np.ndarray | None
    label_column: str | None
    sha256: str
    sorted_by_time: bool  # the file was not in time order and was sorted


def _columns_hint(frame: pd.DataFrame) -> str:
    return ", ".join(map(str, frame.columns))


def _find_ts_column(frame: pd.DataFrame, path: Path) -> str:
    by_name = {str(c).strip().lower(): str(c) for c in frame.columns}
    for name in TS_NAMES:
        if name in by_name:
            return by_name[name]
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or series.isna().all():
            continue
        if _to_datetime(series).notna().all():
            return str(column)
    raise OfflineError(
        f"{path}: found no timestamp column (columns: {_columns_hint(frame)}); "
        "name it with --ts-column"
    )


def _need_column(frame: pd.DataFrame, column: str, option: str, path: Path) -> None:
    if column not in frame.columns:
        raise OfflineError(
            f"{path}: {option} {column!r} is not a column (columns: {_columns_hint(frame)})"
        )


def _to_datetime(raw: pd.Series) -> pd.Series:
    """UTC timestamps, NaT where unparsable (pandas' per-element fallback warning is
    noise here: unparsable values are reported by line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(raw, errors="coerce", utc=True)


def _parse_ts(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    raw = frame[column]
    parsed = _to_datetime(raw)
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise OfflineError(
            f"{path}: {int(bad.sum())} timestamp(s) in column {column!r} cannot be parsed, "
            f"first {str(raw.iloc[first])!r} on line {first + 2}; use ISO 8601 "
            "(2026-11-24 10:00:00) or pick another column with --ts-column"
        )
    return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    parsed = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(parsed)
    if bad.any():
        first = int(np.argmax(bad))
        raise OfflineError(
            f"{path}: value column {column!r} has {int(bad.sum())} empty or non-numeric "
            f"value(s), first {str(frame[column].iloc[first])!r} on line {first + 2}; "
            "clean or drop those rows"
        )
    return parsed


def _labels(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    words = frame[column].astype(str).str.strip().str.lower()
    mapping = {"1": True, "1.0": True, "true": True, "0": False, "0.0": False, "false": False}
    bad = ~words.isin(list(mapping)).to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise OfflineError(
            f"{path}: label column {column!r} must hold 0/1 or true/false, found "
            f"{str(frame[column].iloc[first])!r} on line {first + 2}"
        )
    return words.map(mapping).to_numpy(dtype=bool)


def read_csv(
    path: Path,
    ts_column: str | None = None,
    value_columns: Sequence[str] = (),
    label_column: str | None = None,
) -> CSVData:
    """One CSV file, checked: a timestamp column, numeric value columns, 0/1 labels."""
    path = Path(path)
    if not path.is_file():
        raise OfflineError(f"{path}: no such file")
    try:
        content = path.read_bytes()
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OfflineError(f"{path}: not a readable CSV file: {message}") from None
    except OSError as exc:
        raise OfflineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if frame.empty:
        raise OfflineError(f"{path}: has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    if ts_column is not None:
        _need_column(frame, ts_column, "--ts-column", path)
    ts_name = ts_column or _find_ts_column(frame, path)
    if label_column is not None:
        _need_column(frame, label_column, "--label-column", path)
    if value_columns:
        names = list(dict.fromkeys(value_columns))
        for name in names:
            _need_column(frame, name, "--value-column", path)
            if name in (ts_name, label_column):
                raise OfflineError(f"{path}: {name!r} cannot be both a value and the ts/label")
    else:
        names = [
            str(c)
            for c in frame.columns
            if c not in (ts_name, label_column) and pd.api.types.is_numeric_dtype(frame[c])
        ]
        if not names:
            raise OfflineError(
                f"{path}: no numeric value column besides the timestamp {ts_name!r} "
                f"(columns: {_columns_hint(frame)}); name one with --value-column"
            )
    ts = _parse_ts(frame, ts_name, path)
    values = np.column_stack([_numeric(frame, n, path) for n in names])
    labels = _labels(frame, label_column, path) if label_column else None
    line = np.arange(2, len(frame) + 2)
    order = np.argsort(ts, kind="stable")
    resorted = bool((order != np.arange(len(order))).any())
    return CSVData(
        path=path,
        ts=ts[order],
        line=line[order],
        values=values[order],
        value_names=names,
        labels=None if labels is None else labels[order],
        label_column=label_column,
        sha256=hashlib.sha256(content).hexdigest(),
        sorted_by_time=resorted,
    )
