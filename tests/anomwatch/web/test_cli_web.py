"""`anomwatch web` refuses to start without logins; `web hash-password` makes them."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import web_server  # noqa: E402

from anomwatch.cli import app  # noqa: E402
from anomwatch.web.passwords import hash_password, verify_password  # noqa: E402

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from anomwatch.store.db import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.dispose()
    values = {
        "ANOMWATCH_HOME": str(tmp_path / "home"),
        "ANOMWATCH_STORE_URL": store.url,
        "ANOMWATCH_MONITORS_FILE": str(tmp_path / "none.yaml"),
    }
    for key in ("ANOMWATCH_WEB_USERS", "ANOMWATCH_WEB_TOKEN_HASH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_no_logins_configured_refuses_to_start(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["web", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no logins configured: set ANOMWATCH_WEB_USERS or ANOMWATCH_WEB_TOKEN_HASH "
        "(hashes from `anomwatch web hash-password`), or pass --no-auth on 127.0.0.1"
    ]


def test_no_auth_only_on_loopback(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["web", "--no-auth", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --no-auth is only allowed on a loopback address, not 0.0.0.0"
    )


def test_a_user_without_a_hash_is_an_error_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANOMWATCH_WEB_USERS", "alice:plaintext-password")
    result = runner.invoke(app, ["web", "--port", "1"])
    assert result.exit_code == 2
    assert "plaintext-password" not in result.output
    assert result.output.startswith("error: ANOMWATCH_WEB_USERS: entry for 'alice' is not")


def test_hash_password_prints_a_hash_that_verifies() -> None:
    result = runner.invoke(app, ["web", "hash-password", "--stdin"], input="correct horse\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip()
    assert hashed.startswith("scrypt$16384$8$1$") and "correct horse" not in hashed
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct horsE", hashed)
    assert hash_password("correct horse") != hashed  # salted
    short = runner.invoke(app, ["web", "hash-password", "--stdin"], input="short\n")
    assert short.exit_code == 2 and short.output.startswith("error: the password must have")


def test_served_by_the_command_with_a_token_and_with_no_auth(env: dict[str, str]) -> None:
    token = "a-long-random-token"
    with web_server({**env, "ANOMWATCH_WEB_TOKEN_HASH": hash_password(token)}) as url:
        assert httpx.get(f"{url}/").status_code == 401
        page = httpx.get(f"{url}/", headers={"authorization": f"Bearer {token}"})
        assert page.status_code == 200 and "Monitors" in page.text
    with web_server(env, ("--no-auth",)) as url:
        assert httpx.get(f"{url}/").status_code == 200
