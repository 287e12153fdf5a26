"""Notify: claim new event transitions into one digest per run, then send what is due.

Sending happens per target in parallel threads, each bounded by its timeout, so
one slow or broken channel neither delays nor blocks the others. Failures stay
in the outbox and are retried on later ticks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from anomwatch.config import MonitorConfig
from anomwatch.durations import utcnow
from anomwatch.errors import ConfigError
from anomwatch.notify.digest import Digest, render_digest
from anomwatch.notify.send import SendOutcome, reference_line, send_digest, with_reference
from anomwatch.notify.targets import masked, resolve, target_id
from anomwatch.settings import Settings
from anomwatch.store.anomalies import SEVERITY_RANK
from anomwatch.store.db import Store
from anomwatch.store.outbox import (
    NoisePolicy,
    PendingNotification,
    Target,
    create_digest,
    digest_events,
    due_notifications,
    mark_failed,
    mark_sent,
)
from anomwatch.store.outbox_admin import cancel_removed_targets
from tasks.base import pipeline_task

log = logging.getLogger("anomwatch.notify")


@dataclass
class NotifyReport:
    digest_id: int | None = None
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def configured_targets(monitor: MonitorConfig) -> list[Target]:
    return [
        Target(id=target_id(t.url), label=masked(t.url), raw=t.url, min_severity=t.min_severity)
        for t in monitor.notify.target_list()
    ]


def history_command(monitor: str, rows: Sequence[dict[str, Any]] = ()) -> str:
    """The command that lists the digest's anomalies: from the oldest one's start, not
    "the last 24h" (late or replayed data would show nothing)."""
    if not rows:
        return f"anomwatch anomalies --monitor {monitor} --since 24h"
    oldest = min(r["ts"] if "ts" in r else r["started_at"] for r in rows)  # points or events
    return f"anomwatch anomalies --monitor {monitor} --since {oldest:%Y-%m-%dT%H:%M}"


def _deliver(
    monitor: MonitorConfig,
    pending: PendingNotification,
    target: Target | None,
    digest: Digest,
    timeout: float,
) -> SendOutcome:
    if target is None:
        return SendOutcome(False, "target is no longer in monitors.yaml")
    try:
        url = resolve(target.raw, monitor.name)
    except ConfigError as exc:
        return SendOutcome(False, str(exc))
    plot = Path(pending.plot_path) if pending.plot_path else None
    reference = reference_line(pending.id, pending.digest_id, pending.attempts + 1)
    return send_digest(url, with_reference(digest, reference), plot, timeout)


def notify_monitor(
    settings: Settings,
    store: Store,
    monitor: MonitorConfig,
    run_id: int | None,
    plot_path: Path | None,
    run_url: str | None = None,
) -> NotifyReport:
    targets = configured_targets(monitor)
    report = NotifyReport()
    floors = [t.min_severity for t in targets] or [monitor.notify.min_severity]
    policy = NoisePolicy(
        min_severity=min(floors, key=SEVERITY_RANK.__getitem__),
        max_per_hour=monitor.notify.max_messages_per_hour,
    )
    report.digest_id = create_digest(
        store, monitor.name, run_id, targets, policy, str(plot_path) if plot_path else None
    )
    cancel_removed_targets(store, monitor.name, [t.id for t in targets])
    due = due_notifications(store, monitor.name, utcnow())
    if not due:
        return report
    by_id = {t.id: t for t in targets}
    digests: dict[tuple[int, str], Digest] = {}

    def digest_for(pending: PendingNotification) -> Digest:
        """The digest as this target sees it: only events at or above its floor."""
        target = by_id.get(pending.target)
        floor = SEVERITY_RANK[target.min_severity if target else "warning"]
        key = (pending.digest_id, target.min_severity if target else "warning")
        if key not in digests:
            lines = [
                line
                for line in digest_events(store, pending.digest_id)
                if SEVERITY_RANK[line["severity"]] >= floor
            ]
            digests[key] = render_digest(
                monitor.name,
                lines,
                monitor.notify.max_items,
                history_command(monitor.name, lines),
                run_url,
                settings.web_base_url,
            )
        return digests[key]

    def send_and_record(pending: PendingNotification, digest: Digest) -> tuple[SendOutcome, str]:
        """Send one row and record its outcome at once: a crash while another target is
        still being waited for must not make this row's delivered message go out again."""
        outcome = _deliver(
            monitor, pending, by_id.get(pending.target), digest, settings.notify_timeout_seconds
        )
        if outcome.ok:
            mark_sent(store, pending.id, pending.digest_id)
            return outcome, "sent"
        status = mark_failed(
            store,
            pending.id,
            pending.attempts,
            outcome.error or "unknown error",
            timedelta(seconds=settings.notify_retry_base_seconds),
            settings.notify_max_attempts,
        )
        return outcome, status

    with ThreadPoolExecutor(max_workers=min(8, len(due))) as pool:
        futures = [pool.submit(send_and_record, p, digest_for(p)) for p in due]
        results = [f.result() for f in futures]
    for pending, (outcome, status) in zip(due, results, strict=True):
        if outcome.ok:
            report.sent.append(pending.target_label)
            continue
        error = outcome.error or "unknown error"
        report.failed[f"{pending.target_label} (message {pending.id})"] = error
        log.warning(
            "monitor %s: sending digest %s to %s failed (%s); %s",
            monitor.name,
            pending.digest_id,
            pending.target_label,
            error,
            "will retry" if status == "pending" else "giving up",
        )
    return report


notify_task = pipeline_task("notify")(notify_monitor)
