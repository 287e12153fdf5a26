"""`anomwatch metrics`: serves /metrics from the store; a taken port, a missing or
unmigrated store are one `error:` line and exit code 2."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import create_engine

from anomwatch.store.db import Store
from anomwatch.store.runs import register_monitor
from tests.anomwatch.cli.conftest import invoke
from tests.anomwatch.cli.test_ticks import assert_one_error_line
from tests.anomwatch.exporter.processes import exporter, get
from tests.anomwatch.exporter.scrape import samples, value
from tests.notify_servers import free_port


def test_metrics_serves_the_store_to_scrapers(sqlite_databases, tmp_path: Path) -> None:
    """One backend: serving does not depend on it (the collector's tests cover all three)."""
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    register_monitor(store, "hosts", "h")
    with exporter(store.url, free_port(), tmp_path / "exporter.log") as url:
        status, content_type, body = get(url)
        assert status == 200
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        found = samples(body)
        assert value(found, "anomwatch_store_up") == 1
        assert value(found, "anomwatch_anomalies_total", monitor="hosts", severity="warning") == 0
        register_monitor(store, "orders", "o")  # every scrape reads the store again
        assert ("anomwatch_healthy", (("monitor", "orders"),)) in samples(get(url)[2])
        assert get(url.replace("/metrics", "/nope"))[0] == 404
        assert get(url.replace("/metrics", "/"))[0] == 200
    store.dispose()
    assert "Traceback" not in (tmp_path / "exporter.log").read_text()


def test_metrics_on_a_taken_port_is_one_error_line(cli_env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("metrics", "--port", str(port))
    assert_one_error_line(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_metrics_without_a_store_is_one_error_line(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nowhere" / "store.db"
    monkeypatch.setenv("ANOMWATCH_STORE_URL", f"sqlite:///{missing}")
    result = invoke("metrics", "--port", str(free_port()))
    assert_one_error_line(result, f"store {missing} does not exist; run `anomwatch init`")
    assert not missing.parent.exists()  # the exporter only reads: it leaves nothing behind


def test_metrics_on_an_unmigrated_store_is_one_error_line(databases, monkeypatch) -> None:
    url = databases.new("empty")
    engine = create_engine(url)
    engine.connect().close()  # the SQLite file exists, empty
    engine.dispose()
    monkeypatch.setenv("ANOMWATCH_STORE_URL", url)
    result = invoke("metrics", "--port", str(free_port()))
    assert_one_error_line(result, "is at schema revision none", "run `anomwatch init`")
