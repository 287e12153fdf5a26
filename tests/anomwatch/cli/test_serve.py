"""`anomwatch serve` refuses to start where it would never run anything, and
`anomwatch deployments write` generates prefect.yaml from monitors.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.anomwatch.cli.conftest import invoke, monitor_spec, write_monitors

ROOT = Path(__file__).resolve().parents[3]


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_serve_without_a_prefect_api_refuses_and_says_how_to_start_one(monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr("anomwatch.cli._prefect.os.environ", {})  # no env, no profile URL
    monkeypatch.setattr("prefect.settings.PREFECT_API_URL.value", lambda: None)
    line = one_error_line(invoke("serve", "-m", str(ROOT / "monitors.yaml")))
    assert "PREFECT_API_URL is not set" in line
    assert "`prefect server start`" in line and "PREFECT_API_URL=http://127.0.0.1:4200/api" in line


def test_serve_with_an_unreachable_api_refuses(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    line = one_error_line(invoke("serve", "-m", str(ROOT / "monitors.yaml")))
    assert "the Prefect API at http://127.0.0.1:1/api (PREFECT_API_URL) is unreachable" in line
    assert "`prefect server start`" in line


def test_serve_with_a_bad_time_zone_is_one_line_before_prefect(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    spec = monitor_spec("hosts", "sqlite:///x.db") | {"timezone": "Mars/Olympus"}
    path = write_monitors(tmp_path / "m.yaml", spec)
    result = invoke("serve", "-m", str(path))
    assert result.exit_code == 2
    # a config error is one `error:` line plus one indented line per problem
    assert result.stderr.splitlines() == [
        f"error: {path} is invalid:",
        "  monitor 'hosts': timezone: unknown time zone 'Mars/Olympus'; use an IANA name "
        "like 'UTC' or 'Europe/Berlin'",
    ]


def test_a_run_with_an_unreachable_api_is_one_line(tmp_path, monkeypatch) -> None:
    """With PREFECT_API_URL set the run is a tracked flow run, so the API must answer."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", "sqlite:///x.db"))
    line = one_error_line(invoke("run", "hosts", "-m", str(path)))
    assert "is unreachable" in line and "so this run cannot be recorded in Prefect" in line
    assert "or unset PREFECT_API_URL to run without Prefect" in line


def test_the_shipped_prefect_yaml_is_what_deployments_write_generates(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    out = tmp_path / "prefect.yaml"
    result = invoke("deployments", "write", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}: 4 deployment(s) for work pool 'anomwatch'\n"
    assert out.read_text() == (ROOT / "prefect.yaml").read_text()


def test_deployments_write_follows_monitors_yaml(tmp_path) -> None:
    one = monitor_spec("orders", "sqlite:///x.db") | {
        "schedule": "0 * * * *",
        "timezone": "Europe/Berlin",
        "feedback": {"auto_tune": False},
    }
    path = write_monitors(tmp_path / "m.yaml", one, monitor_spec("hosts", "sqlite:///x.db"))
    out = tmp_path / "prefect.yaml"
    result = invoke("deployments", "write", "-m", str(path), "--out", str(out), "--work-pool", "p")
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(out.read_text())
    deps = {d["name"]: d for d in spec["deployments"]}
    assert list(deps) == ["orders", "hosts", "hosts-retrain"]  # orders has no auto_tune
    assert deps["orders"]["schedules"] == [{"cron": "0 * * * *", "timezone": "Europe/Berlin"}]
    assert deps["orders"]["parameters"] == {"monitor": "orders", "monitors_file": str(path)}
    assert deps["hosts-retrain"]["entrypoint"] == "flows/retrain.py:retrain"
    assert {d["work_pool"]["name"] for d in deps.values()} == {"p"}
    assert "needs every variable monitors.yaml names" in out.read_text()


def test_deployments_write_of_an_empty_monitors_file_is_an_error(tmp_path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("")
    line = one_error_line(invoke("deployments", "write", "-m", str(path)))
    assert f"{path} is empty" in line


def test_serve_counts_monitors_not_deployments(tmp_path) -> None:
    from anomwatch.cli.serve import serving_line
    from anomwatch.config import load_monitors

    one = write_monitors(tmp_path / "one.yaml", monitor_spec("hosts", "sqlite:///x.db"))
    # one monitor has two deployments (its tick and its feedback retrain): still 1 monitor
    assert serving_line(load_monitors(one), one, "http://127.0.0.1:4200/api", 1) == (
        f"serving 1 monitor (1 with a feedback retrain) from {one} on "
        "http://127.0.0.1:4200/api with 1 worker process; Ctrl-C to stop"
    )
    shipped = load_monitors(ROOT / "monitors.yaml")
    assert serving_line(shipped, ROOT / "monitors.yaml", "u").startswith("serving 2 monitors (2 ")


def test_a_bad_setting_in_the_environment_is_one_line_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("ANOMWATCH_SERVE_PROCESSES", "0")
    line = one_error_line(invoke("serve", "-m", str(ROOT / "monitors.yaml")))
    assert line.startswith("error: ANOMWATCH_SERVE_PROCESSES: Input should be greater than")
    assert "fix or unset it" in line
