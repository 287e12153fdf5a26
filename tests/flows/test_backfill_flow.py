"""The backfill flow (flows/backfill.py) as Prefect runs it: same results as the task body."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from anomwatch.store.anomalies import get_watermarks, query_anomalies
from anomwatch.store.db import Store
from flows.backfill import backfill
from tests.tasks.test_backfill import SPIKES, T0, monitor_spec, write_source

pytestmark = [pytest.mark.slow, pytest.mark.flows]


def test_backfill_flow_stores_the_spikes_once_and_leaves_watermarks(
    sqlite_databases, tmp_path: Path, monkeypatch
) -> None:
    source = sqlite_databases.new("src")
    write_source(source)
    monitors_file = tmp_path / "monitors.yaml"
    monitors_file.write_text(yaml.safe_dump({"monitors": [monitor_spec(source)]}))
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))

    result = backfill("hosts", T0, T0 + timedelta(hours=12), str(monitors_file), chunk_rows=100)
    assert result["rows_read"] == result["points_scored"] == 2 * 143
    stored = {(r["series"], r["ts"]): r["suppressed"] for r in query_anomalies(store)}
    assert stored[("host=a,metric=cpu", SPIKES[0].start)] == "backfill"
    assert stored[("host=b,metric=cpu", SPIKES[1].start)] == "backfill"
    assert result["anomalies"] == len(stored)
    assert get_watermarks(store, "hosts") == {}  # live ticks start where they would have

    again = backfill("hosts", T0, T0 + timedelta(hours=12), str(monitors_file), chunk_rows=100)
    assert again["anomalies"] == 0
    assert len(list(query_anomalies(store))) == len(stored)
    store.dispose()
