"""Times follow the data, not the wall clock: after `init` + `backfill` the monitor is
known to `anomalies` and `report`, the report covers the week up to the newest
anomaly, and a digest's "See all" command starts at its oldest anomaly."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from anomwatch.demo import Incident, simulate, write_rows
from anomwatch.store.db import make_engine
from tests.anomwatch.cli.conftest import T0, invoke, monitor_spec, write_monitors

SPIKE = datetime(2026, 11, 2, 18, 0)


@pytest.fixture
def spiky_source(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'spiky.db'}"
    spike = Incident("web-1", "cpu", "spike", SPIKE, 3)
    write_rows(
        url,
        simulate(
            T0,
            datetime(2026, 11, 3),
            (spike,),
            hosts=("web-1", "web-2"),
            metrics={"cpu": (40.0, 10.0, 2.0)},
        ),
    )
    return url


def test_after_a_backfill_anomalies_and_report_know_the_monitor(cli_env, spiky_source, tmp_path):  # type: ignore[no-untyped-def]
    path = write_monitors(tmp_path / "monitors.yaml", monitor_spec("hosts", spiky_source))
    result = invoke(
        "backfill", "hosts", "--since", "2026-11-02", "--until", "2026-11-03", "-m", str(path)
    )
    assert result.exit_code == 0, result.output
    listed = invoke("anomalies", "list", "--monitor", "hosts", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert rows, "the injected spike must be stored"
    times = [datetime.fromisoformat(r["ts"]) for r in rows]
    assert any(SPIKE <= t < SPIKE + timedelta(minutes=15) for t in times)
    newest = max(times)
    assert {r["held_back"] for r in rows} == {"backfill"}  # never notified, and why
    out = tmp_path / "r.html"
    report = invoke("report", "--monitor", "hosts", "--out", str(out), "-m", str(path))
    assert report.exit_code == 0, report.output
    # the week up to the newest anomaly (Nov 2026), not the week before today
    start = newest - timedelta(days=7)
    assert report.stdout.endswith(
        f"{start:%Y-%m-%d %H:%M} to {newest:%Y-%m-%d %H:%M} UTC "
        "(the 7 days up to its newest anomaly)\n"
    )
    assert f"{len(rows)} anomalies in" in out.read_text()


def test_report_of_a_monitor_without_anomalies_covers_the_last_week(cli_env) -> None:
    from anomwatch.store.runs import register_monitor

    register_monitor(cli_env, "quiet", "h")
    result = invoke("report", "--monitor", "quiet", "--out", "q.html")
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("UTC (no anomalies yet)")


def test_digest_see_all_starts_at_the_oldest_anomaly() -> None:
    from tasks.notify import history_command

    rows = [{"ts": datetime(2026, 11, 2, 18, 5, 30)}, {"ts": datetime(2026, 11, 2, 17, 55, 10)}]
    assert history_command("hosts", rows) == (
        "anomwatch anomalies --monitor hosts --since 2026-11-02T17:55"
    )


def test_a_duplicate_timestamp_is_noted_once_not_on_every_run(cli_env, source_url, tmp_path):  # type: ignore[no-untyped-def]
    """An old duplicate is read again as context (the rows just before the watermark)
    and for retraining; only a new one (after the series' watermark) is worth a note."""
    engine = make_engine(source_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO metrics SELECT ts, host, metric, value + 1 FROM metrics "
                "WHERE ts = '2026-11-01 23:55:00.000000' AND host = 'web-1'"
            )
        )
    engine.dispose()
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url))

    def notes(until: str) -> list[str]:
        result = invoke("run", "hosts", "-m", str(path), "--until", until)
        assert result.exit_code == 0, result.output
        return [line.strip() for line in result.stdout.splitlines() if "duplicate" in line]

    note = "note: 1 duplicate timestamp(s) resolved by keeping the last"
    assert notes("2026-11-02T00:00") == [note]  # first run: every row is new
    assert notes("2026-11-02T01:00") == []
    assert notes("2026-11-02T02:00") == []
    with engine.begin() as conn:  # a new duplicate, after the watermark
        conn.execute(
            text(
                "INSERT INTO metrics SELECT ts, host, metric, value FROM metrics "
                "WHERE ts = '2026-11-02 02:30:00.000000' AND host = 'web-2'"
            )
        )
    engine.dispose()
    assert notes("2026-11-02T03:00") == [note]
