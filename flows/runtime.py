"""What a flow knows about its own run, with plain fallbacks when called outside Prefect."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """The run's page in the Prefect UI; None without a UI URL (Prefect then gives
    "None/flow-runs/..."), which must not reach a message as a link."""
    try:
        url = flow_run.ui_url
    except Exception:  # noqa: BLE001
        return None
    return url if url and url.startswith(("http://", "https://")) else None


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


@dataclass(frozen=True)
class TickSteps:
    """The steps of a tick, as Prefect tasks (scheduled runs) or plain functions.

    A one-off `anomwatch run` without a Prefect API uses the plain functions: the
    same code, without Prefect's temporary server (about 8 s per run).
    `submit_batch` returns something with `.result()` (a Prefect or stdlib future).
    """

    extract: Callable[..., Any]
    prepare_shared: Callable[..., Any]
    submit_batch: Callable[..., Any]
    persist: Callable[..., Any]
    plot: Callable[..., Any]
    notify: Callable[..., Any]


@contextmanager
def plain_steps(max_workers: int) -> Iterator[TickSteps]:
    """The tick's task functions called directly; batches on a local thread pool."""
    from tasks.batch import process_batch
    from tasks.extract import extract_rows
    from tasks.fit import prepare_shared_lstm
    from tasks.notify import notify_monitor
    from tasks.persist import persist_scored
    from tasks.report import plot_tick

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="anomwatch") as pool:
        yield TickSteps(
            extract=extract_rows,
            prepare_shared=prepare_shared_lstm,
            submit_batch=lambda *args: pool.submit(process_batch, *args),
            persist=persist_scored,
            plot=plot_tick,
            notify=notify_monitor,
        )
