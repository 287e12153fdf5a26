"""A run's points in its own store table, filled under a staging name and swapped in,
plus its row in the `detect_runs` index: a failure leaves the previous run intact."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Boolean, Column, Double, Integer, MetaData, Table, delete, inspect, text

from anomwatch.durations import utcnow
from anomwatch.offline.analysis import Run
from anomwatch.offline.names import OfflineError, _slug, checked_table_name
from anomwatch.store.db import Store
from anomwatch.store.schema import Timestamp, detect_runs

COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
INSERT_CHUNK = 5_000


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
