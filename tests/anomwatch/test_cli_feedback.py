"""`anomwatch anomalies list/show/ack/label`: real store, real output, exit codes."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.durations import utcnow
from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.runs import register_monitor

runner = CliRunner()
NOW = utcnow().replace(microsecond=0)  # the store keeps naive UTC, whatever TZ the test runs in


@pytest.fixture
def filled(store, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    register_monitor(store, "web", "h")
    records = [
        AnomalyRecord(
            monitor="web",
            series=f"host=web-{i}",
            ts=NOW - timedelta(hours=i),
            value=90.0 + i,
            expected=40.0,
            lower=30.0,
            upper=50.0,
            score=0.999 - i / 100,
            components=json.dumps({"iforest": 0.99}),
            feature_values="{}",
            severity="critical" if i == 0 else "warning",
            model_id=None,
        )
        for i in range(3)
    ]
    persist_tick(store, "web", None, records, {})
    return store


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_list_formats(filled) -> None:
    table = run("anomalies", "--monitor", "web", "--since", "24h")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "monitor", "series"]
    assert "host=web-0" in lines[1]  # newest first
    as_json = run("anomalies", "list", "--monitor", "web", "--format", "json", "--since", "90m")
    records = [json.loads(line) for line in as_json.stdout.splitlines() if line.startswith("{")]
    assert [r["series"] for r in records] == ["host=web-0", "host=web-1"]  # newest first
    as_csv = run(
        "anomalies", "list", "--monitor", "web", "--format", "csv", "--severity", "critical"
    )
    assert as_csv.stdout.splitlines()[1].split(",")[2] == "host=web-0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("anomalies", "--monitor", "nope"), "unknown monitor 'nope'; monitors in the store: web"),
        (("anomalies", "--since", "yesterday"), "--since: invalid time 'yesterday'"),
        (("anomalies", "--since", "1h", "--until", "2h"), "is before --since"),
        (("anomalies", "show", "999"), "unknown anomaly id 999"),
        (("anomalies", "ack", "1", "999"), "unknown anomaly id(s): 999"),
        (("anomalies", "list", "--until", "soon"), "--until: invalid time 'soon'"),
        (("anomalies", "list", "--severity", "high"), "--severity must be one of warning"),
        (("anomalies", "list", "--status", "closed"), "--status must be one of open"),
        (("anomalies", "show", "abc"), "Invalid value for 'anomaly_id'"),
        (("anomalies", "show", "1", "--before", "0"), "Invalid value for '--before'"),
        (("anomalies", "list", "--limit", "-5"), "Invalid value for '--limit'"),
        (("anomalies", "label", "999", "--true-positive"), "unknown anomaly id(s): 999"),
        (("anomalies", "label", "1"), "give exactly one of --true-positive or --false-positive"),
        (
            ("anomalies", "label", "1", "--true-positive", "--false-positive"),
            "give exactly one of --true-positive or --false-positive",
        ),
        (("anomalies", "tune", "nope"), "unknown monitor 'nope'; monitors in the store: web"),
        (("report", "--monitor", "nope"), "unknown monitor 'nope'; monitors in the store: web"),
        (("report", "--monitor", "web", "--since", "lastweek"), "--since: invalid time"),
        (("report", "--monitor", "web", "--since", "1h", "--until", "2h"), "is before --since"),
        (("report", "--monitor", "web", "--out", "/nonexistent/dir/r.html"), "--out: cannot write"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(filled, args, message) -> None:
    result = run(*args)
    assert result.exit_code == 2
    # typer's own usage errors come in a box: compare the words, not the layout
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert message in words
    assert "Traceback" not in result.output


def test_show_puts_every_component_score_in_one_column(filled) -> None:
    members = {"iforest": 0.5, "level_shift": 0.25, "robust_residual": 0.999959}
    record = AnomalyRecord(
        monitor="web",
        series="host=web-9",
        ts=NOW - timedelta(hours=9),
        value=1.0,
        expected=0.0,
        lower=-1.0,
        upper=1.0,
        score=0.99,
        components=json.dumps(members),
        feature_values="{}",
        severity="critical",
        model_id=None,
    )
    persist_tick(filled, "web", None, [record], {})
    shown = run("anomalies", "show", str(max(r["id"] for r in query_anomalies(filled))))
    lines = [line for line in shown.stdout.splitlines() if line.startswith("component ")]
    assert [line.split()[1] for line in lines] == sorted(members)
    assert len({line.index(line.split()[2]) for line in lines}) == 1, lines
    assert lines[-1] == "component robust_residual 0.999959"


def test_show_ack_and_label(filled) -> None:
    first = min(r["id"] for r in query_anomalies(filled, monitor="web"))
    shown = run("anomalies", "show", str(first))
    assert shown.exit_code == 0
    assert "series             host=web-0" in shown.output
    assert "component iforest  0.990000" in shown.output
    assert "1 anomaly acknowledged" in run("anomalies", "ack", str(first), "--by", "ana").output
    labelled = run("anomalies", "label", str(first + 1), "--false-positive", "--by", "bo")
    assert "1 anomaly labelled false_positive" in labelled.output
    by_id = {r["id"]: r for r in query_anomalies(filled, monitor="web")}
    assert (by_id[first]["status"], by_id[first]["labelled_by"]) == ("acknowledged", "ana")
    assert (by_id[first + 1]["status"], by_id[first + 1]["label"]) == (
        "false_positive",
        "false_positive",
    )
    open_only = run("anomalies", "--monitor", "web", "--status", "open", "--format", "csv")
    assert len(open_only.stdout.strip().splitlines()) == 2  # header + the one still open


def test_report_is_one_self_contained_html_file(filled, tmp_path) -> None:
    first = min(r["id"] for r in query_anomalies(filled, monitor="web"))
    run("anomalies", "label", str(first), "--true-positive")
    run("anomalies", "label", str(first + 1), "--false-positive")
    out = tmp_path / "r.html"
    result = run("report", "--monitor", "web", "--since", "7d", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    for section in ("Per day", "Per series", "Top 3 anomalies", "Feedback", "Models"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("data:image/png;base64,") == 2 and "http" not in page  # per day, per series
    assert (
        "minimum score from labels: none (the detector&#x27;s own threshold); classifier: none"
        in page
    )
    assert "2 labelled: 1 true positives, 1 false positives; precision from feedback: 0.50" in page
    assert run("report", "--monitor", "nope").exit_code == 2


def test_tune_chooses_the_f1_optimal_threshold_from_labels(filled) -> None:
    from anomwatch.store.tuning import active_threshold

    by_score = sorted(query_anomalies(filled, monitor="web"), key=lambda r: -r["score"])
    assert run("anomalies", "tune", "web", "--min-labels", "3").exit_code == 2  # no labels yet
    run("anomalies", "label", str(by_score[0]["id"]), str(by_score[1]["id"]), "--true-positive")
    run("anomalies", "label", str(by_score[2]["id"]), "--false-positive")
    result = run("anomalies", "tune", "web", "--min-labels", "3")
    assert result.exit_code == 0, result.output
    assert "tuned from 3 labels (2 true positives, 1 false positives)" in result.output
    assert "  precision         0.67                   1.00" in result.output
    assert "  recall            1.00                   1.00" in result.output
    threshold = active_threshold(filled, "web")
    assert threshold is not None
    assert by_score[2]["score"] < threshold <= by_score[1]["score"]
