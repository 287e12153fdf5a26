"""Source statement timeout and lost connections on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anomwatch.config import parse_monitors
from anomwatch.demo import simulate, write_rows
from anomwatch.errors import ConfigError, SourceUnavailableError
from anomwatch.source import SourceReader

T0 = datetime(2026, 11, 20)
SLOW = {  # a read that takes far longer than the timeout (the probe reads no rows: fast)
    "sqlite": "SELECT ts, host, metric, value FROM metrics WHERE ts > :since AND ts <= :until "
    "AND (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT max(x) FROM c) > 0",
    "mariadb": "SELECT ts, host, metric, value FROM metrics WHERE ts > :since AND ts <= :until "
    "AND SLEEP(0.5) = 0",
    "postgresql": "SELECT ts, host, metric, value FROM metrics WHERE ts > :since "
    "AND ts <= :until AND pg_sleep(0.5)::text = ''",
}


def monitor(url: str, **source):
    spec = {"url": url, "timestamp": "ts", "series": ["host", "metric"], "values": ["value"]}
    spec.update(source)
    return parse_monitors({"monitors": [{"name": "m1", "source": spec}]}).get("m1")


def test_slow_read_is_cancelled_after_statement_timeout(databases) -> None:
    url = databases.new("src")
    write_rows(url, simulate(T0, T0 + timedelta(hours=2), hosts=("a",), metrics={"cpu": (1, 1, 0)}))
    reader = SourceReader(monitor(url, query=SLOW[databases.backend], statement_timeout="1s"))
    reader.source_clause()  # the probe reads no rows, so it is fast
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as info:
        reader.read_range(None, T0 + timedelta(hours=3))
    elapsed = time.monotonic() - started
    reader.close()
    assert 0.9 < elapsed < 5
    message = str(info.value)
    assert message.startswith("monitor 'm1': reading from")
    assert "cancelled after source.statement_timeout (1 s)" in message


def test_fast_reads_are_not_cancelled_by_an_earlier_deadline(sqlite_databases) -> None:
    url = sqlite_databases.new("src")
    write_rows(url, simulate(T0, T0 + timedelta(hours=2), hosts=("a",), metrics={"cpu": (1, 1, 0)}))
    reader = SourceReader(monitor(url, table="metrics", statement_timeout="1s"))
    assert len(reader.read_range(None, T0 + timedelta(hours=3)).frame) == 24
    chunks = list(reader.iter_range(None, T0 + timedelta(hours=3), chunk_rows=10))
    time.sleep(1.1)  # a deadline armed by an earlier statement must not hit later ones
    assert len(reader.read_range(None, T0 + timedelta(hours=3)).frame) == 24
    reader.close()
    assert sum(len(c.frame) for c in chunks) == 24


def test_a_streamed_read_longer_than_the_timeout_is_not_cancelled(sqlite_databases) -> None:
    """A backfill consumes its chunks slowly: the statement outlives statement_timeout."""
    url = sqlite_databases.new("src")
    hosts = tuple("abcdefgh")
    written = write_rows(
        url, simulate(T0, T0 + timedelta(days=2), hosts=hosts, metrics={"cpu": (1, 1, 0)})
    )
    reader = SourceReader(monitor(url, table="metrics", statement_timeout="1s"))
    started = time.monotonic()
    total = 0
    for chunk in reader.iter_range(None, T0 + timedelta(days=3), chunk_rows=500):
        total += len(chunk.frame)
        time.sleep(0.2)  # a slow consumer: later fetches run after the deadline
    elapsed = time.monotonic() - started
    reader.close()
    assert elapsed > 2, "the read must outlive the 1 s timeout for this test to mean anything"
    assert total == written == 8 * 576


def test_a_connection_killed_before_a_read_is_retryable(databases, monkeypatch) -> None:
    """The soak benchmark's source fault, on each backend: the read fails as transient
    (SourceUnavailableError, worth a retry) and the next read gets a fresh connection."""
    from fault_injection import ConnectionKiller

    url = databases.new("src")
    write_rows(url, simulate(T0, T0 + timedelta(hours=1), hosts=("a",), metrics={"cpu": (1, 1, 0)}))
    killer = ConnectionKiller(source_url=url, source_kills=1).install(monkeypatch.setattr)
    reader = SourceReader(monitor(url, table="metrics"))
    with pytest.raises(SourceUnavailableError, match="monitor 'm1': reading from .* failed"):
        reader.read_range(None, T0 + timedelta(hours=2))
    assert killer.killed["source"] == 1
    assert len(reader.read_range(None, T0 + timedelta(hours=2)).frame) == 12
    reader.close()


@pytest.mark.parametrize("bad", ["0s", "-5s", "soon"])
def test_statement_timeout_must_be_a_positive_duration(bad: str) -> None:
    with pytest.raises(ConfigError, match="monitor 'm1'.*statement_timeout"):
        monitor("sqlite:///x.db", table="metrics", statement_timeout=bad)
