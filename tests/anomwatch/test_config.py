"""monitors.yaml validation: every error names the monitor, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from anomwatch.config import load_monitors, parse_monitors
from anomwatch.errors import ConfigError, UnknownMonitorError


def monitor(**overrides):
    base = {
        "name": "web-cpu",
        "source": {
            "url": "sqlite:///metrics.db",
            "table": "metrics",
            "timestamp": "ts",
            "series": ["host"],
            "values": ["value"],
        },
    }
    base.update(overrides)
    return base


def errors_of(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_monitors(raw)
    return str(info.value)


def test_valid_file_with_defaults() -> None:
    parsed = parse_monitors({"monitors": [monitor()]})
    m = parsed.get("web-cpu")
    assert m.schedule == "*/5 * * * *"
    assert m.detector.components
    assert m.retrain.every.total_seconds() == 86400


def test_bad_cron_names_monitor_and_field() -> None:
    message = errors_of({"monitors": [monitor(schedule="every five minutes")]})
    assert "monitor 'web-cpu': schedule:" in message
    assert "invalid cron expression 'every five minutes'" in message


def test_unknown_key_is_rejected_with_its_path() -> None:
    bad = monitor()
    bad["source"]["tabel"] = "x"
    message = errors_of({"monitors": [bad]})
    assert "monitor 'web-cpu': source.tabel: unknown key" in message


def test_wrong_type_and_missing_field() -> None:
    bad = monitor(retrain={"every": "soon"})
    del bad["source"]["values"]
    message = errors_of({"monitors": [bad]})
    assert "source.values: Field required" in message
    assert "retrain.every" in message and "invalid duration 'soon'" in message


def test_table_xor_query_and_query_binds() -> None:
    both = monitor()
    both["source"]["query"] = "SELECT * FROM t WHERE ts > :since AND ts <= :until"
    assert "exactly one of 'table' or 'query'" in errors_of({"monitors": [both]})
    no_bind = monitor()
    del no_bind["source"]["table"]
    no_bind["source"]["query"] = "SELECT * FROM t WHERE ts > :since"
    assert "bind parameter :until" in errors_of({"monitors": [no_bind]})


def test_bad_apprise_target_is_a_config_error_naming_the_monitor() -> None:
    message = errors_of({"monitors": [monitor(notify={"targets": ["nosuchscheme://x"]})]})
    assert "monitor 'web-cpu': notify.targets" in message
    assert "unknown apprise scheme 'nosuchscheme'" in message


def test_duplicate_names_and_bad_name() -> None:
    assert errors_of({"monitors": [monitor(), monitor()]}).endswith(
        "monitor name 'web-cpu' is used twice"
    )
    assert errors_of({"monitors": [monitor(name="Web CPU!")]}).endswith(
        "monitor 'Web CPU!': name: String should match pattern '^[a-z0-9][a-z0-9-]{0,62}$'"
    )


def test_unknown_monitor_lists_known_ones() -> None:
    parsed = parse_monitors({"monitors": [monitor()]})
    with pytest.raises(UnknownMonitorError, match="unknown monitor 'nope'.*web-cpu"):
        parsed.get("nope")


def test_url_env_and_env_references(monkeypatch: pytest.MonkeyPatch) -> None:
    m = monitor()
    del m["source"]["url"]
    m["source"]["url_env"] = "AW_TEST_SOURCE_URL"
    parsed = parse_monitors({"monitors": [m]}).get("web-cpu")
    with pytest.raises(ConfigError, match="AW_TEST_SOURCE_URL, which is not set"):
        parsed.source.resolved_url("web-cpu")
    monkeypatch.setenv("AW_TEST_SOURCE_URL", "sqlite:///x.db")
    assert parsed.source.resolved_url("web-cpu") == "sqlite:///x.db"


def test_config_hash_tracks_detector_settings() -> None:
    a = parse_monitors({"monitors": [monitor()]}).get("web-cpu")
    b = parse_monitors({"monitors": [monitor(schedule="0 * * * *")]}).get("web-cpu")
    c = parse_monitors({"monitors": [monitor(detector={"contamination": 0.05})]}).get("web-cpu")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != c.config_hash()


def test_load_monitors_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_monitors(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitors: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_monitors(bad)
    good = tmp_path / "monitors.yaml"
    good.write_text(yaml.safe_dump({"monitors": [monitor()]}))
    assert [m.name for m in load_monitors(good).monitors] == ["web-cpu"]


def test_example_monitors_file_in_repo_reads_the_demo_metrics(tmp_path: Path) -> None:
    """Each example monitor reads real rows from the table the demo writes."""
    from datetime import datetime, timedelta

    from anomwatch.demo import HOSTS, METRICS, simulate, write_rows
    from anomwatch.source import SourceReader

    demo_url = "sqlite:///.anomwatch/demo/metrics.db"
    text = (Path(__file__).resolve().parents[2] / "monitors.yaml").read_text()
    assert demo_url in text
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    start = datetime(2026, 11, 20)
    write_rows(url, simulate(start, start + timedelta(hours=1)))
    example = tmp_path / "monitors.yaml"
    example.write_text(text.replace(demo_url, url))
    parsed = load_monitors(example)
    assert [m.name for m in parsed.monitors] == ["demo-hosts", "demo-cpu"]
    per_series = {}
    for m in parsed.monitors:
        reader = SourceReader(m)
        frame = reader.read_range(None, start + timedelta(hours=2)).frame
        reader.close()
        per_series[m.name] = frame.groupby("series").size().to_dict()
    assert per_series["demo-hosts"] == {f"host={h},metric={k}": 12 for h in HOSTS for k in METRICS}
    assert per_series["demo-cpu"] == {f"host={h}": 12 for h in HOSTS}


def test_targets_with_their_own_severity_floor() -> None:
    m = parse_monitors(
        {
            "monitors": [
                monitor(
                    notify={
                        "min_severity": "warning",
                        "targets": [
                            "json://127.0.0.1:9/chat",
                            {"url": "json://127.0.0.1:9/pager", "min_severity": "critical"},
                        ],
                    }
                )
            ]
        }
    ).get("web-cpu")
    assert [(t.url, t.min_severity) for t in m.notify.target_list()] == [
        ("json://127.0.0.1:9/chat", "warning"),
        ("json://127.0.0.1:9/pager", "critical"),
    ]
    bad = monitor(notify={"targets": [{"url": "json://x", "min_severity": "page-me"}]})
    assert "notify.targets" in errors_of({"monitors": [bad]})


def test_f1_threshold_is_refused_for_scheduled_training() -> None:
    message = errors_of({"monitors": [monitor(detector={"threshold": "f1"})]})
    assert "monitor 'web-cpu'" in message
    assert "detector.threshold: f1 needs labels" in message
    assert parse_monitors({"monitors": [monitor(detector={"threshold": "sigma"})]}).get("web-cpu")


def test_feedback_policy_defaults_and_bad_schedule() -> None:
    m = parse_monitors({"monitors": [monitor()]}).get("web-cpu")
    assert (m.feedback.auto_tune, m.feedback.min_labels, m.feedback.classifier) == (True, 20, None)
    message = errors_of({"monitors": [monitor(feedback={"schedule": "daily"})]})
    assert "feedback.schedule" in message and "invalid cron expression 'daily'" in message
    message = errors_of({"monitors": [monitor(feedback={"classifier": "forest"})]})
    assert "feedback.classifier" in message


def test_retention_is_a_duration_of_at_least_a_day() -> None:
    from datetime import timedelta

    assert parse_monitors({"monitors": [monitor()]}).get("web-cpu").retention is None
    kept = parse_monitors({"monitors": [monitor(retention="90d")]}).get("web-cpu")
    assert kept.retention == timedelta(days=90)
    assert "monitor 'web-cpu': retention: keep at least a day of history" in errors_of(
        {"monitors": [monitor(retention="1h")]}
    )
    assert "monitor 'web-cpu': retention: invalid duration 'soon'" in errors_of(
        {"monitors": [monitor(retention="soon")]}
    )
