"""A tick killed with SIGKILL at each step: the next tick completes the work, each
anomaly is stored once, notified once, and no watermark passes unstored rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notify_servers import SmtpServer  # noqa: E402
from test_monitor_flow import STEP, T0, Deployment, rows  # noqa: E402

from anomwatch.demo import write_rows  # noqa: E402
from anomwatch.store.anomalies import get_watermarks, query_anomalies  # noqa: E402
from anomwatch.store.outbox import list_notifications  # noqa: E402
from anomwatch.store.runs import list_runs  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]
KILLER = Path(__file__).resolve().parent / "kill_tick.py"
REPO = Path(__file__).resolve().parents[2]  # the tree under test, not the installed package
UNTIL = T0 + timedelta(hours=1)


def anomaly_keys(dep: Deployment) -> list[tuple[str, object]]:
    return sorted((r["series"], r["ts"]) for r in query_anomalies(dep.store, monitor="hosts"))


@pytest.mark.parametrize(
    "step",
    [
        "after_extract",
        "after_score",
        "inside_persist",
        "after_persist",
        "before_send",
        "after_send",
    ],
)
def test_killed_tick_is_completed_by_the_next_one(
    step, sqlite_databases, tmp_path, monkeypatch
) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "dep").mkdir()
    with SmtpServer() as smtp:
        reference = Deployment(sqlite_databases, tmp_path / "ref", monkeypatch, [])
        write_rows(reference.source_url, rows(T0 - timedelta(days=2), UNTIL + STEP))
        reference.tick(T0)
        reference.tick(UNTIL)
        expected = anomaly_keys(reference)
        assert expected, "the injected spike must be found"

        dep = Deployment(sqlite_databases, tmp_path / "dep", monkeypatch, [smtp.target()])
        monkeypatch.setenv("ANOMWATCH_LOCK_TIMEOUT_SECONDS", "1")
        monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", "60")  # a loaded CI machine
        write_rows(dep.source_url, rows(T0 - timedelta(days=2), UNTIL + STEP))
        dep.tick(T0)
        marks_before = get_watermarks(dep.store, "hosts")
        child = subprocess.run(
            [sys.executable, str(KILLER), step, UNTIL.isoformat(), str(dep.monitors_file)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        assert f"anomwatch imported from {REPO / 'anomwatch'}" in child.stderr, child.stderr[:500]

        stored = anomaly_keys(dep)
        marks = get_watermarks(dep.store, "hosts")
        persisted = step in ("after_persist", "before_send", "after_send")
        assert stored == (expected if persisted else [])  # all or nothing
        assert marks == (
            {s: UNTIL for s in marks_before} if persisted else marks_before
        )  # the watermark moved only together with the anomalies

        # a kill after the target accepted the message is the one documented repeat:
        # anomwatch prefers sending again to losing it
        sends = 2 if step == "after_send" else 1
        time.sleep(1.1)  # the killed run's lock expires
        dep.tick(UNTIL)
        assert anomaly_keys(dep) == expected
        assert len(smtp.messages) == sends
        dep.tick(UNTIL)
        assert len(smtp.messages) == sends
        assert [n["status"] for n in list_notifications(dep.store, "hosts")] == ["sent"]
        statuses = [r["status"] for r in list_runs(dep.store, "hosts")]
        assert statuses == ["succeeded", "succeeded", "abandoned", "succeeded"]
        for d in (reference, dep):
            d.store.dispose()
