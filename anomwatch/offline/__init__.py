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

The package holds one job per module: `names` (run keys, table names, options),
`csv_input` (reading a file), `analysis` (fit and score), `plots`, `tables` (the
store) and `command` (the `anomwatch detect` command).
"""

from __future__ import annotations

from anomwatch.offline.analysis import MIN_ROWS, Quality, Run, analyse
from anomwatch.offline.command import DetectOptions, DetectReport, detect_files, run_detect
from anomwatch.offline.csv_input import CSVData, read_csv
from anomwatch.offline.names import (
    OfflineError,
    checked_table_name,
    contamination_label,
    parse_components,
    parse_contaminations,
    run_key,
    table_name,
)
from anomwatch.offline.plots import draw_plots
from anomwatch.offline.tables import run_table, store_run, value_column_names

__all__ = [
    "MIN_ROWS",
    "CSVData",
    "DetectOptions",
    "DetectReport",
    "OfflineError",
    "Quality",
    "Run",
    "analyse",
    "checked_table_name",
    "contamination_label",
    "detect_files",
    "draw_plots",
    "parse_components",
    "parse_contaminations",
    "read_csv",
    "run_detect",
    "run_key",
    "run_table",
    "store_run",
    "table_name",
    "value_column_names",
]
