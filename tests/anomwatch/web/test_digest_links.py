"""Digests link each event to its page when web_base_url is set, through real peers."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from notify_servers import SmtpServer  # noqa: E402

from anomwatch.config import parse_monitors  # noqa: E402
from anomwatch.receiver import WebhookReceiver  # noqa: E402
from anomwatch.settings import Settings  # noqa: E402
from anomwatch.store.anomalies import AnomalyRecord, persist_tick  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.events import query_events  # noqa: E402
from anomwatch.store.runs import register_monitor  # noqa: E402
from tasks.notify import notify_monitor  # noqa: E402

T0 = datetime(2026, 11, 20, 10)
BASE = "https://aw.example.com:8765/"


def _event(store: Store, series: str, at: datetime) -> None:
    record = AnomalyRecord(
        monitor="m",
        series=series,
        ts=at,
        value=90.0,
        expected=40.0,
        lower=30.0,
        upper=50.0,
        score=0.9995,
        components=json.dumps({"iforest": 0.9995}),
        feature_values="{}",
        severity="critical",
        model_id=None,
    )
    persist_tick(store, "m", None, [record], {})


def _notify(store: Store, settings: Settings, targets: list[str]) -> None:
    spec = {
        "name": "m",
        "source": {"url": "sqlite://", "table": "t", "timestamp": "ts", "values": ["v"]},
        "notify": {"targets": targets},
    }
    report = notify_monitor(
        settings, store, parse_monitors({"monitors": [spec]}).get("m"), None, None
    )
    assert not report.failed, report.failed


def test_every_digest_links_each_event_only_when_the_base_url_is_set(
    store: Store, tmp_path: Path
) -> None:
    register_monitor(store, "m", "h")
    settings = Settings(home=tmp_path, web_base_url=BASE, notify_timeout_seconds=5)
    with WebhookReceiver() as hook, SmtpServer() as smtp:
        targets = [f"json://127.0.0.1:{hook.port}/hook", smtp.target()]
        _event(store, "host=a", T0)
        _event(store, "host=b", T0)
        _notify(store, settings, targets)
        with store.begin() as conn:
            ids = {e["series"]: e["id"] for e in query_events(conn, "m")}
        _event(store, "host=c", T0 + timedelta(minutes=5))
        _notify(store, settings.model_copy(update={"web_base_url": None}), targets)
    assert len(hook.received) == 2 and len(smtp.messages) == 2
    first = hook.received[0].json()["message"]
    for series in ("host=a", "host=b"):
        line = next(x for x in first.splitlines() if f" {series} " in x)
        assert line.endswith(f"  https://aw.example.com:8765/events/{ids[series]}"), line
    parts = {p.get_content_type(): p for p in smtp.messages[0].walk()}
    mail_html = parts["text/html"].get_payload(decode=True).decode()
    for series in ("host=a", "host=b"):
        url = f"https://aw.example.com:8765/events/{ids[series]}"
        assert f'<a href="{url}">{url}</a>' in mail_html
    second_hook = hook.received[1].json()["message"]
    second_mail = "".join(
        p.get_payload(decode=True).decode()
        for p in smtp.messages[1].walk()
        if p.get_content_type().startswith("text/")
    )
    assert "host=c" in second_hook and "host=c" in second_mail
    assert "/events/" not in second_hook and "/events/" not in second_mail
