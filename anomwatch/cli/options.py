"""Option types shared by several command groups (one spelling, one help text)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


MonitorsOpt = Annotated[
    Path | None, typer.Option("--monitors", "-m", help="monitors.yaml (default: settings)")
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table, csv or json")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="at most this many rows")]
ByOpt = Annotated[str | None, typer.Option(help="who (default: $USER)")]
