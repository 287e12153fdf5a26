"""Prometheus exporter: the store's figures as the text exposition format.

`render_metrics(store)` is what a `/metrics` endpoint returns (with `CONTENT_TYPE`);
`anomwatch metrics` serves it on its own port (anomwatch/exporter/server.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from anomwatch.exporter.collector import StoreCollector
from anomwatch.store.db import Store

# The classic text format (what generate_latest writes), understood by every Prometheus.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["CONTENT_TYPE", "StoreCollector", "registry_for", "render_metrics"]


def registry_for(store: Store) -> CollectorRegistry:
    """A registry holding only the store's collector (no process or Python metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry


def render_metrics(store: Store) -> bytes:
    """The exposition text of one scrape: reads the store now."""
    return generate_latest(registry_for(store))
