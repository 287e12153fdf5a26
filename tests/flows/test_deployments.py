"""prefect.yaml and `anomwatch serve` describe runnable deployments."""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path

import yaml
from cronsim import CronSim

from anomwatch.config import load_monitors

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_has_a_deployment_per_monitor_with_importable_entrypoints() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    monitors = {m.name: m for m in load_monitors(ROOT / "monitors.yaml").monitors}
    deployments = spec["deployments"]
    assert {d["parameters"]["monitor"] for d in deployments} == set(monitors)
    for dep in deployments:
        module_path, func_name = dep["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func_name)
        assert flow.name == "anomwatch-monitor"
        monitor = monitors[dep["parameters"]["monitor"]]
        (schedule,) = dep["schedules"]
        assert schedule["cron"] == monitor.schedule
        CronSim(schedule["cron"], datetime(2026, 1, 1))
        assert dep["concurrency_limit"]["limit"] == 1


def test_serve_builds_one_scheduled_deployment_per_monitor() -> None:
    from flows.deployments import monitor_deployments

    parsed = load_monitors(ROOT / "monitors.yaml")
    deployments = monitor_deployments(parsed, ROOT / "monitors.yaml")
    assert [d.name for d in deployments] == [m.name for m in parsed.monitors]
    assert [d.schedules[0].schedule.cron for d in deployments] == [
        m.schedule for m in parsed.monitors
    ]
    assert all(
        d.parameters["monitor"] == m.name for d, m in zip(deployments, parsed.monitors, strict=True)
    )
    assert all(d.concurrency_limit == 1 for d in deployments)
