"""The shipped Grafana dashboard's queries, with Grafana's variables and macros expanded
the way Grafana expands them, so tests can run them for real."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "docs" / "grafana" / "anomwatch-dashboard.json"
METRIC = re.compile(r"\b(anomwatch_[a-z0-9_]+)")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but rows (rows hold no queries)."""
    return [p for p in dash["panels"] if p["type"] != "row"]


def targets(dash: dict[str, Any], datasource_type: str) -> list[dict[str, Any]]:
    return [
        t for p in panels(dash) if p["datasource"]["type"] == datasource_type for t in p["targets"]
    ]


def promql(dash: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' and the monitor variable's."""
    exprs = [t["expr"] for t in targets(dash, "prometheus")]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":  # label_values(m, l): Grafana asks the series of m
            exprs.append(
                re.sub(r"label_values\((\w+),\s*(\w+)\)", r"group by (\2) (\1)", var["definition"])
            )
    return exprs


def expand_promql(expr: str, monitors: list[str], time_range: str = "1h") -> str:
    """$monitor as Grafana writes a multi-value into a regex matcher; $__range as a duration."""
    regex = "(" + "|".join(re.sub(r"([$^*+?.()|\\\[\]{}])", r"\\\\\1", m) for m in monitors) + ")"
    return expr.replace("$monitor", regex).replace("$__range", time_range)


def time_literal(value: datetime, dialect: str) -> str:
    """A time as Grafana's SQL macros write it: an RFC 3339 string for PostgreSQL,
    FROM_UNIXTIME for MySQL/MariaDB (in a UTC session); SQLite has no built-in Grafana
    source, so a plain 'YYYY-MM-DD HH:MM:SS' (its own date format)."""
    if dialect == "postgresql":
        return f"'{value:%Y-%m-%dT%H:%M:%SZ}'"
    if dialect in ("mysql", "mariadb"):
        return f"FROM_UNIXTIME({int((value - datetime(1970, 1, 1)).total_seconds())})"
    return f"'{value:%Y-%m-%d %H:%M:%S}'"


def expand_sql(
    sql: str, monitors: list[str], since: datetime, until: datetime, dialect: str
) -> str:
    """$monitor as Grafana quotes a multi-value for SQL; $__timeFilter(col) as a BETWEEN."""
    quoted = ",".join("'" + m.replace("'", "''") + "'" for m in monitors)
    between = rf"\1 BETWEEN {time_literal(since, dialect)} AND {time_literal(until, dialect)}"
    return re.sub(r"\$__timeFilter\((\w+)\)", between, sql.replace("$monitor", quoted))
