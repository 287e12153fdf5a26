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
    flows: dict[str, set[str]] = {"anomwatch-monitor": set(), "anomwatch-retrain": set()}
    for dep in deployments:
        module_path, func_name = dep["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func_name)
        monitor = monitors[dep["parameters"]["monitor"]]
        flows[flow.name].add(monitor.name)
        (schedule,) = dep["schedules"]
        wanted = monitor.schedule if flow.name == "anomwatch-monitor" else monitor.feedback.schedule
        assert schedule["cron"] == wanted
        CronSim(schedule["cron"], datetime(2026, 1, 1))
        assert dep["concurrency_limit"]["limit"] == 1
    assert flows == {"anomwatch-monitor": set(monitors), "anomwatch-retrain": set(monitors)}


def test_serve_builds_one_scheduled_deployment_per_monitor() -> None:
    from flows.deployments import monitor_deployments

    parsed = load_monitors(ROOT / "monitors.yaml")
    deployments = monitor_deployments(parsed, ROOT / "monitors.yaml")
    names = [m.name for m in parsed.monitors]
    # distinct from prefect.yaml's names, so serve never takes over a worker's deployment
    assert [d.name for d in deployments] == [f"{n}-serve" for n in names] + [
        f"{n}-retrain-serve" for n in names
    ]
    assert [d.schedules[0].schedule.cron for d in deployments] == [
        m.schedule for m in parsed.monitors
    ] + [m.feedback.schedule for m in parsed.monitors]
    assert [d.parameters["monitor"] for d in deployments] == names + names
    assert all(d.concurrency_limit == 1 for d in deployments)


def test_a_monitor_without_auto_tune_gets_no_retrain_deployment(tmp_path: Path) -> None:
    from flows.deployments import monitor_deployments

    text = (
        (ROOT / "monitors.yaml")
        .read_text()
        .replace(
            '    schedule: "*/15 * * * *"',
            '    schedule: "*/15 * * * *"\n    feedback: {auto_tune: false}',
        )
    )
    (tmp_path / "monitors.yaml").write_text(text)
    parsed = load_monitors(tmp_path / "monitors.yaml")
    names = [d.name for d in monitor_deployments(parsed, tmp_path / "monitors.yaml")]
    assert names == ["demo-hosts-serve", "demo-cpu-serve", "demo-hosts-retrain-serve"]


def test_a_monitor_with_retention_keeps_its_retrain_deployment(tmp_path: Path) -> None:
    """The retrain flow is where old rows expire: retention schedules it without auto_tune."""
    from flows.deployments import monitor_deployments

    text = (
        (ROOT / "monitors.yaml")
        .read_text()
        .replace(
            '    schedule: "*/15 * * * *"',
            '    schedule: "*/15 * * * *"\n    feedback: {auto_tune: false}\n    retention: 90d',
        )
    )
    (tmp_path / "monitors.yaml").write_text(text)
    parsed = load_monitors(tmp_path / "monitors.yaml")
    names = [d.name for d in monitor_deployments(parsed, tmp_path / "monitors.yaml")]
    assert names[-1] == "demo-cpu-retrain-serve"
