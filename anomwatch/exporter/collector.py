"""The Prometheus collector: every scrape reads the store; nothing is counted in memory.

Counters (`_total`) are counts of store rows (anomalies, events, runs), so they survive
restarts of the exporter and agree with `anomwatch anomalies`/`status`; a row deleted
from the store (the demo's reset) shows as a counter reset, which PromQL's rate() and
increase() handle. A store that cannot be read gives `anomwatch_store_up 0` and no other
family, so an alert can say "the store is down" instead of every figure going stale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from anomwatch.durations import utcnow
from anomwatch.errors import StoreError
from anomwatch.exporter.queries import OUTBOX_STATUSES, SEVERITIES, Snapshot, read_snapshot
from anomwatch.exporter.run_figures import DURATION_BUCKETS, ENDED, RUN_STATUSES
from anomwatch.status import data_lag
from anomwatch.store.db import Store
from anomwatch.store.events import OPEN_STATUSES

log = logging.getLogger("anomwatch.exporter")


def epoch(value: datetime) -> float:
    """Seconds since 1970 of a naive-UTC store timestamp."""
    return value.replace(tzinfo=UTC).timestamp()


class StoreCollector(Collector):
    """Metric families built from one read of the store per scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: reading the store waits for a scrape

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "anomwatch_store_up", "Whether the last scrape could read the anomwatch store (1/0)."
        )
        try:
            with self.store.begin() as conn:
                snap = read_snapshot(conn, utcnow())
        except StoreError as exc:  # its message masks the password
            log.warning("scrape: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(snap)


def families(snap: Snapshot) -> Iterator[Metric]:
    """Every family of a snapshot; each monitor gets a sample (zero when nothing happened)."""
    yield from _detections(snap)
    yield from _runs(snap)
    yield from _freshness(snap)
    yield from _outbox(snap)


def _detections(snap: Snapshot) -> Iterator[Metric]:
    found = CounterMetricFamily(
        "anomwatch_anomalies",
        "Anomalous points stored, by monitor and severity.",
        labels=["monitor", "severity"],
    )
    grouped = CounterMetricFamily(
        "anomwatch_events",
        "Alert events (consecutive anomalies of a series) opened, by monitor and severity.",
        labels=["monitor", "severity"],
    )
    for m in snap.monitors:
        for sev in SEVERITIES:
            found.add_metric([m, sev], snap.anomalies.get((m, sev), 0))
            grouped.add_metric([m, sev], snap.events.get((m, sev), 0))
    open_now = GaugeMetricFamily(
        "anomwatch_open_events",
        "Anomaly events not resolved (status open or new_normal), by monitor and severity.",
        labels=["monitor", "severity", "status"],
    )
    for m in snap.monitors:
        for sev in SEVERITIES:
            for status in OPEN_STATUSES:
                open_now.add_metric([m, sev, status], snap.open_events.get((m, sev, status), 0))
    yield from (found, grouped, open_now)


def _runs(snap: Snapshot) -> Iterator[Metric]:
    total = CounterMetricFamily(
        "anomwatch_runs",
        "Ended ticks in the runs table, by status.",
        labels=["monitor", "status"],
    )
    last_status = GaugeMetricFamily(
        "anomwatch_last_run_status",
        "1 for the status of the monitor's latest run, 0 for the other statuses.",
        labels=["monitor", "status"],
    )
    last_time = GaugeMetricFamily(
        "anomwatch_last_run_timestamp_seconds",
        "Start time of the monitor's latest run (Unix seconds).",
        labels=["monitor"],
    )
    success = GaugeMetricFamily(
        "anomwatch_last_success_timestamp_seconds",
        "End time of the monitor's latest succeeded run (Unix seconds).",
        labels=["monitor"],
    )
    for m in snap.monitors:
        latest = snap.runs.last_run.get(m)
        for status in ENDED:
            total.add_metric([m, status], snap.runs.counts.get((m, status), 0))
        for status in RUN_STATUSES:
            last_status.add_metric([m, status], int(latest is not None and latest[0] == status))
        if latest is not None:
            last_time.add_metric([m], epoch(latest[1]))
        if m in snap.runs.last_success:
            success.add_metric([m], epoch(snap.runs.last_success[m]))
    yield from (total, last_status, last_time, success, *_work(snap))


def _work(snap: Snapshot) -> Iterator[Metric]:
    duration = HistogramMetricFamily(
        "anomwatch_run_duration_seconds",
        "Wall time of finished runs (succeeded, partial, failed), from the runs table.",
        labels=["monitor"],
    )
    rows = CounterMetricFamily(
        "anomwatch_rows_read", "Source rows read by the monitor's runs.", labels=["monitor"]
    )
    points = CounterMetricFamily(
        "anomwatch_points_scored", "Points scored by the monitor's runs.", labels=["monitor"]
    )
    for m in snap.monitors:
        hist = snap.runs.durations.get(m)
        if hist is not None:
            bounds = [str(b) for b in DURATION_BUCKETS]
            duration.add_metric(
                [m], [*zip(bounds, hist.buckets, strict=True), ("+Inf", hist.count)], hist.total
            )
        else:
            duration.add_metric([m], [("+Inf", 0)], 0.0)
        rows.add_metric([m], snap.runs.rows_read.get(m, 0))
        points.add_metric([m], snap.runs.points_scored.get(m, 0))
    yield from (duration, rows, points)


def _freshness(snap: Snapshot) -> Iterator[Metric]:
    newest = GaugeMetricFamily(
        "anomwatch_newest_row_timestamp_seconds",
        "Time of the newest source row scored (the monitor's highest watermark, Unix seconds).",
        labels=["monitor"],
    )
    lag = GaugeMetricFamily(
        "anomwatch_data_lag_seconds",
        "How far the newest scored source row is behind the scrape time (as anomwatch status).",
        labels=["monitor"],
    )
    healthy = GaugeMetricFamily(
        "anomwatch_healthy",
        "1 when the monitor has no open health event (anomwatch/health.py checks), else 0.",
        labels=["monitor"],
    )
    health_open = GaugeMetricFamily(
        "anomwatch_health_events_open",
        "Open health events (failing checks: failed_runs, no_data, notifications, training).",
        labels=["monitor"],
    )
    for m in snap.monitors:
        behind = data_lag(snap.newest_row.get(m), snap.now)
        if behind is not None:
            newest.add_metric([m], epoch(snap.newest_row[m]))
            lag.add_metric([m], behind.total_seconds())
        failing = snap.health_open.get(m, 0)
        healthy.add_metric([m], int(failing == 0))
        health_open.add_metric([m], failing)
    yield from (newest, lag, healthy, health_open)


def _outbox(snap: Snapshot) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "anomwatch_outbox_messages",
        "Notification messages not sent: pending (to be retried) or dead (given up).",
        labels=["monitor", "status"],
    )
    sent = CounterMetricFamily(
        "anomwatch_notifications_sent", "Notification messages sent.", labels=["monitor"]
    )
    for m in snap.monitors:
        for status in OUTBOX_STATUSES:
            waiting.add_metric([m, status], snap.outbox.get((m, status), 0))
        sent.add_metric([m], snap.sent.get(m, 0))
    yield from (waiting, sent)
