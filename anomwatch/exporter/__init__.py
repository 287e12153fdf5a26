"""Prometheus exporter: the store's figures as the text exposition format.

`render_metrics(store)` is what a `/metrics` endpoint returns (with `CONTENT_TYPE`);
`anomwatch metrics` serves it on its own port (anomwatch/exporter/server.py).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from anomwatch.exporter.collector import StoreCollector
from anomwatch.store.db import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "StoreCollector", "registry_for", "render_metrics"]


def registry_for(store: Store) -> CollectorRegistry:
    """A registry holding only the store's collector (no process or Python metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry


def render_metrics(store: Store) -> bytes:
    """The exposition text of one scrape: reads the store now."""
    return generate_latest(registry_for(store))
