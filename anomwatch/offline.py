"""Offline analysis (`anomwatch detect`): CSV files in, one store table per run out.

For analysts who have a CSV export rather than a monitor: each file is scored by
the detector once per contamination setting; each run's points (ts, values, score,
component scores, is_anomaly, label) go to their own table `detect_<file>_c<c>`,
listed in the `detect_runs` index table, and its plots are drawn beside them.

A file is checked, fitted, scored and plotted completely before anything of it is
written to the store, so a bad file writes nothing and does not stop other files.
A rerun of the same run key replaces that run's table and index row: the new table
is filled under a temporary name and swapped in at the end, so a failure while
writing leaves the previous table intact.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Integer,
    MetaData,
    Table,
    delete,
    inspect,
    select,
    text,
)

from anomwatch.durations import utcnow
from anomwatch.errors import AnomwatchError
from anomwatch.store.db import Store
from anomwatch.store.schema import Timestamp, detect_runs
from detector import DetectorConfig, DetectorError, EnsembleDetector
from detector.config import ComponentName
from detector.metrics import average_precision, point_prf
from detector.result import Detection

TS_NAMES = ("timestamp", "ts", "time", "datetime", "date", "time_stamp")
TABLE_PREFIX = "detect_"
MAX_TABLE_LEN = 55  # + "_t" + 6 hex for the staging name = 63, PostgreSQL's limit
TABLE_RE = re.compile(r"^detect_[a-z0-9_]+_c[0-9_]+$")
COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
INSERT_CHUNK = 5_000
MIN_ROWS = 50  # fewer points cannot calibrate a detector's scores
PLOT_NAMES = ("series", "scores", "reconstruction", "confusion", "pca")


class OfflineError(AnomwatchError):
    """Bad input to `anomwatch detect`: a file, a column or an option."""


# -- options ------------------------------------------------------------------------------


def parse_contaminations(text_value: str) -> list[float]:
    """'0.01,0.02' -> [0.01, 0.02]; each must be a fraction in (0, 0.5)."""
    values: list[float] = []
    for part in text_value.split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise OfflineError(
                f"--contamination: {part!r} is not a number; "
                "give fractions separated by commas, e.g. 0.01,0.02"
            ) from None
        if not 0 < value < 0.5:
            raise OfflineError(
                f"--contamination: {part} is outside (0, 0.5); it is the expected fraction "
                "of anomalous points, e.g. 0.01 for 1%"
            )
        if value not in values:
            values.append(value)
    return values


def parse_components(text_value: str | None) -> list[str]:
    """'iforest,robust_residual' -> a list of known detector components."""
    if text_value is None:  # detect sweeps contaminations: the forest's quantile is its subject
        return ["iforest"]
    known = get_args(ComponentName)
    names = [p.strip() for p in text_value.split(",") if p.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise OfflineError(
            f"--components: unknown component(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


def contamination_label(value: float) -> str:
    """0.01 -> '0.01' (never scientific notation, so names stay readable)."""
    return np.format_float_positional(value, trim="-")


def _slug(text_value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text_value.lower()).strip("_")


def run_key(path: Path, contamination: float) -> str:
    """`<file-stem>-c<contamination>`, e.g. `machine_temperature-c0.01`."""
    return f"{_slug(Path(path).stem) or 'file'}-c{contamination_label(contamination)}"


def table_name(key: str) -> str:
    """The run's SQL table: `detect_<stem>_c0_01`; long stems are cut and made unique
    with a hash, so the name fits every backend's identifier limit."""
    stem, _, setting = key.rpartition("-c")
    suffix = "_c" + setting.replace(".", "_")
    name = f"{TABLE_PREFIX}{stem}{suffix}"
    if len(name) > MAX_TABLE_LEN:
        digest = hashlib.sha1(stem.encode()).hexdigest()[:6]
        room = MAX_TABLE_LEN - len(TABLE_PREFIX) - len(suffix) - len(digest) - 1
        name = f"{TABLE_PREFIX}{stem[:room].rstrip('_')}_{digest}{suffix}"
    return checked_table_name(name)


def checked_table_name(name: str) -> str:
    """Refuses anything but a detect run table: these are the only tables we drop."""
    if not TABLE_RE.match(name) or len(name) > MAX_TABLE_LEN or name == detect_runs.name:
        raise OfflineError(f"{name!r} is not a valid detect run table name")
    return name


# -- reading a CSV ------------------------------------------------------------------------


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


# -- one run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float
    average_precision: float | None  # None when the labels hold only one class


@dataclass
class Run:
    data: CSVData
    contamination: float
    components: list[str]
    detection: Detection
    quality: Quality | None
    key: str
    table: str
    plots: dict[str, Path] = field(default_factory=dict)
    rows_stored: int = 0

    @property
    def n_anomalies(self) -> int:
        return int(self.detection.is_anomaly.sum())


def analyse(data: CSVData, contamination: float, components: Sequence[str], seed: int = 0) -> Run:
    """Fit the detector on the whole file and score it (an offline, look-back analysis)."""
    if len(data.values) < MIN_ROWS:
        raise OfflineError(
            f"{data.path}: {len(data.values)} data row(s); at least {MIN_ROWS} are needed "
            "to fit and calibrate a detector"
        )
    config = DetectorConfig(
        components=list(components),
        contamination=contamination,
        threshold="quantile",  # a detect run is defined by its contamination
        max_events_per_week=None,
        seed=seed,
        min_train_points=MIN_ROWS,
    )
    try:
        model = EnsembleDetector(config).fit(data.values, ts=data.ts)
        detection = model.score(data.values, ts=data.ts)
    except DetectorError as exc:
        raise OfflineError(f"{data.path}: {exc}") from None
    quality = None
    if data.labels is not None:
        prf = point_prf(data.labels, detection.is_anomaly)
        both = bool(data.labels.any() and not data.labels.all())
        ap = average_precision(data.labels, detection.score) if both else None
        quality = Quality(prf.precision, prf.recall, prf.f1, ap)
    key = run_key(data.path, contamination)
    return Run(data, contamination, list(components), detection, quality, key, table_name(key))


def draw_plots(run: Run, out_dir: Path) -> dict[str, Path]:
    """The run's PNGs in `out_dir/<run key>/`: series, scores, and where they apply
    the autoencoder's reconstruction error, the confusion matrix and a PCA scatter."""
    from detector import plots  # matplotlib only when plotting

    where = Path(out_dir) / run.key
    for name in PLOT_NAMES:  # a rerun must not leave plots of the run it replaces
        (where / f"{name}.png").unlink(missing_ok=True)
    d, data = run.detection, run.data
    title = f"{data.path.name}, contamination {contamination_label(run.contamination)}"
    made = {
        "series": plots.plot_series(
            where / "series.png",
            data.values,
            d.is_anomaly,
            data.labels,
            data.ts,
            data.value_names,
            title,
        ).path,
        "scores": plots.plot_score_panels(
            where / "scores.png", d.components, d.score, d.threshold, data.ts, title
        ).path,
    }
    if "lstm_autoencoder" in d.components:
        made["reconstruction"] = plots.plot_error(
            where / "reconstruction.png",
            d.components["lstm_autoencoder"],
            d.threshold,
            data.ts,
            "lstm_autoencoder reconstruction error (calibrated)",
            title,
        )
    if data.labels is not None:
        made["confusion"] = plots.plot_confusion(
            where / "confusion.png", data.labels, d.is_anomaly, title
        ).path
    if data.values.shape[1] >= 2:
        made["pca"] = plots.plot_pca(
            where / "pca.png", data.values, d.is_anomaly, data.value_names, title
        ).path
    return made


# -- the store ----------------------------------------------------------------------------


def value_column_names(names: Sequence[str]) -> dict[str, str]:
    """Table column -> CSV column: `value` for one series, `value_<name>` for several."""
    if len(names) == 1:
        return {"value": names[0]}
    mapping: dict[str, str] = {}
    for name in names:
        column = ("value_" + (_slug(name) or "col"))[:60]
        base, n = column, 2
        while column in mapping:
            column, n = f"{base}_{n}", n + 1
        mapping[column] = name
    return mapping


def run_table(name: str, run: Run) -> Table:
    """The run's table definition (SQLAlchemy Core; every name checked, then quoted)."""
    columns: list[Column[Any]] = [
        Column("line", Integer, primary_key=True, autoincrement=False),
        Column("ts", Timestamp, nullable=False),
    ]
    columns += [Column(c, Double, nullable=False) for c in value_column_names(run.data.value_names)]
    if run.data.labels is not None:
        columns.append(Column("label", Boolean, nullable=False))
    columns.append(Column("score", Double, nullable=False))
    columns += [Column(f"score_{c}", Double, nullable=False) for c in run.detection.components]
    columns.append(Column("is_anomaly", Boolean, nullable=False))
    for column in columns:
        if not COLUMN_RE.match(column.name):
            raise OfflineError(f"{column.name!r} is not a valid column name")
    return Table(name, MetaData(), *columns)


def _row_chunks(run: Run, only_anomalies: bool) -> Iterator[list[dict[str, Any]]]:
    """The table's rows, INSERT_CHUNK at a time (a long file never sits in memory as
    one list of dicts)."""
    data, d = run.data, run.detection
    keep = np.flatnonzero(d.is_anomaly if only_anomalies else np.ones(len(d.score), bool))
    columns: dict[str, np.ndarray] = {"line": data.line, "ts": data.ts}
    for i, column in enumerate(value_column_names(data.value_names)):
        columns[column] = data.values[:, i]
    if data.labels is not None:
        columns["label"] = data.labels
    columns["score"] = d.score
    for component, scores in d.components.items():
        columns[f"score_{component}"] = np.asarray(scores)
    columns["is_anomaly"] = d.is_anomaly
    names = list(columns)
    for start in range(0, len(keep), INSERT_CHUNK):
        rows = keep[start : start + INSERT_CHUNK]
        lists = [columns[name][rows].tolist() for name in names]
        yield [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]


def _drop_staging_leftovers(store: Store, name: str) -> None:
    leftover = re.compile(rf"^{re.escape(name)}_t[0-9a-f]{{6}}$")
    for table in inspect(store.engine).get_table_names():
        if leftover.match(table):
            with store.begin() as conn:
                Table(table, MetaData()).drop(conn, checkfirst=True)


def store_run(store: Store, run: Run, only_anomalies: bool = False) -> int:
    """Write the run's table and index row, replacing an earlier run of the same key."""
    final = checked_table_name(run.table)
    staging = f"{final}_t{secrets.token_hex(3)}"
    _drop_staging_leftovers(store, final)
    table = run_table(staging, run)
    with store.begin() as conn:
        table.create(conn)
    stored = 0
    try:
        for chunk in _row_chunks(run, only_anomalies):
            with store.begin() as conn:
                conn.execute(table.insert(), chunk)
            stored += len(chunk)
        quote = store.engine.dialect.identifier_preparer.quote
        data, quality = run.data, run.quality
        index_row = {
            "run_key": run.key,
            "table_name": final,
            "source_file": str(data.path.resolve())[:1000],
            "file_sha256": data.sha256,
            "contamination": run.contamination,
            "components": ",".join(run.components),
            "value_columns": json.dumps(value_column_names(data.value_names)),
            "label_column": data.label_column,
            "n_points": len(data.values),
            "n_anomalies": run.n_anomalies,
            "rows_stored": stored,
            "threshold": float(run.detection.threshold),
            "precision": quality.precision if quality else None,
            "recall": quality.recall if quality else None,
            "f1": quality.f1 if quality else None,
            "average_precision": quality.average_precision if quality else None,
            "first_ts": data.ts[0].tolist(),
            "last_ts": data.ts[-1].tolist(),
            "plot_dir": str(run.plots["series"].parent) if run.plots else None,
            "created_at": utcnow().replace(tzinfo=None),
        }
        # The DELETE comes first: on SQLite it opens the transaction the DDL then joins.
        with store.begin() as conn:
            conn.execute(delete(detect_runs).where(detect_runs.c.run_key == run.key))
            conn.execute(delete(detect_runs).where(detect_runs.c.table_name == final))
            Table(final, MetaData()).drop(conn, checkfirst=True)
            conn.execute(text(f"ALTER TABLE {quote(staging)} RENAME TO {quote(final)}"))
            conn.execute(detect_runs.insert(), index_row)
    except BaseException:
        with store.begin() as conn:
            Table(staging, MetaData()).drop(conn, checkfirst=True)
        raise
    return stored


# -- the command --------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectOptions:
    contaminations: list[float]
    components: list[str]
    out_dir: Path
    ts_column: str | None = None
    value_columns: tuple[str, ...] = ()
    label_column: str | None = None
    only_anomalies: bool = False
    seed: int = 0


@dataclass
class DetectReport:
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one message per failed file
    notes: list[str] = field(default_factory=list)


def detect_files(store: Store, paths: Sequence[Path], options: DetectOptions) -> DetectReport:
    """Every file x every contamination; a bad file is reported and skipped, whole."""
    report = DetectReport()
    keys: dict[str, Path] = {}
    existing = _existing_keys(store)
    for path in paths:
        try:
            data = read_csv(path, options.ts_column, options.value_columns, options.label_column)
            runs = [
                analyse(data, c, options.components, options.seed) for c in options.contaminations
            ]
            for run in runs:
                if run.key in keys:
                    raise OfflineError(
                        f"{path}: run key {run.key!r} is already used by {keys[run.key]} in "
                        "this call; rename one of the files"
                    )
            for run in runs:
                run.plots = draw_plots(run, options.out_dir)
            for run in runs:
                keys[run.key] = Path(path)
                run.rows_stored = store_run(store, run, options.only_anomalies)
                if run.key in existing:
                    report.notes.append(f"replaced the earlier run {run.key} ({run.table})")
                report.runs.append(run)
            if data.sorted_by_time:
                report.notes.append(f"{path}: rows were not in time order; sorted by time")
        except OfflineError as exc:
            report.errors.append(str(exc))
    return report


def _existing_keys(store: Store) -> set[str]:
    with store.begin() as conn:
        return set(conn.execute(select(detect_runs.c.run_key)).scalars())


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_rows(report: DetectReport) -> tuple[list[dict[str, Any]], list[str]]:
    columns = ["file", "contamination", "points", "anomalies", "table", "plots"]
    labelled = any(run.quality is not None for run in report.runs)
    if labelled:
        columns += ["precision", "recall", "f1", "ap"]
    rows = []
    for run in report.runs:
        row: dict[str, Any] = {
            "file": run.data.path.name,
            "contamination": contamination_label(run.contamination),
            "points": len(run.data.values),
            "anomalies": run.n_anomalies,
            "table": run.table,
            "plots": str(run.plots["series"].parent) + "/" if run.plots else "",
        }
        if run.quality is not None:
            q = run.quality
            row |= {
                "precision": _fmt(q.precision),
                "recall": _fmt(q.recall),
                "f1": _fmt(q.f1),
                "ap": _fmt(q.average_precision),
            }
        rows.append(row)
    return rows, columns


def run_detect(
    paths: Sequence[Path],
    contamination: str,
    components: str | None,
    out_dir: Path,
    open_store: Callable[[], Store],
    echo: Callable[..., Any],
    *,
    ts_column: str | None = None,
    value_columns: Sequence[str] = (),
    label_column: str | None = None,
    only_anomalies: bool = False,
) -> int:
    """The `anomwatch detect` command: options checked first, then every file; prints
    the summary table and returns the exit code (2 when any file failed)."""
    from anomwatch.output import write_rows

    options = DetectOptions(
        contaminations=parse_contaminations(contamination),
        components=parse_components(components),
        out_dir=out_dir,
        ts_column=ts_column,
        value_columns=tuple(value_columns),
        label_column=label_column,
        only_anomalies=only_anomalies,
    )
    if not paths:
        raise OfflineError("give at least one CSV file")
    store = open_store()
    report = detect_files(store, paths, options)
    if report.runs:
        rows, columns = summary_rows(report)
        write_rows(rows, columns, "table")
    for note in report.notes:
        echo(f"note: {note}", err=True)
    for error in report.errors:
        echo(f"error: {error}", err=True)
    echo(
        f"{len(report.runs)} run(s) written to {store.masked_url} (index table "
        f"{detect_runs.name}); {len(report.errors)} file(s) failed",
        err=True,
    )
    return 2 if report.errors else 0
