"""A store with events, anomalies and a sent digest, and the source they came from.

Shared by the route tests (TestClient) and the browser tests (uvicorn + Chromium).
Series `host=<script>alert(1)</script>,metric=cpu` checks escaping on every page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import yaml
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, create_engine, insert

from anomwatch.settings import Settings
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.db import Store
from anomwatch.store.outbox import NoisePolicy, Target, create_digest, mark_sent
from anomwatch.store.runs import register_monitor
from anomwatch.web.auth import Credentials
from anomwatch.web.passwords import hash_password

STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 20, 0, 0)
N = 300
SPIKE = 150
SCRIPT = "<script>alert(1)</script>"
HOSTS = ["a", SCRIPT]
SERIES = [f"host={h},metric=cpu" for h in HOSTS]
USER, PASSWORD = "oncall", "correct horse battery"
TOKEN = "t0ken-for-tests-only"
SECRET = "s3cretSourcePw"


def value(series: int, i: int) -> float:
    if i in (SPIKE, SPIKE + 1):
        return 400.0
    return 50.0 + 10 * np.sin(i / 12) + series * 100 + (i % 7) * 0.3


def make_source(url: str) -> None:
    meta = MetaData()
    metrics = Table(
        "metrics",
        meta,
        Column("ts", DateTime, nullable=False),
        Column("host", String(40), nullable=False),
        Column("metric", String(20), nullable=False),
        Column("value", Float),
    )
    engine = create_engine(url)
    meta.create_all(engine)
    rows = [
        {"ts": T0 + i * STEP, "host": host, "metric": "cpu", "value": value(s, i)}
        for s, host in enumerate(HOSTS)
        for i in range(N)
    ]
    with engine.begin() as conn:
        conn.execute(insert(metrics), rows)
    engine.dispose()


def monitors_yaml(path: Path, source_url: str, name: str = "web") -> Path:
    monitor = {
        "name": name,
        "source": {
            "url": source_url,
            "table": "metrics",
            "timestamp": "ts",
            "series": ["host", "metric"],
            "values": ["value"],
        },
        "detector": {"components": ["iforest"]},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"monitors": [monitor]}))
    return path


def record(s: int, i: int, severity: str = "critical") -> AnomalyRecord:
    return AnomalyRecord(
        monitor="web",
        series=SERIES[s],
        ts=T0 + i * STEP,
        value=value(s, i),
        expected=55.0 + 100 * s,
        lower=40.0 + 100 * s,
        upper=70.0 + 100 * s,
        score=0.9995 - i / 1e6,
        components=json.dumps({"iforest": 0.9991, "lstm": 0.42}),
        feature_values=json.dumps({"value": value(s, i)}),
        severity=severity,
        model_id=None,
    )


@dataclass
class Site:
    store: Store
    settings: Settings
    credentials: Credentials
    source_url: str


def build_site(store: Store, source_url: str, home: Path) -> Site:
    """Two series, each with one event of two points; the digest of both sent by mail."""
    make_source(source_url)
    register_monitor(store, "web", "h")
    persist_tick(store, "web", None, [record(s, i) for s in (0, 1) for i in (SPIKE, SPIKE + 1)], {})
    target = Target(id="t1", label="mailto://oncall@example.com", raw="mailto://x")
    digest = create_digest(store, "web", None, [target], NoisePolicy())
    assert digest is not None
    with store.begin() as conn:
        from sqlalchemy import select

        from anomwatch.store.schema import notifications

        note = conn.execute(select(notifications.c.id)).scalar_one()
    mark_sent(store, note, digest)
    settings = Settings(
        home=home,
        store_url=store.url,
        monitors_file=monitors_yaml(home / "monitors.yaml", source_url),
    )
    credentials = Credentials(
        users={USER: hash_password(PASSWORD)}, token_hash=hash_password(TOKEN)
    )
    return Site(store, settings, credentials, source_url)
