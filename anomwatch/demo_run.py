"""`anomwatch demo`: the whole product on an embedded SQLite database.

Creates simulated metrics (3 hosts × 3 metrics, 3 days of history), then lets new
rows "arrive" in 20-minute steps with injected incidents, running the real monitor
flow after each step, with a real local webhook receiving the digests.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
import yaml
from sqlalchemy import delete

from anomwatch.demo import NOISE_ORIGIN, STEP, Incident, simulate, write_rows
from anomwatch.durations import utcnow
from anomwatch.output import new_anomalies
from anomwatch.output import write_rows as print_rows
from anomwatch.receiver import WebhookReceiver
from anomwatch.settings import Settings
from anomwatch.store.anomalies import query_anomalies
from anomwatch.store.db import Store
from anomwatch.store.events import query_events
from anomwatch.store.schema import (
    anomalies,
    digests,
    event_cursors,
    events,
    locks,
    models,
    monitors,
    notifications,
    runs,
    watermarks,
)

MONITOR = "demo-hosts"
TICK = timedelta(minutes=20)
HISTORY = timedelta(days=3)
# The first tick of the run the README records: every run replays that run's noise (the
# noise origin moves with the date), so the demo prints the same on any date.
RECORDED_START = datetime(2026, 12, 1, 13, 55)
DEMO_T0 = timedelta(hours=13, minutes=55)  # time of day of the first tick


def demo_monitors(db_path: Path, webhook_port: int) -> dict[str, object]:
    return {
        "monitors": [
            {
                "name": MONITOR,
                "description": "simulated host metrics (anomwatch demo)",
                "source": {
                    "url": f"sqlite:///{db_path.resolve()}",
                    "table": "metrics",
                    "timestamp": "ts",
                    "series": ["host", "metric"],
                    "values": ["value"],
                },
                "schedule": "*/20 * * * *",
                "detector": {},  # the shipped defaults, as benchmarked in the README
                "notify": {"targets": [f"json://127.0.0.1:{webhook_port}/anomwatch-demo"]},
            }
        ]
    }


def reset_monitor_state(store: Store, name: str) -> None:
    with store.begin() as conn:
        conn.execute(delete(notifications).where(notifications.c.monitor == name))
        conn.execute(delete(anomalies).where(anomalies.c.monitor == name))
        conn.execute(delete(events).where(events.c.monitor == name))
        conn.execute(delete(event_cursors).where(event_cursors.c.monitor == name))
        conn.execute(delete(digests).where(digests.c.monitor == name))
        conn.execute(delete(runs).where(runs.c.monitor == name))
        conn.execute(delete(models).where(models.c.monitor == name))
        conn.execute(delete(watermarks).where(watermarks.c.monitor == name))
        conn.execute(delete(locks).where(locks.c.name == name))
        conn.execute(delete(monitors).where(monitors.c.name == name))


def demo_start(now: datetime, ticks: int) -> datetime:
    """The first tick at 13:55 UTC of the latest day whose ticks are all in the past.

    The simulated metrics follow a daily pattern, so a fixed time of day gives every
    run the same data and the same anomalies, whenever the demo is started.
    """
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = day + DEMO_T0
    while t0 + ticks * TICK > now:
        t0 -= timedelta(days=1)
    return t0


def run_demo(settings: Settings, ticks: int) -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.monitor import monitor_tick, tick_monitor
    from flows.runtime import plain_steps

    def tick(monitors_file: Path, until: datetime) -> dict[str, Any]:
        """A flow run with a Prefect API; without one the plain functions (no temporary
        server: its start-up and its "database is locked" noise)."""
        if os.environ.get("PREFECT_API_URL"):
            return monitor_tick(MONITOR, monitors_file=str(monitors_file), until=until)
        with plain_steps(settings.max_workers) as steps:
            return tick_monitor(MONITOR, str(monitors_file), until, steps)

    demo_dir = settings.home / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    db_path = demo_dir / "metrics.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    store = Store(settings.resolved_store_url)
    store.migrate()
    reset_monitor_state(store, MONITOR)

    t0 = demo_start(utcnow(), ticks)
    incidents = (
        Incident("web-2", "cpu", "spike", t0 + 25 * timedelta(minutes=1), 2),
        Incident("db-1", "latency_ms", "shift", t0 + 45 * timedelta(minutes=1), 8),
        Incident("web-1", "requests", "flatline", t0 + 70 * timedelta(minutes=1), 6),
    )
    source_url = f"sqlite:///{db_path.resolve()}"
    origin = NOISE_ORIGIN + (t0 - RECORDED_START)
    n = write_rows(source_url, simulate(t0 - HISTORY, t0 + STEP, incidents, origin=origin))
    typer.echo(f"demo: wrote {n} rows of history (3 hosts x 3 metrics, 5-minute step) to {db_path}")

    with WebhookReceiver() as hook:
        monitors_file = demo_dir / "monitors.yaml"
        monitors_file.write_text(yaml.safe_dump(demo_monitors(db_path, hook.port), sort_keys=False))
        result = tick(monitors_file, t0)
        typer.echo(f"tick 0 (until {t0:%H:%M} UTC): trained {result['models_trained']} models")
        for i in range(1, ticks + 1):
            start, end = t0 + (i - 1) * TICK, t0 + i * TICK
            write_rows(source_url, simulate(start + STEP, end + STEP, incidents, origin=origin))
            result = tick(monitors_file, end)
            sent = f", digest sent to {', '.join(result['notified'])}" if result["notified"] else ""
            typer.echo(
                f"tick {i} (until {end:%H:%M} UTC): {result['points_scored']} points scored, "
                f"{new_anomalies(result['new_anomalies'])}{sent}"
            )
        received = list(hook.received)

    typer.echo("\nInjected incidents:")
    for inc in incidents:
        typer.echo(
            f"  {inc.kind:9} host={inc.host},metric={inc.metric} at {inc.start:%H:%M} "
            f"for {inc.points} points"
        )
    typer.echo("\nAnomalies found:")
    rows = list(query_anomalies(store, monitor=MONITOR, since=t0, newest_first=False))
    print_rows(rows, ["id", "series", "ts", "value", "expected", "score", "severity"], "table")
    with store.begin() as conn:
        alerts = query_events(conn, monitor=MONITOR, kind="anomaly")
    typer.echo("\nAlert events (one message each; the points above are their rows):")
    print_rows(
        [
            {
                "event": e["id"],
                "series": e["series"],
                "started": e["started_at"],
                "points": e["n_points"],
                "peak_score": round(e["peak_score"], 6),
                "severity": e["severity"],
                "status": e["status"],
            }
            for e in alerts
        ],
        ["event", "series", "started", "points", "peak_score", "severity", "status"],
        "table",
    )
    plots = sorted(
        (settings.plots_dir / MONITOR).glob("run-*.png"), key=lambda p: p.stat().st_mtime
    )
    typer.echo(f"\nStore: {store.masked_url}")
    typer.echo(f"Source (simulated metrics): {db_path}")
    if plots:
        typer.echo(f"Plot of the last anomalous run: {plots[-1]}")
    typer.echo(f"Webhook digests received: {len(received)}")
    if received:
        payload = received[0].json()
        typer.echo(f"  first title: {payload.get('title')}")
    typer.echo(f"\nQuery history:  .venv/bin/anomwatch anomalies --monitor {MONITOR} --since 2d")
    store.dispose()
