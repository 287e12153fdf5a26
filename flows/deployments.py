"""Deployments of the monitor flow, one per monitor, for `anomwatch serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from anomwatch.config import MonitorsFile
from flows.monitor import monitor_tick


def monitor_deployments(parsed: MonitorsFile, monitors_file: Path) -> list[Any]:
    """Each monitor on its cron schedule; never two runs of one monitor at once."""
    return [
        monitor_tick.to_deployment(
            name=m.name,
            schedule=Cron(m.schedule, timezone=m.timezone),
            parameters={"monitor": m.name, "monitors_file": str(monitors_file.resolve())},
            concurrency_limit=1,
            tags=["anomwatch"],
            description=m.description or None,
        )
        for m in parsed.monitors
    ]
