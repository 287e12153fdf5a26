"""Data lifecycle on each store backend: `retention:` deletes a monitor's old rows and
`monitors remove [--purge]` unregisters (and deletes) one monitor, and neither touches
anything of another monitor."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.durations import utcnow
from anomwatch.receiver import WebhookReceiver
from anomwatch.store.lifecycle import PURGED, apply_retention
from anomwatch.store.schema import digests, events, monitors, notifications, runs
from tests.anomwatch.cli.conftest import T0, invoke, monitor_spec, write_monitors

SPIKE = Incident("web-2", "cpu", "spike", datetime(2026, 11, 2, 0, 30), 2)
TICKS = ("2026-11-02T00:00", "2026-11-02T01:00", "2026-11-02T03:00")


def _two_monitors(
    store: Any, databases: Any, tmp_path: Path, broken: WebhookReceiver, working: WebhookReceiver
) -> Path:
    """'hosts' (its messages fail: pending) and 'other' (delivered), three runs each."""
    source = databases.new("src")
    rows = simulate(
        T0, datetime(2026, 11, 3), (SPIKE,), ("web-1", "web-2"), {"cpu": (40.0, 10.0, 2.0)}
    )
    write_rows(source, rows)
    path = write_monitors(
        tmp_path / "m.yaml",
        monitor_spec("hosts", source)
        | {
            "notify": {"targets": [f"json://127.0.0.1:{broken.port}/h"]},
            "retention": "20d",
        },
        monitor_spec("other", source)
        | {"notify": {"targets": [f"json://127.0.0.1:{working.port}/h"]}},
    )
    for name in ("hosts", "other"):
        for until in TICKS:
            result = invoke("run", name, "-m", str(path), "--until", until)
            assert result.exit_code == 0, result.output
    return path


def _rows(store: Any, monitor: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the monitor, per table (whole rows: an update would show too)."""
    with store.begin() as conn:
        out = {
            name: sorted(
                tuple(r) for r in conn.execute(select(table).where(table.c.monitor == monitor))
            )
            for name, table in PURGED
        }
        out["monitors"] = [
            tuple(r) for r in conn.execute(select(monitors).where(monitors.c.name == monitor))
        ]
    return out


def test_retention_deletes_old_rows_of_its_monitor_only(cli_env, databases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver(status=500) as broken, WebhookReceiver() as working:
        _two_monitors(cli_env, databases, tmp_path, broken, working)
    before = _rows(cli_env, "hosts")
    other = _rows(cli_env, "other")
    assert before["anomalies"] and before["events"] and before["messages"] and other["anomalies"]

    kept = apply_retention(cli_env, "hosts", timedelta(days=30), now=datetime(2026, 11, 20))
    assert kept.counts == {}  # the rows are younger than 30 days on 2026-11-20
    assert _rows(cli_env, "hosts") == before

    done = apply_retention(cli_env, "hosts", timedelta(days=1), now=utcnow() + timedelta(days=2))
    after = _rows(cli_env, "hosts")
    assert done.counts["anomalies"] == len(before["anomalies"]) and after["anomalies"] == []
    assert done.counts["event cursors"] == 2 and after["event cursors"] == []
    with cli_env.begin() as conn:
        statuses = (
            conn.execute(select(events.c.status).where(events.c.monitor == "hosts")).scalars().all()
        )
        pending = (
            conn.execute(select(notifications.c.status).where(notifications.c.monitor == "hosts"))
            .scalars()
            .all()
        )
        digest_runs = set(
            conn.execute(select(digests.c.run_id).where(digests.c.monitor == "hosts")).scalars()
        )
        run_ids = set(conn.execute(select(runs.c.id).where(runs.c.monitor == "hosts")).scalars())
    assert "resolved" not in statuses  # resolved events went, open ones stay
    assert pending and set(pending) == {"pending"}  # never dropped unsent
    assert run_ids == digest_runs and len(run_ids) < len(before["runs"])  # runs still referenced
    assert _rows(cli_env, "other") == other


def test_retrain_applies_the_monitors_retention(cli_env, databases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver(status=500) as broken, WebhookReceiver() as working:
        path = _two_monitors(cli_env, databases, tmp_path, broken, working)
    other = _rows(cli_env, "other")
    result = invoke("retrain", "hosts", "-m", str(path))
    assert result.exit_code == 0, result.output
    cutoff = f"{utcnow() - timedelta(days=20):%Y-%m-%d}"
    assert "retention 20d: deleted " in result.stdout and f"older than {cutoff}" in result.stdout
    assert _rows(cli_env, "hosts")["anomalies"] == []  # 2026-11-02 is > 20 days before now
    assert _rows(cli_env, "other") == other


def test_monitors_remove_purge_deletes_one_monitor_and_nothing_else(
    cli_env, databases, tmp_path, settings
) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver() as hook, WebhookReceiver() as working:
        path = _two_monitors(cli_env, databases, tmp_path, hook, working)
        other = _rows(cli_env, "other")
        models = settings.models_dir
        assert (models / "hosts").is_dir() and (models / "other").is_dir()

        declined = CliRunner().invoke(app, ["monitors", "remove", "hosts", "--purge"], input="n\n")
        assert declined.exit_code == 2
        assert "remove monitor 'hosts' and delete " in declined.stderr
        assert declined.stderr.rstrip().endswith(
            "error: not confirmed: nothing removed (pass --yes to skip the question)"
        )
        assert _rows(cli_env, "hosts")["anomalies"]

        removed = invoke("monitors", "remove", "hosts", "--purge", "--yes", "-m", str(path))
        assert removed.exit_code == 0, removed.output
        assert removed.stdout.startswith("removed monitor 'hosts'; deleted ")
        assert "note: 'hosts' is still in " in removed.stdout
        assert all(rows == [] for rows in _rows(cli_env, "hosts").values())
        assert not (models / "hosts").exists() and (models / "other").is_dir()
        assert _rows(cli_env, "other") == other
        again = invoke("run", "other", "-m", str(path), "--until", "2026-11-02T04:00")
        assert again.stdout.startswith("run 7 succeeded: ") and "trained" not in again.stdout

        unknown = invoke("monitors", "remove", "hosts", "--yes")
        assert unknown.exit_code == 2
        assert unknown.stderr == "error: unknown monitor 'hosts'; monitors in the store: other\n"


def test_monitors_remove_without_purge_keeps_the_rows(cli_env, databases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver() as hook, WebhookReceiver() as working:
        _two_monitors(cli_env, databases, tmp_path, hook, working)
    before = _rows(cli_env, "hosts")
    other = _rows(cli_env, "other")
    removed = invoke("monitors", "remove", "hosts", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "its " in removed.stdout and " stay in the store" in removed.stdout
    after = _rows(cli_env, "hosts")
    assert after.pop("monitors") == [] and before.pop("monitors")
    assert after == before
    assert _rows(cli_env, "other") == other
    purged = invoke("monitors", "remove", "hosts", "--purge", "--yes")  # the leftovers
    assert purged.exit_code == 0, purged.output
    assert all(rows == [] for rows in _rows(cli_env, "hosts").values())
    assert _rows(cli_env, "other") == other
