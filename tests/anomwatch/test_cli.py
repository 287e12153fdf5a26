"""The command line as a user meets it: exit codes, one-line errors, real output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.store.db import Store

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_migrates_the_configured_store(databases, monkeypatch) -> None:
    url = databases.new("cli")
    monkeypatch.setenv("ANOMWATCH_STORE_URL", url)
    result = invoke("init")
    assert result.exit_code == 0
    assert f"schema at revision {Store(url).head_revision()}" in result.output
    assert "(was empty)" in result.output
    store = Store(url)
    assert store.current_revision() == store.head_revision()
    again = invoke("init")
    assert f"(was {store.head_revision()})" in again.output
    store.dispose()


def test_unreachable_store_is_one_line_without_the_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANOMWATCH_STORE_URL", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x")
    from anomwatch.cli import main

    monkeypatch.setattr("sys.argv", ["anomwatch", "init"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: store postgresql+psycopg://u:***@127.0.0.1:1/x is unreachable")
    assert "s3cret" not in err and "Traceback" not in err


def test_monitors_validate_lists_the_example_file() -> None:
    result = invoke("monitors", "validate", "--monitors", str(ROOT / "monitors.yaml"))
    assert result.exit_code == 0
    assert "demo-hosts" in result.output and "*/5 * * * *" in result.output
    assert "2 monitor(s) valid" in result.output


def test_invalid_monitors_file_is_one_clear_error(tmp_path, capsys, monkeypatch) -> None:
    bad = tmp_path / "monitors.yaml"
    bad.write_text(yaml.safe_dump({"monitors": [{"name": "x", "schedule": "nope"}]}))
    from anomwatch.cli import main

    monkeypatch.setattr("sys.argv", ["anomwatch", "monitors", "validate", "--monitors", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "monitor 'x': schedule: invalid cron expression 'nope'" in err
    assert "monitor 'x': source: Field required" in err
    assert "Traceback" not in err
