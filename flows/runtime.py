"""What a flow knows about its own run, with plain fallbacks when called outside Prefect."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.runtime import flow_run


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
