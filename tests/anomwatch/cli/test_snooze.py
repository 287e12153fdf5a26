"""`anomwatch snooze`: unknown monitors and series are refused with the known names;
`snooze list` shows what is silenced."""

from __future__ import annotations

from sqlalchemy import select

from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import snoozes, watermarks
from tests.anomwatch.cli.conftest import T0, invoke


def seen(store) -> None:  # type: ignore[no-untyped-def]
    register_monitor(store, "web", "h")
    with store.begin() as conn:
        conn.execute(
            watermarks.insert(),
            [
                {"monitor": "web", "series": s, "last_ts": T0, "updated_at": T0}
                for s in ("host=web-1", "host=web-2")
            ],
        )


def test_unknown_monitor_and_series_are_refused_with_the_known_ones(cli_env) -> None:
    seen(cli_env)
    result = invoke("snooze", "nope", "--for", "1h")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown monitor 'nope'; known monitors: web\n"
    result = invoke("snooze", "web", "--for", "1h", "--series", "host=web-9")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: monitor 'web' has no series 'host=web-9'; its series: host=web-1, host=web-2\n"
    )
    assert invoke("unsnooze", "nope").exit_code == 2
    for bad, message in (("soon", "invalid duration 'soon'"), ("0h", "must be a positive")):
        result = invoke("snooze", "web", "--for", bad)
        assert result.exit_code == 2 and message in result.stderr
    with cli_env.begin() as conn:
        assert conn.execute(select(snoozes)).all() == []  # nothing was stored


def test_snooze_list_and_unsnooze(cli_env) -> None:
    seen(cli_env)
    assert invoke("snooze", "list").stdout.splitlines() == [
        "id  monitor  series  until  by  created_at"
    ]
    one = invoke("snooze", "add", "web", "--for", "30m", "--series", "host=web-2")
    assert one.exit_code == 0 and one.stdout.startswith("series 'host=web-2' of web snoozed until")
    both = invoke("snooze", "web", "--for", "2h")  # short for `snooze add`
    assert both.exit_code == 0 and both.stdout.startswith("monitor web snoozed until")
    listed = invoke("snooze", "list", "--format", "csv").stdout.splitlines()
    assert [line.split(",")[1:3] for line in listed] == [
        ["monitor", "series"],
        ["web", "host=web-2"],  # ends first
        ["web", "(all)"],
    ]
    assert invoke("unsnooze", "web", "--series", "host=web-2").stdout == "1 snooze(s) ended\n"
    listed = invoke("snooze", "list", "--monitor", "web", "--format", "csv").stdout.splitlines()
    assert [line.split(",")[2] for line in listed] == ["series", "(all)"]
