"""`anomwatch monitors check`: everything a monitor needs at run time, checked now.

`validate` reads the file only; this goes further, one named check at a time, so
that a missing variable, a wrong password or a renamed column shows up before the
first scheduled run does, with the same messages the run would give.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import FromClause, func, select, text

from anomwatch.config import MonitorConfig
from anomwatch.envvars import ENV_REF
from anomwatch.errors import AnomwatchError
from anomwatch.source import SourceReader

Level = Literal["ok", "warn", "FAIL"]
WRITE_PRIVILEGES = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Check:
    monitor: str
    name: str
    level: Level
    detail: str


def check_monitor(monitor: MonitorConfig) -> Iterator[Check]:
    """Each check of one monitor, in the order a run meets them; a failed source
    connection skips the checks that need it."""

    def make(name: str, level: Level, detail: str) -> Check:
        return Check(monitor.name, name, level, detail)

    yield from (make(*c) for c in _environment(monitor))
    yield make(
        "timezone",
        "ok",
        f"schedule in {monitor.timezone}, naive source times in {monitor.source.timezone}",
    )
    yield from (make(*c) for c in _source(monitor))
    yield from (make(*c) for c in _targets(monitor))


def _environment(monitor: MonitorConfig) -> Iterator[tuple[str, Level, str]]:
    """Every environment variable the monitor names: source.url_env and ${VAR} parts."""
    import os

    wanted: dict[str, str] = {}
    if monitor.source.url_env:
        wanted[monitor.source.url_env] = "source.url_env"
    for name in ENV_REF.findall(monitor.source.url or ""):
        wanted.setdefault(name, "source.url")
    for i, target in enumerate(monitor.notify.target_list()):
        for name in ENV_REF.findall(target.url):
            wanted.setdefault(name, f"notify.targets[{i}]")
    if not wanted:
        yield "environment", "ok", "no environment variables needed"
    for name, where in wanted.items():
        if os.environ.get(name):
            yield "environment", "ok", f"{name} is set ({where})"
        else:
            yield "environment", "FAIL", f"{name} is not set ({where} needs it)"


def _timed(step: Callable[[], object]) -> tuple[object, float]:
    began = time.monotonic()
    return step(), (time.monotonic() - began) * 1000


def _source(monitor: MonitorConfig) -> Iterator[tuple[str, Level, str]]:
    try:
        reader = SourceReader(monitor)
    except AnomwatchError as exc:
        yield "source", "FAIL", _short(exc, monitor)
        return
    with reader:
        try:
            with reader.database_errors("connecting to"), reader.engine.connect() as conn:
                _, ms = _timed(lambda: conn.execute(text("SELECT 1")).scalar())
        except AnomwatchError as exc:
            yield "source", "FAIL", _short(exc, monitor)
            return
        yield "source", "ok", f"{reader.masked_url} reachable with its credentials ({ms:.0f} ms)"
        what = f"table {monitor.source.table}" if monitor.source.table else "the source query"
        try:
            clause = reader.source_clause()
        except AnomwatchError as exc:
            yield "columns", "FAIL", _short(exc, monitor)
            return
        columns = ", ".join(reader.wanted_columns())
        yield "columns", "ok", f"{what} has {columns}; values numeric"
        yield _newest_row(reader, clause)
        yield _read_only(reader)


def _newest_row(reader: SourceReader, clause: FromClause) -> tuple[str, Level, str]:
    ts = reader.config.timestamp
    try:
        with reader.database_errors("reading"), reader.engine.connect() as conn:
            newest = conn.execute(select(func.max(clause.c[ts]))).scalar()
    except AnomwatchError as exc:
        return "data", "FAIL", _short(exc, reader.monitor)
    if newest is None:
        return "data", "warn", "the source has no rows yet"
    return "data", "ok", f"newest row at {newest} ({reader.config.timezone} if naive)"


def _read_only(reader: SourceReader) -> tuple[str, Level, str]:
    """anomwatch only reads; a login that can write is allowed, but worth a warning."""
    backend = reader.engine.dialect.name
    table = reader.config.table
    if table is None:
        return "read-only", "ok", "query source: not checked (anomwatch runs only the SELECT)"
    try:
        with reader.engine.connect() as conn:
            if backend == "postgresql":
                writable = bool(
                    conn.execute(
                        text("SELECT has_table_privilege(:t, 'INSERT,UPDATE,DELETE')"),
                        {"t": table},
                    ).scalar()
                )
            elif backend in ("mysql", "mariadb"):
                grants = " ".join(str(r[0]) for r in conn.execute(text("SHOW GRANTS")))
                writable = any(
                    p in grants for p in ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE")
                )
            else:
                return "read-only", "ok", f"{backend}: not checked (file permissions apply)"
    except Exception as exc:  # noqa: BLE001 - an unanswerable question is not a failure
        return "read-only", "warn", f"could not check the login's privileges: {type(exc).__name__}"
    if writable:
        return (
            "read-only",
            "warn",
            f"the source login can write to {table}; anomwatch only reads, so a read-only "
            "login is safer",
        )
    return "read-only", "ok", f"the source login can only read {table}"


def _targets(monitor: MonitorConfig) -> Iterator[tuple[str, Level, str]]:
    from anomwatch.notify.targets import make_apprise, masked, resolve

    targets = monitor.notify.target_list()
    if not targets:
        yield "notify", "warn", "no notify.targets: anomalies are stored but nobody is told"
    for i, target in enumerate(targets):
        label = f"target {i + 1} {masked(target.url)}"
        try:
            url = resolve(target.url, monitor.name)
        except AnomwatchError as exc:
            yield "notify", "FAIL", f"{label}: {_short(exc, monitor)}"
            continue
        if make_apprise().add(url):
            yield "notify", "ok", f"{label}: valid apprise URL (min_severity {target.min_severity})"
        else:
            yield "notify", "FAIL", f"{label}: apprise cannot parse it once variables are filled in"


def _short(exc: BaseException, monitor: MonitorConfig) -> str:
    """The error without the leading "monitor 'x': " (the line names the monitor)."""
    return str(exc).removeprefix(f"monitor {monitor.name!r}: ")
