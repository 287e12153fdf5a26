"""A message that could not be delivered makes the run `partial`, with the reason in
the run's output and in the runs table (a real local HTTP server answering 500), and
the next run that delivers it succeeds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.receiver import WebhookReceiver
from anomwatch.store.schema import runs
from tests.anomwatch.cli.conftest import T0, invoke, monitor_spec, write_monitors

SPIKE = Incident("web-2", "cpu", "spike", datetime(2026, 11, 2, 0, 30), 2)


def test_a_failed_delivery_makes_the_run_partial_with_its_reason(
    cli_env, databases, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    source = databases.new("src")
    rows = simulate(
        T0, datetime(2026, 11, 3), (SPIKE,), ("web-1", "web-2"), {"cpu": (40.0, 10.0, 2.0)}
    )
    write_rows(source, rows)
    with WebhookReceiver(status=500) as hook:
        target = f"json://127.0.0.1:{hook.port}/hook"
        spec = monitor_spec("hosts", source) | {"notify": {"targets": [target]}}
        path = write_monitors(tmp_path / "m.yaml", spec)
        assert invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T00:00").exit_code == 0
        failed = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T01:00")
        assert failed.exit_code == 0, failed.output
        assert len(hook.received) == 1  # the server was asked, and answered 500
        assert failed.stdout.startswith("run 2 partial: "), failed.stdout
        assert f"  sending to {target} (message 1) failed: " in failed.stdout
        assert "error=500" in failed.stdout
        status = invoke("status", "hosts", "-m", str(path))
        assert "#2 partial at " in status.stdout, status.stdout
        assert f"; error: delivery to {target} (message 1) failed: " in status.stdout
        hook.status = 200
        delivered = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T01:00")
        assert delivered.stdout.startswith("run 3 succeeded: "), delivered.stdout
        assert len(hook.received) == 2  # the retry of the same message
    with cli_env.begin() as conn:
        rows_ = conn.execute(select(runs.c.status, runs.c.error).order_by(runs.c.id)).all()
    assert [r.status for r in rows_] == ["succeeded", "partial", "succeeded"]
    assert rows_[1].error.startswith(f"delivery to {target} (message 1) failed: "), rows_[1].error
    assert "error=500" in rows_[1].error
    assert rows_[0].error is None and rows_[2].error is None
