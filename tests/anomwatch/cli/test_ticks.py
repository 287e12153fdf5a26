"""`anomwatch run`, `retrain` and `backfill` as a user meets them: without a Prefect API
the tick runs in-process, and every expected error is one `error:` line, exit code 2."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from anomwatch.store.schema import runs
from tests.anomwatch.cli.conftest import invoke, monitor_spec, write_monitors


def assert_one_error_line(result, *fragments: str) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def test_run_without_prefect_scores_and_records_the_run(cli_env, source_url, tmp_path) -> None:
    path = write_monitors(tmp_path / "monitors.yaml", monitor_spec("hosts", source_url))
    first = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T12:00")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("run 1 succeeded: ")
    assert "trained 2 model(s): this run's rows were their baseline" in first.stdout
    second = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T14:00")
    assert second.exit_code == 0, second.output
    # 2 h of 5-minute rows for 2 series, read with the context rows before them
    assert "rows read, 48 points scored" in second.stdout
    with cli_env.begin() as conn:  # no flow run id: Prefect (and its server) took no part
        rows = conn.execute(select(runs.c.status, runs.c.flow_run_id).order_by(runs.c.id)).all()
    assert [tuple(r) for r in rows] == [("succeeded", None), ("succeeded", None)]


def test_run_with_a_bad_until_is_one_error_line() -> None:
    result = invoke("run", "hosts", "--until", "yesterday")
    assert_one_error_line(result, "--until: invalid time 'yesterday'")


def test_run_of_a_missing_table_is_one_line_and_recorded(cli_env, source_url, tmp_path) -> None:
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url, table="nope"))
    result = invoke("run", "hosts", "-m", str(path))
    assert_one_error_line(result, "monitor 'hosts': table 'nope' not found", "available tables")
    with cli_env.begin() as conn:
        assert conn.execute(select(runs.c.status)).scalars().all() == ["failed"]


def test_debug_shows_the_traceback_of_an_expected_error(
    cli_env, source_url, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ANOMWATCH_DEBUG", "0")  # restored after the test
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url, table="nope"))
    result = invoke("--debug", "run", "hosts", "-m", str(path))
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: monitor 'hosts': table")


def test_unknown_monitor_in_run_retrain_and_backfill(cli_env, source_url, tmp_path) -> None:
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url))
    for args in (["run", "nope"], ["retrain", "nope"], ["backfill", "nope", "--since", "2d"]):
        result = invoke(*args, "-m", str(path))
        assert_one_error_line(result, "unknown monitor 'nope'; configured monitors: hosts")


def test_backfill_bad_range_is_one_error_line(cli_env, source_url, tmp_path) -> None:
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url))
    result = invoke("backfill", "hosts", "--since", "last week", "-m", str(path))
    assert_one_error_line(result, "--since: invalid time 'last week'")
    result = invoke("backfill", "hosts", "--since", "1h", "--until", "2h", "-m", str(path))
    assert_one_error_line(result, "--until must be after --since")


def test_a_wrong_password_is_not_retried_and_says_authentication_failed(
    cli_env, tmp_path, monkeypatch
) -> None:
    """MariaDB refuses the password (1045); PostgreSQL here trusts every password, so its
    refusal is an unknown user. Neither is 'unreachable', and neither is retried."""
    monkeypatch.setenv("ANOMWATCH_DB_ATTEMPTS", "4")
    monkeypatch.setenv("ANOMWATCH_DB_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("SRC_URL", "mysql+pymysql://root:wrong-pw@127.0.0.1:3306/test")
    path = write_monitors(
        tmp_path / "m.yaml",
        monitor_spec("maria", None, url_env="SRC_URL"),
        monitor_spec("pg", "postgresql+psycopg://nobody_here:pw@127.0.0.1:5432/postgres"),
    )
    for name, reason in (("maria", "authentication failed"), ("pg", "authentication failed")):
        began = time.monotonic()
        result = invoke("run", name, "-m", str(path))
        line = assert_one_error_line(result, f"monitor '{name}'", reason)
        assert time.monotonic() - began < 20
        assert "attempt" not in line and "unreachable" not in line
        assert "wrong-pw" not in result.output
    assert "check the URL in $SRC_URL" in invoke("run", "maria", "-m", str(path)).stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql+pymysql://root:wrong-pw@127.0.0.1:3306/test", "authentication failed"),
        ("postgresql+psycopg://nobody_here:pw@127.0.0.1:5432/postgres", "authentication failed"),
        ("postgresql+psycopg://root@127.0.0.1:5432/no_such_db", "the database does not exist"),
    ],
)
def test_a_refused_store_login_is_one_line(url, reason, monkeypatch) -> None:
    monkeypatch.setenv("ANOMWATCH_STORE_URL", url)
    result = invoke("init")
    line = assert_one_error_line(result, reason, "check ANOMWATCH_STORE_URL")
    assert "unreachable" not in line and "wrong-pw" not in line


def test_retrain_without_prefect_reports_the_feedback_state(cli_env, source_url, tmp_path):  # type: ignore[no-untyped-def]
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url))
    result = invoke("retrain", "hosts", "-m", str(path))
    assert result.exit_code == 0, result.output
    assert "# anomwatch retrain: hosts" in result.stdout


def test_a_flow_run_link_needs_a_ui_url(monkeypatch) -> None:
    """Without PREFECT_UI_URL, Prefect's link is "None/flow-runs/..."; no link is better."""
    from flows.runtime import flow_run_url

    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "6f1c1b59-7c4e-4a47-9f0f-0a1d2c3b4e5f")
    monkeypatch.setattr("prefect.runtime.flow_run.PREFECT_UI_URL.value", lambda: None)
    assert flow_run_url() is None
    monkeypatch.setattr(
        "prefect.runtime.flow_run.PREFECT_UI_URL.value", lambda: "http://127.0.0.1:4200"
    )
    assert flow_run_url() == (
        "http://127.0.0.1:4200/flow-runs/flow-run/6f1c1b59-7c4e-4a47-9f0f-0a1d2c3b4e5f"
    )


def test_a_seasonal_cold_start_is_recorded_on_the_run(cli_env, source_url, tmp_path) -> None:
    import json

    path = write_monitors(tmp_path / "monitors.yaml", monitor_spec("hosts", source_url))
    first = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T12:00")
    assert first.exit_code == 0, first.output
    with cli_env.begin() as conn:
        details = json.loads(conn.execute(select(runs.c.details)).scalar_one())
    found = details["seasonality"]
    assert set(found) == {"host=web-1,metric=cpu", "host=web-2,metric=cpu"}
    assert all("seasonal cold start" in note for note in found.values())


def test_a_quiet_run_keeps_the_reason_a_send_failed(cli_env, source_url, tmp_path) -> None:
    """`run` keeps apprise's log lines off the terminal (its summary has them) without
    silencing the log capture that records why a send failed."""
    from datetime import datetime

    from anomwatch.notify.digest import render_digest
    from anomwatch.notify.send import send_digest

    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url, table="nope"))
    assert invoke("run", "hosts", "-m", str(path)).exit_code == 2  # the logs are quieted now
    from tests.anomwatch.test_formats import event_line

    row = event_line(datetime(2026, 11, 20), expected=None)
    outcome = send_digest("json://127.0.0.1:1/hook", render_digest("m", [row], 10, "x"), None, 3)
    assert not outcome.ok
    assert outcome.error is not None and "127.0.0.1" in outcome.error
    assert "apprise status" not in outcome.error  # apprise's own reason, not the fallback
