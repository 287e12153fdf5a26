"""`anomwatch monitors validate|list|check`: the file alone, then everything a run needs,
one line per check, against real sources on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from anomwatch.demo import simulate, write_rows
from anomwatch.store.db import make_engine
from tests.anomwatch.cli.conftest import T0, invoke, monitor_spec, write_monitors


@pytest.fixture
def source(databases, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """A metrics table on each backend, its URL in $SOURCE_URL (as a secret would be)."""
    url = databases.new("src")
    rows = simulate(T0, datetime(2026, 11, 1, 6), hosts=("web-1",), metrics={"cpu": (40, 5, 1)})
    write_rows(url, rows)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE labels (ts TIMESTAMP, host VARCHAR(20), value VARCHAR(9))"))
    engine.dispose()
    monkeypatch.setenv("SOURCE_URL", url)
    return url


def checks(result) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(level, monitor, check) of each printed check line."""
    lines = [line.split() for line in result.stdout.splitlines()]
    return [(w[0], w[1], w[2]) for w in lines if w[0] in ("ok", "warn", "FAIL")]


def test_check_passes_a_runnable_monitor(source, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "abc123")
    spec = monitor_spec("hosts", None, url_env="SOURCE_URL")
    spec["notify"] = {"targets": ["json://127.0.0.1:9/${HOOK_TOKEN}"]}
    path = write_monitors(tmp_path / "m.yaml", spec)
    result = invoke("monitors", "check", "-m", str(path))
    assert result.exit_code == 0, result.output
    assert [c[::2] for c in checks(result)] == [
        ("ok", "environment"),
        ("ok", "environment"),
        ("ok", "timezone"),
        ("ok", "source"),
        ("ok", "columns"),
        ("ok", "data"),
        ("warn" if "sqlite" not in source else "ok", "read-only"),  # the test login is root
        ("ok", "notify"),
    ]
    out = result.stdout
    assert "SOURCE_URL is set (source.url_env)" in out and "HOOK_TOKEN is set" in out
    assert "table metrics has ts, host, metric, value; values numeric" in out
    assert "newest row at 2026-11-01 05:55:00" in out
    assert "abc123" not in out  # the secret is never printed
    assert out.endswith("1 monitor(s) ready\n")


def test_check_reports_each_failure_on_its_own_line(source, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_URL", raising=False)
    monkeypatch.delenv("MISSING_TOKEN", raising=False)
    path = write_monitors(
        tmp_path / "m.yaml",
        monitor_spec("unset", None, url_env="NOT_SET_URL"),
        monitor_spec("column", None, url_env="SOURCE_URL", values=["nope"]),
        monitor_spec("text", None, url_env="SOURCE_URL", table="labels", series=["host"]),
        monitor_spec("target", None, url_env="SOURCE_URL")
        | {"notify": {"targets": ["json://127.0.0.1:9/${MISSING_TOKEN}"]}},
    )
    result = invoke("monitors", "check", "-m", str(path))
    assert result.exit_code == 2
    assert result.stderr == "error: 6 check(s) failed\n"
    failed = {(c[1], c[2]) for c in checks(result) if c[0] == "FAIL"}
    assert failed == {
        ("unset", "environment"),
        ("unset", "source"),
        ("column", "columns"),
        ("text", "columns"),
        ("target", "environment"),
        ("target", "notify"),
    }
    out = result.stdout
    assert "NOT_SET_URL is not set (source.url_env needs it)" in out
    assert "column(s) 'nope' not found in table 'metrics'" in out
    assert "value column 'value' has type VARCHAR(9); value columns must be numeric" in out
    assert "refers to environment variable MISSING_TOKEN, which is not set" in out
    one = invoke("monitors", "check", "column", "-m", str(path))
    assert {c[1] for c in checks(one)} == {"column"}  # only the named monitor


def test_check_of_a_refused_login_says_authentication_failed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SRC", "mysql+pymysql://root:wrong-pw@127.0.0.1:3306/test")
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("maria", None, url_env="SRC"))
    result = invoke("monitors", "check", "-m", str(path))
    assert result.exit_code == 2
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("FAIL")]
    assert "source" in line and "authentication failed (check the URL in $SRC)" in line
    assert "wrong-pw" not in result.output


def test_list_shows_each_monitor_without_secrets(tmp_path) -> None:
    path = write_monitors(
        tmp_path / "m.yaml",
        monitor_spec("a", "postgresql+psycopg://u:s3cret@db:5432/x"),
        monitor_spec("b", None, url_env="B_URL", series=[]),
    )
    result = invoke("monitors", "list", "-m", str(path), "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "name,schedule,timezone,source,table,series,values,components,targets",
        "a,*/5 * * * *,UTC,postgresql+psycopg://u:***@db:5432/x,metrics,"
        '"host,metric",value,iforest,0',
        "b,*/5 * * * *,UTC,$B_URL,metrics,-,value,iforest,0",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty; add a 'monitors:' list"),
        ("# only a comment\n", "is empty; add a 'monitors:' list"),
        ("monitors: []\n", "defines no monitors"),
    ],
)
def test_validate_refuses_a_file_without_monitors(tmp_path, content, message) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(content)
    result = invoke("monitors", "validate", "-m", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_validate_refuses_unknown_time_zones(tmp_path) -> None:
    spec = monitor_spec("a", "sqlite:///x.db", timezone="Europe/Atlantis")
    path = write_monitors(tmp_path / "m.yaml", spec | {"timezone": "UTC+2"})
    result = invoke("monitors", "validate", "-m", str(path))
    assert result.exit_code == 2
    assert "monitor 'a': timezone: unknown time zone 'UTC+2'" in result.stderr
    assert "monitor 'a': source.timezone: unknown time zone 'Europe/Atlantis'" in result.stderr


def test_secrets_in_dot_env_reach_url_env(source, tmp_path, monkeypatch) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOTENV_SOURCE_URL", raising=False)
    (tmp_path / ".env").write_text(f"DOTENV_SOURCE_URL={source}\n")
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("a", None, url_env="DOTENV_SOURCE_URL"))
    try:
        result = invoke("monitors", "check", "-m", str(path))
    finally:
        os.environ.pop("DOTENV_SOURCE_URL", None)
    assert result.exit_code == 0, result.output
    assert "DOTENV_SOURCE_URL is set (source.url_env)" in result.stdout
