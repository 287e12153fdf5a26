"""Deployments of the monitors: served by `anomwatch serve`, or written to prefect.yaml.

The two paths register deployments under different names (`NAME` for prefect.yaml
and its workers, `NAME-serve` for `anomwatch serve`), so one never silently takes
over the other's deployment; `anomwatch serve` says when both schedule a monitor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anomwatch.config import MonitorConfig, MonitorsFile

TICK_ENTRYPOINT = "flows/monitor.py:monitor_tick"
RETRAIN_ENTRYPOINT = "flows/retrain.py:retrain"
SERVE_SUFFIX = "-serve"


def tick_name(monitor: MonitorConfig) -> str:
    return monitor.name


def retrain_name(monitor: MonitorConfig) -> str:
    return f"{monitor.name}-retrain"


def retrained(parsed: MonitorsFile) -> list[MonitorConfig]:
    """Monitors with a scheduled retrain flow: feedback labels re-tune them
    (`feedback.auto_tune`) or old rows expire (`retention`)."""
    return [m for m in parsed.monitors if m.feedback.auto_tune or m.retention is not None]


def monitor_deployments(parsed: MonitorsFile, monitors_file: Path) -> list[Any]:
    """`anomwatch serve`: each monitor on its cron schedule; never two runs of one at once."""
    from prefect.schedules import Cron

    from flows.monitor import monitor_tick
    from flows.retrain import retrain

    path = str(monitors_file.resolve())
    ticks = [
        monitor_tick.to_deployment(
            name=tick_name(m) + SERVE_SUFFIX,
            schedule=Cron(m.schedule, timezone=m.timezone),
            parameters={"monitor": m.name, "monitors_file": path},
            concurrency_limit=1,
            tags=["anomwatch"],
            description=m.description or None,
        )
        for m in parsed.monitors
    ]
    retrains = [
        retrain.to_deployment(
            name=retrain_name(m) + SERVE_SUFFIX,
            schedule=Cron(m.feedback.schedule, timezone=m.timezone),
            parameters={"monitor": m.name, "monitors_file": path},
            concurrency_limit=1,
            tags=["anomwatch", "retrain"],
            description=f"feedback retrain of {m.name}",
        )
        for m in retrained(parsed)
    ]
    return ticks + retrains


def _yaml_deployment(
    name: str,
    entrypoint: str,
    parameters: dict[str, str],
    cron: str,
    timezone: str,
    tags: list[str],
    work_pool: str,
    description: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "entrypoint": entrypoint}
    if description:
        entry["description"] = description
    entry |= {
        "parameters": parameters,
        "schedules": [{"cron": cron, "timezone": timezone}],
        "concurrency_limit": {"limit": 1, "collision_strategy": "CANCEL_NEW"},
        "tags": tags,
        "work_pool": {"name": work_pool},
    }
    return entry


def prefect_yaml(
    parsed: MonitorsFile, monitors_file: str | None, work_pool: str, prefect_version: str
) -> dict[str, Any]:
    """prefect.yaml for `prefect deploy --all`: a tick per monitor and a feedback retrain
    per auto-tuned monitor, run by workers of `work_pool` in the project folder."""

    def params(m: MonitorConfig) -> dict[str, str]:
        return {"monitor": m.name} | ({"monitors_file": monitors_file} if monitors_file else {})

    ticks = [
        _yaml_deployment(
            tick_name(m),
            TICK_ENTRYPOINT,
            params(m),
            m.schedule,
            m.timezone,
            ["anomwatch"],
            work_pool,
            m.description or None,
        )
        for m in parsed.monitors
    ]
    retrains = [
        _yaml_deployment(
            retrain_name(m),
            RETRAIN_ENTRYPOINT,
            params(m),
            m.feedback.schedule,
            m.timezone,
            ["anomwatch", "retrain"],
            work_pool,
            f"feedback retrain of {m.name}",
        )
        for m in retrained(parsed)
    ]
    return {
        "name": "anomwatch",
        "prefect-version": prefect_version,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
        "deployments": ticks + retrains,
    }


def taken_by_workers(parsed: MonitorsFile) -> list[str]:
    """The monitors that `prefect deploy` deployments (for workers) also schedule on the
    API: served as well, they would tick twice, so `serve` says which and how to stop it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    names = {tick_name(m): (m.name, "anomwatch-monitor") for m in parsed.monitors}
    names |= {retrain_name(m): (m.name, "anomwatch-retrain") for m in retrained(parsed)}
    try:
        with get_client(sync_client=True) as client:
            found = client.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=list(names)))
            )
    except Exception:  # noqa: BLE001 - a courtesy check; serving does not depend on it
        return []
    lines = []
    for dep in found:
        if dep.name in names and dep.work_pool_name and dep.paused is not True:
            monitor, flow_name = names[dep.name]
            lines.append(
                f"deployment {flow_name}/{dep.name} (work pool {dep.work_pool_name!r}, from "
                f"`prefect deploy`) also schedules monitor {monitor!r}; pause it with "
                f"`prefect deployment pause '{flow_name}/{dep.name}'` if this process should "
                "be the only one running it"
            )
    return lines
