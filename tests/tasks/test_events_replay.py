"""Alert events are state in the store: ticks, backfill and a replay give the same events."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from anomwatch.config import MonitorConfig
from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.settings import Settings
from anomwatch.store.anomalies import query_anomalies
from anomwatch.store.db import Store
from anomwatch.store.events import query_events
from flows.monitor import run_tick
from tasks.backfill import run_backfill
from tests.monitor_specs import hosts_monitor
from tests.plain_tick import use_plain_tasks

T0 = datetime(2026, 11, 20)
END = T0 + timedelta(hours=12)
INCIDENTS = (
    Incident("a", "cpu", "shift", T0 + timedelta(hours=2), 24),  # two hours: one event
    Incident("b", "cpu", "spike", T0 + timedelta(hours=5), 1),
    Incident("b", "cpu", "shift", T0 + timedelta(hours=8), 18),  # 90 min: the new normal
)
EVENT_COLUMNS = (
    "series",
    "kind",
    "status",
    "started_at",
    "last_at",
    "resolved_at",
    "new_normal_at",
    "first_score",
    "peak_score",
    "peak_ts",
    "severity",
    "n_points",
    "announced_severity",
    "announced_peak",
)


def monitor(url: str) -> MonitorConfig:
    return hosts_monitor(url, events={"resolve_after": "30m", "new_normal_after": "1h"})


def events_of(store: Store) -> list[tuple[Any, ...]]:
    with store.begin() as conn:
        rows = query_events(conn, "hosts")
    return [tuple(r[c] for c in EVENT_COLUMNS) for r in rows]


def anomaly_events(store: Store) -> list[tuple[str, datetime, datetime | None]]:
    with store.begin() as conn:
        starts = {r["id"]: r["started_at"] for r in query_events(conn, "hosts")}
    rows = query_anomalies(store, monitor="hosts", newest_first=False)
    return [(r["series"], r["ts"], starts.get(r["event_id"])) for r in rows]


def ticks(settings: Settings, store: Store, config: MonitorConfig, steps: list[int]) -> None:
    """The first tick at T0 trains; then one tick per step (minutes) up to END."""
    run_tick(settings, store, config, T0)
    at = T0
    for i in range(10_000):
        at = min(at + timedelta(minutes=steps[i % len(steps)]), END)
        run_tick(settings, store, config, at)
        if at == END:
            return


@pytest.mark.slow
def test_ticks_backfill_and_a_replay_give_the_same_events(
    databases, tmp_path: Path, monkeypatch
) -> None:
    use_plain_tasks(monkeypatch)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    settings = Settings()
    source = databases.new("src")
    write_rows(
        source,
        simulate(T0 - timedelta(days=2), END, INCIDENTS, ("a", "b"), {"cpu": (40.0, 15.0, 2.0)}),
    )
    config = monitor(source)
    stores = {}
    for name in ("ticks", "backfill", "replay"):
        stores[name] = Store(databases.new(name))
        stores[name].migrate()

    ticks(settings, stores["ticks"], config, [20])
    run_tick(settings, stores["backfill"], config, T0)  # the same model, trained at T0
    run_backfill(config, stores["backfill"], settings.models_dir, T0, END, chunk_rows=50)
    ticks(settings, stores["replay"], config, [35, 5, 120, 10])
    run_tick(settings, stores["replay"], config, END)  # a rerun of the last tick

    found = {name: events_of(store) for name, store in stores.items()}
    assert found["ticks"] == found["backfill"] == found["replay"]
    points = {name: anomaly_events(store) for name, store in stores.items()}
    assert points["ticks"] == points["backfill"] == points["replay"]

    events = [dict(zip(EVENT_COLUMNS, e, strict=True)) for e in found["ticks"]]
    print(*events, sep="\n")
    a = [e for e in events if e["series"] == "host=a,metric=cpu"]
    b = [e for e in events if e["series"] == "host=b,metric=cpu"]
    shift_a = [e for e in a if e["started_at"] == INCIDENTS[0].start]
    assert len(shift_a) == 1 and shift_a[0]["n_points"] >= 20  # one event of (nearly) 24 points
    assert [e["status"] for e in shift_a] == ["resolved"]
    assert any(e["new_normal_at"] is not None for e in b)  # the 90-minute shift
    assert all(start is not None for _, _, start in points["ticks"])  # every point has one
    for store in stores.values():
        store.dispose()
