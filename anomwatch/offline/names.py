"""Names of `anomwatch detect` runs and their options: run keys, table names checked
before any DDL (only tables matching them are ever dropped), contamination and
component lists."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import get_args

import numpy as np

from anomwatch.errors import AnomwatchError
from anomwatch.store.schema import detect_runs
from detector.config import ComponentName

TABLE_PREFIX = "detect_"
MAX_TABLE_LEN = 55  # + "_t" + 6 hex for the staging name = 63, PostgreSQL's limit
TABLE_RE = re.compile(r"^detect_[a-z0-9_]+_c[0-9_]+$")


class OfflineError(AnomwatchError):
    """Bad input to `anomwatch detect`: a file, a column or an option."""


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
    if text_value is None:
        return ["iforest"]  # detect sweeps contaminations: the forest's quantile is its subject
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
