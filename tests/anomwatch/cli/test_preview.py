"""`anomwatch preview`: a monitor's history replayed through its configuration prints the
events it would have sent, stores nothing and sends nothing (real SMTP and HTTP peers
listen), on sources in SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from notify_servers import SmtpServer  # noqa: E402

from anomwatch.demo import Incident, simulate, write_rows  # noqa: E402
from anomwatch.receiver import WebhookReceiver  # noqa: E402
from anomwatch.store.schema import metadata  # noqa: E402
from tests.anomwatch.cli.conftest import invoke, monitor_spec, write_monitors  # noqa: E402

T0 = datetime(2026, 11, 1)
SPIKE = Incident("web-2", "cpu", "spike", datetime(2026, 11, 3, 14, 0), 2)


def _source(url: str) -> str:
    rows = simulate(
        T0,
        datetime(2026, 11, 4),
        (SPIKE,),
        hosts=("web-1", "web-2"),
        metrics={"cpu": (40.0, 10.0, 2.0)},
    )
    write_rows(url, rows)
    return url


def _spec(url: str, *targets: str) -> dict:  # type: ignore[type-arg]
    spec = monitor_spec("hosts", url)
    spec["retrain"] = {"window": "1d", "every": "1d"}
    spec["notify"] = {"targets": list(targets)}
    return spec


def _counts(store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
        }


def test_preview_prints_the_events_and_stores_and_sends_nothing(
    cli_env, databases, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    source = _source(databases.new("src"))
    with SmtpServer() as smtp, WebhookReceiver() as hook:
        path = write_monitors(
            tmp_path / "m.yaml",
            _spec(source, smtp.target(), f"json://127.0.0.1:{hook.port}/hook"),
        )
        before = _counts(cli_env)
        result = invoke(
            "preview",
            "hosts",
            "-m",
            str(path),
            "--since",
            "2026-11-01T12:00",
            "--until",
            "2026-11-04",
        )
        assert result.exit_code == 0, result.output
        assert smtp.messages == [] and hook.received == []
    assert _counts(cli_env) == before  # no monitor, run, model, anomaly, event or outbox row
    assert not (tmp_path / "home" / "models").exists()
    out = result.stdout
    assert out.startswith(
        "preview hosts: 2026-11-01 12:00 to 2026-11-04 00:00 UTC, 2 series, 1,438 rows scored, "
    ), out
    sent = out.split("events it would have sent: ")[1].split("\n\n")[0]
    spike = [line for line in sent.splitlines() if line.startswith("host=web-2,metric=cpu")]
    assert any(" 2026-11-03 14:00:00 " in line for line in spike), sent
    assert "events sent per series per week (weeks from Monday):" in out
    weekly = out.split("(weeks from Monday):\n")[1].splitlines()
    assert weekly[0].split() == ["series", "2026-10-26", "2026-11-02", "total", "per", "day"]
    assert weekly[2].startswith("host=web-2,metric=cpu") and weekly[2].split()[2] != "0"
    plot = Path(out.split("plot: ")[1].splitlines()[0])
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert out.rstrip().endswith("nothing was stored or sent")
    assert "[2/2] host=web-2,metric=cpu: 719 rows scored" in result.stderr  # progress


def test_set_overrides_the_configuration_for_the_preview_only(
    sqlite_databases, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    source = _source(sqlite_databases.new("src"))
    path = write_monitors(tmp_path / "m.yaml", _spec(source))
    args = ["preview", "hosts", "-m", str(path), "--since", "2026-11-02", "--until", "2026-11-04"]
    default = invoke(*args, "--plot", str(tmp_path / "a.png"))
    assert "events it would have sent: 0 " not in default.stdout, default.stdout
    raised = invoke(*args, "--plot", str(tmp_path / "b.png"), "--set", "contamination=0.0001")
    assert raised.exit_code == 0, raised.output
    assert "settings changed for this preview: detector.contamination=0.0001" in raised.stdout
    quiet = invoke(
        *args, "--set", "notify.min_severity=critical", "--set", "severity.critical_score=1"
    )
    assert "events it would have sent: 0 (severity critical and above)" in quiet.stdout
    assert "more event(s) below critical: stored, not sent)" in quiet.stdout
    assert (tmp_path / "b.png").is_file()


def test_a_bad_setting_is_one_error_line(sqlite_databases, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    path = write_monitors(tmp_path / "m.yaml", _spec(sqlite_databases.new("src")))
    cases = {
        "threshold_sigm=4": "error: --set threshold_sigm=4: detector.threshold_sigm: unknown "
        "setting (see README 'monitors.yaml reference')",
        "retrain.every=soon": "error: --set retrain.every=soon: retrain.every: invalid duration "
        "'soon'",
        "threshold=f1": "error: --set threshold=f1: (monitor): detector.threshold: f1 needs labels",
        "contamination": "error: --set 'contamination': expected key=value",
    }
    for item, expected in cases.items():
        result = invoke("preview", "hosts", "-m", str(path), "--since", "2d", "--set", item)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(expected), result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    empty = invoke("preview", "hosts", "-m", str(path), "--since", "2d")
    assert empty.exit_code == 2
    assert empty.stderr.startswith("error: monitor 'hosts': ")  # no table, no rows: one line


def test_preview_before_any_history_trains_on_the_first_rows(
    sqlite_databases, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    path = write_monitors(tmp_path / "m.yaml", _spec(_source(sqlite_databases.new("src"))))
    result = invoke(
        "preview", "hosts", "-m", str(path), "--since", "2026-10-01", "--until", "2026-11-04"
    )
    assert result.exit_code == 0, result.output
    assert (
        "note: host=web-1,metric=cpu: 0 row(s) before --since (a model needs 100); the first "
        "100 row(s) of the range were its training baseline, not scored"
    ) in result.stdout
