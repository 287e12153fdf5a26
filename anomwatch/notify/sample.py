"""A sample digest for `anomwatch notify test`: proves each target works end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.errors import ConfigError
from anomwatch.notify.digest import render_digest
from anomwatch.notify.send import SendOutcome, send_digest
from anomwatch.notify.targets import masked, resolve


def sample_lines(monitor: MonitorConfig) -> list[dict[str, object]]:
    """Two event lines as a real digest shows them: one opened, one escalated."""
    now = utcnow().replace(microsecond=0)
    parts = json.dumps({c: 0.99 for c in monitor.detector.components})
    return [
        {
            "kind": "anomaly",
            "series": f"sample-series-{i + 1}",
            "notice": notice,
            "status": "open",
            "severity": severity,
            "started_at": now - timedelta(minutes=30),
            "last_at": now - timedelta(minutes=5),
            "resolved_at": None,
            "n_points": 6 - 3 * i,
            "peak_score": 0.9995 - i / 1000,
            "peak_ts": now - timedelta(minutes=10),
            "value": 97.0 - i,
            "expected": 40.0,
            "lower": 30.0,
            "upper": 50.0,
            "components": parts,
        }
        for i, (notice, severity) in enumerate([("escalated", "critical"), ("opened", "warning")])
    ]


def send_sample_digest(monitor: MonitorConfig, timeout: float) -> Iterator[tuple[str, SendOutcome]]:
    digest = render_digest(
        f"{monitor.name} (test message)",
        sample_lines(monitor),
        monitor.notify.max_items,
        f"anomwatch anomalies --monitor {monitor.name} --since 24h",
    )
    for target in monitor.notify.target_list():
        raw = target.url
        label = masked(raw)
        try:
            url = resolve(raw, monitor.name)
        except ConfigError as exc:
            yield label, SendOutcome(False, str(exc))
            continue
        yield label, send_digest(url, digest, None, timeout)
