"""What a flow knows about its own run, with plain fallbacks when called outside Prefect."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import get_run_logger
from prefect.runtime import flow_run

from anomwatch.config import MonitorConfig, load_monitors
from anomwatch.settings import Settings
from anomwatch.store.db import Store


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run (plain call in tests)
        return logging.getLogger("anomwatch.flow")


def flow_run_id() -> str | None:
    try:
        return str(flow_run.id) if flow_run.id else None
    except Exception:  # noqa: BLE001
        return None


def flow_run_url() -> str | None:
    try:
        return flow_run.ui_url
    except Exception:  # noqa: BLE001
        return None


@contextmanager
def monitor_and_store(
    monitor: str, monitors_file: str | None
) -> Iterator[tuple[Settings, MonitorConfig, Store]]:
    """Settings, the monitor's config and its migrated store, disposed of afterwards."""
    settings = Settings()
    path = Path(monitors_file) if monitors_file else settings.monitors_file
    config = load_monitors(path).get(monitor)
    store = Store(settings.resolved_store_url)
    try:
        store.require_migrated()
        yield settings, config, store
    finally:
        store.dispose()
