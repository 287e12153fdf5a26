"""Printing rows as an aligned table, CSV or JSON lines, streaming where possible."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO


def new_anomalies(count: int) -> str:
    """'1 new anomaly', '3 new anomalies': the count every run summary ends with."""
    return f"{count:,} new anomal{'y' if count == 1 else 'ies'}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def write_rows(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: str, out: TextIO | None = None
) -> int:
    """Write rows; returns how many. Tables buffer (to align); CSV/JSON stream."""
    out = out or sys.stdout  # looked up per call: the CLI's stdout may be redirected
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            count += 1
        return count
    if fmt == "json":
        for row in rows:
            out.write(json.dumps({c: row.get(c) for c in columns}, default=_json_default) + "\n")
            count += 1
        return count
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return len(cells)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
