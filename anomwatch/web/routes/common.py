"""What every route needs: the store, the monitors' settings, a 404."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException, Request, status

from anomwatch.config import MonitorConfig, MonitorsFile, load_monitors
from anomwatch.errors import AnomwatchError
from anomwatch.settings import Settings
from anomwatch.store.db import Store


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@lru_cache(maxsize=4)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> MonitorsFile | str:
    try:
        return load_monitors(path)
    except AnomwatchError as exc:
        return str(exc)


def monitors_file(request: Request) -> MonitorsFile | str:
    """The parsed monitors.yaml, or why it cannot be read (pages still show the store).

    Parsed once per version of the file (validating 50 monitors takes ~0.3 s): an edit
    shows on the next page, with no restart.
    """
    path = settings_of(request).monitors_file
    try:
        stat = path.stat()
    except OSError:
        return _parsed(path, -1, -1)
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


def monitor_config(request: Request, name: str) -> MonitorConfig | str:
    parsed = monitors_file(request)
    if isinstance(parsed, str):
        return parsed
    try:
        return parsed.get(name)
    except AnomwatchError as exc:
        return str(exc)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")
