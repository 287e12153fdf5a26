"""Deployments for `anomwatch serve`: each monitor's tick, and its feedback retrain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from anomwatch.config import MonitorsFile
from flows.monitor import monitor_tick
from flows.retrain import retrain


def monitor_deployments(parsed: MonitorsFile, monitors_file: Path) -> list[Any]:
    """Each monitor on its cron schedule; never two runs of one monitor at once."""
    return _tick_deployments(parsed, monitors_file) + _retrain_deployments(parsed, monitors_file)


def _tick_deployments(parsed: MonitorsFile, monitors_file: Path) -> list[Any]:
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


def _retrain_deployments(parsed: MonitorsFile, monitors_file: Path) -> list[Any]:
    """Feedback re-tuning on `feedback.schedule`, for monitors with `feedback.auto_tune`."""
    return [
        retrain.to_deployment(
            name=f"{m.name}-retrain",
            schedule=Cron(m.feedback.schedule, timezone=m.timezone),
            parameters={"monitor": m.name, "monitors_file": str(monitors_file.resolve())},
            concurrency_limit=1,
            tags=["anomwatch", "retrain"],
            description=f"feedback retrain of {m.name}",
        )
        for m in parsed.monitors
        if m.feedback.auto_tune
    ]
