"""The monitor most store and tick tests run: `anomwatch.demo`'s simulated `metrics`
table (one series per host and metric), read from a database the test created."""

from __future__ import annotations

from typing import Any

from anomwatch.config import MonitorConfig, parse_monitors

IFOREST = {"components": ["iforest"], "contamination": 0.01, "seed": 1}


def hosts_spec(url: str, detector: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The "hosts" monitor as monitors.yaml would hold it; `extra` adds or replaces
    top-level keys (notify, events, health ...)."""
    return {
        "name": "hosts",
        "source": {
            "url": url,
            "table": "metrics",
            "timestamp": "ts",
            "series": ["host", "metric"],
            "values": ["value"],
        },
        "detector": dict(IFOREST if detector is None else detector),
        "retrain": {"window": "2d"},
        **extra,
    }


def hosts_monitor(url: str, detector: dict[str, Any] | None = None, **extra: Any) -> MonitorConfig:
    return parse_monitors({"monitors": [hosts_spec(url, detector, **extra)]}).get("hosts")
