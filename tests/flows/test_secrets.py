"""Secrets never reach logs, errors, Prefect artifacts or store rows."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_monitor_flow import STEP, T0, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.receiver import WebhookReceiver  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.schema import metadata  # noqa: E402
from flows.monitor import monitor_tick  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]

SOURCE_PW = "src-Pw-4f9a1c"
STORE_PW = "store-Pw-7d2e0b"
HOOK_PW = "hook-Pw-93bd55"
DEAD_PW = "dead-Pw-11aa22"
SECRETS = (SOURCE_PW, STORE_PW, HOOK_PW, DEAD_PW)


def with_password(url: str, password: str) -> str:
    """PostgreSQL here trusts local connections, so any password works and is a real secret
    that the URL carries everywhere it goes."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def dump_store(store: Store) -> str:
    with store.engine.connect() as conn:
        return "\n".join(
            repr(row) for table in metadata.sorted_tables for row in conn.execute(select(table))
        )


async def artifact_texts() -> str:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        artifacts = await client.read_artifacts()
    return "\n".join(str(a.data) + str(a.description) for a in artifacts)


def test_a_tick_with_secret_bearing_urls_leaks_nothing(
    databases, tmp_path, monkeypatch, caplog, capfd
) -> None:
    if databases.backend != "postgresql":
        pytest.skip("passwords in URLs need a server backend; PostgreSQL covers it")
    caplog.set_level(logging.DEBUG)
    source = with_password(databases.new("src"), SOURCE_PW)
    store_url = with_password(databases.new("store"), STORE_PW)
    write_rows(source, rows(T0 - timedelta(days=2), T0 + timedelta(hours=1) + STEP))
    monkeypatch.setenv("AW_SOURCE_PW", SOURCE_PW)
    monkeypatch.setenv("AW_HOOK_PW", HOOK_PW)
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store_url)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", "3")
    store = Store(store_url)
    store.migrate()
    with WebhookReceiver() as hook:
        templated_source = source.replace(SOURCE_PW, "${AW_SOURCE_PW}")
        spec = {
            "monitors": [
                {
                    "name": "hosts",
                    "source": {
                        "url": templated_source,
                        "table": "metrics",
                        "timestamp": "ts",
                        "series": ["host", "metric"],
                        "values": ["value"],
                    },
                    "notify": {
                        "targets": [
                            f"json://user:${{AW_HOOK_PW}}@127.0.0.1:{hook.port}/hook",
                            f"json://user:{DEAD_PW}@127.0.0.1:1/closed",  # connection refused
                        ]
                    },
                }
            ]
        }
        monitors = tmp_path / "monitors.yaml"
        monitors.write_text(yaml.safe_dump(spec))
        monitor_tick("hosts", monitors_file=str(monitors), until=T0)
        result = monitor_tick("hosts", monitors_file=str(monitors), until=T0 + timedelta(hours=1))
        assert result["new_anomalies"] >= 1
        assert len(hook.received) == 1  # the good target got its digest
        assert result["notify_failed"]  # the dead one failed, with an error recorded
        # a failing source whose URL holds the password
        spec["monitors"][0]["source"]["url"] = templated_source.replace("5432", "1")
        monitors.write_text(yaml.safe_dump(spec))
        with pytest.raises(Exception) as failure:
            monitor_tick("hosts", monitors_file=str(monitors), until=T0 + timedelta(hours=2))

    out, err = capfd.readouterr()
    places = {
        "logs": caplog.text,
        "stdout": out,
        "stderr": err,
        "error": str(failure.value),
        "store rows": dump_store(store),
        "artifacts": asyncio.run(artifact_texts()),
        "result": repr(result),
    }
    assert "unreachable" in places["error"]
    for where, text in places.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {where}"
    store.dispose()
