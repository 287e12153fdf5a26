"""The `anomwatch detect` command: every file x every contamination, a bad file
reported and skipped whole, and the summary table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from anomwatch.offline.analysis import Run, analyse
from anomwatch.offline.csv_input import read_csv
from anomwatch.offline.names import (
    OfflineError,
    contamination_label,
    parse_components,
    parse_contaminations,
)
from anomwatch.offline.plots import draw_plots
from anomwatch.offline.tables import store_run
from anomwatch.store.db import Store
from anomwatch.store.schema import detect_runs


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
